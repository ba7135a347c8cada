// Adamax (PyTorch 2.x torch.optim.Adamax), one fused pass per tensor:
//   g = gscale * clamp(grad) (+ wd * p, L2);  m += (1 - b1) (g - m);  u = max(b2 u, |g| + eps)
//   p -= clr * m / u,  clr = lr / (1 - b1^t)
// State: state0 = exp_avg, state1 = exp_inf. The loop and lane arithmetic are in adamax_lanes.ts (shared
// with the embedding rows).

import { DESC_BYTES, descParam, descGrad, descState0, descState1, descLength, descHyper, hyperF32, hyperFlag } from "../../shared/common";
import { CLIP_LO, CLIP_HI } from "../../shared/clip";
import { plainGrad } from "../../shared/clamp";
import { adamaxSpan } from "./lanes";
import { ADAMAX_GSCALE, ADAMAX_USE_WD } from "./slots";
export * from "./slots";

@inline function adamaxTensor(d: usize, useWd: bool): void {
  const h = descHyper(d);
  if (!useWd && plainGrad(hyperF32(h, ADAMAX_GSCALE), hyperF32(h, CLIP_LO), hyperF32(h, CLIP_HI))) adamaxPlain(d);
  else adamaxSpan(descParam(d), descGrad(d), descState0(d), descState1(d), descLength(d), h, useWd);
}

// The default options (no weight decay, no clipping, gradient scale 1) get a loop of their own
// without the clamp and the scale, as SGD's and RMSprop's do.
function adamaxPlain(d: usize): void {
  adamaxSpan(descParam(d), descGrad(d), descState0(d), descState1(d), descLength(d), descHyper(d), false, true, true);
}

/** One Adamax step over every tensor of the table. */
export function adamaxStep(table: usize, count: i32): void {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    if (hyperFlag(descHyper(d), ADAMAX_USE_WD)) adamaxTensor(d, true);
    else adamaxTensor(d, false);
  }
}
