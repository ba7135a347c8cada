// Adagrad (PyTorch 2.x torch.optim.Adagrad):
//   g = gscale * grad + wd * p;  sum += g^2;  p -= clr * g / (sqrt(sum) + eps),
//   clr = lr / (1 + (t - 1) * lrDecay)
// State: state0 = sum (starts at initialAccumulatorValue).

import { DESC_BYTES, descParam, descGrad, descState0, descLength, descHyper, hyperF32, hyperFlag } from "../../shared/common";
import { CLIP_LO, CLIP_HI } from "../../shared/clip";
import { gradVec, gradOne, plainGrad } from "../../shared/clamp";
import { adagradApplyVec, adagradApplyOne } from "./lanes";
import { ADAGRAD_GSCALE, ADAGRAD_CLR, ADAGRAD_EPS, ADAGRAD_WD, ADAGRAD_USE_WD } from "./slots";
import { Lane0, Lane1, Lane2, Lane3 } from "../../shared/lane";
export * from "./slots";

@inline function adagradVec<L = Lane0>(P: usize, G: usize, S: usize, o: usize, gs: v128, lo: v128, hi: v128, clr: v128, eps: v128, wd: v128, useWd: bool, plain: bool): void {
  adagradApplyVec<L>(gradVec(v128.load(G + o, offsetof<L>()), gs, lo, hi, plain), P, S, o, clr, eps, wd, useWd);
}

@inline function adagradOne(P: usize, G: usize, S: usize, o: usize, gs: f32, lo: f32, hi: f32, clr: f32, eps: f32, wd: f32, useWd: bool, plain: bool): void {
  adagradApplyOne(gradOne(load<f32>(G + o), gs, lo, hi, plain), P, S, o, clr, eps, wd, useWd);
}

@inline function adagradTensor(d: usize, useWd: bool, plain: bool): void {
  const P = descParam(d), G = descGrad(d), S = descState0(d), n = descLength(d), h = descHyper(d);
  const gs = hyperF32(h, ADAGRAD_GSCALE), lo = hyperF32(h, CLIP_LO), hi = hyperF32(h, CLIP_HI), clr = hyperF32(h, ADAGRAD_CLR), eps = hyperF32(h, ADAGRAD_EPS), wd = hyperF32(h, ADAGRAD_WD);
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vgs = f32x4.splat(gs), vlo = f32x4.splat(lo), vhi = f32x4.splat(hi), vclr = f32x4.splat(clr), veps = f32x4.splat(eps), vwd = f32x4.splat(wd);
    const n16 = n & ~(<usize>15);
    for (; i < n16; i += 16) {
      const o = i << 2;
      adagradVec(P, G, S, o, vgs, vlo, vhi, vclr, veps, vwd, useWd, plain);
      adagradVec<Lane1>(P, G, S, o, vgs, vlo, vhi, vclr, veps, vwd, useWd, plain);
      adagradVec<Lane2>(P, G, S, o, vgs, vlo, vhi, vclr, veps, vwd, useWd, plain);
      adagradVec<Lane3>(P, G, S, o, vgs, vlo, vhi, vclr, veps, vwd, useWd, plain);
    }
    const n4 = n & ~(<usize>3);
    for (; i < n4; i += 4) adagradVec(P, G, S, i << 2, vgs, vlo, vhi, vclr, veps, vwd, useWd, plain);
  }
  for (; i < n; i++) adagradOne(P, G, S, i << 2, gs, lo, hi, clr, eps, wd, useWd, plain);
}

// The default options (no weight decay, no clipping, gradient scale 1) get a loop of their own
// without the clamp and the scale, as SGD's and RMSprop's do.
function adagradPlain(d: usize): void {
  adagradTensor(d, false, true);
}

/** One Adagrad step over every tensor of the table. */
export function adagradStep(table: usize, count: i32): void {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    const h = descHyper(d);
    if (hyperFlag(h, ADAGRAD_USE_WD)) adagradTensor(d, true, false);
    else if (plainGrad(hyperF32(h, ADAGRAD_GSCALE), hyperF32(h, CLIP_LO), hyperF32(h, CLIP_HI))) adagradPlain(d);
    else adagradTensor(d, false, false);
  }
}
