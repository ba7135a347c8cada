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
// nearest entry of the map (ties to the entry nearer zero). bf16: the top 16 bits, rounded
// stochastically with bits from (seed, t, tensor, slot, element). The codecs: ./codec.ts for int8
// and the bf16 rounding (the codes and bits of the lean tables' encodeInt8 and encodeWeights,
// arranged for throughput), the lean tables' absMax and decodeWeights (embedding/storage.ts).
//
// Fusing the passes was measured and left out: one loop per family over each block that decoded 16
// elements, ran the family's lanes on them and (bf16) rounded them back, or (int8) kept their max
// as it went, gave the same bits but no speed (Adam, 64K elements, AMD EPYC family 23, the same
// codecs: int8 1.12-1.17x the time of these passes, bf16 0.91-1.04x, within the noise of a loaded
// machine): the work is the gathers, the divisions and the hashes of the rounding bits, not the
// passes over a block that stays in L1.
// Tensors stored as float32 (those under QUANT_MIN_SIZE elements) run the float32 kernel as is.
// Integer and exactly rounded float operations only: the SIMD and scalar builds give the same bits.

import { DESC_BYTES, descParam, descGrad, descLength, descHyper } from "../../shared/common";
import { srStepKey, srRowKey } from "../../shared/lowp";
import { MAP_SIGNED, MAP_UNSIGNED } from "../../shared/maps";
import { decodeWeights, absMax, encodeInt8 } from "../../embedding/lean-codec";
import { LEAN_BF16 } from "../../embedding/lean-block";
import { adamStep } from "../adam/step";
import { sgdStep } from "../sgd/step";
import { rmspropStep } from "../rmsprop/step";
import { adagradStep } from "../adagrad/step";
import { lionStep } from "../lion/step";
import { absmaxAddr, decodeInt8Block, encodeInt8Block, encodeBf16Block } from "./codec";
import {
  QUANT_DESC_WORD, QUANT_F32, QUANT_INT8, QUANT_SIGNED_SHIFT, QUANT_INDEX_SHIFT, QUANT_BLOCK,
  QUANT_T, QUANT_SEED_LO, QUANT_SEED_HI, QUANT_MAPS, QUANT_SCRATCH, QUANT_TMP, QUANT_BUF,
} from "./slots";
export * from "./slots";

@inline function word(p: usize, i: i32): u32 { return load<u32>(p + (<usize>i << 2)); }

/** The `len` int8 codes at `codes` of a block with absmax `absmax`, decoded into f32 at `dst` (absmax 0: +0). */
@inline function decodeInt8(dst: usize, codes: usize, len: usize, absmax: f32, map: usize): void {
  if (absmax == 0) memory.fill(dst, 0, len << 2);
  else decodeInt8Block(dst, codes, len, absmax, map);
}

/**
 * Encodes the `len` f32 at `src` as one int8 block at `codes` (the lean tables' row encoder): returns
 * its absmax (the largest |x|); the codes of a block of zeros stand for 0.
 */
@inline function encodeBlock(codes: usize, src: usize, len: usize, maps: usize, signed: bool, tmp: usize): f32 {
  const absmax = absMax(src, len);
  if (absmax == 0) memory.fill(codes, signed ? 127 : 0, len);
  else if (signed) encodeInt8Block(codes, src, len, absmax, maps, true, tmp);
  else encodeInt8Block(codes, src, len, absmax, maps, false, tmp);
  return absmax;
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
      const dst = sc + QUANT_BUF + <usize>s * (QUANT_BLOCK << 2);
      store<u32>(sc + (<usize>(2 + s) << 2), at == 0 ? 0 : <u32>dst);
      if (at == 0) continue;
      if (int8) {
        const signed = ((w7 >> (QUANT_SIGNED_SHIFT + s)) & 1) != 0;
        decodeInt8(dst, at + b0, len, load<f32>(absmaxAddr(at, n, b0 / QUANT_BLOCK)), maps + (signed ? MAP_SIGNED : MAP_UNSIGNED));
      } else {
        decodeWeights(dst, at + (b0 << 1), len, LEAN_BF16);
      }
    }
    kernel(sc, 1);
    for (let s = 0; s < 3; s++) {
      const at = <usize>word(d, 2 + s);
      if (at == 0) continue;
      const src = sc + QUANT_BUF + <usize>s * (QUANT_BLOCK << 2);
      if (int8) {
        const signed = ((w7 >> (QUANT_SIGNED_SHIFT + s)) & 1) != 0;
        store<f32>(absmaxAddr(at, n, b0 / QUANT_BLOCK), encodeBlock(at + b0, src, len, maps, signed, sc + QUANT_TMP));
      } else {
        // e0 = b0 is even: the pairs of 16-bit halves line up as in a table's rows.
        encodeBf16Block(at + (b0 << 1), src, len, srRowKey(key, (index << 2) | <u32>s), <u32>b0);
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
    const x = src + (b0 << 2);
    const absmax = absMax(x, m);
    store<f32>(absmaxAddr(at, len, b0 / QUANT_BLOCK), absmax);
    // The lean tables' encoder (the same codes as encodeInt8Block; this path has no scratch).
    if (absmax == 0) memory.fill(at + b0, signed != 0 ? 127 : 0, m);
    else if (signed != 0) encodeInt8(at + b0, x, m, absmax, maps, true);
    else encodeInt8(at + b0, x, m, absmax, maps, false);
  }
}

/**
 * Decodes the int8 state tensor of `n` elements at `at` (codes, then the blocks' absmax) into `n` f32
 * at `dst`: map[code] * absmax (one float32 multiply), +0 in a block whose absmax is 0; the step's
 * own decoder (`StoredParam.state`, state dicts). `maps`: the maps block; `signed`: the signed map.
 */
export function quantDecodeInt8(dst: usize, at: usize, n: u32, maps: usize, signed: i32): void {
  const len = <usize>n;
  const map = maps + (signed != 0 ? MAP_SIGNED : MAP_UNSIGNED);
  for (let b0: usize = 0; b0 < len; b0 += QUANT_BLOCK) {
    const m = len - b0 < <usize>QUANT_BLOCK ? len - b0 : <usize>QUANT_BLOCK;
    decodeInt8(dst + (b0 << 2), at + b0, m, load<f32>(absmaxAddr(at, len, b0 / QUANT_BLOCK)), map);
  }
}
