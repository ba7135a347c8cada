// Adadelta (PyTorch 2.x torch.optim.Adadelta), one fused pass per tensor:
//   g = gscale * clamp(grad) (+ wd * p, L2);  sq = rho sq + (1 - rho) g^2
//   delta = sqrt(acc + eps) / sqrt(sq + eps) * g;  acc = rho acc + (1 - rho) delta^2;  p -= lr delta
// State: state0 = square_avg, state1 = acc_delta. The lane arithmetic and the loop are in
// adadelta_lanes.ts (shared with the embedding rows).

import { DESC_BYTES, descParam, descGrad, descState0, descState1, descLength, descHyper, hyperF32, hyperFlag } from "../../shared/common";
import { CLIP_LO, CLIP_HI } from "../../shared/clip";
import { plainGrad } from "../../shared/clamp";
import { adadeltaSpan } from "./lanes";
import { ADADELTA_GSCALE, ADADELTA_USE_WD } from "./slots";
export * from "./slots";

@inline function adadeltaTensor(d: usize, useWd: bool, plain: bool): void {
  adadeltaSpan(descParam(d), descGrad(d), descState0(d), descState1(d), descLength(d), descHyper(d), useWd, plain);
}

// The default options (no clipping, gradient scale 1) get loops of their own without the clamp and
// the scale (shared/clamp.ts plainGrad: the same bits), in functions of their own as SGD's do:
// inlined beside the other variants, loops get merged into ones that select at run time.
function adadeltaPlain(d: usize): void { adadeltaTensor(d, false, true); }

/** One Adadelta step over every tensor of the table. */
export function adadeltaStep(table: usize, count: i32): void {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    const h = descHyper(d);
    if (hyperFlag(h, ADADELTA_USE_WD)) adadeltaTensor(d, true, false);
    else if (plainGrad(hyperF32(h, ADADELTA_GSCALE), hyperF32(h, CLIP_LO), hyperF32(h, CLIP_HI))) adadeltaPlain(d);
    else adadeltaTensor(d, false, false);
  }
}
