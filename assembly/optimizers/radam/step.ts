// RAdam (PyTorch 2.x torch.optim.RAdam), one fused pass per tensor:
//   g = gscale * clamp(grad) (+ wd * p, L2);  p *= 1 - lr * wd (decoupled)
//   m += (1 - b1) (g - m);  v = b2 v + (1 - b2) g^2
//   rho_t > 5 (rectified):  p -= cr * m / (sqrt(v) + eps),  cr = lr / (1 - b1^t) * rect * sqrt(1 - b2^t)
//   otherwise:              p -= cp * m,                    cp = lr / (1 - b1^t)
// The rectification test and term are per step: the TS side computes them in float64.
// State: state0 = exp_avg, state1 = exp_avg_sq. The lane arithmetic and the loop are in
// radam_lanes.ts (shared with the embedding rows).

import { DESC_BYTES, descParam, descGrad, descState0, descState1, descLength, descHyper, hyperF32, hyperFlag } from "../../shared/common";
import { CLIP_LO, CLIP_HI } from "../../shared/clip";
import { plainGrad } from "../../shared/clamp";
import { radamSpan } from "./lanes";
import { RADAM_GSCALE, RADAM_RECT, RADAM_USE_L2, RADAM_USE_DECAY } from "./slots";
export * from "./slots";

@inline function radamTensor(d: usize, rect: bool, l2: bool, dec: bool, plain: bool = false): void {
  radamSpan(descParam(d), descGrad(d), descState0(d), descState1(d), descLength(d), descHyper(d), rect, l2, dec, plain);
}

@inline function radamRect(d: usize, l2: bool, dec: bool, rect: bool): void {
  if (rect) radamTensor(d, true, l2, dec);
  else radamTensor(d, false, l2, dec);
}

// The default options (no clipping, gradient scale 1) get loops of their own without the clamp and
// the scale (shared/clamp.ts plainGrad: the same bits), in functions of their own as SGD's do:
// inlined beside the other variants, loops get merged into ones that select at run time.
function radamPlain(d: usize): void { radamTensor(d, true, false, false, true); }
function radamPlainUnrectified(d: usize): void { radamTensor(d, false, false, false, true); }

/** One RAdam step over every tensor of the table. */
export function radamStep(table: usize, count: i32): void {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    const h = descHyper(d);
    const rect = hyperFlag(h, RADAM_RECT);
    if (hyperFlag(h, RADAM_USE_L2)) radamRect(d, true, false, rect);
    else if (hyperFlag(h, RADAM_USE_DECAY)) radamRect(d, false, true, rect);
    else if (plainGrad(hyperF32(h, RADAM_GSCALE), hyperF32(h, CLIP_LO), hyperF32(h, CLIP_HI))) {
      if (rect) radamPlain(d);
      else radamPlainUnrectified(d);
    } else radamRect(d, false, false, rect);
  }
}
