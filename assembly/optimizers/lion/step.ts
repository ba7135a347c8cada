// Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"), as optax.lion computes it:
//   g = gscale * clamp(grad);  c = b1 m + (1 - b1) g;  m = b2 m + (1 - b2) g
//   p -= lr * (sign(c) + wd * p)          (decoupled weight decay, inside the lr as in optax)
// sign(0) = 0 and sign(NaN) = NaN as in jnp.sign. State: state0 = exp_avg. The loop and lane arithmetic are
// in lion_lanes.ts (shared with the embedding rows).

import { DESC_BYTES, descParam, descGrad, descState0, descLength, descHyper, hyperFlag } from "../../shared/common";
import { lionSpan } from "./lanes";
import { LION_USE_WD } from "./slots";
export * from "./slots";

@inline function lionTensor(d: usize, useWd: bool): void {
  lionSpan(descParam(d), descGrad(d), descState0(d), descLength(d), descHyper(d), useWd);
}

/** One Lion step over every tensor of the table. */
export function lionStep(table: usize, count: i32): void {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    if (hyperFlag(descHyper(d), LION_USE_WD)) lionTensor(d, true);
    else lionTensor(d, false);
  }
}
