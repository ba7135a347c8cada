// Dense optimizers whose state is stored in 16 or 8 bits (`stateType`, src/core/state-type.ts).
// Each tensor is stepped in blocks of QUANT_BLOCK (256) elements: the block's state is decoded into
// float32 scratch, the optimizer's ordinary float32 kernel runs on a shadow descriptor over the
// block (param and gradient in place, state in the scratch), and the state is encoded back. So the
// arithmetic of a step is exactly the float32 optimizer's applied to the decoded state; only the
// storing rounds (as the lean embedding tables do per row, assembly/embedding/storage.ts).
//
// int8 (bitsandbytes' blockwise dynamic quantization, Dettmers et al. 2021; kernel
// kOptimizerStatic8bit2StateBlockwise of csrc/kernels.cu): value = map[code] * absmax of the block;
// after the step the block's new absmax = max |x|, and each x / absmax (float32 division) takes the
// nearest entry of the map (shared/lowp.ts dynCodes4 / dynEncode: ties to the entry nearer zero).
// bf16: the top 16 bits, rounded stochastically with bits from (seed, t, tensor, slot, element).
// Tensors stored as float32 (those under QUANT_MIN_SIZE elements) run the float32 kernel as is.
// Integer and exactly rounded float operations only: the SIMD and scalar builds give the same bits.

import { DESC_BYTES, descParam, descGrad, descLength, descHyper } from "../../shared/common";
import { srStepKey, srRowKey, srBits4, srBits16, bf16ToF32, f32ToBf16Sr, dynEncode, dynCodes4 } from "../../shared/lowp";
import { MAP_SIGNED, MAP_UNSIGNED } from "../../shared/maps";
import { adamStep } from "../adam/step";
import { sgdStep } from "../sgd/step";
import { rmspropStep } from "../rmsprop/step";
import { adagradStep } from "../adagrad/step";
import { lionStep } from "../lion/step";
import {
  QUANT_DESC_WORD, QUANT_F32, QUANT_INT8, QUANT_SIGNED_SHIFT, QUANT_INDEX_SHIFT, QUANT_BLOCK,
  QUANT_T, QUANT_SEED_LO, QUANT_SEED_HI, QUANT_MAPS, QUANT_SCRATCH,
} from "./slots";
export * from "./slots";

@inline function word(p: usize, i: i32): u32 { return load<u32>(p + (<usize>i << 2)); }

/** The `len` int8 codes at `codes` of a block with absmax `absmax`, decoded into f32 at `dst` (absmax 0: +0). */
function decodeInt8(dst: usize, codes: usize, len: usize, absmax: f32, map: usize): void {
  if (absmax == 0) {
    memory.fill(dst, 0, len << 2);
    return;
  }
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    // Four entries gathered into a vector, one multiply (lane-wise the scalar's rounding).
    const va = f32x4.splat(absmax);
    const n4 = len & ~(<usize>3);
    for (; i < n4; i += 4) {
      let v = f32x4.splat(load<f32>(map + (<usize>load<u8>(codes + i) << 2)));
      v = f32x4.replace_lane(v, 1, load<f32>(map + (<usize>load<u8>(codes + i, 1) << 2)));
      v = f32x4.replace_lane(v, 2, load<f32>(map + (<usize>load<u8>(codes + i, 2) << 2)));
      v = f32x4.replace_lane(v, 3, load<f32>(map + (<usize>load<u8>(codes + i, 3) << 2)));
      v128.store(dst + (i << 2), f32x4.mul(v, va));
    }
  }
  for (; i < len; i++) store<f32>(dst + (i << 2), load<f32>(map + (<usize>load<u8>(codes + i) << 2)) * absmax);
}

/**
 * Encodes the `len` f32 at `src` as one block: returns its absmax (the largest u32 bits of |x|: the
 * float max, a NaN winning, integer operations only) and writes the nearest codes of x / absmax.
 */
@inline function encodeInt8(codes: usize, src: usize, len: usize, maps: usize, signed: bool): f32 {
  let i: usize = 0;
  let m: u32 = 0;
  if (ASC_FEATURE_SIMD) {
    const n4 = len & ~(<usize>3);
    const mask = i32x4.splat(0x7fffffff);
    let v = i32x4.splat(0);
    for (; i < n4; i += 4) v = i32x4.max_u(v, v128.and(v128.load(src + (i << 2)), mask));
    m = max<u32>(max<u32>(i32x4.extract_lane(v, 0), i32x4.extract_lane(v, 1)), max<u32>(i32x4.extract_lane(v, 2), i32x4.extract_lane(v, 3)));
  }
  for (; i < len; i++) m = max<u32>(m, load<u32>(src + (i << 2)) & 0x7fffffff);
  const absmax = reinterpret<f32>(m);
  if (absmax == 0) {
    memory.fill(codes, signed ? 127 : 0, len);
    return absmax;
  }
  i = 0;
  if (ASC_FEATURE_SIMD) {
    const va = f32x4.splat(absmax);
    const n4 = len & ~(<usize>3);
    for (; i < n4; i += 4) {
      const c = dynCodes4(maps, f32x4.div(v128.load(src + (i << 2)), va), signed);
      const h = i16x8.narrow_i32x4_u(c, c);
      store<u32>(codes + i, i32x4.extract_lane(i8x16.narrow_i16x8_u(h, h), 0));
    }
  }
  for (; i < len; i++) store<u8>(codes + i, <u8>dynEncode(maps, load<f32>(src + (i << 2)) / absmax, signed));
  return absmax;
}

/** `len` bf16 at `src` decoded into f32 at `dst` (exact). */
function decodeBf16(dst: usize, src: usize, len: usize): void {
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const n8 = len & ~(<usize>7);
    for (; i < n8; i += 8) {
      const h = v128.load(src + (i << 1));
      v128.store(dst + (i << 2), i32x4.shl(i32x4.extend_low_i16x8_u(h), 16));
      v128.store(dst + (i << 2), i32x4.shl(i32x4.extend_high_i16x8_u(h), 16), 16);
    }
  }
  for (; i < len; i++) store<f32>(dst + (i << 2), bf16ToF32(<u32>load<u16>(src + (i << 1))));
}

/** `len` f32 at `src` rounded stochastically to bf16 at `dst`: element e0 + i takes srBits16(rk, e0 + i) (e0 even). */
function encodeBf16(dst: usize, src: usize, len: usize, rk: u32, e0: u32): void {
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const n8 = len & ~(<usize>7);
    for (; i < n8; i += 8) {
      const r = srBits4(rk, (e0 + <u32>i) >> 1); // 8 x 16 bits, element order
      const a = i32x4.shr_u(i32x4.add(v128.load(src + (i << 2)), i32x4.extend_low_i16x8_u(r)), 16);
      const b = i32x4.shr_u(i32x4.add(v128.load(src + (i << 2), 16), i32x4.extend_high_i16x8_u(r)), 16);
      v128.store(dst + (i << 1), i16x8.narrow_i32x4_u(a, b));
    }
  }
  for (; i < len; i++) store<u16>(dst + (i << 1), <u16>f32ToBf16Sr(load<f32>(src + (i << 2)), srBits16(rk, e0 + <u32>i)));
}

/** Where the absmax of block `b` of an int8 state tensor of `n` elements at `at` lives. */
@inline function absmaxAddr(at: usize, n: usize, b: usize): usize {
  return at + ((n + 15) & ~(<usize>15)) + (b << 2);
}

/** One tensor stored in bf16 or int8: decode, the float32 kernel, encode, block by block. */
function quantTensor(d: usize, w7: u32, kernel: (table: usize, count: i32) => void): void {
  const h = descHyper(d);
  const n = descLength(d);
  const P = descParam(d), G = descGrad(d);
  const sc = <usize>word(h, QUANT_SCRATCH);
  const maps = <usize>word(h, QUANT_MAPS);
  const int8 = (w7 & 3) == QUANT_INT8;
  const key = srStepKey(word(h, QUANT_SEED_LO), word(h, QUANT_SEED_HI), word(h, QUANT_T));
  const index = w7 >> QUANT_INDEX_SHIFT;
  // The shadow descriptor: [param, grad, state0..2, length, hyper, 0] over the block.
  store<u32>(sc, <u32>h, 24);
  store<u32>(sc, 0, 28);
  for (let b0: usize = 0; b0 < n; b0 += QUANT_BLOCK) {
    const len = n - b0 < <usize>QUANT_BLOCK ? n - b0 : <usize>QUANT_BLOCK;
    store<u32>(sc, <u32>(P + (b0 << 2)), 0);
    store<u32>(sc, <u32>(G + (b0 << 2)), 4);
    store<u32>(sc, <u32>len, 20);
    for (let s = 0; s < 3; s++) {
      const at = <usize>word(d, 2 + s);
      const dst = sc + 32 + <usize>s * (QUANT_BLOCK << 2);
      store<u32>(sc + (<usize>(2 + s) << 2), at == 0 ? 0 : <u32>dst);
      if (at == 0) continue;
      if (int8) {
        const signed = ((w7 >> (QUANT_SIGNED_SHIFT + s)) & 1) != 0;
        decodeInt8(dst, at + b0, len, load<f32>(absmaxAddr(at, n, b0 / QUANT_BLOCK)), maps + (signed ? MAP_SIGNED : MAP_UNSIGNED));
      } else {
        decodeBf16(dst, at + (b0 << 1), len);
      }
    }
    kernel(sc, 1);
    for (let s = 0; s < 3; s++) {
      const at = <usize>word(d, 2 + s);
      if (at == 0) continue;
      const src = sc + 32 + <usize>s * (QUANT_BLOCK << 2);
      if (int8) {
        const signed = ((w7 >> (QUANT_SIGNED_SHIFT + s)) & 1) != 0;
        const absmax = signed ? encodeInt8(at + b0, src, len, maps, true) : encodeInt8(at + b0, src, len, maps, false);
        store<f32>(absmaxAddr(at, n, b0 / QUANT_BLOCK), absmax);
      } else {
        encodeBf16(at + (b0 << 1), src, len, srRowKey(key, (index << 2) | <u32>s), <u32>b0);
      }
    }
  }
}

/** Every tensor of the table: the float32 kernel for float32 state, the block loop for the others. */
function quantTable(table: usize, count: i32, kernel: (table: usize, count: i32) => void): void {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    const w7 = word(d, QUANT_DESC_WORD);
    if ((w7 & 3) == QUANT_F32) kernel(d, 1);
    else quantTensor(d, w7, kernel);
  }
}

/** Adam / AdamW / AMSGrad with 16- or 8-bit state (the hyper block of adamStep, plus the QUANT_* slots). */
export function adamQStep(table: usize, count: i32): void { quantTable(table, count, adamStep); }
/** SGD with 16- or 8-bit momentum. */
export function sgdQStep(table: usize, count: i32): void { quantTable(table, count, sgdStep); }
/** RMSprop with 16- or 8-bit state. */
export function rmspropQStep(table: usize, count: i32): void { quantTable(table, count, rmspropStep); }
/** Adagrad with a 16- or 8-bit sum. */
export function adagradQStep(table: usize, count: i32): void { quantTable(table, count, adagradStep); }
/** Lion with a 16- or 8-bit momentum. */
export function lionQStep(table: usize, count: i32): void { quantTable(table, count, lionStep); }

/**
 * Encodes `n` f32 at `src` as an int8 state tensor at `at` (codes, then the blocks' absmax): initial
 * values and state dicts. `maps`: the maps block; `signed`: the signed map.
 */
export function quantEncodeInt8(at: usize, src: usize, n: u32, maps: usize, signed: i32): void {
  const len = <usize>n;
  for (let b0: usize = 0; b0 < len; b0 += QUANT_BLOCK) {
    const m = len - b0 < <usize>QUANT_BLOCK ? len - b0 : <usize>QUANT_BLOCK;
    const absmax = signed ? encodeInt8(at + b0, src + (b0 << 2), m, maps, true) : encodeInt8(at + b0, src + (b0 << 2), m, maps, false);
    store<f32>(absmaxAddr(at, len, b0 / QUANT_BLOCK), absmax);
  }
}

/** Decodes the int8 state tensor of `n` elements at `at` into f32 at `dst`. */
export function quantDecodeInt8(dst: usize, at: usize, n: u32, maps: usize, signed: i32): void {
  const len = <usize>n;
  const map = maps + (signed ? MAP_SIGNED : MAP_UNSIGNED);
  for (let b0: usize = 0; b0 < len; b0 += QUANT_BLOCK) {
    const m = len - b0 < <usize>QUANT_BLOCK ? len - b0 : <usize>QUANT_BLOCK;
    decodeInt8(dst + (b0 << 2), at + b0, m, load<f32>(absmaxAddr(at, len, b0 / QUANT_BLOCK)), map);
  }
}
