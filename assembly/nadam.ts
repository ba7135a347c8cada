// NAdam (PyTorch 2.x torch.optim.NAdam, with its momentum_decay schedule), one fused pass per tensor:
//   g = gscale * clamp(grad) (+ wd * p, L2);  p *= 1 - lr * wd (decoupled)
//   m += (1 - b1) (g - m);  v = b2 v + (1 - b2) g^2;  denom = sqrt(v / (1 - b2^t)) + eps
//   p -= cg * g / denom;  p -= cm * m / denom
//   cg = lr (1 - mu_t) / (1 - prod_{i<=t} mu_i),  cm = lr mu_{t+1} / (1 - prod_{i<=t+1} mu_i)
// State: state0 = exp_avg, state1 = exp_avg_sq (mu_product is a function of t: computed in TS).

import { DESC_BYTES, descParam, descGrad, descState0, descState1, descLength, descHyper, hyperF32, hyperFlag } from "./common";
import { CLIP_LO, CLIP_HI } from "./clip";
import { clampVec, clampOne } from "./clamp";

export const NADAM_GSCALE = 0;    // gradient scale; negative for maximize
export const NADAM_OMB1 = 1;      // 1 - beta1
export const NADAM_BETA2 = 2;
export const NADAM_OMB2 = 3;      // 1 - beta2
export const NADAM_BC2 = 4;       // 1 - beta2^t
export const NADAM_EPS = 5;
export const NADAM_CG = 6;        // lr (1 - mu_t) / (1 - mu_product_t)
export const NADAM_CM = 7;        // lr mu_{t+1} / (1 - mu_product_{t+1})
export const NADAM_L2 = 8;        // weight decay added to the gradient
export const NADAM_DECAY = 9;     // 1 - lr * weightDecay (decoupled)
export const NADAM_USE_L2 = 10;   // i32 flag
export const NADAM_USE_DECAY = 11; // i32 flag

@inline function nadamVec(P: usize, G: usize, M: usize, V: usize, o: usize,
                          gs: v128, lo: v128, hi: v128, b1c: v128, b2: v128, b2c: v128, bc2: v128, eps: v128,
                          cg: v128, cm: v128, wd: v128, dc: v128, l2: bool, dec: bool): void {
  let p = v128.load(P + o);
  let g = f32x4.mul(clampVec(v128.load(G + o), lo, hi), gs);
  if (l2) g = f32x4.add(g, f32x4.mul(wd, p));
  if (dec) p = f32x4.mul(p, dc);
  let m = v128.load(M + o);
  m = f32x4.add(m, f32x4.mul(b1c, f32x4.sub(g, m)));
  const v = f32x4.add(f32x4.mul(v128.load(V + o), b2), f32x4.mul(f32x4.mul(b2c, g), g));
  v128.store(M + o, m);
  v128.store(V + o, v);
  const denom = f32x4.add(f32x4.sqrt(f32x4.div(v, bc2)), eps);
  p = f32x4.sub(p, f32x4.mul(cg, f32x4.div(g, denom)));
  v128.store(P + o, f32x4.sub(p, f32x4.mul(cm, f32x4.div(m, denom))));
}

@inline function nadamOne(P: usize, G: usize, M: usize, V: usize, o: usize,
                          gs: f32, lo: f32, hi: f32, b1c: f32, b2: f32, b2c: f32, bc2: f32, eps: f32,
                          cg: f32, cm: f32, wd: f32, dc: f32, l2: bool, dec: bool): void {
  let p = load<f32>(P + o);
  let g = clampOne(load<f32>(G + o), lo, hi) * gs;
  if (l2) g = g + wd * p;
  if (dec) p = p * dc;
  let m = load<f32>(M + o);
  m = m + b1c * (g - m);
  const v = load<f32>(V + o) * b2 + (b2c * g) * g;
  store<f32>(M + o, m);
  store<f32>(V + o, v);
  const denom = sqrt<f32>(v / bc2) + eps;
  p = p - cg * (g / denom);
  store<f32>(P + o, p - cm * (m / denom));
}

@inline function nadamTensor(d: usize, l2: bool, dec: bool): void {
  const P = descParam(d), G = descGrad(d), M = descState0(d), V = descState1(d), n = descLength(d), h = descHyper(d);
  const gs = hyperF32(h, NADAM_GSCALE), lo = hyperF32(h, CLIP_LO), hi = hyperF32(h, CLIP_HI);
  const b1c = hyperF32(h, NADAM_OMB1), b2 = hyperF32(h, NADAM_BETA2), b2c = hyperF32(h, NADAM_OMB2);
  const bc2 = hyperF32(h, NADAM_BC2), eps = hyperF32(h, NADAM_EPS), cg = hyperF32(h, NADAM_CG), cm = hyperF32(h, NADAM_CM);
  const wd = hyperF32(h, NADAM_L2), dc = hyperF32(h, NADAM_DECAY);
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vgs = f32x4.splat(gs), vlo = f32x4.splat(lo), vhi = f32x4.splat(hi), vb1c = f32x4.splat(b1c);
    const vb2 = f32x4.splat(b2), vb2c = f32x4.splat(b2c), vbc2 = f32x4.splat(bc2), veps = f32x4.splat(eps);
    const vcg = f32x4.splat(cg), vcm = f32x4.splat(cm), vwd = f32x4.splat(wd), vdc = f32x4.splat(dc);
    const n16 = n & ~(<usize>15);
    for (; i < n16; i += 16) {
      const o = i << 2;
      nadamVec(P, G, M, V, o, vgs, vlo, vhi, vb1c, vb2, vb2c, vbc2, veps, vcg, vcm, vwd, vdc, l2, dec);
      nadamVec(P, G, M, V, o + 16, vgs, vlo, vhi, vb1c, vb2, vb2c, vbc2, veps, vcg, vcm, vwd, vdc, l2, dec);
      nadamVec(P, G, M, V, o + 32, vgs, vlo, vhi, vb1c, vb2, vb2c, vbc2, veps, vcg, vcm, vwd, vdc, l2, dec);
      nadamVec(P, G, M, V, o + 48, vgs, vlo, vhi, vb1c, vb2, vb2c, vbc2, veps, vcg, vcm, vwd, vdc, l2, dec);
    }
    const n4 = n & ~(<usize>3);
    for (; i < n4; i += 4) nadamVec(P, G, M, V, i << 2, vgs, vlo, vhi, vb1c, vb2, vb2c, vbc2, veps, vcg, vcm, vwd, vdc, l2, dec);
  }
  for (; i < n; i++) nadamOne(P, G, M, V, i << 2, gs, lo, hi, b1c, b2, b2c, bc2, eps, cg, cm, wd, dc, l2, dec);
}

/** One NAdam step over every tensor of the table. */
export function nadamStep(table: usize, count: i32): void {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    const h = descHyper(d);
    if (hyperFlag(h, NADAM_USE_L2)) nadamTensor(d, true, false);
    else if (hyperFlag(h, NADAM_USE_DECAY)) nadamTensor(d, false, true);
    else nadamTensor(d, false, false);
  }
}
