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
 * NaN or +-Infinity (the clamp would hide an infinity). The same sixteen running sums and the same
 * combination order as `sumSquares` (common.ts), so that both builds agree to the bit.
 */
export function clampedSumSquares(ptr: usize, n: usize, lo: f32, hi: f32): f64 {
  let i: usize = 0;
  let total: f64 = 0;
  let bad = false;
  const n16 = n & ~(<usize>15);
  const n4 = n & ~(<usize>3);
  if (ASC_FEATURE_SIMD) {
    const vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
    // The largest |x| bit pattern of each lane (integer units, beside the FP work): a NaN or an
    // infinity is one with every exponent bit set, i.e. unsigned >= 0x7f800000.
    const abs = i32x4.splat(0x7fffffff);
    let nf = i32x4.splat(0);
    let a0 = f64x2.splat(0), a1 = f64x2.splat(0), a2 = f64x2.splat(0), a3 = f64x2.splat(0);
    let a4 = f64x2.splat(0), a5 = f64x2.splat(0), a6 = f64x2.splat(0), a7 = f64x2.splat(0);
    for (; i < n16; i += 16) {
      const o = ptr + (i << 2);
      const r0 = v128.load(o), r1 = v128.load(o, 16), r2 = v128.load(o, 32), r3 = v128.load(o, 48);
      nf = i32x4.max_u(nf, i32x4.max_u(i32x4.max_u(v128.and(r0, abs), v128.and(r1, abs)), i32x4.max_u(v128.and(r2, abs), v128.and(r3, abs))));
      const x0 = clampVec(r0, vlo, vhi), x1 = clampVec(r1, vlo, vhi), x2 = clampVec(r2, vlo, vhi), x3 = clampVec(r3, vlo, vhi);
      const l0 = lo64(x0), h0 = hi64(x0), l1 = lo64(x1), h1 = hi64(x1);
      const l2 = lo64(x2), h2 = hi64(x2), l3 = lo64(x3), h3 = hi64(x3);
      a0 = f64x2.add(a0, f64x2.mul(l0, l0)); a1 = f64x2.add(a1, f64x2.mul(h0, h0));
      a2 = f64x2.add(a2, f64x2.mul(l1, l1)); a3 = f64x2.add(a3, f64x2.mul(h1, h1));
      a4 = f64x2.add(a4, f64x2.mul(l2, l2)); a5 = f64x2.add(a5, f64x2.mul(h2, h2));
      a6 = f64x2.add(a6, f64x2.mul(l3, l3)); a7 = f64x2.add(a7, f64x2.mul(h3, h3));
    }
    for (; i < n4; i += 4) {
      const r = v128.load(ptr + (i << 2));
      nf = i32x4.max_u(nf, v128.and(r, abs));
      const x = clampVec(r, vlo, vhi);
      const l = lo64(x), h = hi64(x);
      a0 = f64x2.add(a0, f64x2.mul(l, l)); a1 = f64x2.add(a1, f64x2.mul(h, h));
    }
    const c0 = f64x2.add(f64x2.add(a0, a4), f64x2.add(a2, a6));
    const c1 = f64x2.add(f64x2.add(a1, a5), f64x2.add(a3, a7));
    const d = f64x2.add(c0, c1);
    total = f64x2.extract_lane(d, 0) + f64x2.extract_lane(d, 1);
    bad = v128.any_true(i32x4.ge_u(nf, i32x4.splat(0x7f800000)));
  } else {
    let s0: f64 = 0, s1: f64 = 0, s2: f64 = 0, s3: f64 = 0, s4: f64 = 0, s5: f64 = 0, s6: f64 = 0, s7: f64 = 0;
    let s8: f64 = 0, s9: f64 = 0, s10: f64 = 0, s11: f64 = 0, s12: f64 = 0, s13: f64 = 0, s14: f64 = 0, s15: f64 = 0;
    let nf: f32 = 0;
    for (; i < n16; i += 16) {
      const o = ptr + (i << 2);
      let r: f32, x: f64;
      r = load<f32>(o); nf += r - r; x = <f64>clampOne(r, lo, hi); s0 += x * x;
      r = load<f32>(o, 4); nf += r - r; x = <f64>clampOne(r, lo, hi); s1 += x * x;
      r = load<f32>(o, 8); nf += r - r; x = <f64>clampOne(r, lo, hi); s2 += x * x;
      r = load<f32>(o, 12); nf += r - r; x = <f64>clampOne(r, lo, hi); s3 += x * x;
      r = load<f32>(o, 16); nf += r - r; x = <f64>clampOne(r, lo, hi); s4 += x * x;
      r = load<f32>(o, 20); nf += r - r; x = <f64>clampOne(r, lo, hi); s5 += x * x;
      r = load<f32>(o, 24); nf += r - r; x = <f64>clampOne(r, lo, hi); s6 += x * x;
      r = load<f32>(o, 28); nf += r - r; x = <f64>clampOne(r, lo, hi); s7 += x * x;
      r = load<f32>(o, 32); nf += r - r; x = <f64>clampOne(r, lo, hi); s8 += x * x;
      r = load<f32>(o, 36); nf += r - r; x = <f64>clampOne(r, lo, hi); s9 += x * x;
      r = load<f32>(o, 40); nf += r - r; x = <f64>clampOne(r, lo, hi); s10 += x * x;
      r = load<f32>(o, 44); nf += r - r; x = <f64>clampOne(r, lo, hi); s11 += x * x;
      r = load<f32>(o, 48); nf += r - r; x = <f64>clampOne(r, lo, hi); s12 += x * x;
      r = load<f32>(o, 52); nf += r - r; x = <f64>clampOne(r, lo, hi); s13 += x * x;
      r = load<f32>(o, 56); nf += r - r; x = <f64>clampOne(r, lo, hi); s14 += x * x;
      r = load<f32>(o, 60); nf += r - r; x = <f64>clampOne(r, lo, hi); s15 += x * x;
    }
    for (; i < n4; i += 4) {
      const o = ptr + (i << 2);
      let r: f32, x: f64;
      r = load<f32>(o); nf += r - r; x = <f64>clampOne(r, lo, hi); s0 += x * x;
      r = load<f32>(o, 4); nf += r - r; x = <f64>clampOne(r, lo, hi); s1 += x * x;
      r = load<f32>(o, 8); nf += r - r; x = <f64>clampOne(r, lo, hi); s2 += x * x;
      r = load<f32>(o, 12); nf += r - r; x = <f64>clampOne(r, lo, hi); s3 += x * x;
    }
    const l0 = ((s0 + s8) + (s4 + s12)) + ((s2 + s10) + (s6 + s14));
    const l1 = ((s1 + s9) + (s5 + s13)) + ((s3 + s11) + (s7 + s15));
    total = l0 + l1;
    bad = nf != nf;
  }
  for (; i < n; i++) {
    const r = load<f32>(ptr + (i << 2));
    if (r - r != 0) bad = true;
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
