// One row of the row-wise table optimizers, after pytorch/FBGEMM's
// fbgemm_gpu/codegen/genscript/optimizers.py (rowwise_adagrad's split_weight_update_cpu, and
// partial_rowwise_adam's split_precomputation and split_weight_update):
//
// Row-wise Adagrad (EXACT_ROWWISE_ADAGRAD), one accumulator s per row:
//   g = gs * grad (+ wd * w in L2 mode, for the row statistic only);  s += mean_d(g^2)
//   mult = lr / (sqrt(s) + eps);  c = 1 - mult * wd (L2) | 1 - lr * wd (decoupled) | 1
//   w = c * w - mult * gs * grad
// Partial row-wise Adam (PARTIAL_ROWWISE_ADAM): m per element, v per row:
//   m = b1 m + (1 - b1) g;  v = mean_d(g^2) (1 - b2) + b2 v
//   w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps) + lr * wd * w
//
// The row statistic is a sum in four lanes (lane k holds the elements 4j + k of the body), reduced
// as (l0 + l1) + (l2 + l3), then the tail added in order: the SIMD build does it with one f32x4
// accumulator, the scalar build with four floats, so both give the same bits. Internal (v128
// signatures): not re-exported by index.ts.

import { hyperF32 } from "../../shared/common";
import { RWADAGRAD_GSCALE, RWADAGRAD_LR, RWADAGRAD_EPS, RWADAGRAD_WD, RWADAGRAD_DECAY,
  PRADAM_GSCALE, PRADAM_BETA1, PRADAM_OMB1, PRADAM_BETA2, PRADAM_OMB2, PRADAM_STEP_SIZE, PRADAM_INV_BC2_SQRT, PRADAM_EPS, PRADAM_LWD } from "./slots";

/** (l0 + l1) + (l2 + l3) of a lane accumulator. */
@inline function reduce4(acc: v128): f32 {
  return (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
}

/**
 * Sum over the row of g^2, g = gs * G (+ wd * P when `l2`); with `mom` also the first moment
 * M = b1 M + (1 - b1) g, in the same pass.
 */
@inline function sumSquares(P: usize, G: usize, M: usize, n: usize, gs: f32, wd: f32, l2: bool, b1: f32, omb1: f32, mom: bool): f32 {
  const n4 = n & ~(<usize>3);
  let i: usize = 0;
  let s: f32;
  if (ASC_FEATURE_SIMD) {
    const vgs = f32x4.splat(gs), vwd = f32x4.splat(wd), vb1 = f32x4.splat(b1), vomb1 = f32x4.splat(omb1);
    let acc = f32x4.splat(0);
    for (; i < n4; i += 4) {
      const o = i << 2;
      let g = f32x4.mul(v128.load(G + o), vgs);
      if (l2) g = f32x4.add(g, f32x4.mul(vwd, v128.load(P + o)));
      if (mom) v128.store(M + o, f32x4.add(f32x4.mul(vb1, v128.load(M + o)), f32x4.mul(vomb1, g)));
      acc = f32x4.add(acc, f32x4.mul(g, g));
    }
    s = reduce4(acc);
  } else {
    let a0: f32 = 0, a1: f32 = 0, a2: f32 = 0, a3: f32 = 0;
    for (; i < n4; i += 4) {
      const o = i << 2;
      let g0 = load<f32>(G + o) * gs, g1 = load<f32>(G + o, 4) * gs, g2 = load<f32>(G + o, 8) * gs, g3 = load<f32>(G + o, 12) * gs;
      if (l2) {
        g0 = g0 + wd * load<f32>(P + o);
        g1 = g1 + wd * load<f32>(P + o, 4);
        g2 = g2 + wd * load<f32>(P + o, 8);
        g3 = g3 + wd * load<f32>(P + o, 12);
      }
      if (mom) {
        store<f32>(M + o, b1 * load<f32>(M + o) + omb1 * g0);
        store<f32>(M + o, b1 * load<f32>(M + o, 4) + omb1 * g1, 4);
        store<f32>(M + o, b1 * load<f32>(M + o, 8) + omb1 * g2, 8);
        store<f32>(M + o, b1 * load<f32>(M + o, 12) + omb1 * g3, 12);
      }
      a0 = a0 + g0 * g0;
      a1 = a1 + g1 * g1;
      a2 = a2 + g2 * g2;
      a3 = a3 + g3 * g3;
    }
    s = (a0 + a1) + (a2 + a3);
  }
  for (; i < n; i++) {
    let g = load<f32>(G + (i << 2)) * gs;
    if (l2) g = g + wd * load<f32>(P + (i << 2));
    if (mom) store<f32>(M + (i << 2), b1 * load<f32>(M + (i << 2)) + omb1 * g);
    s = s + g * g;
  }
  return s;
}

/**
 * The row statistic of row-wise Adagrad: s += mean_d(g^2) (g with L2 decay of the weights P when
 * `l2`), stored at S; returns the row's multiplier lr / (sqrt(s) + eps).
 */
@inline export function rowwiseAdagradMult(P: usize, G: usize, S: usize, n: usize, h: usize, l2: bool): f32 {
  const gs = hyperF32(h, RWADAGRAD_GSCALE), wd = hyperF32(h, RWADAGRAD_WD);
  const s = load<f32>(S) + sumSquares(P, G, 0, n, gs, wd, l2, 0, 0, false) / <f32>n;
  store<f32>(S, s);
  return hyperF32(h, RWADAGRAD_LR) / (sqrt<f32>(s) + hyperF32(h, RWADAGRAD_EPS));
}

/** The weights' factor c of row-wise Adagrad (w = c w - mult gs grad) for the multiplier `mult`. */
@inline export function rowwiseAdagradC(h: usize, mult: f32, l2: bool, dec: bool): f32 {
  return l2 ? <f32>1 - mult * hyperF32(h, RWADAGRAD_WD) : dec ? hyperF32(h, RWADAGRAD_DECAY) : <f32>1;
}

/** Four weights of row-wise Adagrad: c p - mult (gs g) (lane-wise as the scalar form). */
@inline export function rowwiseAdagradVec(p: v128, g: v128, vc: v128, vm: v128, vgs: v128): v128 {
  return f32x4.sub(f32x4.mul(vc, p), f32x4.mul(vm, f32x4.mul(g, vgs)));
}

/**
 * Row-wise Adagrad on one row: weights P, gradient G, the row's accumulator at S, the RWADAGRAD_*
 * hyper block `h` (`l2`, `dec`: its weight decay mode).
 */
@inline export function rowwiseAdagradRow(P: usize, G: usize, S: usize, n: usize, h: usize, l2: bool, dec: bool): void {
  const gs = hyperF32(h, RWADAGRAD_GSCALE);
  const mult = rowwiseAdagradMult(P, G, S, n, h, l2);
  const c = rowwiseAdagradC(h, mult, l2, dec);
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vgs = f32x4.splat(gs), vm = f32x4.splat(mult), vc = f32x4.splat(c);
    const n4 = n & ~(<usize>3);
    for (; i < n4; i += 4) {
      const o = i << 2;
      v128.store(P + o, rowwiseAdagradVec(v128.load(P + o), v128.load(G + o), vc, vm, vgs));
    }
  }
  for (; i < n; i++) {
    const o = i << 2;
    store<f32>(P + o, c * load<f32>(P + o) - mult * (load<f32>(G + o) * gs));
  }
}

/**
 * Row-wise Adagrad on four rows at once (SIMD build only; `n` a multiple of 4, the gradient scale
 * gs = +-1, as tables write it): weights Pk, gradients Gk, accumulators at Sk. Each row sees the
 * same float32 operations as rowwiseAdagradRow, so the bits are the same: the four row sums run as
 * four chains side by side and are reduced together ((l0 + l1) + (l2 + l3) of each, by pairwise
 * shuffles), then s, sqrt, the division and c for the four rows in one vector. With gs = +-1,
 * (gs G)^2 = G^2 and mult (gs G) = (gs mult) G exactly (rounding is symmetric in sign), so without
 * L2 the sums skip the scaling and the step multiplies G by gs mult; with c = 1 (no decay) the step
 * is p - m G (1 p = p).
 */
@inline export function rowwiseAdagradRows4(P0: usize, P1: usize, P2: usize, P3: usize, G0: usize, G1: usize, G2: usize, G3: usize,
                                           S0: usize, S1: usize, S2: usize, S3: usize, n: usize, h: usize, l2: bool, dec: bool): void {
  const gs = hyperF32(h, RWADAGRAD_GSCALE);
  const vgs = f32x4.splat(gs), vwd = f32x4.splat(hyperF32(h, RWADAGRAD_WD));
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
  let i: usize = 0;
  do {
    const o = i << 2;
    let g0 = v128.load(G0 + o), g1 = v128.load(G1 + o), g2 = v128.load(G2 + o), g3 = v128.load(G3 + o);
    if (l2) {
      g0 = f32x4.add(f32x4.mul(g0, vgs), f32x4.mul(vwd, v128.load(P0 + o)));
      g1 = f32x4.add(f32x4.mul(g1, vgs), f32x4.mul(vwd, v128.load(P1 + o)));
      g2 = f32x4.add(f32x4.mul(g2, vgs), f32x4.mul(vwd, v128.load(P2 + o)));
      g3 = f32x4.add(f32x4.mul(g3, vgs), f32x4.mul(vwd, v128.load(P3 + o)));
    }
    a0 = f32x4.add(a0, f32x4.mul(g0, g0));
    a1 = f32x4.add(a1, f32x4.mul(g1, g1));
    a2 = f32x4.add(a2, f32x4.mul(g2, g2));
    a3 = f32x4.add(a3, f32x4.mul(g3, g3));
    i += 4;
  } while (i < n);
  // [a0 + a1 lanes 0+1, 2+3; ...], then (l0 + l1) + (l2 + l3) of each row, rows in lanes 0..3.
  const p01 = f32x4.add(v128.shuffle<f32>(a0, a1, 0, 2, 4, 6), v128.shuffle<f32>(a0, a1, 1, 3, 5, 7));
  const p23 = f32x4.add(v128.shuffle<f32>(a2, a3, 0, 2, 4, 6), v128.shuffle<f32>(a2, a3, 1, 3, 5, 7));
  const sum = f32x4.add(v128.shuffle<f32>(p01, p23, 0, 2, 4, 6), v128.shuffle<f32>(p01, p23, 1, 3, 5, 7));
  let sv = v128.load32_zero(S0);
  sv = v128.load32_lane(S1, sv, 1);
  sv = v128.load32_lane(S2, sv, 2);
  sv = v128.load32_lane(S3, sv, 3);
  sv = f32x4.add(sv, f32x4.div(sum, f32x4.splat(<f32>n)));
  v128.store32_lane(S0, sv, 0);
  v128.store32_lane(S1, sv, 1);
  v128.store32_lane(S2, sv, 2);
  v128.store32_lane(S3, sv, 3);
  const mult = f32x4.div(f32x4.splat(hyperF32(h, RWADAGRAD_LR)), f32x4.add(f32x4.sqrt(sv), f32x4.splat(hyperF32(h, RWADAGRAD_EPS))));
  const vc = l2 ? f32x4.sub(f32x4.splat(1), f32x4.mul(mult, vwd)) : f32x4.splat(hyperF32(h, RWADAGRAD_DECAY));
  const m = f32x4.mul(mult, vgs);
  const m0 = v128.shuffle<f32>(m, m, 0, 0, 0, 0), m1 = v128.shuffle<f32>(m, m, 1, 1, 1, 1);
  const m2 = v128.shuffle<f32>(m, m, 2, 2, 2, 2), m3 = v128.shuffle<f32>(m, m, 3, 3, 3, 3);
  const c0 = v128.shuffle<f32>(vc, vc, 0, 0, 0, 0), c1 = v128.shuffle<f32>(vc, vc, 1, 1, 1, 1);
  const c2 = v128.shuffle<f32>(vc, vc, 2, 2, 2, 2), c3 = v128.shuffle<f32>(vc, vc, 3, 3, 3, 3);
  const scale = l2 || dec;
  i = 0;
  do {
    const o = i << 2;
    const p0 = v128.load(P0 + o), p1 = v128.load(P1 + o), p2 = v128.load(P2 + o), p3 = v128.load(P3 + o);
    v128.store(P0 + o, f32x4.sub(scale ? f32x4.mul(c0, p0) : p0, f32x4.mul(m0, v128.load(G0 + o))));
    v128.store(P1 + o, f32x4.sub(scale ? f32x4.mul(c1, p1) : p1, f32x4.mul(m1, v128.load(G1 + o))));
    v128.store(P2 + o, f32x4.sub(scale ? f32x4.mul(c2, p2) : p2, f32x4.mul(m2, v128.load(G2 + o))));
    v128.store(P3 + o, f32x4.sub(scale ? f32x4.mul(c3, p3) : p3, f32x4.mul(m3, v128.load(G3 + o))));
    i += 4;
  } while (i < n);
}

/**
 * Partial row-wise Adam on one row: weights P, gradient G, exp_avg M (per element), the row's
 * exp_avg_sq at V, the PRADAM_* hyper block `h` (`useWd`: weight decay).
 */
@inline export function partialRowwiseAdamRow(P: usize, G: usize, M: usize, V: usize, n: usize, h: usize, useWd: bool): void {
  const gs = hyperF32(h, PRADAM_GSCALE), b1 = hyperF32(h, PRADAM_BETA1), omb1 = hyperF32(h, PRADAM_OMB1);
  const b2 = hyperF32(h, PRADAM_BETA2), omb2 = hyperF32(h, PRADAM_OMB2), ss = hyperF32(h, PRADAM_STEP_SIZE);
  const ib = hyperF32(h, PRADAM_INV_BC2_SQRT), eps = hyperF32(h, PRADAM_EPS), lwd = hyperF32(h, PRADAM_LWD);
  // Pass 1: the first moment and the row statistic.
  const sum = sumSquares(0, G, M, n, gs, 0, false, b1, omb1, true);
  // The row's second moment (FBGEMM's order: mean (1 - b2) first, then + b2 v).
  const v = (sum / <f32>n) * omb2 + load<f32>(V) * b2;
  store<f32>(V, v);
  const r = ss / (sqrt<f32>(v) * ib + eps);
  // Pass 2: the weights.
  const n4 = n & ~(<usize>3);
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vr = f32x4.splat(r), vlwd = f32x4.splat(lwd);
    for (; i < n4; i += 4) {
      const o = i << 2;
      const p = v128.load(P + o);
      const step = f32x4.mul(vr, v128.load(M + o));
      v128.store(P + o, f32x4.sub(p, useWd ? f32x4.add(step, f32x4.mul(vlwd, p)) : step));
    }
  }
  for (; i < n; i++) {
    const o = i << 2;
    const p = load<f32>(P + o);
    const step = r * load<f32>(M + o);
    store<f32>(P + o, p - (useWd ? step + lwd * p : step));
  }
}
