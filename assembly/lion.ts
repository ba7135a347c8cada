// Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"), as optax.lion computes it:
//   g = gscale * clamp(grad);  c = b1 m + (1 - b1) g;  m = b2 m + (1 - b2) g
//   p -= lr * (sign(c) + wd * p)          (decoupled weight decay, inside the lr as in optax)
// sign(0) = 0 and sign(NaN) = NaN as in jnp.sign. State: state0 = exp_avg. The lane arithmetic is
// in lion_lanes.ts (shared with the embedding rows).

import { DESC_BYTES, descParam, descGrad, descState0, descLength, descHyper, hyperF32, hyperFlag } from "./common";
import { CLIP_LO, CLIP_HI } from "./clip";
import { lionVec, lionOne } from "./lion_lanes";

export const LION_GSCALE = 0;   // gradient scale; negative for maximize
export const LION_LR = 1;
export const LION_BETA1 = 2;
export const LION_OMB1 = 3;     // 1 - beta1
export const LION_BETA2 = 4;
export const LION_OMB2 = 5;     // 1 - beta2
export const LION_WD = 6;
export const LION_USE_WD = 7;   // i32 flag

@inline function lionTensor(d: usize, useWd: bool): void {
  const P = descParam(d), G = descGrad(d), M = descState0(d), n = descLength(d), h = descHyper(d);
  const gs = hyperF32(h, LION_GSCALE), lo = hyperF32(h, CLIP_LO), hi = hyperF32(h, CLIP_HI);
  const lr = hyperF32(h, LION_LR), b1 = hyperF32(h, LION_BETA1), b1c = hyperF32(h, LION_OMB1);
  const b2 = hyperF32(h, LION_BETA2), b2c = hyperF32(h, LION_OMB2), wd = hyperF32(h, LION_WD);
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vgs = f32x4.splat(gs), vlo = f32x4.splat(lo), vhi = f32x4.splat(hi), vlr = f32x4.splat(lr);
    const vb1 = f32x4.splat(b1), vb1c = f32x4.splat(b1c), vb2 = f32x4.splat(b2), vb2c = f32x4.splat(b2c);
    const vwd = f32x4.splat(wd);
    const n16 = n & ~(<usize>15);
    for (; i < n16; i += 16) {
      const o = i << 2;
      lionVec(P, G, M, o, vgs, vlo, vhi, vlr, vb1, vb1c, vb2, vb2c, vwd, useWd);
      lionVec(P, G, M, o + 16, vgs, vlo, vhi, vlr, vb1, vb1c, vb2, vb2c, vwd, useWd);
      lionVec(P, G, M, o + 32, vgs, vlo, vhi, vlr, vb1, vb1c, vb2, vb2c, vwd, useWd);
      lionVec(P, G, M, o + 48, vgs, vlo, vhi, vlr, vb1, vb1c, vb2, vb2c, vwd, useWd);
    }
    const n4 = n & ~(<usize>3);
    for (; i < n4; i += 4) lionVec(P, G, M, i << 2, vgs, vlo, vhi, vlr, vb1, vb1c, vb2, vb2c, vwd, useWd);
  }
  for (; i < n; i++) lionOne(P, G, M, i << 2, gs, lo, hi, lr, b1, b1c, b2, b2c, wd, useWd);
}

/** One Lion step over every tensor of the table. */
export function lionStep(table: usize, count: i32): void {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    if (hyperFlag(descHyper(d), LION_USE_WD)) lionTensor(d, true);
    else lionTensor(d, false);
  }
}
