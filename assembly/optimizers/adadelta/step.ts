// Adadelta (PyTorch 2.x torch.optim.Adadelta), one fused pass per tensor:
//   g = gscale * clamp(grad) (+ wd * p, L2);  sq = rho sq + (1 - rho) g^2
//   delta = sqrt(acc + eps) / sqrt(sq + eps) * g;  acc = rho acc + (1 - rho) delta^2;  p -= lr delta
// State: state0 = square_avg, state1 = acc_delta. The lane arithmetic and the loop are in
// adadelta_lanes.ts (shared with the embedding rows).

import { DESC_BYTES, descParam, descGrad, descState0, descState1, descLength, descHyper, hyperFlag } from "../../shared/common";
import { adadeltaSpan } from "./lanes";
import { ADADELTA_USE_WD } from "./slots";
export * from "./slots";

@inline function adadeltaTensor(d: usize, useWd: bool): void {
  adadeltaSpan(descParam(d), descGrad(d), descState0(d), descState1(d), descLength(d), descHyper(d), useWd);
}

/** One Adadelta step over every tensor of the table. */
export function adadeltaStep(table: usize, count: i32): void {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    if (hyperFlag(descHyper(d), ADADELTA_USE_WD)) adadeltaTensor(d, true);
    else adadeltaTensor(d, false);
  }
}
