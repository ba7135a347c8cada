// Low-precision storage: bf16 and f16 with stochastic or nearest-even rounding, and int8 codes of
// bitsandbytes' dynamic quantization maps (Dettmers et al. 2021). Used by the lean embedding
// tables (assembly/embedding/storage.ts). Integer and exactly rounded float operations only, the same
// in the SIMD and scalar builds, so both give the same bits.
//
// Random bits are counter-based: `srBits(rowKey, e)` depends only on (seed, update t, row r,
// element e), never on the order rows are visited in, so any split of the rows (threads, blocks)
// gives the same bits:
//   key_t     = fmix32(seedLo ^ fmix32(t + seedHi * 0x9E3779B9))
//   rowKey    = fmix32(key_t + r * 0x9E3779B9)
//   bits(e)   = fmix32(rowKey ^ ((e + 1) * 0x85EBCA77))
// with MurmurHash3's 32-bit finaliser fmix32 and wrapping u32 arithmetic. bf16 rounding needs 16
// bits: element e takes the low (even e) or high (odd e) half of bits(e >> 1) (one hash per two).

import { MAP_SIGNED, MAP_UNSIGNED, MID_SIGNED, MID_UNSIGNED } from "./maps";

/** MurmurHash3's 32-bit finaliser (a bijection of u32 with full avalanche). */
@inline export function fmix32(h: u32): u32 {
  h ^= h >> 16;
  h *= 0x85ebca6b;
  h ^= h >> 13;
  h *= 0xc2b2ae35;
  h ^= h >> 16;
  return h;
}

/** The key of update `t` of a table seeded with (seedLo, seedHi). */
@inline export function srStepKey(seedLo: u32, seedHi: u32, t: u32): u32 {
  return fmix32(seedLo ^ fmix32(t + seedHi * 0x9e3779b9));
}

/** The key of row `r` in the update whose key is `stepKey`. */
@inline export function srRowKey(stepKey: u32, r: u32): u32 {
  return fmix32(stepKey + r * 0x9e3779b9);
}

/** 32 random bits for element `e` of a row (weights: e in [0, dim); state s: (s + 1) * dim + e). */
@inline export function srBits(rowKey: u32, e: u32): u32 {
  return fmix32(rowKey ^ ((e + 1) * 0x85ebca77));
}

/**
 * 16 random bits (in the high half) for bf16 element `e`: half of srBits(rowKey, e >> 1), the low
 * half for even e, the high half for odd e (one hash per two elements).
 */
@inline export function srBits16(rowKey: u32, e: u32): u32 {
  return (srBits(rowKey, e >> 1) << (((e & 1) ^ 1) << 4)) & 0xffff0000;
}

/**
 * Four lanes of srBits for elements e, e+1, e+2, e+3 (the same bits as the scalar function). As
 * sixteen-bit lanes they are the bits of bf16 elements 2e .. 2e+7 (srBits16).
 */
@inline export function srBits4(rowKey: u32, e: u32): v128 {
  const ev = i32x4.add(i32x4.splat(e + 1), i32x4(0, 1, 2, 3));
  let h = v128.xor(i32x4.splat(rowKey), i32x4.mul(ev, i32x4.splat(0x85ebca77)));
  h = v128.xor(h, i32x4.shr_u(h, 16));
  h = i32x4.mul(h, i32x4.splat(0x85ebca6b));
  h = v128.xor(h, i32x4.shr_u(h, 13));
  h = i32x4.mul(h, i32x4.splat(0xc2b2ae35));
  return v128.xor(h, i32x4.shr_u(h, 16));
}

// ---------------------------------------------------------------------------------------------
// bf16: the top 16 bits of a float32.

/** bf16 bits -> f32 (exact). */
@inline export function bf16ToF32(h: u32): f32 {
  return reinterpret<f32>(h << 16);
}

/**
 * f32 -> bf16 bits, rounded stochastically: adds 16 random bits below the kept ones and truncates,
 * so x rounds up with probability (its dropped bits) / 2^16 (FBGEMM's construction for FP32 ->
 * BF16). Unbiased for every finite x whose rounding does not overflow.
 */
@inline export function f32ToBf16Sr(x: f32, rnd: u32): u32 {
  return (reinterpret<u32>(x) + (rnd >> 16)) >> 16;
}

/** f32 -> bf16 bits, rounded to nearest, ties to even (x finite). */
@inline export function f32ToBf16Rne(x: f32): u32 {
  const b = reinterpret<u32>(x);
  return (b + 0x7fff + ((b >> 16) & 1)) >> 16;
}

// ---------------------------------------------------------------------------------------------
// f16 (IEEE binary16): 5 exponent bits, 10 fraction bits, subnormals below 2^-14.

/** f16 bits -> f32 (exact). */
@inline export function f16ToF32(h: u32): f32 {
  const s = (h & 0x8000) << 16;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e == 0) {
    const v = <f32>m * 5.9604644775390625e-8; // m * 2^-24, exact
    return reinterpret<f32>(reinterpret<u32>(v) | s);
  }
  if (e == 31) return reinterpret<f32>(s | 0x7f800000 | (m << 13));
  return reinterpret<f32>(s | ((e + 112) << 23) | (m << 13));
}

/**
 * f32 -> f16 bits. `sr`: stochastic rounding with the random bits `rnd` (normal range: 13 random
 * bits added below the kept ones, then truncation; subnormal range: floor(|x| 2^24 + u) with u
 * uniform on 24 bits); otherwise nearest, ties to even. |x| past the largest f16 gives infinity.
 */
@inline export function f32ToF16(x: f32, rnd: u32, sr: bool): u32 {
  const b = reinterpret<u32>(x);
  const s = (b >> 16) & 0x8000;
  const a = b & 0x7fffffff;
  if (a >= 0x47800000) return s | (a > 0x7f800000 ? 0x7e00 : 0x7c00); // >= 65536, inf, NaN
  if (a >= 0x38800000) {
    // normal f16 range (|x| >= 2^-14)
    const r = sr ? a + ((rnd >> 19) & 0x1fff) : a + 0xfff + ((a >> 13) & 1);
    const h = (r >> 13) - (112 << 10);
    return s | (h >= 0x7c00 ? 0x7c00 : h);
  }
  const y = <f64>reinterpret<f32>(a) * 16777216.0; // |x| * 2^24 < 1024, exact
  const k = sr ? Math.floor(y + <f64>(rnd >> 8) * 5.9604644775390625e-8) : nearest<f64>(y);
  return s | <u32>k;
}

// ---------------------------------------------------------------------------------------------
// int8 codes of a dynamic map: the maps block's layout is in ./maps.ts.
// Encoding. Entry j of the non-negative half is nearest to |x| when mid[j - 1] < |x| <= mid[j]
// (ties to the entry nearer zero). The map's entries are evenly spaced within each decade
// [10^(i-7), 10^(i-6)), i = 0..6: c_i = 2^(i+1) (unsigned) or 2^i (signed) entries at the centres
// of equal cells of y = |x| 10^(6-i) over [0.1, 1), the first one at index c_i - 1 (unsigned) or
// c_i (signed). So j is estimated as start_i + floor((y - 0.1) c_i / 0.9), which is the nearest
// entry or a neighbour of it (float rounding near a cell's edge, or |x| just past a decade's first
// bound), and one comparison with each midpoint around it makes it exact. No look-up table: the
// midpoints (1.6 KiB) stay in L1.

/** Decade bounds 10^-6 .. 10^-1 as float32. */
const D1: f32 = 1e-6, D2: f32 = 1e-5, D3: f32 = 1e-4, D4: f32 = 1e-3, D5: f32 = 1e-2, D6: f32 = 1e-1;
const INV09: f32 = <f32>(1.0 / 0.9);

/** The code of `x` in [-1, 1] (a value divided by its block's absmax), scalar. */
@inline export function dynEncode(maps: usize, x: f32, signed: bool): u32 {
  const b = reinterpret<u32>(x);
  const ax = reinterpret<f32>(b & 0x7fffffff);
  let s: f32 = 1e6, c: f32 = signed ? 1 : 2;
  if (ax >= D1) { s = 1e5; c *= 2; }
  if (ax >= D2) { s = 1e4; c *= 2; }
  if (ax >= D3) { s = 1e3; c *= 2; }
  if (ax >= D4) { s = 1e2; c *= 2; }
  if (ax >= D5) { s = 1e1; c *= 2; }
  if (ax >= D6) { s = 1; c *= 2; }
  const t = (ax * s - <f32>0.1) * (c * INV09);
  const ci = <i32>c;
  const k = min<i32>(max<i32>(<i32>t, 0), ci - 1);
  const mid = maps + (signed ? MID_SIGNED : MID_UNSIGNED);
  let j = (signed ? ci : ci - 1) + k;
  j = j + <i32>(ax > load<f32>(mid + (<usize>(j + 1) << 2))) - <i32>(ax <= load<f32>(mid + (<usize>j << 2)));
  if (!signed) return <u32>j;
  return select<u32>(<u32>(127 - min<i32>(j, 127)), <u32>(127 + j), (b >> 31) != 0);
}

/**
 * The codes of four values in [-1, 1] (one v128), as dynEncode gives them, in the low 32 bits of
 * the result (one byte each). The estimate is computed lane-wise; the midpoints are gathered.
 */
@inline export function dynEncode4(maps: usize, x: v128, signed: bool): u32 {
  const ax = v128.and(x, i32x4.splat(0x7fffffff));
  const m1 = f32x4.ge(ax, f32x4.splat(D1)), m2 = f32x4.ge(ax, f32x4.splat(D2)), m3 = f32x4.ge(ax, f32x4.splat(D3));
  const m4 = f32x4.ge(ax, f32x4.splat(D4)), m5 = f32x4.ge(ax, f32x4.splat(D5)), m6 = f32x4.ge(ax, f32x4.splat(D6));
  let s = f32x4.splat(1e6);
  s = v128.bitselect(f32x4.splat(1e5), s, m1);
  s = v128.bitselect(f32x4.splat(1e4), s, m2);
  s = v128.bitselect(f32x4.splat(1e3), s, m3);
  s = v128.bitselect(f32x4.splat(1e2), s, m4);
  s = v128.bitselect(f32x4.splat(1e1), s, m5);
  s = v128.bitselect(f32x4.splat(1), s, m6);
  // c = c0 2^i: each bound passed doubles it (the masks are nested).
  const one = f32x4.splat(1), two = f32x4.splat(2);
  let c = f32x4.splat(signed ? 1 : 2);
  c = f32x4.mul(c, v128.bitselect(two, one, m1));
  c = f32x4.mul(c, v128.bitselect(two, one, m2));
  c = f32x4.mul(c, v128.bitselect(two, one, m3));
  c = f32x4.mul(c, v128.bitselect(two, one, m4));
  c = f32x4.mul(c, v128.bitselect(two, one, m5));
  c = f32x4.mul(c, v128.bitselect(two, one, m6));
  const t = f32x4.mul(f32x4.sub(f32x4.mul(ax, s), f32x4.splat(0.1)), f32x4.mul(c, f32x4.splat(INV09)));
  const ci = i32x4.trunc_sat_f32x4_s(c);
  const k = i32x4.min_s(i32x4.max_s(i32x4.trunc_sat_f32x4_s(t), i32x4.splat(0)), i32x4.sub(ci, i32x4.splat(1)));
  const j0 = i32x4.add(signed ? ci : i32x4.sub(ci, i32x4.splat(1)), k);
  const mid = maps + (signed ? MID_SIGNED : MID_UNSIGNED);
  const a0 = <usize>i32x4.extract_lane(j0, 0) << 2, a1 = <usize>i32x4.extract_lane(j0, 1) << 2;
  const a2 = <usize>i32x4.extract_lane(j0, 2) << 2, a3 = <usize>i32x4.extract_lane(j0, 3) << 2;
  let lo = f32x4.splat(load<f32>(mid + a0));
  lo = f32x4.replace_lane(lo, 1, load<f32>(mid + a1));
  lo = f32x4.replace_lane(lo, 2, load<f32>(mid + a2));
  lo = f32x4.replace_lane(lo, 3, load<f32>(mid + a3));
  let hi = f32x4.splat(load<f32>(mid + a0 + 4));
  hi = f32x4.replace_lane(hi, 1, load<f32>(mid + a1 + 4));
  hi = f32x4.replace_lane(hi, 2, load<f32>(mid + a2 + 4));
  hi = f32x4.replace_lane(hi, 3, load<f32>(mid + a3 + 4));
  // j = j0 + (ax > hi) - (ax <= lo): a true mask is -1.
  const j = i32x4.add(i32x4.sub(j0, f32x4.gt(ax, hi)), f32x4.le(ax, lo));
  let code = j;
  if (signed) {
    const c127 = i32x4.splat(127);
    code = v128.bitselect(i32x4.sub(c127, i32x4.min_s(j, c127)), i32x4.add(c127, j), i32x4.lt_s(x, i32x4.splat(0)));
  }
  const n16 = i16x8.narrow_i32x4_u(code, code);
  return i32x4.extract_lane(i8x16.narrow_i16x8_u(n16, n16), 0);
}

/** The value of code `c` in a block with absolute maximum `absmax`. */
@inline export function dynDecode(maps: usize, c: u32, absmax: f32, signed: bool): f32 {
  return load<f32>(maps + (signed ? MAP_SIGNED : MAP_UNSIGNED) + (c << 2)) * absmax;
}
