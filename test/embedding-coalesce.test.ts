// Coalescing of an update's ids (assembly/embedding/coalesce.ts): duplicate ids' gradients are
// summed in the order they appear, whatever their slots in the batch's hash table. Lazy SGD with
// lr 1 on a zero table makes every touched row -(g1 + g2 + ...) exactly, so the sums can be checked
// bit for bit against float32 sums in batch order, in both builds.
import { describe, expect, it } from 'vitest';
import { Embedding } from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { rng } from './embedding-ref.js';

/** The coalescing hash's slot of `row` for a batch of k ids (2^hbits >= 2k slots). */
function slotOf(row: number, k: number): number {
  const hbits = 32 - Math.clz32(2 * k - 1);
  return Math.imul(row, 0x9e3779b1) >>> (32 - hbits);
}

/** `count` rows in [0, rows) whose hash slot for a batch of k ids is `slot`. */
function collidingRows(count: number, k: number, slot: number, rows: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows && out.length < count; r++) if (slotOf(r, k) === slot) out.push(r);
  return out;
}

/** What lazy SGD (lr 1, zero table) leaves in each touched row: minus the batch-order f32 sum. */
function expected(rows: number, dim: number, ids: Int32Array, g: Float32Array): Float32Array {
  const sum = new Map<number, Float32Array>();
  ids.forEach((id, i) => {
    const s = sum.get(id);
    const row = g.subarray(i * dim, i * dim + dim);
    if (!s) sum.set(id, row.slice());
    else for (let d = 0; d < dim; d++) s[d] = Math.fround(s[d] + row[d]);
  });
  const w = new Float32Array(rows * dim);
  for (const [id, s] of sum) for (let d = 0; d < dim; d++) w[id * dim + d] = -s[d];
  return w;
}

function gradients(n: number, seed: number): Float32Array {
  const next = rng(seed);
  // Mixed magnitudes, so that the order of the sums shows in the last bits.
  return Float32Array.from({ length: n }, () => (next() - 0.5) * 10 ** Math.floor(next() * 8 - 4));
}

describe.each(BUILD_NAMES)('embedding coalescing (%s build)', (build) => {
  const rows = 1 << 16;
  const dim = 7; // a SIMD body and a scalar tail

  /**
   * The gradients reach the coalescing three ways (src/embedding/table-base.ts): a Float32Array
   * (or Float64Array) or an array of numbers is copied whole into the table's gradient buffer,
   * gradView's buffer is read in place (and left as it is). Each must leave the same bits.
   */
  type Way = 'f32' | 'f64' | 'view' | 'array';
  const WAYS: Way[] = ['f32', 'f64', 'view', 'array'];

  async function check(ids: Int32Array, seed: number, ways: Way[] = ['f32'], d = dim, r = rows): Promise<void> {
    const engine = await engineFor(build);
    const g = gradients(ids.length * d, seed);
    const want = expected(r, d, ids, g);
    for (const way of ways) {
      const emb = new Embedding(r, d, { optimizer: 'sgd', lr: 1, init: 'zeros', engine });
      try {
        let input: ArrayLike<number> = g;
        if (way === 'f64') input = Float64Array.from(g);
        else if (way === 'array') input = Array.from(g);
        else if (way === 'view') {
          const v = emb.gradView(ids.length);
          v.set(g);
          input = v;
        }
        expect(emb.update(ids, input)).toBe(true);
        expect(emb.lastUniqueRows).toBe(new Set(ids).size);
        expect(
          Buffer.from(emb.weights.buffer, emb.weights.byteOffset, r * d * 4).equals(Buffer.from(want.buffer)),
          way,
        ).toBe(true);
      } finally {
        emb.dispose();
      }
    }
  }

  it('ids whose hash slots collide, wrapping around the end of the table, repeated far apart', async () => {
    const k = 64;
    // 12 rows that all hash to the last slot: the probes wrap around to slot 0 and on.
    const hot = collidingRows(12, k, 2 ** (32 - Math.clz32(2 * k - 1)) - 1, rows);
    expect(hot.length).toBe(12);
    const next = rng(5);
    const ids = Int32Array.from({ length: k }, (_, i) =>
      i % 3 === 0 ? hot[Math.floor(next() * hot.length)] : Math.floor(next() * rows),
    );
    await check(ids, 1);
  });

  it('one id, one id repeated, every id distinct, and a batch of one row repeated 1000 times', async () => {
    await check(Int32Array.from([rows - 1]), 2);
    await check(Int32Array.from([3, 3]), 3);
    await check(
      Int32Array.from({ length: 500 }, (_, i) => (i * 131) % rows),
      4,
    );
    await check(new Int32Array(1000).fill(17), 5);
  });

  it('every way of passing the gradients, long chains of duplicates far apart (dim 64, 7, 37)', async () => {
    const next = rng(21);
    // 3000 ids over 40 rows, then 1000 distinct.
    const ids = Int32Array.from({ length: 4000 }, (_, i) => (i < 3000 ? Math.floor(next() * 40) : 1000 + i));
    await check(ids, 22, WAYS, 64, 8192);
    const ids7 = Int32Array.from({ length: 5000 }, () => Math.floor(next() * 300));
    await check(ids7, 23, WAYS);
    // dim 37: a block of 32 floats summed in registers, then 4 in a vector and 1 alone.
    await check(ids7, 24, WAYS, 37, 8192);
  });

  it('dim 1 and small batches that are all repeats', async () => {
    const next = rng(31);
    await check(new Int32Array(64).fill(9), 32, WAYS, 1, 64);
    await check(
      Int32Array.from({ length: 200 }, () => Math.floor(next() * 3)),
      33,
      WAYS,
      1,
      64,
    );
    await check(
      Int32Array.from({ length: 5000 }, () => Math.floor(next() * 50)),
      34,
      WAYS,
      1,
      64,
    );
  });

  it("leaves the caller's gradients as they were (a Float32Array, gradView's buffer)", async () => {
    const engine = await engineFor(build);
    const emb = new Embedding(64, 8, { optimizer: 'sgd', lr: 1, init: 'zeros', engine });
    try {
      const ids = Int32Array.from([5, 5, 7, 5, 7, 9]);
      const g = gradients(ids.length * 8, 41);
      const copy = g.slice();
      emb.update(ids, g);
      expect(Buffer.from(g.buffer).equals(Buffer.from(copy.buffer))).toBe(true);
      const v = emb.gradView(ids.length);
      v.set(g);
      emb.update(ids, v);
      expect(Buffer.from(v.buffer, v.byteOffset, v.byteLength).equals(Buffer.from(copy.buffer))).toBe(true);
    } finally {
      emb.dispose();
    }
  });

  it('Zipf-like batches of 4096 ids (many duplicates, many singles)', async () => {
    const next = rng(9);
    for (let b = 0; b < 3; b++) {
      const ids = Int32Array.from({ length: 4096 }, () => Math.floor(rows * next() ** 4));
      await check(ids, 10 + b, b === 0 ? WAYS : ['f32']);
    }
  });
});
