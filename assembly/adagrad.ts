// Adagrad (PyTorch 2.x torch.optim.Adagrad):
//   g = gscale * grad + wd * p;  sum += g^2;  p -= clr * g / (sqrt(sum) + eps),
//   clr = lr / (1 + (t - 1) * lrDecay)
// State: state0 = sum (starts at initialAccumulatorValue).

import { DESC_BYTES, descParam, descGrad, descState0, descLength, descHyper, hyperF32, hyperFlag } from "./common";
import { CLIP_LO, CLIP_HI } from "./clip";
import { clampVec, clampOne } from "./clamp";

export const ADAGRAD_GSCALE = 0;
export const ADAGRAD_CLR = 1;
export const ADAGRAD_EPS = 2;
export const ADAGRAD_WD = 3;
export const ADAGRAD_USE_WD = 4; // i32 flag

@inline function adagradVec(P: usize, G: usize, S: usize, o: usize, gs: v128, lo: v128, hi: v128, clr: v128, eps: v128, wd: v128, useWd: bool): void {
  const p = v128.load(P + o);
  let g = f32x4.mul(clampVec(v128.load(G + o), lo, hi), gs);
  if (useWd) g = f32x4.add(g, f32x4.mul(wd, p));
  const s = f32x4.add(v128.load(S + o), f32x4.mul(g, g));
  v128.store(S + o, s);
  v128.store(P + o, f32x4.sub(p, f32x4.mul(clr, f32x4.div(g, f32x4.add(f32x4.sqrt(s), eps)))));
}

@inline function adagradOne(P: usize, G: usize, S: usize, o: usize, gs: f32, lo: f32, hi: f32, clr: f32, eps: f32, wd: f32, useWd: bool): void {
  const p = load<f32>(P + o);
  let g = clampOne(load<f32>(G + o), lo, hi) * gs;
  if (useWd) g = g + wd * p;
  const s = load<f32>(S + o) + g * g;
  store<f32>(S + o, s);
  store<f32>(P + o, p - clr * (g / (sqrt<f32>(s) + eps)));
}

@inline function adagradTensor(d: usize, useWd: bool): void {
  const P = descParam(d), G = descGrad(d), S = descState0(d), n = descLength(d), h = descHyper(d);
  const gs = hyperF32(h, ADAGRAD_GSCALE), lo = hyperF32(h, CLIP_LO), hi = hyperF32(h, CLIP_HI), clr = hyperF32(h, ADAGRAD_CLR), eps = hyperF32(h, ADAGRAD_EPS), wd = hyperF32(h, ADAGRAD_WD);
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vgs = f32x4.splat(gs), vlo = f32x4.splat(lo), vhi = f32x4.splat(hi), vclr = f32x4.splat(clr), veps = f32x4.splat(eps), vwd = f32x4.splat(wd);
    const n16 = n & ~(<usize>15);
    for (; i < n16; i += 16) {
      const o = i << 2;
      adagradVec(P, G, S, o, vgs, vlo, vhi, vclr, veps, vwd, useWd);
      adagradVec(P, G, S, o + 16, vgs, vlo, vhi, vclr, veps, vwd, useWd);
      adagradVec(P, G, S, o + 32, vgs, vlo, vhi, vclr, veps, vwd, useWd);
      adagradVec(P, G, S, o + 48, vgs, vlo, vhi, vclr, veps, vwd, useWd);
    }
    const n4 = n & ~(<usize>3);
    for (; i < n4; i += 4) adagradVec(P, G, S, i << 2, vgs, vlo, vhi, vclr, veps, vwd, useWd);
  }
  for (; i < n; i++) adagradOne(P, G, S, i << 2, gs, lo, hi, clr, eps, wd, useWd);
}

/** One Adagrad step over every tensor of the table. */
export function adagradStep(table: usize, count: i32): void {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    if (hyperFlag(descHyper(d), ADAGRAD_USE_WD)) adagradTensor(d, true);
    else adagradTensor(d, false);
  }
}
