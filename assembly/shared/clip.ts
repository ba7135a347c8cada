// Gradient clipping shared by every kernel family.
//
// By value: every step kernel reads its gradient as `clamp(grad, lo, hi) * gscale`, with `lo` and
// `hi` in the two last slots of the tensor's hyper block (the TS side writes -Infinity/+Infinity
// when clipping is off, which leaves every value, NaN and +-Infinity included, unchanged).
// By norm: `clipSumSquares` measures the global norm of the clamped gradients in one pass (f64,
// the same summation order in both builds); the TS side folds min(1, maxNorm / (norm + 1e-6))
// into `gscale`, so no pass ever writes the gradients.

import { DESC_BYTES, descGrad, descLength } from "./common";
import { clampedSumSquares } from "./squares";

/** Hyper slot (f32) of the lower clamp bound of the gradient; every family leaves it free. */
export const CLIP_LO = 30;
/** Hyper slot (f32) of the upper clamp bound of the gradient. */
export const CLIP_HI = 31;

/**
 * Sum over the table of the squares of the clamped gradients (f64): the squared global norm that
 * norm clipping needs, NaN when any raw gradient is NaN or +-Infinity.
 */
export function clipSumSquares(table: usize, count: i32, lo: f32, hi: f32): f64 {
  let total: f64 = 0;
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    total += clampedSumSquares(descGrad(d), descLength(d), lo, hi);
  }
  return total;
}
