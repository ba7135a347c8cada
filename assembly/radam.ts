// RAdam (PyTorch 2.x torch.optim.RAdam), one fused pass per tensor:
//   g = gscale * clamp(grad) (+ wd * p, L2);  p *= 1 - lr * wd (decoupled)
//   m += (1 - b1) (g - m);  v = b2 v + (1 - b2) g^2
//   rho_t > 5 (rectified):  p -= cr * m / (sqrt(v) + eps),  cr = lr / (1 - b1^t) * rect * sqrt(1 - b2^t)
//   otherwise:              p -= cp * m,                    cp = lr / (1 - b1^t)
// The rectification test and term are per step: the TS side computes them in float64.
// State: state0 = exp_avg, state1 = exp_avg_sq.

import { DESC_BYTES, descParam, descGrad, descState0, descState1, descLength, descHyper, hyperF32, hyperFlag } from "./common";
import { CLIP_LO, CLIP_HI } from "./clip";
import { clampVec, clampOne } from "./clamp";

export const RADAM_GSCALE = 0;    // gradient scale; negative for maximize
export const RADAM_OMB1 = 1;      // 1 - beta1
export const RADAM_BETA2 = 2;
export const RADAM_OMB2 = 3;      // 1 - beta2
export const RADAM_EPS = 4;
export const RADAM_COEF = 5;      // cr (rectified) or cp (not)
export const RADAM_L2 = 6;        // weight decay added to the gradient
export const RADAM_DECAY = 7;     // 1 - lr * weightDecay (decoupled)
export const RADAM_RECT = 8;      // i32 flag: rho_t > 5
export const RADAM_USE_L2 = 9;    // i32 flag
export const RADAM_USE_DECAY = 10; // i32 flag

@inline function radamVec(P: usize, G: usize, M: usize, V: usize, o: usize,
                          gs: v128, lo: v128, hi: v128, b1c: v128, b2: v128, b2c: v128, eps: v128, c: v128,
                          wd: v128, dc: v128, rect: bool, l2: bool, dec: bool): void {
  let p = v128.load(P + o);
  let g = f32x4.mul(clampVec(v128.load(G + o), lo, hi), gs);
  if (l2) g = f32x4.add(g, f32x4.mul(wd, p));
  if (dec) p = f32x4.mul(p, dc);
  let m = v128.load(M + o);
  m = f32x4.add(m, f32x4.mul(b1c, f32x4.sub(g, m)));
  const v = f32x4.add(f32x4.mul(v128.load(V + o), b2), f32x4.mul(f32x4.mul(b2c, g), g));
  v128.store(M + o, m);
  v128.store(V + o, v);
  if (rect) p = f32x4.sub(p, f32x4.mul(c, f32x4.div(m, f32x4.add(f32x4.sqrt(v), eps))));
  else p = f32x4.sub(p, f32x4.mul(c, m));
  v128.store(P + o, p);
}

@inline function radamOne(P: usize, G: usize, M: usize, V: usize, o: usize,
                          gs: f32, lo: f32, hi: f32, b1c: f32, b2: f32, b2c: f32, eps: f32, c: f32,
                          wd: f32, dc: f32, rect: bool, l2: bool, dec: bool): void {
  let p = load<f32>(P + o);
  let g = clampOne(load<f32>(G + o), lo, hi) * gs;
  if (l2) g = g + wd * p;
  if (dec) p = p * dc;
  let m = load<f32>(M + o);
  m = m + b1c * (g - m);
  const v = load<f32>(V + o) * b2 + (b2c * g) * g;
  store<f32>(M + o, m);
  store<f32>(V + o, v);
  if (rect) p = p - c * (m / (sqrt<f32>(v) + eps));
  else p = p - c * m;
  store<f32>(P + o, p);
}

@inline function radamTensor(d: usize, rect: bool, l2: bool, dec: bool): void {
  const P = descParam(d), G = descGrad(d), M = descState0(d), V = descState1(d), n = descLength(d), h = descHyper(d);
  const gs = hyperF32(h, RADAM_GSCALE), lo = hyperF32(h, CLIP_LO), hi = hyperF32(h, CLIP_HI);
  const b1c = hyperF32(h, RADAM_OMB1), b2 = hyperF32(h, RADAM_BETA2), b2c = hyperF32(h, RADAM_OMB2);
  const eps = hyperF32(h, RADAM_EPS), c = hyperF32(h, RADAM_COEF), wd = hyperF32(h, RADAM_L2), dc = hyperF32(h, RADAM_DECAY);
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vgs = f32x4.splat(gs), vlo = f32x4.splat(lo), vhi = f32x4.splat(hi), vb1c = f32x4.splat(b1c);
    const vb2 = f32x4.splat(b2), vb2c = f32x4.splat(b2c), veps = f32x4.splat(eps), vc = f32x4.splat(c);
    const vwd = f32x4.splat(wd), vdc = f32x4.splat(dc);
    const n16 = n & ~(<usize>15);
    for (; i < n16; i += 16) {
      const o = i << 2;
      radamVec(P, G, M, V, o, vgs, vlo, vhi, vb1c, vb2, vb2c, veps, vc, vwd, vdc, rect, l2, dec);
      radamVec(P, G, M, V, o + 16, vgs, vlo, vhi, vb1c, vb2, vb2c, veps, vc, vwd, vdc, rect, l2, dec);
      radamVec(P, G, M, V, o + 32, vgs, vlo, vhi, vb1c, vb2, vb2c, veps, vc, vwd, vdc, rect, l2, dec);
      radamVec(P, G, M, V, o + 48, vgs, vlo, vhi, vb1c, vb2, vb2c, veps, vc, vwd, vdc, rect, l2, dec);
    }
    const n4 = n & ~(<usize>3);
    for (; i < n4; i += 4) radamVec(P, G, M, V, i << 2, vgs, vlo, vhi, vb1c, vb2, vb2c, veps, vc, vwd, vdc, rect, l2, dec);
  }
  for (; i < n; i++) radamOne(P, G, M, V, i << 2, gs, lo, hi, b1c, b2, b2c, eps, c, wd, dc, rect, l2, dec);
}

@inline function radamRect(d: usize, l2: bool, dec: bool, rect: bool): void {
  if (rect) radamTensor(d, true, l2, dec);
  else radamTensor(d, false, l2, dec);
}

/** One RAdam step over every tensor of the table. */
export function radamStep(table: usize, count: i32): void {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    const h = descHyper(d);
    const rect = hyperFlag(h, RADAM_RECT);
    if (hyperFlag(h, RADAM_USE_L2)) radamRect(d, true, false, rect);
    else if (hyperFlag(h, RADAM_USE_DECAY)) radamRect(d, false, true, rect);
    else radamRect(d, false, false, rect);
  }
}
