// The float32 range checks of an embedding update, after the coalescing pass (assembly
// embCoalesce) has checked every row it will apply for NaN/Infinity and left max |g| over those
// rows (sums of duplicate ids included) in the descriptor's EMB_GMAX word. From that one number:
// - optimizers that square the gradient into their state (the declaration's `squaresGradient`)
//   refuse rows whose square overflows float32, as the dense step does (src/core/finite-check.ts);
// - with L2 weight decay the rows are updated from `g + wd * w` (float32), which can overflow
//   although every gradient is finite: a bound clears the usual update, and only when it fails is
//   every touched row checked element by element.

import type { Engine } from '../core/engine.js';
import { F32_MAX, F32_SAFE, F32_SQRT_MAX } from '../core/finite-check.js';

/** float32 bits to their value. */
export function f32FromBits(bits: number): number {
  return new Float32Array(new Uint32Array([bits >>> 0]).buffer)[0];
}

/** Where the coalesced update lives (byte addresses; see assembly/embedding/apply.ts embCoalesce). */
export interface CoalescedUpdate {
  /** The unique row ids, ascending. */
  readonly uniq: number;
  /** Each unique row's gradient row (the caller's row, or a sum of duplicates). */
  readonly gptr: number;
  /** How many unique rows. */
  readonly unique: number;
  /** max |g| over the rows the update applies (finite). */
  readonly maxG: number;
}

/**
 * Why the update's gradients would not stay finite in float32 in the row kernel, or null:
 * `squares` when the optimizer squares g into its state, `wd` the L2 weight decay (0: none),
 * `weights` the table's weights, `sign` -1 with maximize.
 */
export function tableRangeCheck(
  engine: Engine,
  c: CoalescedUpdate,
  dim: number,
  squares: boolean,
  weights: number,
  wd: number,
  sign: number,
): string | null {
  if (squares && c.maxG > F32_SQRT_MAX) {
    const id = firstRowAbove(engine, c, dim, F32_SQRT_MAX);
    return `the gradient of id ${id} has magnitude ${c.maxG}, whose square is more than float32 holds (3.4e38), which would make the squared-gradient state Infinity`;
  }
  if (wd === 0 || c.maxG + wd * F32_MAX * (1 + 2 ** -20) <= F32_SAFE) return null;
  const u32 = engine.heapU32,
    f32 = engine.heapF32;
  const w32 = Math.fround(wd);
  for (let r = 0; r < c.unique; r++) {
    const id = u32[(c.uniq >>> 2) + r];
    const g = u32[(c.gptr >>> 2) + r] >>> 2;
    const w = (weights >>> 2) + id * dim;
    for (let j = 0; j < dim; j++) {
      const e = Math.fround(sign * f32[g + j] + Math.fround(w32 * f32[w + j]));
      if (!Number.isFinite(e))
        return `the gradient of id ${id} with L2 weight decay, g + ${wd} * w, overflows float32 at column ${j} (g ${f32[g + j]}, w ${f32[w + j]})`;
    }
  }
  return null;
}

/** The first unique row whose gradient has an element of magnitude above `limit`. */
function firstRowAbove(engine: Engine, c: CoalescedUpdate, dim: number, limit: number): number {
  const u32 = engine.heapU32;
  for (let r = 0; r < c.unique; r++) {
    const g = u32[(c.gptr >>> 2) + r];
    if (f32FromBits(engine.exports.maxAbsBits(g, dim)) > limit) return u32[(c.uniq >>> 2) + r];
  }
  return -1;
}
