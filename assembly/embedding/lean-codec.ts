// Decoding and encoding one row of a lean table's record (assembly/embedding/storage.ts): weights
// stored as f32, f16 or bf16, int8 state codes with the row's absmax. Shared by the unfused update
// path of storage.ts, the fused Adam rows (lean-adam.ts) and the dense quantized steps
// (optimizers/quant/step.ts). Not re-exported by assembly/index.ts: none is called from JavaScript.

import { LEAN_F32, LEAN_BF16 } from "./lean-block";
import { bf16Sr8 } from "./lean-record";
import { srBits, srBits16, bf16ToF32, f32ToBf16Sr, f32ToBf16Rne, f16ToF32, f32ToF16, dynEncode, dynCodes4 } from "../shared/lowp";


/** Decodes `dim` weights at `src` (stored as `wt`) into f32 at `dst`. */
export function decodeWeights(dst: usize, src: usize, dim: usize, wt: u32): void {
  if (wt == LEAN_F32) { memory.copy(dst, src, dim << 2); return; }
  let i: usize = 0;
  if (wt == LEAN_BF16) {
    if (ASC_FEATURE_SIMD) {
      const n8 = dim & ~(<usize>7);
      for (; i < n8; i += 8) {
        const h = v128.load(src + (i << 1));
        v128.store(dst + (i << 2), i32x4.shl(i32x4.extend_low_i16x8_u(h), 16));
        v128.store(dst + (i << 2), i32x4.shl(i32x4.extend_high_i16x8_u(h), 16), 16);
      }
    }
    for (; i < dim; i++) store<f32>(dst + (i << 2), bf16ToF32(<u32>load<u16>(src + (i << 1))));
    return;
  }
  for (; i < dim; i++) store<f32>(dst + (i << 2), f16ToF32(<u32>load<u16>(src + (i << 1))));
}

/**
 * Encodes `dim` f32 weights at `src` into `dst` as `wt`: stochastically with row key `rk` (element
 * numbers from `e0`), or to nearest.
 */
export function encodeWeights(dst: usize, src: usize, dim: usize, wt: u32, rk: u32, sr: bool, e0: u32): void {
  if (wt == LEAN_F32) { memory.copy(dst, src, dim << 2); return; }
  let i: usize = 0;
  if (wt == LEAN_BF16) {
    if (sr) {
      // e0 is even (a multiple of dim when dim is even; 0 for the weights): pairs line up with srBits16.
      if (ASC_FEATURE_SIMD && (e0 & 1) == 0) {
        const n8 = dim & ~(<usize>7);
        for (; i < n8; i += 8) bf16Sr8(dst + (i << 1), v128.load(src + (i << 2)), v128.load(src + (i << 2), 16), rk, e0 + <u32>i);
      }
      for (; i < dim; i++) store<u16>(dst + (i << 1), <u16>f32ToBf16Sr(load<f32>(src + (i << 2)), srBits16(rk, e0 + <u32>i)));
    } else {
      for (; i < dim; i++) store<u16>(dst + (i << 1), <u16>f32ToBf16Rne(load<f32>(src + (i << 2))));
    }
    return;
  }
  for (; i < dim; i++) {
    const rnd = sr ? srBits(rk, e0 + <u32>i) : 0;
    store<u16>(dst + (i << 1), <u16>f32ToF16(load<f32>(src + (i << 2)), rnd, sr));
  }
}

/** Decodes `dim` int8 codes at `at` of a row with absmax `absmax` (0: the row decodes to +0) into f32 at `dst`; `map`: the row's map. */
@inline export function decodeCodes(dst: usize, at: usize, absmax: f32, dim: usize, map: usize): void {
  if (absmax == 0) {
    memory.fill(dst, 0, dim << 2);
    return;
  }
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    // Four entries gathered into a vector, one multiply (lane-wise the same rounding as the scalar's).
    const va = f32x4.splat(absmax);
    const n4 = dim & ~(<usize>3);
    for (; i < n4; i += 4) {
      let v = v128.load32_zero(map + (<usize>load<u8>(at + i) << 2));
      v = v128.load32_lane(map + (<usize>load<u8>(at + i, 1) << 2), v, 1);
      v = v128.load32_lane(map + (<usize>load<u8>(at + i, 2) << 2), v, 2);
      v = v128.load32_lane(map + (<usize>load<u8>(at + i, 3) << 2), v, 3);
      v128.store(dst + (i << 2), f32x4.mul(v, va));
    }
  }
  for (; i < dim; i++) store<f32>(dst + (i << 2), load<f32>(map + (<usize>load<u8>(at + i) << 2)) * absmax);
}

/**
 * The largest |x| of `dim` f32 at `src`, as the largest of the u32 bits of |x| (the same order for
 * non-negative floats; a NaN wins over everything, as it would in f32.max, and both builds pick the
 * same one: integer operations only; 1 instruction a vector where f32x4.max costs V8 seven).
 */
@inline export function absMax(src: usize, dim: usize): f32 {
  let i: usize = 0;
  let m: u32 = 0;
  if (ASC_FEATURE_SIMD) {
    const n4 = dim & ~(<usize>3);
    if (n4 > 0) {
      const mask = i32x4.splat(0x7fffffff);
      let v = i32x4.splat(0);
      for (; i < n4; i += 4) v = i32x4.max_u(v, v128.and(v128.load(src + (i << 2)), mask));
      m = max<u32>(max<u32>(i32x4.extract_lane(v, 0), i32x4.extract_lane(v, 1)), max<u32>(i32x4.extract_lane(v, 2), i32x4.extract_lane(v, 3)));
    }
  }
  for (; i < dim; i++) m = max<u32>(m, load<u32>(src + (i << 2)) & 0x7fffffff);
  return reinterpret<f32>(m);
}

/** The codes of `dim` f32 at `src` divided by `absmax` (> 0). */
@inline export function encodeInt8(codes: usize, src: usize, dim: usize, absmax: f32, maps: usize, signed: bool): void {
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    // Sixteen at a time (f32x4.div rounds as the scalar division does; dynCodes4 = dynEncode).
    const va = f32x4.splat(absmax);
    const n16 = dim & ~(<usize>15);
    for (; i < n16; i += 16) {
      const p = src + (i << 2);
      const c0 = dynCodes4(maps, f32x4.div(v128.load(p), va), signed), c1 = dynCodes4(maps, f32x4.div(v128.load(p, 16), va), signed);
      const c2 = dynCodes4(maps, f32x4.div(v128.load(p, 32), va), signed), c3 = dynCodes4(maps, f32x4.div(v128.load(p, 48), va), signed);
      v128.store(codes + i, i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_u(c0, c1), i16x8.narrow_i32x4_u(c2, c3)));
    }
    const n4 = dim & ~(<usize>3);
    for (; i < n4; i += 4) {
      const c = dynCodes4(maps, f32x4.div(v128.load(src + (i << 2)), va), signed);
      const h = i16x8.narrow_i32x4_u(c, c);
      store<u32>(codes + i, i32x4.extract_lane(i8x16.narrow_i16x8_u(h, h), 0));
    }
  }
  for (; i < dim; i++) store<u8>(codes + i, <u8>dynEncode(maps, load<f32>(src + (i << 2)) / absmax, signed));
}
