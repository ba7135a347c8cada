// Prefetching by blocks, shared by the row loops of apply.ts and lean.ts. WebAssembly has no
// prefetch instruction, and an ordinary load that misses holds up the instructions behind it until
// its data arrives, so touching one row ahead barely helps. Instead, before a block of TOUCH_BLOCK
// rows is stepped, one word of every cache line of those rows is read in a tight loop: the misses
// (rows lie scattered over the table, each on pages of its own) are then in flight together and the
// block is stepped from the cache. The lean row loops (lean.ts, storage.ts) also touch the gradient
// rows (touchGrads): the 1 MB of an update's gradients is out of L2. So do the float32 row loops in
// the ranges of a split update (touchBlock's `grads`, EMB_TOUCH_G): a worker's gradient rows were
// just written by the calling thread, on another die of AMD family 26 (docs/threads.md).

import { touchSpan, touchDrop } from "./lean-record";

export const TOUCH_BLOCK: i32 = 16;

/** One word of every cache line of the `bytes` (> 0) at `base`: lean-record.ts's touchSpan (the
 *  first four lines without a loop test), as the lean row loops have it. */
@inline export function touch(base: usize, bytes: usize): u32 {
  return touchSpan(base, bytes);
}

/** Reads every cache line of the weights and state (and exact mode's step word) of the rows
 *  listed at uniq[u .. u + TOUCH_BLOCK), and with `grads` first their gradient rows (EMB_GPTR's
 *  addresses at `gptr`, rowBytes each). */
@inline export function touchBlock(W: usize, S: usize, last: usize, uniq: usize, u: i32, n: i32, rowBytes: usize, stateBytes: usize, exact: bool, gptr: usize = 0, grads: bool = false): u32 {
  let acc: u32 = 0;
  const end = u + TOUCH_BLOCK < n ? u + TOUCH_BLOCK : n;
  // The gradient rows first: in a worker's range of a split update they are the slowest misses
  // (lines the other core just wrote, ~0.35-0.8 us each across dies), asked for before the rows'.
  if (grads) {
    for (let q = u; q < end; q++) touchDrop(<usize>load<u32>(gptr + (<usize>q << 2)), rowBytes);
  }
  // With state: first the first word of each row's weights and state, a row's two pages, so that
  // the block's page walks (its rows lie on pages of their own, out of the TLB's reach) are in
  // flight together before its other lines are asked for (1.04-1.06x the row loop, Zipf and hot
  // ids; AMD EPYC family 26, Zen 5). A lookup's rows (weights only, one page each) do without: that
  // pass cost them 5-8%.
  if (stateBytes) {
    for (let q = u; q < end; q++) {
      const r = <usize>load<u32>(uniq + (<usize>q << 2));
      load<u32>(W + r * rowBytes);
      load<u32>(S + r * stateBytes);
    }
  }
  for (let q = u; q < end; q++) {
    const r = <usize>load<u32>(uniq + (<usize>q << 2));
    touchDrop(W + r * rowBytes, rowBytes);
    if (stateBytes) touchDrop(S + r * stateBytes, stateBytes);
    if (exact) acc ^= load<u32>(last + (r << 2));
  }
  return acc;
}

/** Reads every cache line of the gradient rows of the entries [u, u + TOUCH_BLOCK) (EMB_GPTR's
 *  addresses): summed rows in the coalescing scratch, or the caller's rows, often out of L2. */
@inline export function touchGrads(gptr: usize, u: i32, n: i32, rowBytes: usize): u32 {
  let acc: u32 = 0;
  const end = u + TOUCH_BLOCK < n ? u + TOUCH_BLOCK : n;
  for (let q = u; q < end; q++) acc ^= touch(<usize>load<u32>(gptr + (<usize>q << 2)), rowBytes);
  return acc;
}
