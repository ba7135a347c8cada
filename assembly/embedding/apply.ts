// Embedding tables with sparse updates: per-row optimizer kernels, lookups, and the exact-mode
// catch-up of rows that missed steps (see exact.ts).
//
// A table is described by a 256-byte descriptor (u32 words EMB_*, f64 words EMBF_* from byte
// 128) that the TypeScript side fills. Each update is two calls:
//   embCoalesce (coalesce.ts): sums the gradient rows of duplicate ids in position order, and
//     lists the unique rows in ascending order with a pointer to each one's gradient row;
//   embApply: for every unique row (ascending, so memory is walked forward), brings it up to
//     date (exact mode), then applies one optimizer step to it with SIMD over the row.
// Both builds give bit-identical results: lane-wise f32 arithmetic in the same order, no fused ops.

import { adamVec, adamOne } from "../optimizers/adam/lanes";
import { sgdDirVec, sgdDirOne } from "../optimizers/sgd/lanes";
import { adagradApplyVec, adagradApplyOne } from "../optimizers/adagrad/lanes";
import { adamaxSpan } from "../optimizers/adamax/lanes";
import { lionSpan } from "../optimizers/lion/lanes";
import { adadeltaSpan } from "../optimizers/adadelta/lanes";
import { nadamSpan } from "../optimizers/nadam/lanes";
import { radamSpan } from "../optimizers/radam/lanes";
import { ADAM_GSCALE, ADAM_BETA1, ADAM_OMB1, ADAM_BETA2, ADAM_OMB2, ADAM_STEP_SIZE, ADAM_INV_BC2_SQRT, ADAM_EPS, ADAM_L2, ADAM_DECAY, ADAM_AMSGRAD, ADAM_USE_L2, ADAM_USE_DECAY } from "../optimizers/adam/slots";
import { SGD_GSCALE, SGD_LR, SGD_MOMENTUM, SGD_OMD, SGD_WD, SGD_USE_MOMENTUM, SGD_FIRST, SGD_NESTEROV, SGD_USE_WD } from "../optimizers/sgd/slots";
import { ADAGRAD_GSCALE, ADAGRAD_CLR, ADAGRAD_EPS, ADAGRAD_WD, ADAGRAD_USE_WD } from "../optimizers/adagrad/slots";
import { ADAMAX_USE_WD } from "../optimizers/adamax/slots";
import { LION_USE_WD } from "../optimizers/lion/slots";
import { ADADELTA_USE_WD } from "../optimizers/adadelta/slots";
import { NADAM_USE_L2, NADAM_USE_DECAY } from "../optimizers/nadam/slots";
import { RADAM_RECT, RADAM_USE_L2, RADAM_USE_DECAY } from "../optimizers/radam/slots";
import { hyperF32, hyperFlag } from "../shared/common";
import { Lane0, Lane1, Lane2, Lane3 } from "../shared/lane";
import { EMB_WEIGHTS, EMB_STATE0, EMB_STATE1, EMB_STATE2, EMB_DIM, EMB_HYPER, EMB_KIND,
  EMB_UNIQ, EMB_GPTR, EMB_SROW, EMB_SINK, EMB_TOUCH_G, EMB_LAST, EMB_EXACT, EMB_KIND_ADAM, EMB_KIND_SGD, EMB_KIND_ADAGRAD, EMB_KIND_ADAMAX, EMB_KIND_LION,
  EMB_KIND_ADADELTA, EMB_KIND_NADAM, EMB_KIND_RADAM, EMB_KIND_ROWWISE_ADAGRAD, EMB_EXACT_NONE, embU32 } from "./layout";
import { catchUpRow, exactAdvance } from "./exact";
import { TOUCH_BLOCK, touchBlock } from "./touch";
import { leanApply } from "./lean";

export * from "./layout";
export * from "./exact";
export * from "./coalesce";

// ---------------------------------------------------------------------------------------------
// Validation passes.

/** Position of the first id outside [0, rows) (ids read as i32), or -1. */
export function embCheckIds(ids: usize, k: i32, rows: u32): i32 {
  let i: i32 = 0;
  if (ASC_FEATURE_SIMD) {
    const lim = i32x4.splat(<i32>rows);
    const k4 = k & ~3;
    for (; i < k4; i += 4) {
      // ids as unsigned: negative ids are >= 2^31 > rows.
      if (v128.any_true(i32x4.ge_u(v128.load(ids + (<usize>i << 2)), lim))) break;
    }
  }
  for (; i < k; i++) {
    if (load<u32>(ids + (<usize>i << 2)) >= rows) return i;
  }
  return -1;
}

/** Index of the first NaN or ±Infinity among `n` f32 values at `ptr`, or -1. */
export function embFirstNonFinite(ptr: usize, n: i32): i32 {
  const EXP: u32 = 0x7f800000;
  let i: i32 = 0;
  if (ASC_FEATURE_SIMD) {
    const mask = i32x4.splat(EXP);
    const n16 = n & ~15;
    for (; i < n16; i += 16) {
      const q = ptr + (<usize>i << 2);
      const a = i32x4.eq(v128.and(v128.load(q), mask), mask);
      const b = i32x4.eq(v128.and(v128.load(q, 16), mask), mask);
      const c = i32x4.eq(v128.and(v128.load(q, 32), mask), mask);
      const e = i32x4.eq(v128.and(v128.load(q, 48), mask), mask);
      if (v128.any_true(v128.or(v128.or(a, b), v128.or(c, e)))) break;
    }
  }
  for (; i < n; i++) {
    if ((load<u32>(ptr + (<usize>i << 2)) & EXP) == EXP) return i;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------
// Per-row optimizer steps: the dense kernels' formulas, restricted to one row.

@inline function adamRow(
  P: usize, G: usize, M: usize, V: usize, X: usize, dim: usize,
  gs: f32, b1: f32, b1c: f32, b2: f32, b2c: f32, ss: f32, ib: f32, eps: f32, wd: f32, dc: f32,
  ams: bool, l2: bool, dec: bool,
): void {
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vgs = f32x4.splat(gs), vb1 = f32x4.splat(b1), vb1c = f32x4.splat(b1c), vb2 = f32x4.splat(b2), vb2c = f32x4.splat(b2c);
    const vss = f32x4.splat(ss), vib = f32x4.splat(ib), veps = f32x4.splat(eps), vwd = f32x4.splat(wd), vdc = f32x4.splat(dc);
    // The lane groups' offsets in the instructions' immediates (shared/lane.ts).
    const n16 = dim & ~(<usize>15);
    for (; i < n16; i += 16) {
      const o = i << 2;
      adamVec<Lane0>(P, G, M, V, X, o, vgs, vgs, vgs, vb1, vb1c, vb2, vb2c, vss, vib, veps, vwd, vdc, ams, l2, dec, false);
      adamVec<Lane1>(P, G, M, V, X, o, vgs, vgs, vgs, vb1, vb1c, vb2, vb2c, vss, vib, veps, vwd, vdc, ams, l2, dec, false);
      adamVec<Lane2>(P, G, M, V, X, o, vgs, vgs, vgs, vb1, vb1c, vb2, vb2c, vss, vib, veps, vwd, vdc, ams, l2, dec, false);
      adamVec<Lane3>(P, G, M, V, X, o, vgs, vgs, vgs, vb1, vb1c, vb2, vb2c, vss, vib, veps, vwd, vdc, ams, l2, dec, false);
    }
    const n4 = dim & ~(<usize>3);
    for (; i < n4; i += 4) {
      adamVec(P, G, M, V, X, i << 2, vgs, vgs, vgs, vb1, vb1c, vb2, vb2c, vss, vib, veps, vwd, vdc, ams, l2, dec, false);
    }
  }
  for (; i < dim; i++) {
    adamOne(P, G, M, V, X, i << 2, gs, gs, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ams, l2, dec, false);
  }
}

@inline function sgdRow(P: usize, G: usize, B: usize, dim: usize, gs: f32, lr: f32, mu: f32, omd: f32, wd: f32,
                        useMom: bool, first: bool, nest: bool, useWd: bool): void {
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vgs = f32x4.splat(gs), vlr = f32x4.splat(lr), vmu = f32x4.splat(mu), vomd = f32x4.splat(omd), vwd = f32x4.splat(wd);
    const n4 = dim & ~(<usize>3);
    for (; i < n4; i += 4) {
      const o = i << 2;
      const p = v128.load(P + o);
      const d = sgdDirVec(f32x4.mul(v128.load(G + o), vgs), p, B, o, vmu, vomd, vwd, useMom, first, nest, useWd);
      v128.store(P + o, f32x4.sub(p, f32x4.mul(vlr, d)));
    }
  }
  for (; i < dim; i++) {
    const o = i << 2;
    const p = load<f32>(P + o);
    const d = sgdDirOne(load<f32>(G + o) * gs, p, B, o, mu, omd, wd, useMom, first, nest, useWd);
    store<f32>(P + o, p - lr * d);
  }
}

@inline function adagradRow(P: usize, G: usize, S: usize, dim: usize, gs: f32, clr: f32, eps: f32, wd: f32, useWd: bool): void {
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vgs = f32x4.splat(gs), vclr = f32x4.splat(clr), veps = f32x4.splat(eps), vwd = f32x4.splat(wd);
    const n4 = dim & ~(<usize>3);
    for (; i < n4; i += 4) {
      adagradApplyVec(f32x4.mul(v128.load(G + (i << 2)), vgs), P, S, i << 2, vclr, veps, vwd, useWd);
    }
  }
  for (; i < dim; i++) {
    adagradApplyOne(load<f32>(G + (i << 2)) * gs, P, S, i << 2, clr, eps, wd, useWd);
  }
}

// ---------------------------------------------------------------------------------------------
// The update loops: one per variant so that the per-element code carries no branches.

@inline function adamRows(desc: usize, n: i32, t: u32, exact: bool, ams: bool, l2: bool, dec: bool): void {
  const W = embU32(desc, EMB_WEIGHTS), M = embU32(desc, EMB_STATE0), V = embU32(desc, EMB_STATE1), X = embU32(desc, EMB_STATE2);
  const dim = embU32(desc, EMB_DIM), h = embU32(desc, EMB_HYPER);
  const uniq = embU32(desc, EMB_UNIQ), gptr = embU32(desc, EMB_GPTR), last = embU32(desc, EMB_LAST);
  const gs = hyperF32(h, ADAM_GSCALE), b1 = hyperF32(h, ADAM_BETA1), b1c = hyperF32(h, ADAM_OMB1);
  const b2 = hyperF32(h, ADAM_BETA2), b2c = hyperF32(h, ADAM_OMB2);
  const ss = hyperF32(h, ADAM_STEP_SIZE), ib = hyperF32(h, ADAM_INV_BC2_SQRT);
  const eps = hyperF32(h, ADAM_EPS), wd = hyperF32(h, ADAM_L2), dc = hyperF32(h, ADAM_DECAY);
  const rowBytes = dim << 2, stateBytes = embU32(desc, EMB_SROW);
  const tg = embU32(desc, EMB_TOUCH_G) != 0; // a split update's range (touch.ts)
  let sink: u32 = 0;
  for (let u = 0; u < n; u++) {
    if ((u & (TOUCH_BLOCK - 1)) == 0) sink ^= touchBlock(W, M, last, uniq, u, n, rowBytes, stateBytes, exact, gptr, tg);
    const r = <usize>load<u32>(uniq + (<usize>u << 2));
    const o = r * rowBytes, os = r * stateBytes;
    if (exact) {
      catchUpRow(desc, <u32>r, t - 1);
      store<u32>(last + (r << 2), t);
    }
    adamRow(W + o, <usize>load<u32>(gptr + (<usize>u << 2)), M + os, V + os, X + os, dim,
            gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ams, l2, dec);
  }
  store<u32>(desc + (<usize>EMB_SINK << 2), sink);
}

@inline function sgdRows(desc: usize, n: i32, t: u32, exact: bool, useMom: bool, first: bool, nest: bool, useWd: bool): void {
  const W = embU32(desc, EMB_WEIGHTS), B = embU32(desc, EMB_STATE0);
  const dim = embU32(desc, EMB_DIM), h = embU32(desc, EMB_HYPER);
  const uniq = embU32(desc, EMB_UNIQ), gptr = embU32(desc, EMB_GPTR), last = embU32(desc, EMB_LAST);
  const gs = hyperF32(h, SGD_GSCALE), lr = hyperF32(h, SGD_LR), mu = hyperF32(h, SGD_MOMENTUM);
  const omd = hyperF32(h, SGD_OMD), wd = hyperF32(h, SGD_WD);
  const rowBytes = dim << 2, stateBytes = embU32(desc, EMB_SROW);
  const tg = embU32(desc, EMB_TOUCH_G) != 0; // a split update's range (touch.ts)
  let sink: u32 = 0;
  for (let u = 0; u < n; u++) {
    if ((u & (TOUCH_BLOCK - 1)) == 0) sink ^= touchBlock(W, B, last, uniq, u, n, rowBytes, stateBytes, exact, gptr, tg);
    const r = <usize>load<u32>(uniq + (<usize>u << 2));
    const o = r * rowBytes, os = r * stateBytes;
    if (exact) {
      catchUpRow(desc, <u32>r, t - 1);
      store<u32>(last + (r << 2), t);
    }
    sgdRow(W + o, <usize>load<u32>(gptr + (<usize>u << 2)), B + os, dim, gs, lr, mu, omd, wd, useMom, first, nest, useWd);
  }
  store<u32>(desc + (<usize>EMB_SINK << 2), sink);
}

@inline function adagradRows(desc: usize, n: i32, useWd: bool): void {
  const W = embU32(desc, EMB_WEIGHTS), S = embU32(desc, EMB_STATE0);
  const dim = embU32(desc, EMB_DIM), h = embU32(desc, EMB_HYPER);
  const uniq = embU32(desc, EMB_UNIQ), gptr = embU32(desc, EMB_GPTR);
  const gs = hyperF32(h, ADAGRAD_GSCALE), clr = hyperF32(h, ADAGRAD_CLR), eps = hyperF32(h, ADAGRAD_EPS), wd = hyperF32(h, ADAGRAD_WD);
  const rowBytes = dim << 2, stateBytes = embU32(desc, EMB_SROW);
  const tg = embU32(desc, EMB_TOUCH_G) != 0; // a split update's range (touch.ts)
  let sink: u32 = 0;
  for (let u = 0; u < n; u++) {
    if ((u & (TOUCH_BLOCK - 1)) == 0) sink ^= touchBlock(W, S, 0, uniq, u, n, rowBytes, stateBytes, false, gptr, tg);
    const r = <usize>load<u32>(uniq + (<usize>u << 2));
    adagradRow(W + r * rowBytes, <usize>load<u32>(gptr + (<usize>u << 2)), S + r * stateBytes, dim, gs, clr, eps, wd, useWd);
  }
  store<u32>(desc + (<usize>EMB_SINK << 2), sink);
}

/**
 * Adamax, Lion, Adadelta, NAdam and RAdam rows: each row is one span of the dense kernel's loop
 * (adamaxSpan, lionSpan, adadeltaSpan, nadamSpan, radamSpan, which read the hyper block themselves;
 * the table's clamp bounds there are -Infinity and Infinity, which change no value; Adamax and Lion
 * skip the clamp with their `clip` flag, which their dense kernels compile the same with). `K` is one of the classes below, whose inline
 * `row` is called on a null reference of that type: the loop is compiled once per kernel, with
 * neither an object nor an indirect call. (A `kind` argument compared in the loop would inline
 * all three kernels at every call before Binaryen drops the dead ones: a build ~8x slower.)
 * `a`, `b`, `c` are the kernel's flags (adamax, lion, adadelta: useWd; nadam: l2, dec; radam:
 * rect, l2, dec). Lion has one state tensor: its S1 is not read.
 */
@inline function spanRows<K>(desc: usize, n: i32, a: bool, b: bool, c: bool): void {
  const W = embU32(desc, EMB_WEIGHTS), S0 = embU32(desc, EMB_STATE0), S1 = embU32(desc, EMB_STATE1);
  const dim = embU32(desc, EMB_DIM), h = embU32(desc, EMB_HYPER);
  const uniq = embU32(desc, EMB_UNIQ), gptr = embU32(desc, EMB_GPTR);
  const rowBytes = dim << 2, stateBytes = embU32(desc, EMB_SROW);
  const tg = embU32(desc, EMB_TOUCH_G) != 0; // a split update's range (touch.ts)
  let sink: u32 = 0;
  for (let u = 0; u < n; u++) {
    if ((u & (TOUCH_BLOCK - 1)) == 0) sink ^= touchBlock(W, S0, 0, uniq, u, n, rowBytes, stateBytes, false, gptr, tg);
    const r = <usize>load<u32>(uniq + (<usize>u << 2));
    const os = r * stateBytes;
    changetype<K>(0).row(W + r * rowBytes, <usize>load<u32>(gptr + (<usize>u << 2)), S0 + os, S1 + os, dim, h, a, b, c);
  }
  store<u32>(desc + (<usize>EMB_SINK << 2), sink);
}

class AdamaxRow {
  @inline row(P: usize, G: usize, M: usize, U: usize, dim: usize, h: usize, useWd: bool, _b: bool, _c: bool): void {
    adamaxSpan(P, G, M, U, dim, h, useWd, false);
  }
}

class LionRow {
  @inline row(P: usize, G: usize, M: usize, _S1: usize, dim: usize, h: usize, useWd: bool, _b: bool, _c: bool): void {
    lionSpan(P, G, M, dim, h, useWd, false);
  }
}

class AdadeltaRow {
  @inline row(P: usize, G: usize, S: usize, A: usize, dim: usize, h: usize, useWd: bool, _b: bool, _c: bool): void {
    adadeltaSpan(P, G, S, A, dim, h, useWd);
  }
}

class NAdamRow {
  @inline row(P: usize, G: usize, M: usize, V: usize, dim: usize, h: usize, l2: bool, dec: bool, _c: bool): void {
    nadamSpan(P, G, M, V, dim, h, l2, dec);
  }
}

class RAdamRow {
  @inline row(P: usize, G: usize, M: usize, V: usize, dim: usize, h: usize, rect: bool, l2: bool, dec: bool): void {
    radamSpan(P, G, M, V, dim, h, rect, l2, dec);
  }
}

@inline function radamVariant(desc: usize, n: i32, rect: bool): void {
  const h = embU32(desc, EMB_HYPER);
  if (hyperFlag(h, RADAM_USE_L2)) spanRows<RAdamRow>(desc, n, rect, true, false);
  else if (hyperFlag(h, RADAM_USE_DECAY)) spanRows<RAdamRow>(desc, n, rect, false, true);
  else spanRows<RAdamRow>(desc, n, rect, false, false);
}

@inline function adamVariant(desc: usize, n: i32, t: u32, exact: bool): void {
  const h = embU32(desc, EMB_HYPER);
  const ams = hyperFlag(h, ADAM_AMSGRAD), l2 = hyperFlag(h, ADAM_USE_L2), dec = hyperFlag(h, ADAM_USE_DECAY);
  if (ams) {
    if (l2) adamRows(desc, n, t, exact, true, true, false);
    else if (dec) adamRows(desc, n, t, exact, true, false, true);
    else adamRows(desc, n, t, exact, true, false, false);
  } else {
    if (l2) adamRows(desc, n, t, exact, false, true, false);
    else if (dec) adamRows(desc, n, t, exact, false, false, true);
    else adamRows(desc, n, t, exact, false, false, false);
  }
}

@inline function sgdMomVariant(desc: usize, n: i32, t: u32, exact: bool, useWd: bool): void {
  const h = embU32(desc, EMB_HYPER);
  const first = hyperFlag(h, SGD_FIRST), nest = hyperFlag(h, SGD_NESTEROV);
  if (first) {
    if (nest) sgdRows(desc, n, t, exact, true, true, true, useWd);
    else sgdRows(desc, n, t, exact, true, true, false, useWd);
  } else {
    if (nest) sgdRows(desc, n, t, exact, true, false, true, useWd);
    else sgdRows(desc, n, t, exact, true, false, false, useWd);
  }
}

@inline function sgdVariant(desc: usize, n: i32, t: u32, exact: bool): void {
  const h = embU32(desc, EMB_HYPER);
  const useWd = hyperFlag(h, SGD_USE_WD);
  if (!hyperFlag(h, SGD_USE_MOMENTUM)) {
    if (useWd) sgdRows(desc, n, t, exact, false, false, false, true);
    else sgdRows(desc, n, t, exact, false, false, false, false);
  } else if (useWd) sgdMomVariant(desc, n, t, exact, true);
  else sgdMomVariant(desc, n, t, exact, false);
}

/**
 * Step `t` of the table: applies the optimizer (EMB_KIND; hyper block EMB_HYPER, the dense
 * kernel's slots) to the `n` unique rows that embCoalesce listed. In exact mode each row first catches up with the steps it missed,
 * then the history ring records step `t` (`logDecay` = sum of log weight-decay factors up to t,
 * `coef` = the step size, `invBc2Sqrt` = 1/sqrt(1 - b2^t)), then rows [sweepFrom, sweepFrom +
 * sweepCount) are brought up to step t so that no row falls behind the ring.
 */
export function embApply(desc: usize, t: u32, n: i32, logDecay: f64, coef: f64, invBc2Sqrt: f64, sweepFrom: u32, sweepCount: u32): void {
  const kind = <i32>embU32(desc, EMB_KIND);
  const exact = embU32(desc, EMB_EXACT) != EMB_EXACT_NONE;
  // `exact` stays a run-time flag of the row loops (one well-predicted branch per row, not per
  // element): specialised on it, embApply was twice the size, and init() validates every byte.
  if (kind == EMB_KIND_ADAM) {
    adamVariant(desc, n, t, exact);
  } else if (kind == EMB_KIND_SGD) {
    sgdVariant(desc, n, t, exact);
  } else if (kind == EMB_KIND_ADAGRAD) {
    if (hyperFlag(embU32(desc, EMB_HYPER), ADAGRAD_USE_WD)) adagradRows(desc, n, true);
    else adagradRows(desc, n, false);
  } else if (kind == EMB_KIND_ADAMAX) {
    // Adamax and Lion are lazy only: the TypeScript side refuses mode 'exact' for them.
    if (hyperFlag(embU32(desc, EMB_HYPER), ADAMAX_USE_WD)) spanRows<AdamaxRow>(desc, n, true, false, false);
    else spanRows<AdamaxRow>(desc, n, false, false, false);
  } else if (kind == EMB_KIND_LION) {
    if (hyperFlag(embU32(desc, EMB_HYPER), LION_USE_WD)) spanRows<LionRow>(desc, n, true, false, false);
    else spanRows<LionRow>(desc, n, false, false, false);
  } else if (kind == EMB_KIND_ADADELTA) {
    // Adadelta, NAdam and RAdam are lazy only too.
    if (hyperFlag(embU32(desc, EMB_HYPER), ADADELTA_USE_WD)) spanRows<AdadeltaRow>(desc, n, true, false, false);
    else spanRows<AdadeltaRow>(desc, n, false, false, false);
  } else if (kind == EMB_KIND_NADAM) {
    const h = embU32(desc, EMB_HYPER);
    if (hyperFlag(h, NADAM_USE_L2)) spanRows<NAdamRow>(desc, n, true, false, false);
    else if (hyperFlag(h, NADAM_USE_DECAY)) spanRows<NAdamRow>(desc, n, false, true, false);
    else spanRows<NAdamRow>(desc, n, false, false, false);
  } else if (kind == EMB_KIND_RADAM) {
    if (hyperFlag(embU32(desc, EMB_HYPER), RADAM_RECT)) radamVariant(desc, n, true);
    else radamVariant(desc, n, false);
  } else if (kind >= EMB_KIND_ROWWISE_ADAGRAD) {
    leanApply(desc, n, kind, t, exact); // row-wise Adagrad, partial row-wise Adam, FTRL (./lean.ts)
  }
  if (exact) {
    exactAdvance(desc, t, logDecay, coef, invBc2Sqrt);
    embCatchUpRange(desc, t, sweepFrom, sweepCount);
  }
}

/** Exact mode: brings rows [from, from + count) up to step `t`. */
export function embCatchUpRange(desc: usize, t: u32, from: u32, count: u32): void {
  const last = embU32(desc, EMB_LAST);
  const end = from + count;
  for (let r = from; r < end; r++) {
    const at = last + (<usize>r << 2);
    if (load<u32>(at) != t) {
      catchUpRow(desc, r, t);
      store<u32>(at, t);
    }
  }
}

/**
 * Gathers the rows of the `k` ids at `ids` (already checked) into `out` (k * dim f32). In exact
 * mode (`t` = the table's step) each row is first brought up to date.
 */
export function embLookup(desc: usize, ids: usize, k: i32, out: usize, t: u32): void {
  const W = embU32(desc, EMB_WEIGHTS);
  const rowBytes = embU32(desc, EMB_DIM) << 2;
  const exact = embU32(desc, EMB_EXACT) != EMB_EXACT_NONE;
  const last = embU32(desc, EMB_LAST);
  let sink: u32 = 0;
  for (let i = 0; i < k; i++) {
    if ((i & (TOUCH_BLOCK - 1)) == 0) sink ^= touchBlock(W, 0, last, ids, i, k, rowBytes, 0, exact);
    const r = load<u32>(ids + (<usize>i << 2));
    if (exact) {
      const at = last + (<usize>r << 2);
      if (load<u32>(at) != t) {
        catchUpRow(desc, r, t);
        store<u32>(at, t);
      }
    }
    memory.copy(out + <usize>i * rowBytes, W + <usize>r * rowBytes, rowBytes);
  }
  store<u32>(desc + (<usize>EMB_SINK << 2), sink);
}

// ---------------------------------------------------------------------------------------------
// Initialisation (scalar code, identical in both builds): splitmix64 and Marsaglia's polar method.

let rngState: u64 = 0;

@inline function nextU64(): u64 {
  rngState += 0x9e3779b97f4a7c15;
  let z = rngState;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

@inline function nextUnit(): f64 {
  return <f64>(nextU64() >> 11) * 1.1102230246251565e-16; // [0, 1), 53 bits
}

/** Fills `n` f32 at `ptr` with N(mean, std^2) draws from the generator seeded with (seedHi, seedLo). */
export function embFillNormal(ptr: usize, n: i32, seedLo: u32, seedHi: u32, mean: f64, std: f64): void {
  rngState = (<u64>seedHi << 32) | <u64>seedLo;
  embFillNormalNext(ptr, n, mean, std);
}

/** Like embFillNormal, continuing the generator's sequence (a table filled in even-sized pieces). */
export function embFillNormalNext(ptr: usize, n: i32, mean: f64, std: f64): void {
  let i: i32 = 0;
  while (i < n) {
    let a: f64, b: f64, s: f64;
    do {
      a = 2 * nextUnit() - 1;
      b = 2 * nextUnit() - 1;
      s = a * a + b * b;
    } while (s >= 1 || s == 0);
    const f = Math.sqrt(-2 * Math.log(s) / s);
    store<f32>(ptr + (<usize>i << 2), <f32>(mean + std * (a * f)));
    i++;
    if (i < n) {
      store<f32>(ptr + (<usize>i << 2), <f32>(mean + std * (b * f)));
      i++;
    }
  }
}

/** Fills `n` f32 at `ptr` with U(low, high) draws from the generator seeded with (seedHi, seedLo). */
export function embFillUniform(ptr: usize, n: i32, seedLo: u32, seedHi: u32, low: f64, high: f64): void {
  rngState = (<u64>seedHi << 32) | <u64>seedLo;
  embFillUniformNext(ptr, n, low, high);
}

/** Like embFillUniform, continuing the generator's sequence. */
export function embFillUniformNext(ptr: usize, n: i32, low: f64, high: f64): void {
  const span = high - low;
  for (let i: i32 = 0; i < n; i++) {
    let x = <f32>(low + span * nextUnit());
    while (x >= <f32>high && high > low) x = <f32>(low + span * nextUnit()); // [low, high) after rounding
    store<f32>(ptr + (<usize>i << 2), x);
  }
}

