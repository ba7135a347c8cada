// Adam, AdamW and AMSGrad (PyTorch 2.x torch.optim.Adam / AdamW), one fused pass per tensor:
//   g = gscale * grad (+ wd * p for Adam's L2 decay);  p *= 1 - lr * wd (AdamW)
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  vmax = max(vmax, v) (AMSGrad)
//   (not the lerp form m + (1-b1)(g-m): with a small b1 that one loses m's old magnitude in f32)
//   p -= stepSize * m / (sqrt(v) * invBc2Sqrt + eps),  stepSize = lr / (1 - b1^t)
// State: state0 = exp_avg, state1 = exp_avg_sq, state2 = max_exp_avg_sq (AMSGrad only).

import { DESC_BYTES, descParam, descGrad, descState0, descState1, descState2, descLength, descHyper, hyperF32, hyperFlag } from "../../shared/common";
import { CLIP_LO, CLIP_HI } from "../../shared/clip";
import { adamVec, adamOne } from "./lanes";
import { ADAM_GSCALE, ADAM_BETA1, ADAM_OMB1, ADAM_BETA2, ADAM_OMB2, ADAM_STEP_SIZE, ADAM_INV_BC2_SQRT, ADAM_EPS, ADAM_L2, ADAM_DECAY, ADAM_AMSGRAD, ADAM_USE_L2, ADAM_USE_DECAY } from "./slots";
export * from "./slots";

@inline function adamTensor(d: usize, ams: bool, l2: bool, dec: bool): void {
  const P = descParam(d), G = descGrad(d), M = descState0(d), V = descState1(d), X = descState2(d);
  const n = descLength(d), h = descHyper(d);
  const gs = hyperF32(h, ADAM_GSCALE), lo = hyperF32(h, CLIP_LO), hi = hyperF32(h, CLIP_HI), b1 = hyperF32(h, ADAM_BETA1), b1c = hyperF32(h, ADAM_OMB1);
  const b2 = hyperF32(h, ADAM_BETA2), b2c = hyperF32(h, ADAM_OMB2);
  const ss = hyperF32(h, ADAM_STEP_SIZE), ib = hyperF32(h, ADAM_INV_BC2_SQRT);
  const eps = hyperF32(h, ADAM_EPS), wd = hyperF32(h, ADAM_L2), dc = hyperF32(h, ADAM_DECAY);
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vgs = f32x4.splat(gs), vlo = f32x4.splat(lo), vhi = f32x4.splat(hi), vb1 = f32x4.splat(b1), vb1c = f32x4.splat(b1c), vb2 = f32x4.splat(b2), vb2c = f32x4.splat(b2c);
    const vss = f32x4.splat(ss), vib = f32x4.splat(ib), veps = f32x4.splat(eps);
    const vwd = f32x4.splat(wd), vdc = f32x4.splat(dc);
    const n16 = n & ~(<usize>15);
    for (; i < n16; i += 16) {
      const o = i << 2;
      adamVec(P, G, M, V, X, o, vgs, vlo, vhi, vb1, vb1c, vb2, vb2c, vss, vib, veps, vwd, vdc, ams, l2, dec);
      adamVec(P, G, M, V, X, o + 16, vgs, vlo, vhi, vb1, vb1c, vb2, vb2c, vss, vib, veps, vwd, vdc, ams, l2, dec);
      adamVec(P, G, M, V, X, o + 32, vgs, vlo, vhi, vb1, vb1c, vb2, vb2c, vss, vib, veps, vwd, vdc, ams, l2, dec);
      adamVec(P, G, M, V, X, o + 48, vgs, vlo, vhi, vb1, vb1c, vb2, vb2c, vss, vib, veps, vwd, vdc, ams, l2, dec);
    }
    const n4 = n & ~(<usize>3);
    for (; i < n4; i += 4) {
      adamVec(P, G, M, V, X, i << 2, vgs, vlo, vhi, vb1, vb1c, vb2, vb2c, vss, vib, veps, vwd, vdc, ams, l2, dec);
    }
  }
  for (; i < n; i++) {
    adamOne(P, G, M, V, X, i << 2, gs, lo, hi, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ams, l2, dec);
  }
}

/** One Adam/AdamW/AMSGrad step over every tensor of the table. */
export function adamStep(table: usize, count: i32): void {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    const h = descHyper(d);
    const ams = hyperFlag(h, ADAM_AMSGRAD), l2 = hyperFlag(h, ADAM_USE_L2), dec = hyperFlag(h, ADAM_USE_DECAY);
    // Each variant gets its own loop so the inner loop carries no branches.
    if (ams) {
      if (l2) adamTensor(d, true, true, false);
      else if (dec) adamTensor(d, true, false, true);
      else adamTensor(d, true, false, false);
    } else {
      if (l2) adamTensor(d, false, true, false);
      else if (dec) adamTensor(d, false, false, true);
      else adamTensor(d, false, false, false);
    }
  }
}
