// Coalescing of an embedding update's ids (issue 17): the gradient rows of duplicate ids are summed
// in the order the ids appear, and the distinct rows are listed ascending with a pointer to each
// one's gradient row.
//
// One pass over the ids in batch order finds each id's slot in a small open-addressing hash table
// (a power of two >= 2k entries of u64, in the table's key buffers, cleared per update: 64 KiB for
// 4096 ids, so it stays in the cache whatever the table's size, and costs no memory per table row).
// An id seen once keeps the caller's gradient row; the second occurrence sums the first and itself
// into a row of EMB_SUM, later ones add to it. The gradients are so read once, front to back, as
// they lie in memory (sorting the ids first, as this file did before, gathered the rows of
// duplicates from all over the batch). Then only the distinct rows are sorted (LSD radix sort of
// (row, gradient pointer) keys), so that the row loop walks the table forward.
//
// Both builds give the same sums in the same order (a first gradient, plus each later one in
// batch order, lane-wise f32 adds): the bits do not depend on the build, the hash or the sort.

import { maxAbsBits } from "../shared/finite";
import { EMB_ROWS, EMB_DIM, EMB_KEYS, EMB_KEYS2, EMB_HIST, EMB_UNIQ, EMB_GPTR, EMB_SUM, EMB_BAD, EMB_GMAX, embU32 } from "./layout";

function insertionSort(keys: usize, k: i32): void {
  for (let i = 1; i < k; i++) {
    const x = load<u64>(keys + (<usize>i << 3));
    let j = i - 1;
    while (j >= 0) {
      const y = load<u64>(keys + (<usize>j << 3));
      if (y <= x) break;
      store<u64>(keys + (<usize>(j + 1) << 3), y);
      j--;
    }
    store<u64>(keys + (<usize>(j + 1) << 3), x);
  }
}

/** Sorts `k` keys (row << 32 | payload) by row, stably; returns the buffer holding the result. */
function radixSort(keys: usize, keys2: usize, hist: usize, k: i32, rows: u32): usize {
  if (rows <= 1 || k <= 1) return keys;
  if (k <= 48) {
    insertionSort(keys, k);
    return keys;
  }
  const bits: u32 = 32 - clz<u32>(rows - 1);
  const passes: u32 = (bits + 10) / 11;
  const b: u32 = (bits + passes - 1) / passes;
  const nb: u32 = 1 << b;
  const mask: u64 = <u64>(nb - 1);
  memory.fill(hist, 0, <usize>(passes * nb) << 2);
  for (let i = 0; i < k; i++) {
    const id = load<u64>(keys + (<usize>i << 3)) >> 32;
    for (let p: u32 = 0; p < passes; p++) {
      const h = hist + (<usize>(p * nb + <u32>((id >> <u64>(p * b)) & mask)) << 2);
      store<u32>(h, load<u32>(h) + 1);
    }
  }
  let src = keys, dst = keys2;
  for (let p: u32 = 0; p < passes; p++) {
    const hp = hist + (<usize>(p * nb) << 2);
    // A digit that every key shares leaves the order unchanged: skip the pass.
    let sum: u32 = 0, skip = false;
    for (let d: u32 = 0; d < nb; d++) {
      const c = load<u32>(hp + (<usize>d << 2));
      if (c == <u32>k) { skip = true; break; }
      store<u32>(hp + (<usize>d << 2), sum);
      sum += c;
    }
    if (skip) continue;
    const shift = <u64>(32 + p * b);
    for (let i = 0; i < k; i++) {
      const x = load<u64>(src + (<usize>i << 3));
      const h = hp + (<usize>(<u32>((x >> shift) & mask)) << 2);
      const at = load<u32>(h);
      store<u32>(h, at + 1);
      store<u64>(dst + (<usize>at << 3), x);
    }
    const t = src; src = dst; dst = t;
  }
  return src;
}

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

/**
 * Coalesces the `k` ids at `ids` (already checked to be in range): sums the gradient rows of
 * duplicate ids in position order and lists the unique rows ascending in EMB_UNIQ with their
 * gradient row in EMB_GPTR (the caller's row for an id seen once, a row of EMB_SUM otherwise).
 * Returns the number of unique rows, or -1 when `check` is set and a row to apply is not finite
 * (a non-finite gradient, or duplicates whose sum overflows; the smallest such id is left in
 * EMB_BAD). Writes only the table's scratch buffers.
 */
export function embCoalesce(desc: usize, ids: usize, k: i32, grads: usize, check: i32): i32 {
  const rows = <u32>embU32(desc, EMB_ROWS);
  const dim = embU32(desc, EMB_DIM);
  const keys = embU32(desc, EMB_KEYS), keys2 = embU32(desc, EMB_KEYS2);
  const uniq = embU32(desc, EMB_UNIQ), gptr = embU32(desc, EMB_GPTR), sums = embU32(desc, EMB_SUM);
  const rowBytes = dim << 2;
  store<u32>(desc + (<usize>EMB_GMAX << 2), 0);
  if (k <= 0) return 0;
  // The hash table: 2^hbits >= 2k entries of (row + 1) << 32 | slot (0: free), in the key buffers
  // (EMB_KEYS and EMB_KEYS2 lie side by side, 8 bytes per id of capacity each).
  const hbits: u32 = 32 - clz<u32>(<u32>(2 * k - 1));
  const hmask: u32 = (1 << hbits) - 1;
  const hshift: u32 = 32 - hbits;
  const H = keys;
  memory.fill(H, 0, <usize>(hmask + 1) << 3);
  let u: u32 = 0;
  let sumBytes: usize = 0; // bytes of EMB_SUM in use
  for (let i = 0; i < k; i++) {
    const row = load<u32>(ids + (<usize>i << 2));
    const g = grads + <usize>i * rowBytes;
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
  // The distinct rows, ascending (the hash table is dead: its buffers take the sort).
  const n = <i32>u;
  for (let j = 0; j < n; j++) {
    const o = <usize>j << 2;
    store<u64>(keys + (<usize>j << 3), (<u64>load<u32>(uniq + o) << 32) | <u64>load<u32>(gptr + o));
  }
  const sorted = radixSort(keys, keys2, embU32(desc, EMB_HIST), n, rows);
  let gmax: u32 = 0;
  for (let j = 0; j < n; j++) {
    const x = load<u64>(sorted + (<usize>j << 3));
    const row = <u32>(x >> 32), g = <usize><u32>x;
    // A NaN or an infinity among a duplicate's gradients stays in the sum (inf - inf is NaN), so
    // checking each row that will be applied checks every gradient, and catches sums that overflow.
    // The same read gives max |g| of the applied rows (for the TS side's float32 range checks).
    if (check) {
      const m = maxAbsBits(g, dim);
      if (m >= 0x7f800000) {
        store<u32>(desc + (<usize>EMB_BAD << 2), row);
        return -1;
      }
      gmax = max(gmax, m);
    }
    store<u32>(uniq + (<usize>j << 2), row);
    store<u32>(gptr + (<usize>j << 2), <u32>g);
  }
  store<u32>(desc + (<usize>EMB_GMAX << 2), gmax);
  return n;
}

/** dst += src over `dim` floats. */
@inline function addRow(dst: usize, src: usize, dim: usize): void {
  sumRow(dst, dst, src, dim);
}
