// RMSprop (PyTorch 2.x torch.optim.RMSprop), centered and momentum variants:
//   g = gscale * grad + wd * p;  sq = alpha sq + (1 - alpha) g^2
//   centered: ga = alpha ga + (1 - alpha) g;  avg = sqrt(sq - ga^2) + eps;  else avg = sqrt(sq) + eps
//   momentum: buf = momentum buf + g / avg;  p -= lr buf;  else p -= lr g / avg
// State: state0 = square_avg, state1 = momentum_buffer, state2 = grad_avg.

import { DESC_BYTES, descParam, descGrad, descState0, descState1, descState2, descLength, descHyper, hyperF32, hyperFlag } from "../../shared/common";
import { CLIP_LO, CLIP_HI } from "../../shared/clip";
import { gradVec, gradOne, plainGrad } from "../../shared/clamp";
import { RMSPROP_GSCALE, RMSPROP_LR, RMSPROP_ALPHA, RMSPROP_OMA, RMSPROP_EPS, RMSPROP_WD, RMSPROP_MOMENTUM, RMSPROP_USE_WD, RMSPROP_CENTERED, RMSPROP_USE_MOMENTUM } from "./slots";
import { Lane0, Lane1, Lane2, Lane3 } from "../../shared/lane";
export * from "./slots";

@inline function rmsVec<L = Lane0>(P: usize, G: usize, S: usize, B: usize, A: usize, o: usize,
                        gs: v128, lo: v128, hi: v128, lr: v128, al: v128, oma: v128, eps: v128, wd: v128, mu: v128,
                        useWd: bool, cen: bool, useMom: bool, plain: bool): void {
  const p = v128.load(P + o, offsetof<L>());
  let g = gradVec(v128.load(G + o, offsetof<L>()), gs, lo, hi, plain);
  if (useWd) g = f32x4.add(g, f32x4.mul(wd, p));
  const sq = f32x4.add(f32x4.mul(v128.load(S + o, offsetof<L>()), al), f32x4.mul(f32x4.mul(oma, g), g));
  v128.store(S + o, sq, offsetof<L>());
  let avg: v128;
  if (cen) {
    let ga = v128.load(A + o, offsetof<L>());
    ga = f32x4.add(f32x4.mul(ga, al), f32x4.mul(oma, g));
    v128.store(A + o, ga, offsetof<L>());
    avg = f32x4.add(f32x4.sqrt(f32x4.sub(sq, f32x4.mul(ga, ga))), eps);
  } else {
    avg = f32x4.add(f32x4.sqrt(sq), eps);
  }
  if (useMom) {
    const b = f32x4.add(f32x4.mul(v128.load(B + o, offsetof<L>()), mu), f32x4.div(g, avg));
    v128.store(B + o, b, offsetof<L>());
    v128.store(P + o, f32x4.sub(p, f32x4.mul(lr, b)), offsetof<L>());
  } else {
    v128.store(P + o, f32x4.sub(p, f32x4.mul(lr, f32x4.div(g, avg))), offsetof<L>());
  }
}

@inline function rmsOne(P: usize, G: usize, S: usize, B: usize, A: usize, o: usize,
                        gs: f32, lo: f32, hi: f32, lr: f32, al: f32, oma: f32, eps: f32, wd: f32, mu: f32,
                        useWd: bool, cen: bool, useMom: bool, plain: bool): void {
  const p = load<f32>(P + o);
  let g = gradOne(load<f32>(G + o), gs, lo, hi, plain);
  if (useWd) g = g + wd * p;
  const sq = load<f32>(S + o) * al + (oma * g) * g;
  store<f32>(S + o, sq);
  let avg: f32;
  if (cen) {
    let ga = load<f32>(A + o);
    ga = ga * al + oma * g;
    store<f32>(A + o, ga);
    avg = sqrt<f32>(sq - ga * ga) + eps;
  } else {
    avg = sqrt<f32>(sq) + eps;
  }
  if (useMom) {
    const b = load<f32>(B + o) * mu + g / avg;
    store<f32>(B + o, b);
    store<f32>(P + o, p - lr * b);
  } else {
    store<f32>(P + o, p - lr * (g / avg));
  }
}

@inline function rmsLoop(P: usize, G: usize, S: usize, B: usize, A: usize, n: usize,
                         gs: f32, lo: f32, hi: f32, lr: f32, al: f32, oma: f32, eps: f32, wd: f32, mu: f32,
                         useWd: bool, cen: bool, useMom: bool, plain: bool): void {
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vgs = f32x4.splat(gs), vlo = f32x4.splat(lo), vhi = f32x4.splat(hi), vlr = f32x4.splat(lr), val = f32x4.splat(al), voma = f32x4.splat(oma);
    const veps = f32x4.splat(eps), vwd = f32x4.splat(wd), vmu = f32x4.splat(mu);
    const n16 = n & ~(<usize>15);
    for (; i < n16; i += 16) {
      const o = i << 2;
      rmsVec(P, G, S, B, A, o, vgs, vlo, vhi, vlr, val, voma, veps, vwd, vmu, useWd, cen, useMom, plain);
      rmsVec<Lane1>(P, G, S, B, A, o, vgs, vlo, vhi, vlr, val, voma, veps, vwd, vmu, useWd, cen, useMom, plain);
      rmsVec<Lane2>(P, G, S, B, A, o, vgs, vlo, vhi, vlr, val, voma, veps, vwd, vmu, useWd, cen, useMom, plain);
      rmsVec<Lane3>(P, G, S, B, A, o, vgs, vlo, vhi, vlr, val, voma, veps, vwd, vmu, useWd, cen, useMom, plain);
    }
    const n4 = n & ~(<usize>3);
    for (; i < n4; i += 4) rmsVec(P, G, S, B, A, i << 2, vgs, vlo, vhi, vlr, val, voma, veps, vwd, vmu, useWd, cen, useMom, plain);
  }
  for (; i < n; i++) rmsOne(P, G, S, B, A, i << 2, gs, lo, hi, lr, al, oma, eps, wd, mu, useWd, cen, useMom, plain);
}

@inline function rmsTensor(d: usize, useWd: bool, cen: bool, useMom: bool): void {
  const P = descParam(d), G = descGrad(d), S = descState0(d), B = descState1(d), A = descState2(d);
  const n = descLength(d), h = descHyper(d);
  const gs = hyperF32(h, RMSPROP_GSCALE), lo = hyperF32(h, CLIP_LO), hi = hyperF32(h, CLIP_HI), lr = hyperF32(h, RMSPROP_LR), al = hyperF32(h, RMSPROP_ALPHA);
  const oma = hyperF32(h, RMSPROP_OMA), eps = hyperF32(h, RMSPROP_EPS), wd = hyperF32(h, RMSPROP_WD);
  const mu = hyperF32(h, RMSPROP_MOMENTUM);
  if (!useWd && !useMom && plainGrad(gs, lo, hi)) {
    if (cen) rmspropCenteredPlain(P, G, S, A, n, lr, al, oma, eps);
    else rmspropPlain(P, G, S, n, lr, al, oma, eps);
  } else rmsLoop(P, G, S, B, A, n, gs, lo, hi, lr, al, oma, eps, wd, mu, useWd, cen, useMom, false);
}

// RMSprop with its defaults (no momentum, no weight decay, no clipping, gradient scale 1), plain
// or centered, gets a function of its own: a loop that neither clamps nor scales the gradient.
// Inlined with the other variants into rmspropStep, its loop was merged by the optimizer into
// loops that select between variants at run time.
function rmspropPlain(P: usize, G: usize, S: usize, n: usize, lr: f32, al: f32, oma: f32, eps: f32): void {
  rmsLoop(P, G, S, 0, 0, n, 1, -Infinity, Infinity, lr, al, oma, eps, 0, 0, false, false, false, true);
}

function rmspropCenteredPlain(P: usize, G: usize, S: usize, A: usize, n: usize, lr: f32, al: f32, oma: f32, eps: f32): void {
  rmsLoop(P, G, S, 0, A, n, 1, -Infinity, Infinity, lr, al, oma, eps, 0, 0, false, true, false, true);
}

@inline function rmsVariant(d: usize, useWd: bool, cen: bool, useMom: bool): void {
  if (useWd) rmsTensor(d, true, cen, useMom);
  else rmsTensor(d, false, cen, useMom);
}

/** One RMSprop step over every tensor of the table. */
export function rmspropStep(table: usize, count: i32): void {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    const h = descHyper(d);
    const useWd = hyperFlag(h, RMSPROP_USE_WD), cen = hyperFlag(h, RMSPROP_CENTERED), useMom = hyperFlag(h, RMSPROP_USE_MOMENTUM);
    if (cen) {
      if (useMom) rmsVariant(d, useWd, true, true);
      else rmsVariant(d, useWd, true, false);
    } else {
      if (useMom) rmsVariant(d, useWd, false, true);
      else rmsVariant(d, useWd, false, false);
    }
  }
}
