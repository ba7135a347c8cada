// The worker's part of an embedding update split across threads while the calling thread copies
// and coalesces the gradients (src/embedding/split-update.ts). That pass must end before any row
// is stepped (the rows are checked first: an update refused changes nothing), so the worker cannot
// step rows yet; it reads the rows of the batch's first ids instead (every cache line of each id's
// weights and state, in batch order, TOUCH_BLOCK ids at a time: the misses in flight together;
// `k` is its share of the ids): the list of distinct rows begins with them and the worker claims
// the row chunks from its start, so that its row steps find them in its own cache rather than in
// DRAM (on AMD family 26 the cores share no cache that it could fill for the calling thread).
// Reads only: the bits do not depend on it.

import { EMB_WEIGHTS, EMB_STATE0, EMB_SROW, EMB_DIM, embU32 } from "./layout";
import { touch, TOUCH_BLOCK } from "./touch";

/** The i32 at `stop`, which the calling thread sets when its coalescing is done (atomic in the threads builds). */
@inline function stopped(stop: usize): bool {
  if (ASC_FEATURE_THREADS) return atomic.load<i32>(stop) != 0;
  return load<i32>(stop) != 0;
}

/**
 * Reads every cache line of the weights and state rows of the `k` checked ids at `ids` (a table's
 * descriptor `desc`), until the i32 at `stop` is set. Returns the loads' xor (so that they stay).
 */
export function embPrefetchRows(desc: usize, ids: usize, k: i32, stop: usize): u32 {
  const W = embU32(desc, EMB_WEIGHTS), S = embU32(desc, EMB_STATE0);
  const rowBytes = embU32(desc, EMB_DIM) << 2, stateBytes = embU32(desc, EMB_SROW);
  let acc: u32 = 0;
  for (let i = 0; i < k; i += TOUCH_BLOCK) {
    if (stopped(stop)) break;
    const end = i + TOUCH_BLOCK < k ? i + TOUCH_BLOCK : k;
    for (let j = i; j < end; j++) {
      const r = <usize>load<u32>(ids + (<usize>j << 2));
      acc ^= touch(W + r * rowBytes, rowBytes);
      if (stateBytes) acc ^= touch(S + r * stateBytes, stateBytes);
    }
  }
  return acc;
}
