// RAdam (PyTorch 2.x torch.optim.RAdam), one fused pass per tensor:
//   g = gscale * clamp(grad) (+ wd * p, L2);  p *= 1 - lr * wd (decoupled)
//   m += (1 - b1) (g - m);  v = b2 v + (1 - b2) g^2
//   rho_t > 5 (rectified):  p -= cr * m / (sqrt(v) + eps),  cr = lr / (1 - b1^t) * rect * sqrt(1 - b2^t)
//   otherwise:              p -= cp * m,                    cp = lr / (1 - b1^t)
// The rectification test and term are per step: the TS side computes them in float64.
// State: state0 = exp_avg, state1 = exp_avg_sq. The lane arithmetic and the loop are in
// radam_lanes.ts (shared with the embedding rows).

import { DESC_BYTES, descParam, descGrad, descState0, descState1, descLength, descHyper, hyperFlag } from "../../shared/common";
import { radamSpan } from "./lanes";
import { RADAM_RECT, RADAM_USE_L2, RADAM_USE_DECAY } from "./slots";
export * from "./slots";

@inline function radamTensor(d: usize, rect: bool, l2: bool, dec: bool): void {
  radamSpan(descParam(d), descGrad(d), descState0(d), descState1(d), descLength(d), descHyper(d), rect, l2, dec);
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
