// Sums of squares in f64: the gradient norm (`sumSquares`) and the norm of the value-clipped
// gradients that norm clipping needs (`clampedSumSquares`, shared/clip.ts). One summation order
// for both builds, so that the SIMD and scalar engines agree to the bit: sixteen running sums
// s0..s15 (element i + k of each block of 16 goes to s_k; a last block of 4 to s0..s3), combined as
//   ((s0+s8)+(s4+s12)) + ((s2+s10)+(s6+s14)) + (((s1+s9)+(s5+s13)) + ((s3+s11)+(s7+s15)))
// (eight f64x2 accumulators: enough independent additions to keep up with memory), then the tail
// in order.

import { DESC_BYTES, descGrad, descLength } from "./common";
import { clampVec, clampOne } from "./clamp";
import { maxAbsBits } from "./finite";
import { lo64, hi64 } from "./widen";

const EXP_MASK: u32 = 0x7f800000;

/** The square of the f32 at `at` as f64, clamped to [lo, hi] first when `clip`. */
@inline function square(at: usize, clip: bool, lo: f32, hi: f32): f64 {
  const r = load<f32>(at);
  const x = <f64>(clip ? clampOne(r, lo, hi) : r);
  return x * x;
}

/** The sum of squares of `n` f32 values (clamped to [lo, hi] when `clip`; then NaN when a raw
 *  value is NaN or +-Infinity, which the clamp would hide). `clip` is a constant at each caller. */
@inline function squares(ptr: usize, n: usize, clip: bool, lo: f32, hi: f32): f64 {
  let i: usize = 0;
  let total: f64 = 0;
  let bad = false;
  const n16 = n & ~(<usize>15);
  const n4 = n & ~(<usize>3);
  if (ASC_FEATURE_SIMD) {
    const vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
    // The largest |x| bit pattern of each lane (integer units, beside the FP work): a NaN or an
    // infinity is one with every exponent bit set, i.e. unsigned >= EXP_MASK.
    const abs = i32x4.splat(0x7fffffff);
    let nf = i32x4.splat(0);
    let a0 = f64x2.splat(0), a1 = f64x2.splat(0), a2 = f64x2.splat(0), a3 = f64x2.splat(0);
    let a4 = f64x2.splat(0), a5 = f64x2.splat(0), a6 = f64x2.splat(0), a7 = f64x2.splat(0);
    for (; i < n16; i += 16) {
      const o = ptr + (i << 2);
      const r0 = v128.load(o), r1 = v128.load(o, 16), r2 = v128.load(o, 32), r3 = v128.load(o, 48);
      if (clip) {
        nf = i32x4.max_u(nf, i32x4.max_u(i32x4.max_u(v128.and(r0, abs), v128.and(r1, abs)), i32x4.max_u(v128.and(r2, abs), v128.and(r3, abs))));
      }
      const x0 = clip ? clampVec(r0, vlo, vhi) : r0, x1 = clip ? clampVec(r1, vlo, vhi) : r1;
      const x2 = clip ? clampVec(r2, vlo, vhi) : r2, x3 = clip ? clampVec(r3, vlo, vhi) : r3;
      const l0 = lo64(x0), h0 = hi64(x0), l1 = lo64(x1), h1 = hi64(x1);
      const l2 = lo64(x2), h2 = hi64(x2), l3 = lo64(x3), h3 = hi64(x3);
      a0 = f64x2.add(a0, f64x2.mul(l0, l0)); a1 = f64x2.add(a1, f64x2.mul(h0, h0));
      a2 = f64x2.add(a2, f64x2.mul(l1, l1)); a3 = f64x2.add(a3, f64x2.mul(h1, h1));
      a4 = f64x2.add(a4, f64x2.mul(l2, l2)); a5 = f64x2.add(a5, f64x2.mul(h2, h2));
      a6 = f64x2.add(a6, f64x2.mul(l3, l3)); a7 = f64x2.add(a7, f64x2.mul(h3, h3));
    }
    for (; i < n4; i += 4) {
      const r = v128.load(ptr + (i << 2));
      if (clip) nf = i32x4.max_u(nf, v128.and(r, abs));
      const x = clip ? clampVec(r, vlo, vhi) : r;
      const l = lo64(x), h = hi64(x);
      a0 = f64x2.add(a0, f64x2.mul(l, l)); a1 = f64x2.add(a1, f64x2.mul(h, h));
    }
    const c0 = f64x2.add(f64x2.add(a0, a4), f64x2.add(a2, a6));
    const c1 = f64x2.add(f64x2.add(a1, a5), f64x2.add(a3, a7));
    const d = f64x2.add(c0, c1);
    total = f64x2.extract_lane(d, 0) + f64x2.extract_lane(d, 1);
    if (clip) bad = v128.any_true(i32x4.ge_u(nf, i32x4.splat(EXP_MASK)));
  } else {
    // The scalar build finds a non-finite raw value in a pass of its own (the fallback build).
    if (clip && maxAbsBits(ptr, n) >= EXP_MASK) return NaN;
    let s0: f64 = 0, s1: f64 = 0, s2: f64 = 0, s3: f64 = 0, s4: f64 = 0, s5: f64 = 0, s6: f64 = 0, s7: f64 = 0;
    let s8: f64 = 0, s9: f64 = 0, s10: f64 = 0, s11: f64 = 0, s12: f64 = 0, s13: f64 = 0, s14: f64 = 0, s15: f64 = 0;
    for (; i < n16; i += 16) {
      const o = ptr + (i << 2);
      s0 += square(o, clip, lo, hi); s1 += square(o + 4, clip, lo, hi);
      s2 += square(o + 8, clip, lo, hi); s3 += square(o + 12, clip, lo, hi);
      s4 += square(o + 16, clip, lo, hi); s5 += square(o + 20, clip, lo, hi);
      s6 += square(o + 24, clip, lo, hi); s7 += square(o + 28, clip, lo, hi);
      s8 += square(o + 32, clip, lo, hi); s9 += square(o + 36, clip, lo, hi);
      s10 += square(o + 40, clip, lo, hi); s11 += square(o + 44, clip, lo, hi);
      s12 += square(o + 48, clip, lo, hi); s13 += square(o + 52, clip, lo, hi);
      s14 += square(o + 56, clip, lo, hi); s15 += square(o + 60, clip, lo, hi);
    }
    for (; i < n4; i += 4) {
      const o = ptr + (i << 2);
      s0 += square(o, clip, lo, hi); s1 += square(o + 4, clip, lo, hi);
      s2 += square(o + 8, clip, lo, hi); s3 += square(o + 12, clip, lo, hi);
    }
    // Lane 0 of the SIMD combination, then lane 1 (a_k holds s_{2k}, s_{2k+1}).
    const l0 = ((s0 + s8) + (s4 + s12)) + ((s2 + s10) + (s6 + s14));
    const l1 = ((s1 + s9) + (s5 + s13)) + ((s3 + s11) + (s7 + s15));
    total = l0 + l1;
  }
  for (; i < n; i++) {
    const at = ptr + (i << 2);
    if (clip && load<f32>(at) - load<f32>(at) != 0) bad = true;
    total += square(at, clip, lo, hi);
  }
  return bad ? NaN : total;
}

/** Sum of squares of `n` f32 values, accumulated in f64 (gradient norms). @internal (called by threads.ts) */
export function sumSquares(ptr: usize, n: usize): f64 {
  return squares(ptr, n, false, 0, 0);
}

/** Sum of squares of clamp(g, lo, hi) over `n` gradients, in f64, or NaN when a raw gradient is
 *  NaN or +-Infinity (the clamp would hide an infinity). @internal (called by clip.ts) */
export function clampedSumSquares(ptr: usize, n: usize, lo: f32, hi: f32): f64 {
  return squares(ptr, n, true, lo, hi);
}

/** Sum of squares of every gradient in the table, accumulated in f64 (for norms and clipping). */
export function gradSumSquares(table: usize, count: i32): f64 {
  let total: f64 = 0;
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    total += sumSquares(descGrad(d), descLength(d));
  }
  return total;
}
