// Exact mode of FTRL tables without l2Shrinkage: a step with a zero gradient leaves the accumulator
// n and the linear term z as they are (n' = n, sigma = 0) and recomputes the weights from them with
// that step's rate, w = W(z, n, lr). So the weights of a row an update does not name change only
// when the rate differs from the one they were computed with (or were never computed from z and n:
// the initial weights, or loaded ones), and then to W(z, n, lr) of the update's rate. After such an
// update, every row takes one zero-gradient step of the row kernel itself (the same arithmetic as
// the dense FTRL's zero-gradient step, bit for bit; a row the update named gets back the weights it
// already has); with a constant rate this happens once, at the first update. docs/lean-tables.md.

import { SLOT as S } from '../core/abi.js';
import type { Engine } from '../core/engine.js';

/** Rows stepped per call into wasm (two u32 lists of this many entries in scratch). */
const CHUNK = 8192;

/**
 * One zero-gradient step of the row kernel of table descriptor `desc` for all its `rows` rows of
 * `dim` floats, at update `t` (the table's hyper block holds update t's scalars). The descriptor's
 * row and gradient lists are restored afterwards.
 */
export function zeroStepAllRows(engine: Engine, desc: number, rows: number, dim: number, t: number): void {
  const n = Math.min(CHUNK, rows);
  const buf = engine.alloc(8 * n + 4 * dim || 16); // row list, gradient pointers, one zero row (alloc zeroes)
  const d = desc >>> 2;
  const u32 = () => engine.heapU32;
  const uniq = u32()[d + S.EMB_UNIQ],
    gptr = u32()[d + S.EMB_GPTR];
  try {
    const list = buf >>> 2,
      ptrs = list + n,
      zero = buf + 8 * n;
    u32().fill(zero, ptrs, ptrs + n);
    u32()[d + S.EMB_UNIQ] = buf;
    u32()[d + S.EMB_GPTR] = buf + 4 * n;
    for (let r0 = 0; r0 < rows; r0 += n) {
      const m = Math.min(n, rows - r0);
      const h = u32();
      for (let i = 0; i < m; i++) h[list + i] = r0 + i;
      engine.exports.embApply(desc, t, m, 0, 0, 0, 0, 0);
    }
  } finally {
    u32()[d + S.EMB_UNIQ] = uniq;
    u32()[d + S.EMB_GPTR] = gptr;
    engine.free(buf);
  }
}
