// Coalescing of an embedding update's ids (issue 17): the gradient rows of duplicate ids are summed
// in the order the ids appear, and the distinct rows are listed in the order of their first id in
// the batch, with a pointer to each one's gradient row.
//
// The gradients lie in engine memory, one row per id (gradView's buffer, or the table's gradient
// buffer that update() copies the caller's array into whole), and are read where they are. Two passes:
// - one over the ids in batch order finds each id's slot in a small open-addressing hash table (a
//   power of two >= 2k entries of u64, in the table's key buffers, cleared per update: 64 KiB for
//   4096 ids, so it stays in the cache whatever the table's size, and costs no memory per table row)
//   with no branch on whether the row is new (about half of each with Zipf-like ids, which the CPU
//   mispredicts, each miss waiting on the hash table's load); it lists the new rows and chains each
//   id's position to the next one of the same row;
// - one over the distinct rows: a row named once keeps its gradient row where it lies; the gradient
//   rows of a repeated one are summed along its chain in registers, half a row at a time, and the
//   sum is stored once (in EMB_SUM).
// Before (up to 2026-12-06) the gradients passed through a 64 KiB buffer in pieces, each distinct
// row's first gradient copied out and the repeats added to it one id at a time (a load, an add and a
// store per vector): each repeat's loads then waited on the stores before it, and the coalescing
// took 1.4x (Zipf ids) and 1.1x (hot ids) this one's time on gradients in place. Summing in place in
// the gradient buffer without the chains was slower than the staged way (whole updates 0.88x).
// The distinct rows are not sorted: each row's step does not depend on the others', and the row
// loop's blocked prefetch (touch.ts) hides the misses in any order (sorting them cost more than the
// forward walk saved).
//
// Both builds give the same sums in the same order (a first gradient, plus each later one in batch
// order, lane-wise f32 adds): the bits do not depend on the build or the hash.

import { maxAbsBits } from "../shared/finite";
import { EMB_DIM, EMB_KEYS, EMB_UNIQ, EMB_GPTR, EMB_SUM, EMB_LINK, EMB_BAD, EMB_GMAX, embU32 } from "./layout";

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

/** dst += src over `dim` floats. */
@inline function addRow(dst: usize, src: usize, dim: usize): void {
  sumRow(dst, dst, src, dim);
}

/** Marks the end of a chain of positions (EMB_LINK). */
const END: u32 = 0xffffffff;

/**
 * The two passes (see the top of this file) for the `k` (> 0) ids at `ids`, gradient row i at
 * `grads` + i * dim floats; returns the number of distinct rows. The first pass lists the new rows
 * (EMB_UNIQ) with the position of their first id (in EMB_GPTR until the second pass replaces it by
 * the address of the row's gradient) and chains the positions (EMB_LINK: link[i], the next position
 * of the same row, or END). A row's hash entry holds its last position so far (not its index in the
 * list, which a repeat does not need): (row + 1) << 32 | last position.
 */
@inline function coalesceRows(desc: usize, ids: usize, k: u32, grads: usize): u32 {
  const dim = embU32(desc, EMB_DIM);
  const H = embU32(desc, EMB_KEYS);
  const uniq = embU32(desc, EMB_UNIQ), gptr = embU32(desc, EMB_GPTR), sums = embU32(desc, EMB_SUM);
  const link = embU32(desc, EMB_LINK);
  const rowBytes = dim << 2;
  const hbits: u32 = 32 - clz<u32>(2 * k - 1);
  memory.fill(H, 0, <usize>8 << hbits);
  const hmask: u32 = (1 << hbits) - 1;
  const hshift: u32 = 32 - hbits;
  let u: u32 = 0;
  for (let i: u32 = 0; i < k; i++) {
    const row = load<u32>(ids + (<usize>i << 2));
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
    // The writes for a new row are harmless for a repeat (the next new row rewrites them); a new
    // row's link write goes to its own link[i], which the next store sets.
    store<u64>(at, tag | <u64>i);
    store<u32>(uniq + (<usize>u << 2), row);
    store<u32>(gptr + (<usize>u << 2), i);
    store<u32>(link + (<usize>select<u32>(i, <u32>e, fresh) << 2), i);
    store<u32>(link + (<usize>i << 2), END);
    u += fresh;
  }
  // A row's gradient rows summed along its chain: vectors 0-7 of every one of them, then 8-15, ...
  // (16 vectors in registers would not fit x64's 16 and be spilled).
  let acc = sums;
  for (let s: u32 = 0; s < u; s++) {
    const at = gptr + (<usize>s << 2);
    const p = load<u32>(at);
    const g0 = grads + <usize>p * rowBytes;
    const q = load<u32>(link + (<usize>p << 2));
    if (q == END) {
      store<u32>(at, <u32>g0);
      continue;
    }
    let c: usize = 0;
    if (ASC_FEATURE_SIMD) {
      const n32 = rowBytes & ~(<usize>127);
      for (; c < n32; c += 128) {
        const a = g0 + c;
        let a0 = v128.load(a), a1 = v128.load(a, 16), a2 = v128.load(a, 32), a3 = v128.load(a, 48);
        let a4 = v128.load(a, 64), a5 = v128.load(a, 80), a6 = v128.load(a, 96), a7 = v128.load(a, 112);
        const gc = grads + c;
        for (let r = q; r != END; r = load<u32>(link + (<usize>r << 2))) {
          const b = gc + <usize>r * rowBytes;
          a0 = f32x4.add(a0, v128.load(b));
          a1 = f32x4.add(a1, v128.load(b, 16));
          a2 = f32x4.add(a2, v128.load(b, 32));
          a3 = f32x4.add(a3, v128.load(b, 48));
          a4 = f32x4.add(a4, v128.load(b, 64));
          a5 = f32x4.add(a5, v128.load(b, 80));
          a6 = f32x4.add(a6, v128.load(b, 96));
          a7 = f32x4.add(a7, v128.load(b, 112));
        }
        const d = acc + c;
        v128.store(d, a0);
        v128.store(d, a1, 16);
        v128.store(d, a2, 32);
        v128.store(d, a3, 48);
        v128.store(d, a4, 64);
        v128.store(d, a5, 80);
        v128.store(d, a6, 96);
        v128.store(d, a7, 112);
      }
    }
    if (c < rowBytes) {
      // The rest of the row (the scalar build: all of it): sums row by row along the chain.
      const n = (rowBytes - c) >> 2;
      sumRow(acc + c, g0 + c, grads + c + <usize>q * rowBytes, n);
      for (let r = load<u32>(link + (<usize>q << 2)); r != END; r = load<u32>(link + (<usize>r << 2))) {
        addRow(acc + c, grads + c + <usize>r * rowBytes, n);
      }
    }
    store<u32>(at, <u32>acc);
    acc += rowBytes;
  }
  return u;
}

/**
 * Coalesces the `k` ids at `ids` (already checked to be in range) with their gradient rows at
 * `grads` (k * dim floats in engine memory, read in place): lists the distinct rows in EMB_UNIQ and
 * the address of each one's gradient (its one row, or the sum of its rows) in EMB_GPTR, and returns
 * their number, or -1 when `check` is set and a row to apply is not finite (a non-finite gradient,
 * or duplicates whose sum overflows; the smallest such id is left in EMB_BAD). With `check`, leaves
 * max |g| over the rows in EMB_GMAX. Writes only the table's scratch.
 */
export function embCoalesce(desc: usize, ids: usize, k: i32, grads: usize, check: i32): i32 {
  store<u32>(desc + (<usize>EMB_GMAX << 2), 0);
  if (k <= 0) return 0;
  const n = <i32>coalesceRows(desc, ids, <u32>k, grads);
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
