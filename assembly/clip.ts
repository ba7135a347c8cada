// Gradient clipping shared by every kernel family.
//
// By value: every step kernel reads its gradient as `clamp(grad, lo, hi) * gscale`, with `lo` and
// `hi` in the two last slots of the tensor's hyper block (the TS side writes -Infinity/+Infinity
// when clipping is off, which leaves every value, NaN and +-Infinity included, unchanged).
// By norm: `clipSumSquares` measures the global norm of the clamped gradients in one pass (f64,
// the same summation order in both builds); the TS side folds min(1, maxNorm / (norm + 1e-6))
// into `gscale`, so no pass ever writes the gradients.

import { DESC_BYTES, descGrad, descLength } from "./common";
import { clampVec, clampOne } from "./clamp";

/** Hyper slot (f32) of the lower clamp bound of the gradient; every family leaves it free. */
export const CLIP_LO = 30;
/** Hyper slot (f32) of the upper clamp bound of the gradient. */
export const CLIP_HI = 31;

const EXP_MASK: u32 = 0x7f800000;

/** The low two f32 lanes of `x` as f64. */
@inline function lo64(x: v128): v128 {
  return f64x2.promote_low_f32x4(x);
}

/** The high two f32 lanes of `x` as f64. */
@inline function hi64(x: v128): v128 {
  return f64x2.promote_low_f32x4(v128.swizzle(x, i8x16(8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7)));
}

/**
 * Sum of squares of clamp(g, lo, hi) over `n` gradients, in f64, or NaN when a raw gradient is
 * NaN or +-Infinity (the clamp would hide an infinity). Lane order as in `sumSquares`: four running
 * sums, then (s0 + s2) + (s1 + s3), then the tail, so both builds agree to the bit.
 */
export function clampedSumSquares(ptr: usize, n: usize, lo: f32, hi: f32): f64 {
  let i: usize = 0;
  let total: f64 = 0;
  let bad = false;
  const n4 = n & ~(<usize>3);
  if (ASC_FEATURE_SIMD) {
    const vlo = f32x4.splat(lo), vhi = f32x4.splat(hi), mask = i32x4.splat(EXP_MASK);
    let a01 = f64x2.splat(0);
    let a23 = f64x2.splat(0);
    let acc = i32x4.splat(0);
    for (; i < n4; i += 4) {
      const raw = v128.load(ptr + (i << 2));
      acc = v128.or(acc, i32x4.eq(v128.and(raw, mask), mask));
      const x = clampVec(raw, vlo, vhi);
      const l = lo64(x), h = hi64(x);
      a01 = f64x2.add(a01, f64x2.mul(l, l));
      a23 = f64x2.add(a23, f64x2.mul(h, h));
    }
    const s = f64x2.add(a01, a23);
    total = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
    bad = v128.any_true(acc);
  } else {
    let s0: f64 = 0, s1: f64 = 0, s2: f64 = 0, s3: f64 = 0;
    let acc: u32 = 0;
    for (; i < n4; i += 4) {
      const o = ptr + (i << 2);
      const r0 = load<f32>(o), r1 = load<f32>(o, 4), r2 = load<f32>(o, 8), r3 = load<f32>(o, 12);
      acc |= u32((reinterpret<u32>(r0) & EXP_MASK) == EXP_MASK) | u32((reinterpret<u32>(r1) & EXP_MASK) == EXP_MASK)
           | u32((reinterpret<u32>(r2) & EXP_MASK) == EXP_MASK) | u32((reinterpret<u32>(r3) & EXP_MASK) == EXP_MASK);
      const x0 = <f64>clampOne(r0, lo, hi), x1 = <f64>clampOne(r1, lo, hi);
      const x2 = <f64>clampOne(r2, lo, hi), x3 = <f64>clampOne(r3, lo, hi);
      s0 += x0 * x0; s1 += x1 * x1; s2 += x2 * x2; s3 += x3 * x3;
    }
    total = (s0 + s2) + (s1 + s3);
    bad = acc != 0;
  }
  for (; i < n; i++) {
    const r = load<f32>(ptr + (i << 2));
    if ((reinterpret<u32>(r) & EXP_MASK) == EXP_MASK) bad = true;
    const x = <f64>clampOne(r, lo, hi);
    total += x * x;
  }
  return bad ? NaN : total;
}

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
