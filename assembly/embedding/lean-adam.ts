// Fused rows of lean tables for Adam (EMB_KIND_ADAM: Adam, AdamW, AMSGrad, L2 decay; maximize is
// the gradient scale's sign), bf16 and f32 weights, every state type (f32, bf16, int8). adamRows
// also handles f16 weights (WT = LEAN_F16), but that form is not instantiated (adamWeights, below):
// f16 tables take storage.ts's unfused path.
//
// The unfused path (storage.ts, leanApply) decodes each block of 16 rows into float32 scratch rows,
// runs embApply's Adam rows on a shadow descriptor over them and encodes them back. Here each row is
// stepped where it lies, in two passes:
//   1. per group of eight elements: the weights and each state tensor decoded in registers, the Adam
//      step, the new weights encoded into the record (bf16: stochastic rounding with the row's key;
//      f16 weights go through one float32 scratch row, their encoder being scalar); the new state
//      stored into the record (f32 state) or into one float32 scratch row per tensor (in L1), bf16
//      state of an even dim rounded from there at once (bf16Sr8 with the tensor's element numbers);
//   2. int8 state: each tensor's new absmax, then its codes (storage.ts's absMax and encodeInt8);
//      bf16 state: the elements pass 1 left (encodeWeights with the tensor's element numbers).
// Each element sees the same float32 operations in the same order as decode -> adamVec / adamOne ->
// encode, SIMD (4 lanes) exactly where the unfused path runs SIMD (elements below dim & ~3) and
// scalar elsewhere, so the stored bits are the same in both builds and on any split of the rows
// (test/lean-fused.test.ts compares them with the unfused path, which the block's LEAN_NOFUSE word forces).

import { EMB_HYPER } from "./layout";
import { hyperF32, hyperFlag } from "../shared/common";
import { ADAM_GSCALE, ADAM_BETA1, ADAM_OMB1, ADAM_BETA2, ADAM_OMB2, ADAM_STEP_SIZE, ADAM_INV_BC2_SQRT, ADAM_EPS, ADAM_L2, ADAM_DECAY,
  ADAM_AMSGRAD, ADAM_USE_L2, ADAM_USE_DECAY } from "../optimizers/adam/slots";
import { LEAN_UNIQ, LEAN_GPTR, LEAN_WTYPE, LEAN_STYPE, LEAN_REC, LEAN_ROW0, LEAN_MAPS, LEAN_DIM, LEAN_KEEP, LEAN_UNIQ0, LEAN_FAIL,
  LEAN_SHADOW_AT, LEAN_SCRATCH_AT, LEAN_BLOCK, LEAN_F32, LEAN_F16, LEAN_BF16, LEAN_INT8 } from "./lean-block";
import { decodeWeights, encodeWeights, absMax, encodeInt8 } from "./lean-codec";
import { w32, recAddr, slotWord, bf16Sr8, touchRecords } from "./lean-record";
import { amsMax4, amsMax1 } from "../optimizers/adam/lanes";
import { srRowKey, srBits16, bf16ToF32, f32ToBf16Sr } from "../shared/lowp";
import { MAP_SIGNED, MAP_UNSIGNED } from "../shared/maps";
import { adam8FusedRows } from "./lean-adam8";

/** Elements i .. i + 3 of a state tensor at `at` stored as `ST`, decoded (int8: map entries times `va`, masked by `live`: +0 when absmax is 0). */
@inline function state4(ST: u32, at: usize, i: usize, map: usize, va: v128, live: v128): v128 {
  if (ST == LEAN_INT8) {
    const c = at + i;
    let v = v128.load32_zero(map + (<usize>load<u8>(c) << 2));
    v = v128.load32_lane(map + (<usize>load<u8>(c, 1) << 2), v, 1);
    v = v128.load32_lane(map + (<usize>load<u8>(c, 2) << 2), v, 2);
    v = v128.load32_lane(map + (<usize>load<u8>(c, 3) << 2), v, 3);
    return v128.and(f32x4.mul(v, va), live);
  }
  if (ST == LEAN_BF16) return i32x4.shl(i32x4.extend_low_i16x8_u(v128.load64_zero(at + (i << 1))), 16);
  return v128.load(at + (i << 2));
}

/** Element i of a state tensor at `at` stored as `ST`, decoded (int8 with absmax 0: +0). */
@inline function state1(ST: u32, at: usize, i: usize, map: usize, absmax: f32): f32 {
  if (ST == LEAN_INT8) return absmax == 0 ? 0 : load<f32>(map + (<usize>load<u8>(at + i) << 2)) * absmax;
  if (ST == LEAN_BF16) return bf16ToF32(<u32>load<u16>(at + (i << 1)));
  return load<f32>(at + (i << 2));
}

/**
 * Four lanes of Adam's step (adamVec's operations, in its order) on decoded values: stores the new
 * m, v (and AMSGrad's max) as f32 at Mo, Vo, Xo and returns the new weights.
 */
@inline function adam4(
  p: v128, g: v128, m: v128, v: v128, x: v128, Mo: usize, Vo: usize, Xo: usize,
  b1: v128, b1c: v128, b2: v128, b2c: v128, ss: v128, ib: v128, eps: v128, wd: v128, dc: v128, ams: bool, l2: bool, dec: bool,
): v128 {
  if (l2) g = f32x4.add(g, f32x4.mul(wd, p));
  if (dec) p = f32x4.mul(p, dc);
  m = f32x4.add(f32x4.mul(m, b1), f32x4.mul(b1c, g));
  v = f32x4.add(f32x4.mul(v, b2), f32x4.mul(f32x4.mul(b2c, g), g));
  v128.store(Mo, m);
  v128.store(Vo, v);
  if (ams) {
    v = amsMax4(x, v);
    v128.store(Xo, v);
  }
  const denom = f32x4.add(f32x4.mul(f32x4.sqrt(v), ib), eps);
  return f32x4.sub(p, f32x4.mul(ss, f32x4.div(m, denom)));
}

/** One element of Adam's step (adamOne's operations): stores m, v (and the max) at Mo, Vo, Xo and returns the new weight. */
@inline function adam1(
  p: f32, g: f32, m: f32, v: f32, x: f32, Mo: usize, Vo: usize, Xo: usize,
  b1: f32, b1c: f32, b2: f32, b2c: f32, ss: f32, ib: f32, eps: f32, wd: f32, dc: f32, ams: bool, l2: bool, dec: bool,
): f32 {
  if (l2) g = g + wd * p;
  if (dec) p = p * dc;
  m = m * b1 + b1c * g;
  v = v * b2 + (b2c * g) * g;
  store<f32>(Mo, m);
  store<f32>(Vo, v);
  if (ams) {
    v = amsMax1(x, v);
    store<f32>(Xo, v);
  }
  const denom = sqrt<f32>(v) * ib + eps;
  return p - ss * (m / denom);
}

/** Int8 state: the f32 row at `buf` encoded into `codes` with its new absmax (stored at `amAt`), as storage.ts's stateRow. */
@inline function int8Row(amAt: usize, codes: usize, buf: usize, dim: usize, maps: usize, signed: bool): void {
  const absmax = absMax(buf, dim);
  store<f32>(amAt, absmax);
  if (absmax == 0) memory.fill(codes, signed ? 127 : 0, dim);
  else encodeInt8(codes, buf, dim, absmax, maps, signed);
}

/**
 * Entries [from, end) of the update's unique rows, weights stored as `WT` and state as `ST` (both
 * constants where inlined). Slot 0 (exp_avg) takes the signed map, slots 1 and 2 the unsigned one.
 */
@inline function adamRows(ld: usize, key: u32, from: i32, end: i32, WT: u32, ST: u32, ams: bool, l2: bool, dec: bool): void {
  const dim = <usize>w32(ld, LEAN_DIM);
  const uniq = <usize>w32(ld, LEAN_UNIQ), gptr = <usize>w32(ld, LEAN_GPTR);
  const h = <usize>load<u32>(ld + LEAN_SHADOW_AT + (<usize>EMB_HYPER << 2));
  const row0 = w32(ld, LEAN_ROW0);
  const gs = hyperF32(h, ADAM_GSCALE), b1 = hyperF32(h, ADAM_BETA1), b1c = hyperF32(h, ADAM_OMB1);
  const b2 = hyperF32(h, ADAM_BETA2), b2c = hyperF32(h, ADAM_OMB2);
  const ss = hyperF32(h, ADAM_STEP_SIZE), ib = hyperF32(h, ADAM_INV_BC2_SQRT);
  const eps = hyperF32(h, ADAM_EPS), wd = hyperF32(h, ADAM_L2), dc = hyperF32(h, ADAM_DECAY);
  const maps = <usize>w32(ld, LEAN_MAPS);
  const mapS = maps + MAP_SIGNED, mapU = maps + MAP_UNSIGNED;
  const oM = slotWord(ld, 0, 1), oV = slotWord(ld, 1, 1), oX = ams ? slotWord(ld, 2, 1) : 0;
  const aM = slotWord(ld, 0, 2), aV = slotWord(ld, 1, 2), aX = ams ? slotWord(ld, 2, 2) : 0;
  // One float32 scratch row: f16 weights at SW, the state tensors (int8, bf16) at their shadow offsets.
  const SW = ld + LEAN_SCRATCH_AT, SS = SW + <usize>LEAN_BLOCK * dim * 4;
  const bM = SS + slotWord(ld, 0, 0), bV = SS + slotWord(ld, 1, 0), bX = ams ? SS + slotWord(ld, 2, 0) : SS;
  // The f16 guard (storage.ts): each record kept before it is written, the stored weights checked.
  const keep = <usize>w32(ld, LEAN_KEEP), rb = <usize>w32(ld, LEAN_REC);
  const entry0 = keep ? (uniq - <usize>w32(ld, LEAN_UNIQ0)) >> 2 : 0;
  const even = (dim & 1) == 0;
  let bad: u32 = 0;
  for (let u = from; u < end; u++) {
    if (((u - from) & (LEAN_BLOCK - 1)) == 0) touchRecords(ld, uniq, u, end);
    const r = load<u32>(uniq + (<usize>u << 2));
    const rec = recAddr(ld, r);
    const G = <usize>load<u32>(gptr + (<usize>u << 2));
    const rk = srRowKey(key, r + row0);
    if (keep) {
      const k = keep + (entry0 + <usize>u) * (rb + 4);
      store<u32>(k, r);
      memory.copy(k + 4, rec, rb);
    }
    if (WT == LEAN_F16) decodeWeights(SW, rec, dim, LEAN_F16);
    const M = rec + oM, V = rec + oV, X = rec + oX;
    // Where the new state goes: the record (f32 state) or the scratch row (encoded in pass 2).
    const Mo = ST == LEAN_F32 ? M : bM, Vo = ST == LEAN_F32 ? V : bV, Xo = ST == LEAN_F32 ? X : bX;
    let am: f32 = 0, av: f32 = 0, ax: f32 = 0;
    if (ST == LEAN_INT8) {
      am = load<f32>(rec + aM);
      av = load<f32>(rec + aV);
      if (ams) ax = load<f32>(rec + aX);
    }
    let i: usize = 0;
    let done: usize = 0; // bf16 state: elements [0, done) already rounded in pass 1
    if (ASC_FEATURE_SIMD) {
      const vgs = f32x4.splat(gs), vb1 = f32x4.splat(b1), vb1c = f32x4.splat(b1c), vb2 = f32x4.splat(b2), vb2c = f32x4.splat(b2c);
      const vss = f32x4.splat(ss), vib = f32x4.splat(ib), veps = f32x4.splat(eps), vwd = f32x4.splat(wd), vdc = f32x4.splat(dc);
      const vam = f32x4.splat(am), vav = f32x4.splat(av), vax = f32x4.splat(ax);
      const lm = i32x4.splat(am == 0 ? 0 : -1), lv = i32x4.splat(av == 0 ? 0 : -1), lx = i32x4.splat(ax == 0 ? 0 : -1);
      const n8 = dim & ~(<usize>7), n4 = dim & ~(<usize>3);
      for (; i < n8; i += 8) {
        const o = i << 2;
        let pa: v128, pb: v128;
        if (WT == LEAN_BF16) {
          const w = v128.load(rec + (i << 1));
          pa = i32x4.shl(i32x4.extend_low_i16x8_u(w), 16);
          pb = i32x4.shl(i32x4.extend_high_i16x8_u(w), 16);
        } else {
          const P = WT == LEAN_F32 ? rec : SW;
          pa = v128.load(P + o);
          pb = v128.load(P + o, 16);
        }
        const xa = ams ? state4(ST, X, i, mapU, vax, lx) : pa, xb = ams ? state4(ST, X, i + 4, mapU, vax, lx) : pb;
        const na = adam4(pa, f32x4.mul(v128.load(G + o), vgs), state4(ST, M, i, mapS, vam, lm), state4(ST, V, i, mapU, vav, lv), xa,
                         Mo + o, Vo + o, Xo + o, vb1, vb1c, vb2, vb2c, vss, vib, veps, vwd, vdc, ams, l2, dec);
        const nb = adam4(pb, f32x4.mul(v128.load(G + o, 16), vgs), state4(ST, M, i + 4, mapS, vam, lm), state4(ST, V, i + 4, mapU, vav, lv), xb,
                         Mo + o + 16, Vo + o + 16, Xo + o + 16, vb1, vb1c, vb2, vb2c, vss, vib, veps, vwd, vdc, ams, l2, dec);
        if (WT == LEAN_BF16) bf16Sr8(rec + (i << 1), na, nb, rk, <u32>i);
        else {
          const P = WT == LEAN_F32 ? rec : SW;
          v128.store(P + o, na);
          v128.store(P + o, nb, 16);
        }
        if (ST == LEAN_BF16 && even) {
          // bf16 state rounded here (its element numbers (s + 1) dim + i are even): back from the scratch row just written.
          bf16Sr8(M + (i << 1), v128.load(bM + o), v128.load(bM + o, 16), rk, <u32>dim + <u32>i);
          bf16Sr8(V + (i << 1), v128.load(bV + o), v128.load(bV + o, 16), rk, 2 * <u32>dim + <u32>i);
          if (ams) bf16Sr8(X + (i << 1), v128.load(bX + o), v128.load(bX + o, 16), rk, 3 * <u32>dim + <u32>i);
        }
      }
      if (ST == LEAN_BF16 && even) done = n8;
      if (i < n4) {
        // One group of four (SIMD where the unfused row kernel is SIMD); bf16 weights rounded one by one.
        const o = i << 2;
        const p = WT == LEAN_BF16 ? i32x4.shl(i32x4.extend_low_i16x8_u(v128.load64_zero(rec + (i << 1))), 16) : v128.load((WT == LEAN_F32 ? rec : SW) + o);
        const x = ams ? state4(ST, X, i, mapU, vax, lx) : p;
        const n = adam4(p, f32x4.mul(v128.load(G + o), vgs), state4(ST, M, i, mapS, vam, lm), state4(ST, V, i, mapU, vav, lv), x,
                        Mo + o, Vo + o, Xo + o, vb1, vb1c, vb2, vb2c, vss, vib, veps, vwd, vdc, ams, l2, dec);
        if (WT == LEAN_BF16) {
          const d = rec + (i << 1), e = <u32>i;
          store<u16>(d, <u16>f32ToBf16Sr(f32x4.extract_lane(n, 0), srBits16(rk, e)));
          store<u16>(d, <u16>f32ToBf16Sr(f32x4.extract_lane(n, 1), srBits16(rk, e + 1)), 2);
          store<u16>(d, <u16>f32ToBf16Sr(f32x4.extract_lane(n, 2), srBits16(rk, e + 2)), 4);
          store<u16>(d, <u16>f32ToBf16Sr(f32x4.extract_lane(n, 3), srBits16(rk, e + 3)), 6);
        } else v128.store((WT == LEAN_F32 ? rec : SW) + o, n);
        i += 4;
      }
    }
    for (; i < dim; i++) {
      const o = i << 2;
      const p = WT == LEAN_BF16 ? bf16ToF32(<u32>load<u16>(rec + (i << 1))) : load<f32>((WT == LEAN_F32 ? rec : SW) + o);
      const x = ams ? state1(ST, X, i, mapU, ax) : p;
      const n = adam1(p, load<f32>(G + o) * gs, state1(ST, M, i, mapS, am), state1(ST, V, i, mapU, av), x, Mo + o, Vo + o, Xo + o,
                      b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ams, l2, dec);
      if (WT == LEAN_BF16) store<u16>(rec + (i << 1), <u16>f32ToBf16Sr(n, srBits16(rk, <u32>i)));
      else store<f32>((WT == LEAN_F32 ? rec : SW) + o, n);
    }
    if (ST == LEAN_INT8) {
      int8Row(rec + aM, M, bM, dim, maps, true);
      int8Row(rec + aV, V, bV, dim, maps, false);
      if (ams) int8Row(rec + aX, X, bX, dim, maps, false);
    } else if (ST == LEAN_BF16 && done < dim) {
      const d = dim - done, e = <u32>done, o = done << 2;
      encodeWeights(M + (done << 1), bM + o, d, LEAN_BF16, rk, true, <u32>dim + e);
      encodeWeights(V + (done << 1), bV + o, d, LEAN_BF16, rk, true, 2 * <u32>dim + e);
      if (ams) encodeWeights(X + (done << 1), bX + o, d, LEAN_BF16, rk, true, 3 * <u32>dim + e);
    }
    if (WT == LEAN_F16) {
      encodeWeights(rec, SW, dim, LEAN_F16, rk, true, 0);
      if (keep) for (let j: usize = 0; j < dim; j++) bad |= <u32>((load<u16>(rec + (j << 1)) & 0x7c00) == 0x7c00);
    }
  }
  if (bad) store<u32>(<usize>w32(ld, LEAN_FAIL), 1);
}

// Five instantiations (bf16 weights with each state type, f32 weights with 16/8-bit state; f32 + f32
// is no lean table): each costs ~7 KB of wasm, i.e. compile time in init(), so f16 weights (the f16
// guard's scratch rows, rarely used) take the unfused path of storage.ts.
@inline function adamWeights(ld: usize, key: u32, from: i32, end: i32, ST: u32, ams: bool, l2: bool, dec: bool): void {
  if (ST == LEAN_F32 || w32(ld, LEAN_WTYPE) == LEAN_BF16) adamRows(ld, key, from, end, LEAN_BF16, ST, ams, l2, dec);
  else adamRows(ld, key, from, end, LEAN_F32, ST, ams, l2, dec);
}

/**
 * The fused rows of an Adam lean table (EMB_KIND_ADAM): entries [from, end) of the unique rows at
 * step key `key`; returns the prefetch loop's sink (lean-adam8.ts's; adamRows' burst drops its loads:
 * 0). Raises the f16 guard's flag as leanApply does.
 */
export function adamFusedRows(ld: usize, key: u32, from: i32, end: i32): u32 {
  const h = <usize>load<u32>(ld + LEAN_SHADOW_AT + (<usize>EMB_HYPER << 2));
  const ams = hyperFlag(h, ADAM_AMSGRAD), l2 = hyperFlag(h, ADAM_USE_L2), dec = hyperFlag(h, ADAM_USE_DECAY);
  const st = w32(ld, LEAN_STYPE);
  // Plain Adam, bf16 weights and int8 state: lean-adam8.ts (the same bits, fewer instructions a row).
  if (ASC_FEATURE_SIMD && st == LEAN_INT8 && !ams && !l2 && !dec && w32(ld, LEAN_WTYPE) == LEAN_BF16 && (w32(ld, LEAN_DIM) & 7) == 0 &&
      !w32(ld, LEAN_KEEP)) return adam8FusedRows(ld, key, from, end);
  if (st == LEAN_INT8) adamWeights(ld, key, from, end, LEAN_INT8, ams, l2, dec);
  else if (st == LEAN_BF16) adamWeights(ld, key, from, end, LEAN_BF16, ams, l2, dec);
  else adamWeights(ld, key, from, end, LEAN_F32, ams, l2, dec);
  return 0;
}
