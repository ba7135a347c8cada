// Adam, AdamW and AMSGrad (PyTorch 2.x torch.optim.Adam / AdamW), one fused pass per tensor:
//   g = gscale * grad (+ wd * p for Adam's L2 decay);  p *= 1 - lr * wd (AdamW)
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  vmax = max(vmax, v) (AMSGrad)
//   (not the lerp form m + (1-b1)(g-m): with a small b1 that one loses m's old magnitude in f32)
//   p -= stepSize * m / (sqrt(v) * invBc2Sqrt + eps),  stepSize = lr / (1 - b1^t)
// State: state0 = exp_avg, state1 = exp_avg_sq, state2 = max_exp_avg_sq (AMSGrad only).

import { DESC_BYTES, descParam, descGrad, descState0, descState1, descState2, descLength, descHyper, hyperF32, hyperFlag } from "../../shared/common";
import { CLIP_LO, CLIP_HI } from "../../shared/clip";
import { plainGrad } from "../../shared/clamp";
import { Lane1, Lane2, Lane3 } from "../../shared/lane";
import { adamVec, adamOne } from "./lanes";
import { ADAM_GSCALE, ADAM_BETA1, ADAM_OMB1, ADAM_BETA2, ADAM_OMB2, ADAM_STEP_SIZE, ADAM_INV_BC2_SQRT, ADAM_EPS, ADAM_L2, ADAM_DECAY, ADAM_AMSGRAD, ADAM_USE_L2, ADAM_USE_DECAY } from "./slots";
export * from "./slots";

@inline function adamTensor(d: usize, ams: bool, l2: bool, dec: bool, plain: bool): void {
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
      adamVec(P, G, M, V, X, o, vgs, vlo, vhi, vb1, vb1c, vb2, vb2c, vss, vib, veps, vwd, vdc, ams, l2, dec, true, plain);
      adamVec<Lane1>(P, G, M, V, X, o, vgs, vlo, vhi, vb1, vb1c, vb2, vb2c, vss, vib, veps, vwd, vdc, ams, l2, dec, true, plain);
      adamVec<Lane2>(P, G, M, V, X, o, vgs, vlo, vhi, vb1, vb1c, vb2, vb2c, vss, vib, veps, vwd, vdc, ams, l2, dec, true, plain);
      adamVec<Lane3>(P, G, M, V, X, o, vgs, vlo, vhi, vb1, vb1c, vb2, vb2c, vss, vib, veps, vwd, vdc, ams, l2, dec, true, plain);
    }
    const n4 = n & ~(<usize>3);
    for (; i < n4; i += 4) {
      adamVec(P, G, M, V, X, i << 2, vgs, vlo, vhi, vb1, vb1c, vb2, vb2c, vss, vib, veps, vwd, vdc, ams, l2, dec, true, plain);
    }
  }
  for (; i < n; i++) {
    adamOne(P, G, M, V, X, i << 2, gs, lo, hi, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ams, l2, dec, true, plain);
  }
}

// Without clipping and with a gradient scale of 1 (the default options), each variant gets a loop
// that neither clamps nor scales (the same bits: shared/clamp.ts plainGrad), in a function of its
// own: inlined beside the others, loops get merged into ones that select at run time (sgd/step.ts).
function adamPlain(d: usize): void { adamTensor(d, false, false, false, true); }
function adamL2Plain(d: usize): void { adamTensor(d, false, true, false, true); }
function adamwPlain(d: usize): void { adamTensor(d, false, false, true, true); }
function amsgradPlain(d: usize): void { adamTensor(d, true, false, false, true); }
function amsgradL2Plain(d: usize): void { adamTensor(d, true, true, false, true); }
function amsgradwPlain(d: usize): void { adamTensor(d, true, false, true, true); }

/** One Adam/AdamW/AMSGrad step over every tensor of the table. */
export function adamStep(table: usize, count: i32): void {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    const h = descHyper(d);
    const ams = hyperFlag(h, ADAM_AMSGRAD), l2 = hyperFlag(h, ADAM_USE_L2), dec = hyperFlag(h, ADAM_USE_DECAY);
    const plain = plainGrad(hyperF32(h, ADAM_GSCALE), hyperF32(h, CLIP_LO), hyperF32(h, CLIP_HI));
    // Each variant gets its own loop so the inner loop carries no branches.
    if (ams) {
      if (l2) { if (plain) amsgradL2Plain(d); else adamTensor(d, true, true, false, false); }
      else if (dec) { if (plain) amsgradwPlain(d); else adamTensor(d, true, false, true, false); }
      else { if (plain) amsgradPlain(d); else adamTensor(d, true, false, false, false); }
    } else {
      if (l2) { if (plain) adamL2Plain(d); else adamTensor(d, false, true, false, false); }
      else if (dec) { if (plain) adamwPlain(d); else adamTensor(d, false, false, true, false); }
      else { if (plain) adamPlain(d); else adamTensor(d, false, false, false, false); }
    }
  }
}
