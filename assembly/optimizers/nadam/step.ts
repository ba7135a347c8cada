// NAdam (PyTorch 2.x torch.optim.NAdam, with its momentum_decay schedule), one fused pass per tensor:
//   g = gscale * clamp(grad) (+ wd * p, L2);  p *= 1 - lr * wd (decoupled)
//   m += (1 - b1) (g - m);  v = b2 v + (1 - b2) g^2;  denom = sqrt(v * (1 / (1 - b2^t))) + eps
//   p -= (cg * g + cm * m) / denom          (PyTorch: two addcdiv_; see nadam_lanes.ts)
//   cg = lr (1 - mu_t) / (1 - prod_{i<=t} mu_i),  cm = lr mu_{t+1} / (1 - prod_{i<=t+1} mu_i)
// State: state0 = exp_avg, state1 = exp_avg_sq (mu_product is a function of t: computed in TS).
// The lane arithmetic and the loop are in nadam_lanes.ts (shared with the embedding rows).

import { DESC_BYTES, descParam, descGrad, descState0, descState1, descLength, descHyper, hyperFlag } from "../../shared/common";
import { nadamSpan } from "./lanes";
import { NADAM_USE_L2, NADAM_USE_DECAY } from "./slots";
export * from "./slots";

@inline function nadamTensor(d: usize, l2: bool, dec: bool): void {
  nadamSpan(descParam(d), descGrad(d), descState0(d), descState1(d), descLength(d), descHyper(d), l2, dec);
}

/** One NAdam step over every tensor of the table. */
export function nadamStep(table: usize, count: i32): void {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    const h = descHyper(d);
    if (hyperFlag(h, NADAM_USE_L2)) nadamTensor(d, true, false);
    else if (hyperFlag(h, NADAM_USE_DECAY)) nadamTensor(d, false, true);
    else nadamTensor(d, false, false);
  }
}
