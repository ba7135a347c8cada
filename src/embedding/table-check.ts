// The L2 part of an embedding update's gradient check: with L2 weight decay the rows are updated
// from `g + wd * w` (float32), which can overflow although every gradient (and every sum of
// duplicate ids) is finite. A bound from max |g| over the update's gradients clears the usual
// update; only when it fails is every touched row checked element by element.

import type { Engine } from '../core/engine.js';
import { F32_MAX, F32_SAFE } from '../core/finite-check.js';

/**
 * Why `g + wd * w` of a touched row is not finite in float32, or null. `uniq` and `gptr` are
 * the byte addresses of the coalesced update's unique row ids and of each one's gradient row
 * (assembly/embedding.ts embCoalesce); `grads` the `k` raw gradient rows; `sign` -1 with maximize.
 */
export function tableL2Overflow(
  engine: Engine,
  grads: number,
  k: number,
  dim: number,
  uniq: number,
  gptr: number,
  unique: number,
  weights: number,
  wd: number,
  sign: number,
): string | null {
  const bits = engine.exports.maxAbsBits(grads, k * dim) >>> 0;
  const maxG = new Float32Array(new Uint32Array([bits]).buffer)[0];
  // A row's gradient is at most k rows summed.
  if (k * maxG + wd * F32_MAX * (1 + 2 ** -20) <= F32_SAFE) return null;
  const u32 = engine.heapU32,
    f32 = engine.heapF32;
  const w32 = Math.fround(wd);
  for (let r = 0; r < unique; r++) {
    const id = u32[(uniq >>> 2) + r];
    const g = gptr === 0 ? 0 : u32[(gptr >>> 2) + r] >>> 2;
    const w = (weights >>> 2) + id * dim;
    for (let j = 0; j < dim; j++) {
      const e = Math.fround(sign * f32[g + j] + Math.fround(w32 * f32[w + j]));
      if (!Number.isFinite(e))
        return `the gradient of id ${id} with L2 weight decay, g + ${wd} * w, overflows float32 at column ${j} (g ${f32[g + j]}, w ${f32[w + j]})`;
    }
  }
  return null;
}
