// Helpers for the thread pool (src/threads/pool.ts): reductions split by whole tensors, whose
// per-tensor results the calling thread combines in tensor order, so that a threaded engine gives
// the same bits as one thread.

import { DESC_BYTES, descGrad, descLength } from "./common";
import { sumSquares } from "./squares";

/** Writes the f64 sum of squares of each gradient of the table to `out[t]` (8 bytes per tensor). */
export function gradSumSquaresEach(table: usize, count: i32, out: usize): void {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    store<f64>(out + (<usize>t << 3), sumSquares(descGrad(d), descLength(d)));
  }
}
