// Coalescing of an embedding update's ids (issue 17): the gradient rows of duplicate ids are summed
// in the order the ids appear, and the distinct rows are listed in the order of their first id in
// the batch, with a pointer to each one's gradient row.
//
// One pass over the ids in batch order finds each id's slot in a small open-addressing hash table
// (a power of two >= 2k entries of u64, in the table's key buffers, cleared per update: 64 KiB for
// 4096 ids, so it stays in the cache whatever the table's size, and costs no memory per table row).
// The gradients are so read once, front to back, as they lie in memory. Two ways to hold them:
// - in place (embCoalesce; gradView's buffer): an id seen once keeps its gradient row where it is;
//   the second occurrence sums the first and itself into a row of EMB_SUM, later ones add to it;
// - copied (embCoalesceBegin with `rows`, then embCoalesceChunk per piece, embCoalesceEnd): the
//   caller copies the gradients piece by piece into a small buffer that stays in the cache, and the
//   pass copies each distinct row's first gradient to `rows` + u * dim floats and adds the later
//   ones there. The gradients then cross memory once (a copy of the whole block before the pass
//   read them twice and wrote 1 MiB per 4096 x 64 update out of the cache), and the row loop reads
//   its gradients front to back. A piece is done in three loops: one over its ids that finds each
//   one's slot with no branch on the outcome (a new row or a repeat: about half of each with
//   Zipf-like ids, which the CPU mispredicts, each miss waiting on the hash table's load) and
//   lists the new rows from the front and the repeats from the back of EMB_SUM's room (unused
//   here), one that copies the new rows' gradients, one that adds the repeats' in batch order.
//   Summing in the table's gradient buffer in place (each distinct row's gradient left where its
//   first id's row was copied to, the pieces copied there instead of through a small buffer) made
//   the coalescing cheaper but the row loop slower (it then reads its gradients from all over the
//   1 MiB block): whole updates 0.88x with Adam, 0.97x with row-wise Adagrad (Zipf ids).
// The distinct rows are not sorted: each row's step does not depend on the others', and the row
// loop's blocked prefetch (touch.ts) hides the misses in any order (sorting them cost more than the
// forward walk saved, measured in the commit that made this change).
//
// Both ways and both builds give the same sums in the same order (a first gradient, plus each later
// one in batch order, lane-wise f32 adds): the bits do not depend on the build, the hash or the way.

import { maxAbsBits } from "../shared/finite";
import { EMB_DIM, EMB_KEYS, EMB_UNIQ, EMB_GPTR, EMB_SUM, EMB_BAD, EMB_GMAX, EMB_CU, EMB_CBITS, EMB_CUSED, EMB_CROWS, embU32 } from "./layout";

/** dst = a + b over `dim` floats. */
@inline function sumRow(dst: usize, a: usize, b: usize, dim: usize): void {
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const n16 = dim & ~(<usize>15);
    for (; i < n16; i += 16) {
      const o = i << 2;
      v128.store(dst + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
      v128.store(dst + o, f32x4.add(v128.load(a + o, 16), v128.load(b + o, 16)), 16);
      v128.store(dst + o, f32x4.add(v128.load(a + o, 32), v128.load(b + o, 32)), 32);
      v128.store(dst + o, f32x4.add(v128.load(a + o, 48), v128.load(b + o, 48)), 48);
    }
    const n4 = dim & ~(<usize>3);
    for (; i < n4; i += 4) {
      const o = i << 2;
      v128.store(dst + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
    }
  }
  for (; i < dim; i++) {
    const o = i << 2;
    store<f32>(dst + o, load<f32>(a + o) + load<f32>(b + o));
  }
}

/** dst = src over `dim` floats (inline: memory.copy of one row costs a call in V8). */
@inline function copyRow(dst: usize, src: usize, dim: usize): void {
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const n16 = dim & ~(<usize>15);
    for (; i < n16; i += 16) {
      const o = i << 2;
      v128.store(dst + o, v128.load(src + o));
      v128.store(dst + o, v128.load(src + o, 16), 16);
      v128.store(dst + o, v128.load(src + o, 32), 32);
      v128.store(dst + o, v128.load(src + o, 48), 48);
    }
    const n4 = dim & ~(<usize>3);
    for (; i < n4; i += 4) v128.store(dst + (i << 2), v128.load(src + (i << 2)));
  }
  for (; i < dim; i++) store<u32>(dst + (i << 2), load<u32>(src + (i << 2)));
}

/** dst += src over `dim` floats. */
@inline function addRow(dst: usize, src: usize, dim: usize): void {
  sumRow(dst, dst, src, dim);
}

@inline function w32(desc: usize, slot: i32, v: usize): void {
  store<u32>(desc + (<usize>slot << 2), <u32>v);
}

/**
 * Starts coalescing a batch of `k` ids: clears the hash table. `rows`: 0 to read the gradients in
 * place, else room for min(k, table rows) gradient rows, where each distinct row's gradient is
 * copied to (embCoalesceChunk's copied way).
 */
export function embCoalesceBegin(desc: usize, k: i32, rows: usize): void {
  const hbits: u32 = k > 0 ? 32 - clz<u32>(<u32>(2 * k - 1)) : 1;
  memory.fill(embU32(desc, EMB_KEYS), 0, <usize>8 << hbits);
  w32(desc, EMB_CU, 0);
  w32(desc, EMB_CBITS, hbits);
  w32(desc, EMB_CUSED, 0);
  w32(desc, EMB_CROWS, rows);
}

/**
 * Coalesces ids [from, to) of the batch at `ids` (already checked to be in range), whose gradient
 * rows lie at `grads` (row `from`'s first): in place, or copied (see embCoalesceBegin).
 */
export function embCoalesceChunk(desc: usize, ids: usize, from: i32, to: i32, grads: usize): void {
  if (embU32(desc, EMB_CROWS)) {
    const rowBytes = embU32(desc, EMB_DIM) << 2;
    for (let a = from; a < to; a += COALESCE_LIST) {
      const e = to - a > COALESCE_LIST ? a + COALESCE_LIST : to;
      copiedRows(desc, ids, a, e, grads + <usize>(a - from) * rowBytes);
    }
  } else coalesceRows(desc, ids, from, to, grads);
}

/** Entries of 8 bytes in the lists of the copied way (EMB_SUM's room must hold them). */
export const COALESCE_LIST: i32 = 256;

/**
 * The copied way for ids [from, to) (at most COALESCE_LIST), gradient rows from `grads` on: the first
 * loop finds each id's slot (the same hash table and entries as the in place way) with no branch
 * on whether the row is new, and lists each id (slot << 32 | position) at EMB_SUM: the new rows'
 * from the front, the repeats' from the back; then the new rows' gradients are copied to their
 * rows at EMB_CROWS, and the repeats' added there in batch order.
 */
@inline function copiedRows(desc: usize, ids: usize, from: i32, to: i32, grads: usize): void {
  const dim = embU32(desc, EMB_DIM);
  const H = embU32(desc, EMB_KEYS);
  const uniq = embU32(desc, EMB_UNIQ), gptr = embU32(desc, EMB_GPTR), list = embU32(desc, EMB_SUM);
  const dst = embU32(desc, EMB_CROWS);
  const rowBytes = dim << 2;
  const hbits = <u32>embU32(desc, EMB_CBITS);
  const hmask: u32 = (1 << hbits) - 1;
  const hshift: u32 = 32 - hbits;
  let u = <u32>embU32(desc, EMB_CU);
  const n = <u32>(to - from);
  let nf: u32 = 0; // new rows at list[0 .. nf)
  let top: u32 = n; // repeats at list[top .. n), the first one last
  for (let i: u32 = 0; i < n; i++) {
    const row = load<u32>(ids + (<usize>(<u32>from + i) << 2));
    const tag = <u64>(row + 1) << 32;
    let h = (row * 0x9e3779b1) >> hshift;
    let at = H + (<usize>h << 3);
    let e = load<u64>(at);
    while (e != 0 && (e & 0xffffffff00000000) != tag) {
      h = (h + 1) & hmask;
      at = H + (<usize>h << 3);
      e = load<u64>(at);
    }
    const fresh = <u32>(e == 0);
    const slot = select<u32>(u, <u32>e, fresh);
    const item = (<u64>slot << 32) | <u64>i;
    // Both writes are harmless for a repeat: its own entry again; the next free unique index,
    // which the next new row rewrites. Both list words are written: list[top - 1] >= list[nf].
    store<u64>(at, tag | <u64>slot);
    store<u32>(uniq + (<usize>u << 2), row);
    store<u64>(list + (<usize>nf << 3), item);
    store<u64>(list + (<usize>(top - 1) << 3), item);
    nf += fresh;
    top -= 1 - fresh;
    u += fresh;
  }
  w32(desc, EMB_CU, u);
  for (let j: u32 = 0; j < nf; j++) {
    const r = load<u64>(list + (<usize>j << 3));
    const s = <usize>(r >> 32);
    const d = dst + s * rowBytes;
    copyRow(d, grads + <usize><u32>r * rowBytes, dim);
    store<u32>(gptr + (s << 2), <u32>d);
  }
  for (let j = n; j > top; j--) {
    const r = load<u64>(list + (<usize>(j - 1) << 3));
    addRow(dst + <usize>(r >> 32) * rowBytes, grads + <usize><u32>r * rowBytes, dim);
  }
}

/** The in place way for ids [from, to) (the copied way is copiedRows). */
@inline function coalesceRows(desc: usize, ids: usize, from: i32, to: i32, grads: usize): void {
  const dim = embU32(desc, EMB_DIM);
  const H = embU32(desc, EMB_KEYS);
  const uniq = embU32(desc, EMB_UNIQ), gptr = embU32(desc, EMB_GPTR), sums = embU32(desc, EMB_SUM);
  const rowBytes = dim << 2;
  const hbits = <u32>embU32(desc, EMB_CBITS);
  const hmask: u32 = (1 << hbits) - 1;
  const hshift: u32 = 32 - hbits;
  let u = <u32>embU32(desc, EMB_CU);
  let sumBytes = embU32(desc, EMB_CUSED); // bytes of EMB_SUM in use
  // The hash table: entries of (row + 1) << 32 | unique index (0: free).
  for (let i = from; i < to; i++) {
    const row = load<u32>(ids + (<usize>i << 2));
    const g = grads + <usize>(i - from) * rowBytes;
    const tag = <u64>(row + 1) << 32;
    let h = (row * 0x9e3779b1) >> hshift;
    for (;;) {
      const at = H + (<usize>h << 3);
      const e = load<u64>(at);
      if (e == 0) {
        store<u64>(at, tag | <u64>u);
        store<u32>(uniq + (<usize>u << 2), row);
        store<u32>(gptr + (<usize>u << 2), <u32>g);
        u++;
        break;
      }
      if ((e & 0xffffffff00000000) == tag) {
        const gp = gptr + (<usize>(<u32>e) << 2);
        const p = <usize>load<u32>(gp);
        if (p - sums < sumBytes) {
          addRow(p, g, dim);
        } else {
          // The second gradient of this row: the sum of the first and this one.
          const acc = sums + sumBytes;
          sumBytes += rowBytes;
          sumRow(acc, p, g, dim);
          store<u32>(gp, <u32>acc);
        }
        break;
      }
      h = (h + 1) & hmask;
    }
  }
  w32(desc, EMB_CU, u);
  w32(desc, EMB_CUSED, sumBytes);
}

/**
 * Ends a coalescing: returns the number of unique rows (listed in EMB_UNIQ, their gradient rows in
 * EMB_GPTR), or -1 when `check` is set and a row to apply is not finite (a non-finite gradient, or
 * duplicates whose sum overflows; the smallest such id is left in EMB_BAD). With `check`, leaves
 * max |g| over the rows in EMB_GMAX.
 */
export function embCoalesceEnd(desc: usize, check: i32): i32 {
  const n = <i32>embU32(desc, EMB_CU);
  store<u32>(desc + (<usize>EMB_GMAX << 2), 0);
  if (!check) return n;
  const dim = embU32(desc, EMB_DIM);
  const uniq = embU32(desc, EMB_UNIQ), gptr = embU32(desc, EMB_GPTR);
  let gmax: u32 = 0, bad: u32 = 0xffffffff;
  for (let j = 0; j < n; j++) {
    // A NaN or an infinity among a duplicate's gradients stays in the sum (inf - inf is NaN), so
    // checking each row that will be applied checks every gradient, and catches sums that overflow.
    // The same read gives max |g| of the applied rows (for the TS side's float32 range checks).
    const m = maxAbsBits(<usize>load<u32>(gptr + (<usize>j << 2)), dim);
    if (m >= 0x7f800000) bad = min(bad, load<u32>(uniq + (<usize>j << 2)));
    gmax = max(gmax, m);
  }
  if (bad != 0xffffffff) {
    store<u32>(desc + (<usize>EMB_BAD << 2), bad);
    return -1;
  }
  store<u32>(desc + (<usize>EMB_GMAX << 2), gmax);
  return n;
}

/**
 * Coalesces the `k` ids at `ids` (already checked to be in range) with their gradients in place at
 * `grads`: embCoalesceBegin, one embCoalesceChunk, embCoalesceEnd. Writes only the table's scratch.
 */
export function embCoalesce(desc: usize, ids: usize, k: i32, grads: usize, check: i32): i32 {
  embCoalesceBegin(desc, k, 0);
  if (k > 0) embCoalesceChunk(desc, ids, 0, k, grads);
  return embCoalesceEnd(desc, check);
}
