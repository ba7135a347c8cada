// Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"), as optax.lion computes it:
//   g = gscale * clamp(grad);  c = b1 m + (1 - b1) g;  m = b2 m + (1 - b2) g
//   p -= lr * (sign(c) + wd * p)          (decoupled weight decay, inside the lr as in optax)
// sign(0) = 0 and sign(NaN) = NaN as in jnp.sign. State: state0 = exp_avg. The loop and lane arithmetic are
// in lion_lanes.ts (shared with the embedding rows).

import { DESC_BYTES, descParam, descGrad, descState0, descLength, descHyper, hyperF32, hyperFlag } from "../../shared/common";
import { CLIP_LO, CLIP_HI } from "../../shared/clip";
import { plainGrad } from "../../shared/clamp";
import { lionSpan } from "./lanes";
import { LION_GSCALE, LION_USE_WD } from "./slots";
export * from "./slots";

@inline function lionTensor(d: usize, useWd: bool, plain: bool = false): void {
  lionSpan(descParam(d), descGrad(d), descState0(d), descLength(d), descHyper(d), useWd, true, plain);
}

// The default options (no clipping, gradient scale 1) get loops of their own without the clamp and
// the scale (shared/clamp.ts plainGrad: the same bits), in functions of their own as SGD's do:
// inlined beside the other variants, loops get merged into ones that select at run time.
function lionPlain(d: usize): void { lionTensor(d, true, true); }
function lionPlainNoDecay(d: usize): void { lionTensor(d, false, true); }

/** One Lion step over every tensor of the table. */
export function lionStep(table: usize, count: i32): void {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    const h = descHyper(d);
    const plain = plainGrad(hyperF32(h, LION_GSCALE), hyperF32(h, CLIP_LO), hyperF32(h, CLIP_HI));
    if (hyperFlag(h, LION_USE_WD)) { if (plain) lionPlain(d); else lionTensor(d, true); }
    else if (plain) lionPlainNoDecay(d);
    else lionTensor(d, false);
  }
}
