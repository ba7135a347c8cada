// Lean embedding tables: weights stored as f32, f16 or bf16 and optimizer state as f32, bf16 or
// int8 (bitsandbytes' blockwise dynamic quantization, one block per row and state tensor), one
// record per row: [weights][absmax of each state (int8)][state tensors], row after row, in chunks
// of 2^shift rows (a table may pass one allocator block: a 16M x 64 bf16 table is 2 GiB).
//
// An update decodes each block of up to LEAN_BLOCK touched rows into float32 rows of a scratch
// table, runs the ordinary row kernel of the optimizer on them (embApply on a shadow descriptor
// whose weights and state point at the scratch rows), and encodes them back: weights and bf16 state
// rounded stochastically (shared/lowp.ts: bits from (seed, t, row, element)), int8 state with the
// row's new absmax. Nothing depends on the order of the rows, so any split of the list gives the
// same bits. Adam (lean-adam.ts) and bf16 row-wise Adagrad (below) take fused rows instead: the same
// operations on each element, stepped where the row lies, without the scratch rows.
// The block's words are in lean-block.ts, the row codecs in lean-codec.ts, the record helpers in
// lean-record.ts.

import { EMB_WEIGHTS, EMB_STATE0, EMB_STATE1, EMB_STATE2, EMB_UNIQ, EMB_GPTR, EMB_HYPER, EMB_KIND, EMB_KIND_ROWWISE_ADAGRAD, EMB_KIND_ADAM } from "./layout";
import { hyperF32, hyperFlag } from "../shared/common";
import { rowwiseAdagradMult, rowwiseAdagradC, rowwiseAdagradVec } from "../optimizers/rowwise/lanes";
import { RWADAGRAD_GSCALE, RWADAGRAD_USE_L2, RWADAGRAD_USE_DEC } from "../optimizers/rowwise/slots";
import { embApply } from "./apply";
import { touchGrads } from "./touch";
import { srStepKey, srRowKey, srBits16, bf16ToF32, f32ToBf16Sr } from "../shared/lowp";
import { MAP_SIGNED, MAP_UNSIGNED } from "../shared/maps";
import { w32, recAddr, slotWord, bf16Sr8, touchRecords } from "./lean-record";
import { decodeWeights, encodeWeights, decodeCodes, absMax, encodeInt8 } from "./lean-codec";
import { LEAN_UNIQ, LEAN_GPTR, LEAN_WTYPE, LEAN_STYPE, LEAN_NSTATE, LEAN_SIGNED, LEAN_REC, LEAN_ROW0, LEAN_SEEDLO, LEAN_SEEDHI, LEAN_MAPS,
  LEAN_DIM, LEAN_KEEP, LEAN_UNIQ0, LEAN_FAIL, LEAN_SINK, LEAN_SROW, LEAN_NOFUSE, LEAN_SHADOW_AT, LEAN_IOTA_AT, LEAN_SCRATCH_AT, LEAN_BLOCK,
  LEAN_F32, LEAN_F16, LEAN_BF16, LEAN_INT8 } from "./lean-block";
import { adamFusedRows } from "./lean-adam";

/**
 * State slot `s` of a record and the f32 row at `buf`: decoded into it (`enc` false; an int8 row
 * with absmax 0 decodes to +0), or encoded from it (int8: the row's new absmax, nearest codes;
 * bf16: row key `rk`, stochastically when `sr`). A per-row slot is float32 either way.
 */
@inline function stateRow(ld: usize, rec: usize, buf: usize, s: u32, dim: usize, st: u32, rk: u32, sr: bool, enc: bool): void {
  const at = rec + slotWord(ld, s, 1);
  const w = slotWord(ld, s, 3);
  if (w != dim) {
    if (enc) memory.copy(at, buf, w << 2);
    else memory.copy(buf, at, w << 2);
    return;
  }
  if (st != LEAN_INT8) {
    const type = st == LEAN_BF16 ? LEAN_BF16 : LEAN_F32;
    if (enc) encodeWeights(at, buf, dim, type, rk, sr, (s + 1) * <u32>dim);
    else decodeWeights(buf, at, dim, type);
    return;
  }
  const am = rec + slotWord(ld, s, 2);
  const maps = <usize>w32(ld, LEAN_MAPS);
  const signed = ((w32(ld, LEAN_SIGNED) >> s) & 1) != 0;
  if (!enc) {
    decodeCodes(buf, at, load<f32>(am), dim, maps + (signed ? MAP_SIGNED : MAP_UNSIGNED));
    return;
  }
  const absmax = absMax(buf, dim);
  store<f32>(am, absmax);
  if (absmax == 0) memory.fill(at, signed ? 127 : 0, dim);
  else if (signed) encodeInt8(at, buf, dim, absmax, maps, true);
  else encodeInt8(at, buf, dim, absmax, maps, false);
}

// ---------------------------------------------------------------------------------------------
// Fused rows: row-wise Adagrad on bf16 weights (no L2 decay) needs neither the decoded weights for
// its row statistic nor scratch rows: the gradient gives the multiplier, then each group of eight
// weights is decoded, stepped and rounded back in registers. The same operations as the decode ->
// rowwiseAdagradRow -> encode of a block, element by element, so the same bits.

@inline function rowwiseAdagradFused(ld: usize, key: u32, from: i32, end: i32, dec: bool): void {
  const dim = <usize>w32(ld, LEAN_DIM);
  const uniq = <usize>w32(ld, LEAN_UNIQ), gptr = <usize>w32(ld, LEAN_GPTR);
  const h = <usize>load<u32>(ld + LEAN_SHADOW_AT + (<usize>EMB_HYPER << 2));
  const sAt = slotWord(ld, 0, 1), row0 = w32(ld, LEAN_ROW0);
  const gs = hyperF32(h, RWADAGRAD_GSCALE);
  for (let u = from; u < end; u++) {
    if (((u - from) & (LEAN_BLOCK - 1)) == 0) touchRecords(ld, uniq, u, end);
    const r = load<u32>(uniq + (<usize>u << 2));
    const rec = recAddr(ld, r);
    const G = <usize>load<u32>(gptr + (<usize>u << 2));
    const rk = srRowKey(key, r + row0);
    const mult = rowwiseAdagradMult(0, G, rec + sAt, dim, h, false);
    const c = rowwiseAdagradC(h, mult, false, dec);
    let i: usize = 0;
    if (ASC_FEATURE_SIMD) {
      const vgs = f32x4.splat(gs), vm = f32x4.splat(mult), vc = f32x4.splat(c);
      const n8 = dim & ~(<usize>7);
      for (; i < n8; i += 8) {
        const w = v128.load(rec + (i << 1));
        const a = rowwiseAdagradVec(i32x4.shl(i32x4.extend_low_i16x8_u(w), 16), v128.load(G + (i << 2)), vc, vm, vgs);
        const b = rowwiseAdagradVec(i32x4.shl(i32x4.extend_high_i16x8_u(w), 16), v128.load(G + (i << 2), 16), vc, vm, vgs);
        bf16Sr8(rec + (i << 1), a, b, rk, <u32>i);
      }
    }
    for (; i < dim; i++) {
      const p = c * bf16ToF32(<u32>load<u16>(rec + (i << 1))) - mult * (load<f32>(G + (i << 2)) * gs);
      store<u16>(rec + (i << 1), <u16>f32ToBf16Sr(p, srBits16(rk, <u32>i)));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The exports.

/**
 * Step `t` of a lean table on entries [from, from + count) of the unique rows embCoalesce listed
 * (in EMB_UNIQ / EMB_GPTR of the main descriptor): decode, the optimizer's row kernel in f32,
 * encode with stochastic rounding. Any split of [0, n) into ranges gives the same bits.
 */
export function leanApply(ld: usize, t: u32, from: i32, count: i32): void {
  const dim = <usize>w32(ld, LEAN_DIM);
  const uniq = <usize>w32(ld, LEAN_UNIQ), gptr = <usize>w32(ld, LEAN_GPTR);
  const wt = w32(ld, LEAN_WTYPE), st = w32(ld, LEAN_STYPE), ns = w32(ld, LEAN_NSTATE);
  const sh = ld + LEAN_SHADOW_AT;
  const SW = ld + LEAN_SCRATCH_AT, SS = SW + <usize>LEAN_BLOCK * dim * 4;
  const srow = <usize>w32(ld, LEAN_SROW);
  // The shadow descriptor's pointers, relative to this block (it may be a thread's copy).
  store<u32>(sh + (<usize>EMB_WEIGHTS << 2), <u32>SW);
  store<u32>(sh + (<usize>EMB_STATE0 << 2), <u32>(SS + slotWord(ld, 0, 0)));
  store<u32>(sh + (<usize>EMB_STATE1 << 2), <u32>(SS + slotWord(ld, 1, 0)));
  store<u32>(sh + (<usize>EMB_STATE2 << 2), <u32>(SS + slotWord(ld, 2, 0)));
  store<u32>(sh + (<usize>EMB_UNIQ << 2), <u32>(ld + LEAN_IOTA_AT));
  const key = srStepKey(w32(ld, LEAN_SEEDLO), w32(ld, LEAN_SEEDHI), t);
  const end = from + count;
  // The f16 guard: each record is kept (hot: it was just decoded) before it is written, and the
  // stored weights are checked; the TypeScript side restores the kept records when one failed.
  const keep = <usize>w32(ld, LEAN_KEEP);
  const rb = <usize>w32(ld, LEAN_REC);
  const entry0 = keep ? (uniq - <usize>w32(ld, LEAN_UNIQ0)) >> 2 : 0;
  let bad: u32 = 0;
  // Row-wise Adagrad on bf16 weights (without L2 decay): the fused rows above, when the row's sum
  // is a float32 word (with dim 1 it is a per-element tensor of the state type).
  const h = <usize>load<u32>(sh + (<usize>EMB_HYPER << 2));
  if (load<u32>(sh + (<usize>EMB_KIND << 2)) == EMB_KIND_ROWWISE_ADAGRAD && wt == LEAN_BF16 && !keep && !hyperFlag(h, RWADAGRAD_USE_L2) &&
      (dim > 1 || st == LEAN_F32) && !w32(ld, LEAN_NOFUSE)) {
    if (hyperFlag(h, RWADAGRAD_USE_DEC)) rowwiseAdagradFused(ld, key, from, end, true);
    else rowwiseAdagradFused(ld, key, from, end, false);
    return;
  }
  // Adam (and AdamW, AMSGrad): fused rows (./lean-adam.ts) for bf16 and f32 weights, when exp_avg alone takes the signed map.
  if (load<u32>(sh + (<usize>EMB_KIND << 2)) == EMB_KIND_ADAM && wt != LEAN_F16 && w32(ld, LEAN_SIGNED) == 1 && !w32(ld, LEAN_NOFUSE)) {
    store<u32>(ld + (<usize>LEAN_SINK << 2), adamFusedRows(ld, key, from, end));
    return;
  }
  let sink: u32 = 0;
  for (let u = from; u < end; u += LEAN_BLOCK) {
    const m = end - u < LEAN_BLOCK ? end - u : LEAN_BLOCK;
    touchRecords(ld, uniq, u, end);
    sink ^= touchGrads(gptr, u, end, dim << 2);
    for (let q = 0; q < m; q++) {
      const r = load<u32>(uniq + (<usize>(u + q) << 2));
      const rec = recAddr(ld, r);
      if (keep) {
        const k = keep + (entry0 + <usize>(u + q)) * (rb + 4);
        store<u32>(k, r);
        memory.copy(k + 4, rec, rb);
      }
      decodeWeights(SW + <usize>q * dim * 4, rec, dim, wt);
      for (let s: u32 = 0; s < ns; s++) stateRow(ld, rec, SS + <usize>q * srow + slotWord(ld, s, 0), s, dim, st, 0, false, false);
    }
    store<u32>(sh + (<usize>EMB_GPTR << 2), <u32>(gptr + (<usize>u << 2)));
    embApply(sh, t, m, 0, 0, 0, 0, 0);
    for (let q = 0; q < m; q++) {
      const r = load<u32>(uniq + (<usize>(u + q) << 2));
      const rec = recAddr(ld, r);
      const rk = srRowKey(key, r + w32(ld, LEAN_ROW0));
      encodeWeights(rec, SW + <usize>q * dim * 4, dim, wt, rk, true, 0);
      if (keep) for (let i: usize = 0; i < dim; i++) bad |= <u32>((load<u16>(rec + (i << 1)) & 0x7c00) == 0x7c00);
      for (let s: u32 = 0; s < ns; s++) stateRow(ld, rec, SS + <usize>q * srow + slotWord(ld, s, 0), s, dim, st, rk, true, true);
    }
  }
  if (bad) store<u32>(<usize>w32(ld, LEAN_FAIL), 1);
  store<u32>(ld + (<usize>LEAN_SINK << 2), sink);
}

/** Writes the `n` records kept by the f16 guard (LEAN_KEEP's entries) back: the update is undone. */
export function leanRestore(ld: usize, keep: usize, n: u32): void {
  const rb = <usize>w32(ld, LEAN_REC);
  for (let q: usize = 0; q < <usize>n; q++) {
    const k = keep + q * (rb + 4);
    memory.copy(recAddr(ld, load<u32>(k)), k + 4, rb);
  }
}

/** Gathers the decoded weights of the `k` ids at `ids` (already checked) into `out` (k * dim f32). */
export function leanLookup(ld: usize, ids: usize, k: i32, out: usize): void {
  const dim = <usize>w32(ld, LEAN_DIM);
  const wt = w32(ld, LEAN_WTYPE);
  for (let i = 0; i < k; i++) {
    if ((i & (LEAN_BLOCK - 1)) == 0) touchRecords(ld, ids, i, k);
    decodeWeights(out + <usize>i * dim * 4, recAddr(ld, load<u32>(ids + (<usize>i << 2))), dim, wt);
  }
}

/** Rows [from, from + count) of tensor `what` (-1: the weights; s >= 0: state slot s) and `count * width` f32 at `buf`. */
@inline function tensorRows(ld: usize, from: u32, count: u32, buf: usize, what: i32, enc: bool): void {
  const dim = <usize>w32(ld, LEAN_DIM);
  const width = what < 0 ? dim : slotWord(ld, <u32>what, 3);
  for (let q: u32 = 0; q < count; q++) {
    const rec = recAddr(ld, from + q);
    const row = buf + <usize>q * width * 4;
    if (what >= 0) stateRow(ld, rec, row, <u32>what, dim, w32(ld, LEAN_STYPE), 0, false, enc);
    else if (enc) encodeWeights(rec, row, dim, w32(ld, LEAN_WTYPE), 0, false, 0);
    else decodeWeights(row, rec, dim, w32(ld, LEAN_WTYPE));
  }
}

/**
 * Decodes rows [from, from + count) of tensor `what` (-1: the weights; s >= 0: state slot s) into
 * `out` (count * width f32; width = dim, or a per-row slot's).
 */
export function leanRead(ld: usize, from: u32, count: u32, out: usize, what: i32): void {
  tensorRows(ld, from, count, out, what, false);
}

/**
 * Encodes `count * width` f32 at `src` into rows [from, from + count) of tensor `what` (-1: the
 * weights; s >= 0: state slot s), rounded to nearest (ties to even; int8: nearest code, each row's
 * own absmax): initial values and state dicts.
 */
export function leanWrite(ld: usize, from: u32, count: u32, src: usize, what: i32): void {
  tensorRows(ld, from, count, src, what, true);
}

/** Row `r`'s record address (for the TypeScript side's raw reads and writes of checkpoints). */
export function leanRecord(ld: usize, r: u32): usize {
  return recAddr(ld, r);
}

/**
 * Test hook: `n` f32 at `src` encoded as `type` (LEAN_F16 | LEAN_BF16) into `dst` (n u16), as row
 * `row` of update `t` of a table seeded (seedLo, seedHi): stochastically (`sr`) or to nearest.
 */
export function leanEncodeWeightsTest(dst: usize, src: usize, n: u32, type: u32, seedLo: u32, seedHi: u32, t: u32, row: u32, sr: i32): void {
  encodeWeights(dst, src, <usize>n, type, srRowKey(srStepKey(seedLo, seedHi, t), row), sr != 0, 0);
}

/** Test hook: `n` values stored as `type` at `src` decoded into f32 at `dst`. */
export function leanDecodeWeightsTest(dst: usize, src: usize, n: u32, type: u32): void {
  decodeWeights(dst, src, <usize>n, type);
}

/** Test hook: the codes of `n` f32 at `src` divided by `absmax`, in the signed or unsigned map (the update's encoder). */
export function leanEncodeTest(maps: usize, dst: usize, src: usize, n: u32, absmax: f32, signed: i32): void {
  if (signed) encodeInt8(dst, src, <usize>n, absmax, maps, true);
  else encodeInt8(dst, src, <usize>n, absmax, maps, false);
}
