// The kernels of an embedding update's coalescing split across threads (src/embedding/split-update.ts),
// built from coalesce.ts's passes so that the sums, the list of rows and the checks are those of
// one thread:
// - embSplitList: the first pass (the list of distinct rows and the chains of positions), which
//   reads only the ids: a worker runs it while the calling thread copies the gradients in, and cuts
//   the list into ranges of equal work for the second pass (by the positions on the rows' chains);
//   then, until the calling thread is done copying, it reads the listed rows' weights and state
//   into the cache (reads only: the bits do not depend on it);
// - embSplitSums: the second pass and the rows' check for a range of the distinct rows, each range
//   summing its repeated rows into sums of its own: every thread takes ranges.
// The rows are stepped only once every range is checked (an update refused changes nothing).

import { EMB_WEIGHTS, EMB_STATE0, EMB_SROW, EMB_DIM, EMB_UNIQ, EMB_GPTR, EMB_LINK, EMB_SINK, embU32 } from "./layout";
import { listRows, sumChains, checkRows, chainLength } from "./coalesce";
import { touch, TOUCH_BLOCK } from "./touch";

/** The i32 at `stop`, which the calling thread sets when its copy is done (atomic in the threads builds). */
@inline function stopped(stop: usize): bool {
  if (ASC_FEATURE_THREADS) return atomic.load<i32>(stop) != 0;
  return load<i32>(stop) != 0;
}

/**
 * The coalescing's first pass for the `k` (> 0) checked ids at `ids` (coalesce.ts listRows); returns
 * the number of distinct rows u. Then cuts the list into `parts` ranges of about equal work for the
 * second pass (each row weighs the positions on its chain: a hot row's long chain is as much work as
 * as many singletons): stores the u32 ends at `cuts`[1 .. parts] (`cuts`[0] = 0, `cuts`[parts] = u;
 * ranges may be empty). Then, when `prefetch` is set, reads every cache line of the weights and
 * state rows of the listed rows, TOUCH_BLOCK rows at a time, until the i32 at `stop` is set.
 */
export function embSplitList(desc: usize, ids: usize, k: i32, stop: usize, prefetch: i32, parts: i32, cuts: usize): i32 {
  const u = listRows(desc, ids, <u32>k);
  const gptr = embU32(desc, EMB_GPTR), link = embU32(desc, EMB_LINK);
  store<u32>(cuts, 0);
  let p: i32 = 1;
  let weight: u64 = 0;
  for (let s: u32 = 0; s < u && p < parts; s++) {
    weight += chainLength(link, load<u32>(gptr + (<usize>s << 2)));
    // Range p - 1 ends after row s once the weight so far reaches p / parts of k.
    while (p < parts && weight * <u64>parts >= <u64>k * <u64>p) {
      store<u32>(cuts + (<usize>p << 2), s + 1);
      p++;
    }
  }
  for (; p <= parts; p++) store<u32>(cuts + (<usize>p << 2), u);
  if (!prefetch) return <i32>u;
  const W = embU32(desc, EMB_WEIGHTS), S = embU32(desc, EMB_STATE0), uniq = embU32(desc, EMB_UNIQ);
  const rowBytes = embU32(desc, EMB_DIM) << 2, stateBytes = embU32(desc, EMB_SROW);
  let acc: u32 = 0;
  for (let i: u32 = 0; i < u; i += TOUCH_BLOCK) {
    if (stopped(stop)) break;
    const end = i + TOUCH_BLOCK < u ? i + TOUCH_BLOCK : u;
    for (let j = i; j < end; j++) {
      const r = <usize>load<u32>(uniq + (<usize>j << 2));
      acc ^= touch(W + r * rowBytes, rowBytes);
      if (stateBytes) acc ^= touch(S + r * stateBytes, stateBytes);
    }
  }
  store<u32>(desc + (<usize>EMB_SINK << 2), acc);
  return <i32>u;
}

/**
 * The coalescing's second pass for the distinct rows [from, from + count) (coalesce.ts sumChains),
 * their repeated rows summed into `sums` and on; with `check`, then checks them and stores at `out`
 * (u64) the smallest id of a non-finite row (0xffffffff: none) in the high word and the bits of
 * max |g| in the low word (coalesce.ts checkRows).
 */
export function embSplitSums(desc: usize, grads: usize, from: i32, count: i32, sums: usize, check: i32, out: usize): void {
  const to = <u32>(from + count);
  sumChains(desc, grads, <u32>from, to, sums);
  if (check) store<u64>(out, checkRows(desc, <u32>from, to));
}
