// The row loops of the memory-lean table optimizers (row-wise Adagrad, partial row-wise Adam, FTRL;
// their formulas in assembly/optimizers/rowwise/lanes.ts and assembly/optimizers/ftrl/lanes.ts),
// called by embApply (./apply.ts) for EMB_KIND_ROWWISE_ADAGRAD and the kinds after it. A row's
// per-row state (an accumulator of one float) sits in the row's state block like the per-element
// tensors: state slot i of row r at EMB_STATE<i> + r * EMB_SROW (the TypeScript side sets the
// slot offsets: src/embedding/footprint.ts).

import { hyperF32, hyperFlag } from "../shared/common";
import { rowwiseAdagradRow, rowwiseAdagradRows4, partialRowwiseAdamRow } from "../optimizers/rowwise/lanes";
import { ftrlSpan } from "../optimizers/ftrl/lanes";
import { RWADAGRAD_GSCALE, RWADAGRAD_USE_L2, RWADAGRAD_USE_DEC, PRADAM_USE_WD } from "../optimizers/rowwise/slots";
import { FTRL_USE_SHRINK, FTRL_SQRT } from "../optimizers/ftrl/slots";
import { EMB_WEIGHTS, EMB_STATE0, EMB_STATE1, EMB_DIM, EMB_HYPER, EMB_UNIQ, EMB_GPTR, EMB_SROW, EMB_SINK, EMB_LAST,
  EMB_KIND_ROWWISE_ADAGRAD, EMB_KIND_PARTIAL_ROWWISE_ADAM, EMB_KIND_FTRL, embU32 } from "./layout";
import { catchUpRow } from "./exact";
import { touchDrop } from "./lean-record";

/**
 * Rows a block of the lean row loops touches before stepping them: twice the float32 tables'
 * TOUCH_BLOCK (./touch.ts). Row-wise Adagrad, 262144 x 64, 4096 Zipf ids, AMD EPYC family 26:
 * 16 -> 32 rows 212 -> 203 us and 192 -> 183 us an update, 64 rows as 32 (the misses in flight
 * are then bounded elsewhere); touching only lines 0 and 2 of a weights row (the hardware's
 * adjacent-line prefetch for the others) 186 -> 230 us.
 */
const LEAN_TOUCH: i32 = 32;

/**
 * The prefetch of a block of rows (./touch.ts, "Prefetching by blocks"): every cache line of the
 * weights and state rows listed at list[u .. u + LEAN_TOUCH) (and exact mode's step words), in as
 * few instructions as possible, their values dropped (touchDrop: no instruction waits on them), so
 * that the misses of the whole block are in flight together. Not
 * the gradient rows: they lie one after another (embCoalesce's copied rows; the caller's rows in
 * batch order), which the hardware prefetcher follows. Weights rows of four lines (dim 64, the
 * common width) with row-wise Adagrad's one-float state take five loads and no branch (the weights
 * row's words 0, 64, 128, 192 as immediate offsets, the state word); the others touchDrop, whose
 * tests and loop cost about twice the instructions a row. Row-wise Adagrad, 262144 x 64: 1.8x ->
 * 2.0x fp32 Adam's speed (AMD EPYC family 23); the same loads with offsets in registers (any dim up
 * to 64) gained only half of that. The state word was loaded twice (a state row's first and last
 * word, for rows of up to 64 bytes, which only row-wise Adagrad has at dim 64): once, 212.6 ->
 * 189.0 us and 205.7 -> 192.9 us an update (family 26, 2026-12-06).
 */
@inline function touchRows(W: usize, S: usize, last: usize, list: usize, u: i32, n: i32, rowBytes: usize, sb: usize, exact: bool): u32 {
  let acc: u32 = 0;
  const end = u + LEAN_TOUCH < n ? u + LEAN_TOUCH : n;
  if (!exact && rowBytes == 256 && sb == 4) {
    for (let q = u; q < end; q++) {
      const r = <usize>load<u32>(list + (<usize>q << 2));
      const P = W + (r << 8);
      load<u32>(P);
      load<u32>(P, 64);
      load<u32>(P, 128);
      load<u32>(P, 192);
      load<u32>(S + (r << 2));
    }
    return acc;
  }
  for (let q = u; q < end; q++) {
    const r = <usize>load<u32>(list + (<usize>q << 2));
    touchDrop(W + r * rowBytes, rowBytes);
    touchDrop(S + r * sb, sb);
    if (exact) acc ^= load<u32>(last + (r << 2));
  }
  return acc;
}

/**
 * Row-wise Adagrad in the SIMD build, rows [0, n & ~3) four at a time (rowwiseAdagradRows4; dim a
 * multiple of 4, gs = +-1, exact mode's catch-up first): returns the prefetch's sink.
 */
@inline function rowwiseAdagradGroups(desc: usize, n: i32, t: u32, exact: bool, l2: bool, dec: bool): u32 {
  const dim = embU32(desc, EMB_DIM), rowBytes = dim << 2, sb = embU32(desc, EMB_SROW), h = embU32(desc, EMB_HYPER);
  const W = embU32(desc, EMB_WEIGHTS), S0 = embU32(desc, EMB_STATE0);
  const list = embU32(desc, EMB_UNIQ), gp = embU32(desc, EMB_GPTR), last = exact ? embU32(desc, EMB_LAST) : 0;
  let sink: u32 = 0;
  const n4 = n & ~3;
  for (let u = 0; u < n4; u += 4) {
    if ((u & (LEAN_TOUCH - 1)) == 0) sink ^= touchRows(W, S0, last, list, u, n, rowBytes, sb, exact);
    const L = list + (<usize>u << 2);
    const r0 = <usize>load<u32>(L), r1 = <usize>load<u32>(L, 4), r2 = <usize>load<u32>(L, 8), r3 = <usize>load<u32>(L, 12);
    if (exact) {
      catchUpRow(desc, <u32>r0, t - 1);
      store<u32>(last + (r0 << 2), t);
      catchUpRow(desc, <u32>r1, t - 1);
      store<u32>(last + (r1 << 2), t);
      catchUpRow(desc, <u32>r2, t - 1);
      store<u32>(last + (r2 << 2), t);
      catchUpRow(desc, <u32>r3, t - 1);
      store<u32>(last + (r3 << 2), t);
    }
    const G = gp + (<usize>u << 2);
    rowwiseAdagradRows4(W + r0 * rowBytes, W + r1 * rowBytes, W + r2 * rowBytes, W + r3 * rowBytes,
      <usize>load<u32>(G), <usize>load<u32>(G, 4), <usize>load<u32>(G, 8), <usize>load<u32>(G, 12),
      S0 + r0 * sb, S0 + r1 * sb, S0 + r2 * sb, S0 + r3 * sb, dim, h, l2, dec);
  }
  return sink;
}

/**
 * rowwiseAdagradGroups for the common case, lazy without weight decay, in a function of its own:
 * its flags are then constants. (Binaryen folds leanRows' instances, inlined into leanApply, into
 * one that tests the flags as locals inside the loops.)
 */
function rowwiseAdagradPlain(desc: usize, n: i32): u32 {
  return rowwiseAdagradGroups(desc, n, 0, false, false, false);
}

/** rowwiseAdagradGroups with weight decay or in exact mode: one instance, the flags tested at run time. */
function rowwiseAdagradFlagged(desc: usize, n: i32, t: u32, exact: bool, l2: bool, dec: bool): u32 {
  return rowwiseAdagradGroups(desc, n, t, exact, l2, dec);
}

/**
 * The row loop of a lean kind (`kind`, `exact` and the flags `f1`, `f2` are constants where it is
 * inlined): row-wise Adagrad (f1: L2, f2: decoupled decay), partial row-wise Adam (f1: weight
 * decay) or FTRL (f1: shrinkage, f2: square-root power). Exact mode (row-wise Adagrad, partial
 * row-wise Adam) catches each row up first (./exact.ts).
 */
@inline function leanRows(desc: usize, u0: i32, n: i32, t: u32, kind: i32, exact: bool, f1: bool, f2: bool, sink0: u32): void {
  const dim = embU32(desc, EMB_DIM), rowBytes = dim << 2, sb = embU32(desc, EMB_SROW), h = embU32(desc, EMB_HYPER);
  const W = embU32(desc, EMB_WEIGHTS), S0 = embU32(desc, EMB_STATE0), S1 = embU32(desc, EMB_STATE1);
  const list = embU32(desc, EMB_UNIQ), gp = embU32(desc, EMB_GPTR), last = exact ? embU32(desc, EMB_LAST) : 0;
  let sink = sink0;
  for (let u = u0; u < n; u++) {
    if ((u & (LEAN_TOUCH - 1)) == 0) sink ^= touchRows(W, S0, last, list, u, n, rowBytes, sb, exact);
    const r = <usize>load<u32>(list + (<usize>u << 2));
    const P = W + r * rowBytes, G = <usize>load<u32>(gp + (<usize>u << 2)), os = r * sb;
    if (exact) {
      catchUpRow(desc, <u32>r, t - 1);
      store<u32>(last + (r << 2), t);
    }
    if (kind == EMB_KIND_ROWWISE_ADAGRAD) {
      rowwiseAdagradRow(P, G, S0 + os, dim, h, f1, f2);
    } else if (kind == EMB_KIND_PARTIAL_ROWWISE_ADAM) partialRowwiseAdamRow(P, G, S0 + os, S1 + os, dim, h, f1);
    else ftrlSpan(P, G, S0 + os, S1 + os, dim, h, f1, f2, false);
  }
  store<u32>(desc + (<usize>EMB_SINK << 2), sink);
}

/** Steps the `n` unique rows of a lean table (EMB_KIND_ROWWISE_ADAGRAD and after) at step `t`. */
export function leanApply(desc: usize, n: i32, kind: i32, t: u32, exact: bool): void {
  const h = embU32(desc, EMB_HYPER);
  const K = EMB_KIND_ROWWISE_ADAGRAD;
  if (kind == K) {
    const l2 = hyperFlag(h, RWADAGRAD_USE_L2), dec = hyperFlag(h, RWADAGRAD_USE_DEC);
    // The SIMD build steps rows [0, n & ~3) four at a time, then the rest one at a time.
    let u = 0, s: u32 = 0;
    if (ASC_FEATURE_SIMD && (embU32(desc, EMB_DIM) & 3) == 0 && abs<f32>(hyperF32(h, RWADAGRAD_GSCALE)) == 1) {
      s = !exact && !l2 && !dec ? rowwiseAdagradPlain(desc, n) : rowwiseAdagradFlagged(desc, n, t, exact, l2, dec);
      u = n & ~3;
    }
    if (exact) {
      // Exact mode is refused with L2 decay (src/embedding/exact.ts).
      if (dec) leanRows(desc, u, n, t, K, true, false, true, s);
      else leanRows(desc, u, n, t, K, true, false, false, s);
    } else if (l2) leanRows(desc, u, n, t, K, false, true, false, s);
    else if (dec) leanRows(desc, u, n, t, K, false, false, true, s);
    else leanRows(desc, u, n, t, K, false, false, false, s);
  } else if (kind == EMB_KIND_PARTIAL_ROWWISE_ADAM) {
    const wd = hyperFlag(h, PRADAM_USE_WD), A = EMB_KIND_PARTIAL_ROWWISE_ADAM;
    if (exact) {
      if (wd) leanRows(desc, 0, n, t, A, true, true, false, 0);
      else leanRows(desc, 0, n, t, A, true, false, false, 0);
    } else if (wd) leanRows(desc, 0, n, t, A, false, true, false, 0);
    else leanRows(desc, 0, n, t, A, false, false, false, 0);
  } else if (kind == EMB_KIND_FTRL) {
    const shrink = hyperFlag(h, FTRL_USE_SHRINK), F = EMB_KIND_FTRL;
    if (hyperFlag(h, FTRL_SQRT)) {
      if (shrink) leanRows(desc, 0, n, t, F, false, true, true, 0);
      else leanRows(desc, 0, n, t, F, false, false, true, 0);
    } else if (shrink) leanRows(desc, 0, n, t, F, false, true, false, 0);
    else leanRows(desc, 0, n, t, F, false, false, false, 0);
  }
}
