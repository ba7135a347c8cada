// Low-precision storage: bf16 and f16 with stochastic or nearest-even rounding, and int8 codes of
// bitsandbytes' dynamic quantization maps (Dettmers et al. 2021). Used by the lean embedding
// tables (assembly/embedding/lean.ts). Integer and exactly rounded float operations only, the same
// in the SIMD and scalar builds, so both give the same bits.
//
// Random bits are counter-based: `srBits(rowKey, e)` depends only on (seed, update t, row r,
// element e), never on the order rows are visited in, so any split of the rows (threads, blocks)
// gives the same bits:
//   key_t     = fmix32(seedLo ^ fmix32(t + seedHi * 0x9E3779B9))
//   rowKey    = fmix32(key_t + r * 0x9E3779B9)
//   bits(e)   = fmix32(rowKey ^ ((e + 1) * 0x85EBCA77))
// with MurmurHash3's 32-bit finaliser fmix32 and wrapping u32 arithmetic.

import { MAP_SIGNED, MAP_UNSIGNED, MID_SIGNED, MID_UNSIGNED, LUT_SIGNED, LUT_UNSIGNED } from "./maps";

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

/** Four lanes of srBits for elements e, e+1, e+2, e+3 (the same bits as the scalar function). */
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
/** Largest bucket index: the bits of 1.0f >> 15. */
const LUT_TOP: u32 = 0x7f00;

/**
 * The code of `x` in [-1, 1] (a value divided by its block's absmax): the nearest map entry, ties
 * to the one nearer zero. The bucket's entry in the look-up table is nearest to the bucket's lowest
 * value, and no bucket (2^-8 relative width) holds more than one midpoint (the map's entries are at
 * least 0.7% apart), so one comparison finishes it. Branch-free: the signs of first moments are
 * unpredictable.
 */
@inline export function dynEncode(maps: usize, x: f32, signed: bool): u32 {
  const b = reinterpret<u32>(x);
  const a = b & 0x7fffffff;
  const bucket = min<u32>(a >> 15, LUT_TOP);
  const ax = reinterpret<f32>(a);
  if (signed) {
    let j = <u32>load<u8>(maps + LUT_SIGNED + bucket);
    j += <u32>(ax > load<f32>(maps + MID_SIGNED + (j << 2)));
    const neg = 127 - min<u32>(j, 127);
    return select<u32>(neg, 127 + j, (b >> 31) != 0);
  }
  const j = <u32>load<u8>(maps + LUT_UNSIGNED + bucket);
  return j + <u32>(ax > load<f32>(maps + MID_UNSIGNED + (j << 2)));
}

/** The value of code `c` in a block with absolute maximum `absmax`. */
@inline export function dynDecode(maps: usize, c: u32, absmax: f32, signed: bool): f32 {
  return load<f32>(maps + (signed ? MAP_SIGNED : MAP_UNSIGNED) + (c << 2)) * absmax;
}
