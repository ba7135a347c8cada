// The row loops of the memory-lean table optimizers (row-wise Adagrad, partial row-wise Adam, FTRL;
// their formulas in assembly/optimizers/rowwise/lanes.ts and assembly/optimizers/ftrl/lanes.ts),
// called by embApply (./apply.ts) for EMB_KIND_ROWWISE_ADAGRAD and the kinds after it. A row's
// per-row state (an accumulator of one float) sits in the row's state block like the per-element
// tensors: state slot i of row r at EMB_STATE<i> + r * EMB_SROW (the TypeScript side sets the
// slot offsets: src/embedding/footprint.ts).

import { hyperF32, hyperFlag } from "../shared/common";
import { rowwiseAdagradRow, partialRowwiseAdamRow } from "../optimizers/rowwise/lanes";
import { ftrlSpan } from "../optimizers/ftrl/lanes";
import { RWADAGRAD_GSCALE, RWADAGRAD_LR, RWADAGRAD_EPS, RWADAGRAD_WD, RWADAGRAD_DECAY, RWADAGRAD_USE_L2, RWADAGRAD_USE_DEC,
  PRADAM_GSCALE, PRADAM_BETA1, PRADAM_OMB1, PRADAM_BETA2, PRADAM_OMB2, PRADAM_STEP_SIZE, PRADAM_INV_BC2_SQRT, PRADAM_EPS, PRADAM_LWD,
  PRADAM_USE_WD } from "../optimizers/rowwise/slots";
import { FTRL_USE_SHRINK, FTRL_SQRT } from "../optimizers/ftrl/slots";
import { EMB_WEIGHTS, EMB_STATE0, EMB_STATE1, EMB_DIM, EMB_HYPER, EMB_UNIQ, EMB_GPTR, EMB_SROW, EMB_SINK, EMB_LAST,
  EMB_KIND_ROWWISE_ADAGRAD, EMB_KIND_PARTIAL_ROWWISE_ADAM, EMB_KIND_FTRL, embU32 } from "./layout";
import { catchUpRow } from "./exact";
import { TOUCH_BLOCK, touchBlock, touchGrads } from "./touch";

/** Row-wise Adagrad rows; exact mode (decoupled decay only) first catches each row up. */
@inline function rowwiseAdagradRows(desc: usize, n: i32, t: u32, exact: bool, l2: bool, dec: bool): void {
  const W = embU32(desc, EMB_WEIGHTS), S = embU32(desc, EMB_STATE0);
  const dim = embU32(desc, EMB_DIM), h = embU32(desc, EMB_HYPER);
  const uniq = embU32(desc, EMB_UNIQ), gptr = embU32(desc, EMB_GPTR), last = embU32(desc, EMB_LAST);
  const gs = hyperF32(h, RWADAGRAD_GSCALE), lr = hyperF32(h, RWADAGRAD_LR), eps = hyperF32(h, RWADAGRAD_EPS);
  const wd = hyperF32(h, RWADAGRAD_WD), dc = hyperF32(h, RWADAGRAD_DECAY);
  const rowBytes = dim << 2, stateBytes = embU32(desc, EMB_SROW);
  let sink: u32 = 0;
  for (let u = 0; u < n; u++) {
    if ((u & (TOUCH_BLOCK - 1)) == 0) sink ^= touchBlock(W, S, last, uniq, u, n, rowBytes, stateBytes, exact) ^ touchGrads(gptr, u, n, rowBytes);
    const r = <usize>load<u32>(uniq + (<usize>u << 2));
    if (exact) {
      catchUpRow(desc, <u32>r, t - 1);
      store<u32>(last + (r << 2), t);
    }
    rowwiseAdagradRow(W + r * rowBytes, <usize>load<u32>(gptr + (<usize>u << 2)), S + r * stateBytes, dim, gs, lr, eps, wd, dc, l2, dec);
  }
  store<u32>(desc + (<usize>EMB_SINK << 2), sink);
}

@inline function partialRowwiseAdamRows(desc: usize, n: i32, useWd: bool): void {
  const W = embU32(desc, EMB_WEIGHTS), M = embU32(desc, EMB_STATE0), V = embU32(desc, EMB_STATE1);
  const dim = embU32(desc, EMB_DIM), h = embU32(desc, EMB_HYPER);
  const uniq = embU32(desc, EMB_UNIQ), gptr = embU32(desc, EMB_GPTR);
  const gs = hyperF32(h, PRADAM_GSCALE), b1 = hyperF32(h, PRADAM_BETA1), omb1 = hyperF32(h, PRADAM_OMB1);
  const b2 = hyperF32(h, PRADAM_BETA2), omb2 = hyperF32(h, PRADAM_OMB2), ss = hyperF32(h, PRADAM_STEP_SIZE);
  const ib = hyperF32(h, PRADAM_INV_BC2_SQRT), eps = hyperF32(h, PRADAM_EPS), lwd = hyperF32(h, PRADAM_LWD);
  const rowBytes = dim << 2, stateBytes = embU32(desc, EMB_SROW);
  let sink: u32 = 0;
  for (let u = 0; u < n; u++) {
    if ((u & (TOUCH_BLOCK - 1)) == 0) sink ^= touchBlock(W, M, 0, uniq, u, n, rowBytes, stateBytes, false) ^ touchGrads(gptr, u, n, rowBytes);
    const r = <usize>load<u32>(uniq + (<usize>u << 2));
    const os = r * stateBytes;
    partialRowwiseAdamRow(W + r * rowBytes, <usize>load<u32>(gptr + (<usize>u << 2)), M + os, V + os, dim,
                          gs, b1, omb1, b2, omb2, ss, ib, eps, lwd, useWd);
  }
  store<u32>(desc + (<usize>EMB_SINK << 2), sink);
}

@inline function ftrlRows(desc: usize, n: i32, shrink: bool, sqrtMode: bool): void {
  const W = embU32(desc, EMB_WEIGHTS), N = embU32(desc, EMB_STATE0), Z = embU32(desc, EMB_STATE1);
  const dim = embU32(desc, EMB_DIM), h = embU32(desc, EMB_HYPER);
  const uniq = embU32(desc, EMB_UNIQ), gptr = embU32(desc, EMB_GPTR);
  const rowBytes = dim << 2, stateBytes = embU32(desc, EMB_SROW);
  let sink: u32 = 0;
  for (let u = 0; u < n; u++) {
    if ((u & (TOUCH_BLOCK - 1)) == 0) sink ^= touchBlock(W, N, 0, uniq, u, n, rowBytes, stateBytes, false) ^ touchGrads(gptr, u, n, rowBytes);
    const r = <usize>load<u32>(uniq + (<usize>u << 2));
    const os = r * stateBytes;
    ftrlSpan(W + r * rowBytes, <usize>load<u32>(gptr + (<usize>u << 2)), N + os, Z + os, dim, h, shrink, sqrtMode, false);
  }
  store<u32>(desc + (<usize>EMB_SINK << 2), sink);
}

/** Steps the `n` unique rows of a lean table (EMB_KIND_ROWWISE_ADAGRAD and after) at step `t`. */
export function leanApply(desc: usize, n: i32, kind: i32, t: u32, exact: bool): void {
  const h = embU32(desc, EMB_HYPER);
  if (kind == EMB_KIND_ROWWISE_ADAGRAD) {
    const l2 = hyperFlag(h, RWADAGRAD_USE_L2), dec = hyperFlag(h, RWADAGRAD_USE_DEC);
    if (exact) {
      // Exact mode is refused with L2 decay (src/embedding/exact.ts).
      if (dec) rowwiseAdagradRows(desc, n, t, true, false, true);
      else rowwiseAdagradRows(desc, n, t, true, false, false);
    } else if (l2) rowwiseAdagradRows(desc, n, t, false, true, false);
    else if (dec) rowwiseAdagradRows(desc, n, t, false, false, true);
    else rowwiseAdagradRows(desc, n, t, false, false, false);
  } else if (kind == EMB_KIND_PARTIAL_ROWWISE_ADAM) {
    if (hyperFlag(h, PRADAM_USE_WD)) partialRowwiseAdamRows(desc, n, true);
    else partialRowwiseAdamRows(desc, n, false);
  } else if (kind == EMB_KIND_FTRL) {
    const shrink = hyperFlag(h, FTRL_USE_SHRINK);
    if (hyperFlag(h, FTRL_SQRT)) {
      if (shrink) ftrlRows(desc, n, true, true);
      else ftrlRows(desc, n, false, true);
    } else if (shrink) ftrlRows(desc, n, true, false);
    else ftrlRows(desc, n, false, false);
  }
}
