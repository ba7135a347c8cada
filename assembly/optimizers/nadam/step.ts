// NAdam (PyTorch 2.x torch.optim.NAdam, with its momentum_decay schedule), one fused pass per tensor:
//   g = gscale * clamp(grad) (+ wd * p, L2);  p *= 1 - lr * wd (decoupled)
//   m += (1 - b1) (g - m);  v = b2 v + (1 - b2) g^2;  denom = sqrt(v * (1 / (1 - b2^t))) + eps
//   p -= (cg * g + cm * m) / denom          (PyTorch: two addcdiv_; see nadam_lanes.ts)
//   cg = lr (1 - mu_t) / (1 - prod_{i<=t} mu_i),  cm = lr mu_{t+1} / (1 - prod_{i<=t+1} mu_i)
// State: state0 = exp_avg, state1 = exp_avg_sq (mu_product is a function of t: computed in TS).
// The lane arithmetic and the loop are in nadam_lanes.ts (shared with the embedding rows).

import { DESC_BYTES, descParam, descGrad, descState0, descState1, descLength, descHyper, hyperF32, hyperFlag } from "../../shared/common";
import { CLIP_LO, CLIP_HI } from "../../shared/clip";
import { plainGrad } from "../../shared/clamp";
import { nadamSpan } from "./lanes";
import { NADAM_GSCALE, NADAM_USE_L2, NADAM_USE_DECAY } from "./slots";
export * from "./slots";

@inline function nadamTensor(d: usize, l2: bool, dec: bool, plain: bool): void {
  nadamSpan(descParam(d), descGrad(d), descState0(d), descState1(d), descLength(d), descHyper(d), l2, dec, plain);
}

// The default options (no clipping, gradient scale 1) get loops of their own without the clamp and
// the scale (shared/clamp.ts plainGrad: the same bits), in functions of their own as SGD's do:
// inlined beside the other variants, loops get merged into ones that select at run time.
function nadamPlain(d: usize): void { nadamTensor(d, false, false, true); }
function nadamwPlain(d: usize): void { nadamTensor(d, false, true, true); }

/** One NAdam step over every tensor of the table. */
export function nadamStep(table: usize, count: i32): void {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    const h = descHyper(d);
    const plain = plainGrad(hyperF32(h, NADAM_GSCALE), hyperF32(h, CLIP_LO), hyperF32(h, CLIP_HI));
    if (hyperFlag(h, NADAM_USE_L2)) nadamTensor(d, true, false, false);
    else if (hyperFlag(h, NADAM_USE_DECAY)) { if (plain) nadamwPlain(d); else nadamTensor(d, false, true, false); }
    else if (plain) nadamPlain(d);
    else nadamTensor(d, false, false, false);
  }
}
