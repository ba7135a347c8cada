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

import { MAP_SIGNED, MAP_UNSIGNED, BKT_SHIFT, BKT_FIRST, BKT_COUNT, BKT_SIGNED, BKT_UNSIGNED } from "./maps";

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
// (ties to the entry nearer zero). The codes are monotonic in |x|, so a table indexed by |x|'s
// exponent and top 7 fraction bits (a bucket, ./maps.ts) gives the nearest entry of the bucket's
// smallest float and the low bits of the one midpoint inside the bucket, if any: one load from an
// 11 KiB table and integer operations, no search and no second comparison.

/** The bucket of `a` = bits of |x| (any u32: tiny values take bucket 0, past 1.0 and NaN the last). */
@inline function bucket(a: u32): u32 {
  const i = <i32>(a >> BKT_SHIFT) - BKT_FIRST;
  return <u32>select<i32>(0, select<i32>(BKT_COUNT - 1, i, i > BKT_COUNT - 1), i < 0);
}

/** The code of the non-negative entry `j` for a value whose sign bit is `neg`. */
@inline function signedCode(j: u32, neg: bool): u32 {
  return select<u32>(127 - min<u32>(j, 127), 127 + j, neg);
}

/** The code of `x` in [-1, 1] (a value divided by its block's absmax), scalar. */
@inline export function dynEncode(maps: usize, x: f32, signed: bool): u32 {
  const b = reinterpret<u32>(x);
  const a = b & 0x7fffffff;
  const e = load<u32>(maps + (signed ? BKT_SIGNED : BKT_UNSIGNED) + (<usize>bucket(a) << 2));
  const j = (e >> 16) + <u32>((a & 0xffff) > (e & 0xffff));
  return signed ? signedCode(j, (b >> 31) != 0) : j;
}

/**
 * The codes of four values in [-1, 1] (one v128), as dynEncode gives them, one per i32 lane:
 * lane-wise but for the four loads of the buckets' words.
 */
@inline export function dynCodes4(maps: usize, x: v128, signed: bool): v128 {
  const a = v128.and(x, i32x4.splat(0x7fffffff));
  const i = i32x4.shl(i32x4.min_s(i32x4.max_s(i32x4.sub(i32x4.shr_u(a, BKT_SHIFT), i32x4.splat(BKT_FIRST)), i32x4.splat(0)),
                                  i32x4.splat(BKT_COUNT - 1)), 2);
  const t = maps + (signed ? BKT_SIGNED : BKT_UNSIGNED);
  // Loaded straight into their lanes (v128.load32_lane: one instruction a lane, no scalar register).
  let e = v128.load32_zero(t + <usize>i32x4.extract_lane(i, 0));
  e = v128.load32_lane(t + <usize>i32x4.extract_lane(i, 1), e, 1);
  e = v128.load32_lane(t + <usize>i32x4.extract_lane(i, 2), e, 2);
  e = v128.load32_lane(t + <usize>i32x4.extract_lane(i, 3), e, 3);
  const low = i32x4.splat(0xffff);
  // j = (e >> 16) + (low bits of |x| > thr): a true mask is -1.
  let j = i32x4.sub(i32x4.shr_u(e, 16), i32x4.gt_s(v128.and(a, low), v128.and(e, low)));
  if (signed) {
    const c127 = i32x4.splat(127);
    j = v128.bitselect(i32x4.sub(c127, i32x4.min_s(j, c127)), i32x4.add(c127, j), i32x4.lt_s(x, i32x4.splat(0)));
  }
  return j;
}

/** The value of code `c` in a block with absolute maximum `absmax`. */
@inline export function dynDecode(maps: usize, c: u32, absmax: f32, signed: bool): f32 {
  return load<f32>(maps + (signed ? MAP_SIGNED : MAP_UNSIGNED) + (c << 2)) * absmax;
}
