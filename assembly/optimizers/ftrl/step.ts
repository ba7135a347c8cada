// FTRL (TensorFlow's Ftrl / ApplyFtrlV2; the formula is in ./lanes.ts) over every tensor of a table.
// State: state0 = accumulator (starts at initialAccumulatorValue), state1 = linear.

import { DESC_BYTES, descParam, descGrad, descState0, descState1, descLength, descHyper, hyperFlag } from "../../shared/common";
import { ftrlSpan } from "./lanes";
import { FTRL_USE_SHRINK, FTRL_SQRT } from "./slots";
export * from "./slots";

@inline function ftrlTensor(d: usize, shrink: bool, sqrtMode: bool): void {
  ftrlSpan(descParam(d), descGrad(d), descState0(d), descState1(d), descLength(d), descHyper(d), shrink, sqrtMode, true);
}

/** One FTRL step over every tensor of the table. */
export function ftrlStep(table: usize, count: i32): void {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    const h = descHyper(d);
    const shrink = hyperFlag(h, FTRL_USE_SHRINK), sq = hyperFlag(h, FTRL_SQRT);
    if (sq) {
      if (shrink) ftrlTensor(d, true, true);
      else ftrlTensor(d, false, true);
    } else if (shrink) ftrlTensor(d, true, false);
    else ftrlTensor(d, false, false);
  }
}
