// Adamax (PyTorch 2.x torch.optim.Adamax), one fused pass per tensor:
//   g = gscale * clamp(grad) (+ wd * p, L2);  m += (1 - b1) (g - m);  u = max(b2 u, |g| + eps)
//   p -= clr * m / u,  clr = lr / (1 - b1^t)
// State: state0 = exp_avg, state1 = exp_inf. The lane arithmetic is in adamax_lanes.ts (shared
// with the embedding rows).

import { DESC_BYTES, descParam, descGrad, descState0, descState1, descLength, descHyper, hyperF32, hyperFlag } from "./common";
import { CLIP_LO, CLIP_HI } from "./clip";
import { adamaxVec, adamaxOne } from "./adamax_lanes";

export const ADAMAX_GSCALE = 0;   // gradient scale; negative for maximize
export const ADAMAX_OMB1 = 1;     // 1 - beta1
export const ADAMAX_BETA2 = 2;
export const ADAMAX_CLR = 3;      // lr / (1 - beta1^t)
export const ADAMAX_EPS = 4;
export const ADAMAX_WD = 5;       // L2 weight decay added to the gradient
export const ADAMAX_USE_WD = 6;   // i32 flag

@inline function adamaxTensor(d: usize, useWd: bool): void {
  const P = descParam(d), G = descGrad(d), M = descState0(d), U = descState1(d), n = descLength(d), h = descHyper(d);
  const gs = hyperF32(h, ADAMAX_GSCALE), lo = hyperF32(h, CLIP_LO), hi = hyperF32(h, CLIP_HI);
  const b1c = hyperF32(h, ADAMAX_OMB1), b2 = hyperF32(h, ADAMAX_BETA2), clr = hyperF32(h, ADAMAX_CLR);
  const eps = hyperF32(h, ADAMAX_EPS), wd = hyperF32(h, ADAMAX_WD);
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vgs = f32x4.splat(gs), vlo = f32x4.splat(lo), vhi = f32x4.splat(hi), vb1c = f32x4.splat(b1c);
    const vb2 = f32x4.splat(b2), vclr = f32x4.splat(clr), veps = f32x4.splat(eps), vwd = f32x4.splat(wd);
    const n16 = n & ~(<usize>15);
    for (; i < n16; i += 16) {
      const o = i << 2;
      adamaxVec(P, G, M, U, o, vgs, vlo, vhi, vb1c, vb2, vclr, veps, vwd, useWd);
      adamaxVec(P, G, M, U, o + 16, vgs, vlo, vhi, vb1c, vb2, vclr, veps, vwd, useWd);
      adamaxVec(P, G, M, U, o + 32, vgs, vlo, vhi, vb1c, vb2, vclr, veps, vwd, useWd);
      adamaxVec(P, G, M, U, o + 48, vgs, vlo, vhi, vb1c, vb2, vclr, veps, vwd, useWd);
    }
    const n4 = n & ~(<usize>3);
    for (; i < n4; i += 4) adamaxVec(P, G, M, U, i << 2, vgs, vlo, vhi, vb1c, vb2, vclr, veps, vwd, useWd);
  }
  for (; i < n; i++) adamaxOne(P, G, M, U, i << 2, gs, lo, hi, b1c, b2, clr, eps, wd, useWd);
}

/** One Adamax step over every tensor of the table. */
export function adamaxStep(table: usize, count: i32): void {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    if (hyperFlag(descHyper(d), ADAMAX_USE_WD)) adamaxTensor(d, true);
    else adamaxTensor(d, false);
  }
}
