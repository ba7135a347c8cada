// The finiteness pre-pass of a step: the largest magnitude among a table's gradients (or params),
// so that one read of the gradients tells both whether any is NaN/±Infinity and whether the
// scaled gradient `gscale * g` would overflow float32 (the TS side compares max|g| * |gscale|
// with float32's largest value), and the exact check of the L2-decayed gradient
// `gscale * clamp(g) + wd * p` for the rare steps where a bound says it might overflow.

import { DESC_BYTES, descGrad, descLength } from "./common";
import { clampOne } from "./clamp";

/** The largest |x| bit pattern (sign cleared) of `n` f32 values at `ptr`: >= 0x7f800000 when one
 *  is NaN or ±Infinity, else the bits of max |x|. */
export function maxAbsBits(ptr: usize, n: usize): u32 {
  let i: usize = 0;
  let m: u32 = 0;
  if (ASC_FEATURE_SIMD) {
    const abs = i32x4.splat(0x7fffffff);
    let a0 = i32x4.splat(0), a1 = i32x4.splat(0);
    const n16 = n & ~(<usize>15);
    for (; i < n16; i += 16) {
      const o = ptr + (i << 2);
      a0 = i32x4.max_u(a0, i32x4.max_u(v128.and(v128.load(o), abs), v128.and(v128.load(o, 16), abs)));
      a1 = i32x4.max_u(a1, i32x4.max_u(v128.and(v128.load(o, 32), abs), v128.and(v128.load(o, 48), abs)));
    }
    const a = i32x4.max_u(a0, a1);
    const l0 = <u32>i32x4.extract_lane(a, 0), l1 = <u32>i32x4.extract_lane(a, 1);
    const l2 = <u32>i32x4.extract_lane(a, 2), l3 = <u32>i32x4.extract_lane(a, 3);
    m = max(max(l0, l1), max(l2, l3));
  }
  for (; i < n; i++) m = max(m, load<u32>(ptr + (i << 2)) & 0x7fffffff);
  return m;
}

/** 1 when `n` f32 values at `ptr` hold a NaN or an infinity (exponent bits all set). */
export function hasNonFinite(ptr: usize, n: usize): i32 {
  return maxAbsBits(ptr, n) >= 0x7f800000 ? 1 : 0;
}

/** Index + 1 of the first tensor in the table whose gradient is not all finite, else 0. */
export function firstNonFiniteGrad(table: usize, count: i32): i32 {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    if (hasNonFinite(descGrad(d), descLength(d))) return t + 1;
  }
  return 0;
}

/** max |x| over slot `slot` (0: params, 1: gradients) of every tensor of the table, as f32:
 *  NaN or +Infinity when a value is not finite. */
@inline function tableMaxAbs(table: usize, count: i32, slot: usize): f32 {
  let m: u32 = 0;
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    m = max(m, maxAbsBits(<usize>load<u32>(d + (slot << 2)), descLength(d)));
  }
  return reinterpret<f32>(m);
}

/** The largest |g| of the table's gradients (NaN/+Infinity when one is not finite). */
export function gradMaxAbs(table: usize, count: i32): f32 {
  return tableMaxAbs(table, count, 1);
}

/** Index of the first element whose L2-decayed gradient `clamp(g, lo, hi) * gs + wd * p` (the
 *  kernels' float32 arithmetic) is not finite, else -1. */
export function firstL2Overflow(P: usize, G: usize, n: usize, gs: f32, lo: f32, hi: f32, wd: f32): i32 {
  for (let i: usize = 0; i < n; i++) {
    const g = clampOne(load<f32>(G + (i << 2)), lo, hi) * gs + wd * load<f32>(P + (i << 2));
    if (g - g != 0) return <i32>i;
  }
  return -1;
}
