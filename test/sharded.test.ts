// Sharded embedding tables: a table cut by row ranges into shards in separate engines behaves as
// one table (bit for bit in lazy mode), checks everything before any shard changes, and a table
// over 4 GiB in all (SGD, 18M x 64 float32) looks up and updates rows in every shard.
import { totalmem } from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createEngine,
  Embedding,
  LocalEmbedding,
  NonFiniteGradientError,
  DisposedError,
  ShardedEmbedding,
  type Engine,
  type EmbeddingOptions,
} from '../src/index.js';
import { BUILD_NAMES } from './engines.js';
import { rng } from './rng.js';

function bitsEqual(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return 0;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

const ROWS = 1000;
const DIM = 12; // not a multiple of 16: rows straddle SIMD chunks
const ALL = Int32Array.from({ length: ROWS }, (_, i) => i);

const CASES: [string, EmbeddingOptions][] = [
  ['sgd momentum nesterov', { optimizer: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true }],
  ['sgd weight decay', { optimizer: 'sgd', lr: 0.05, weightDecay: 0.01 }],
  ['adagrad', { optimizer: 'adagrad', lr: 0.05, lrDecay: 0.01, initialAccumulatorValue: 0.1 }],
  ['adam', { optimizer: 'adam', lr: 0.01 }],
  ['adamw amsgrad', { optimizer: 'adamw', lr: 0.01, amsgrad: true, weightDecay: 0.05 }],
  ['adam exact', { optimizer: 'adam', lr: 0.01, mode: 'exact' }],
];

describe.each(BUILD_NAMES)('sharded tables (%s build)', (build) => {
  let parent: Engine;
  let plainEngine: Engine;
  beforeAll(async () => {
    parent = await createEngine({ simd: build === 'simd' });
    plainEngine = await createEngine({ simd: build === 'simd' });
  });

  for (const [label, options] of CASES) {
    it(`${label}: four shards equal one table (lookups, updates with duplicates across shards, state)`, () => {
      const r = rng(label.length);
      const init = Float32Array.from({ length: ROWS * DIM }, () => r() * 2 - 1);
      const sharded = new ShardedEmbedding(ROWS, DIM, { ...options, init, maxShardRows: 300, engine: parent });
      const plain = new Embedding(ROWS, DIM, { ...options, init, engine: plainEngine });
      expect(sharded.shardCount).toBe(4);
      expect(sharded.shardRows).toBe(250);
      expect(new Set(sharded.engines).size).toBe(4);
      expect(sharded.engines).not.toContain(parent);
      expect(bitsEqual(sharded.lookup(ALL), plain.lookup(ALL))).toBe(-1);
      for (let step = 0; step < 12; step++) {
        // Some updates stay inside one shard (the others take an empty step), most span all.
        const k = step % 4 === 3 ? 20 : 300;
        const lo = step % 4 === 3 ? 500 : 0;
        const hi = step % 4 === 3 ? 749 : ROWS - 1;
        const ids = Int32Array.from({ length: k }, (_, i) =>
          i < 8 ? [0, 249, 250, 499, 500, 749, 750, 999][i] : lo + Math.floor(r() * (hi - lo + 1)),
        );
        if (step % 4 === 3) ids.fill(600, 0, 8);
        for (let i = 8; i < 40; i++) ids[i] = ids[i - 8]; // duplicates
        const grads = Float32Array.from({ length: k * DIM }, () => (r() * 2 - 1) * (r() < 0.1 ? 50 : 1));
        expect(sharded.update(ids, grads)).toBe(true);
        expect(plain.update(ids, grads)).toBe(true);
        expect(sharded.lastUniqueRows).toBe(plain.lastUniqueRows);
      }
      expect(sharded.stepCount).toBe(12);
      const a = sharded.lookup(ALL);
      const b = plain.lookup(ALL);
      if (options.mode === 'exact') {
        // Exact mode replays missed steps in closed form; shards sweep their own rows, so rows may
        // be caught up at other steps than in one table: equal to float32 rounding.
        let worst = 0;
        for (let i = 0; i < a.length; i++)
          worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1e-3, Math.abs(b[i])));
        expect(worst).toBeLessThan(1e-5);
      } else {
        expect(bitsEqual(a, b)).toBe(-1);
        const sd = sharded.stateDict();
        const pd = plain.stateDict();
        expect(sd.rows).toBe(ROWS);
        expect(sd.stepCount).toBe(12);
        expect(bitsEqual(sd.weights, pd.weights)).toBe(-1);
        expect(Object.keys(sd.state)).toEqual(Object.keys(pd.state));
        for (const k of Object.keys(pd.state)) expect(bitsEqual(sd.state[k], pd.state[k]), k).toBe(-1);
      }
      // row(r): a live view of one row in its shard.
      const row = sharded.row(777);
      expect(Array.from(row)).toEqual(Array.from(a.subarray(777 * DIM, 778 * DIM)));
      expect(sharded.shardOf(777)).toBe(3);
      expect(sharded.shardStart(3)).toBe(750);
      sharded.dispose();
      plain.dispose();
      for (const e of sharded.engines) expect(e.memoryStats().blocksInUse).toBe(0);
    });
  }

  it('state dicts move between sharded and unsharded tables', () => {
    const r = rng(5);
    const opts: EmbeddingOptions = { optimizer: 'adam', lr: 0.02, init: 'zeros' };
    const a = new ShardedEmbedding(ROWS, DIM, { ...opts, maxShardRows: 400, engine: parent });
    const ids = Int32Array.from({ length: 200 }, () => Math.floor(r() * ROWS));
    const grads = Float32Array.from({ length: 200 * DIM }, () => r() - 0.5);
    a.update(ids, grads);
    a.update(ids.reverse(), grads);
    const dict = a.stateDict();
    const b = new Embedding(ROWS, DIM, { ...opts, engine: plainEngine });
    b.loadStateDict(dict);
    const c = new ShardedEmbedding(ROWS, DIM, { ...opts, maxShardRows: 150, engine: parent });
    c.loadStateDict(b.stateDict());
    expect(c.stepCount).toBe(2);
    for (const t of [a, b, c]) t.update(ids, grads);
    expect(bitsEqual(a.lookup(ALL), b.lookup(ALL))).toBe(-1);
    expect(bitsEqual(c.lookup(ALL), b.lookup(ALL))).toBe(-1);
    expect(() => c.loadStateDict({ ...dict, rows: 999 })).toThrow(/999 x 12 table, this one is 1000 x 12/);
    expect(() => c.loadStateDict({ ...dict, weights: new Float32Array(5) })).toThrow(/'weights' has 5 floats/);
    for (const t of [a, b, c]) t.dispose();
  });
});

describe('sharded tables: checks before any shard changes', () => {
  let parent: Engine;
  beforeAll(async () => {
    parent = await createEngine();
  });

  const make = (extra: EmbeddingOptions = {}): ShardedEmbedding =>
    new ShardedEmbedding(100, 4, {
      optimizer: 'adam',
      init: 'uniform',
      seed: 3,
      maxShardRows: 30,
      engine: parent,
      ...extra,
    });

  it('bad ids, gradients and sums throw (or skip) and change nothing', () => {
    const t = make();
    const before = t.lookup(Int32Array.from({ length: 100 }, (_, i) => i));
    const ids = Int32Array.from([0, 35, 99]);
    expect(() => t.update(Int32Array.from([0, 100]), new Float32Array(8))).toThrow(RangeError);
    expect(() => t.update(Int32Array.from([0, 100]), new Float32Array(8))).toThrow(
      /ids\[1\] = 100 is outside \[0, 100\)/,
    );
    expect(() => t.update([0, -1], new Float32Array(8))).toThrow(/ids\[1\] = -1/);
    expect(() => t.update([0, 1.5], new Float32Array(8))).toThrow(TypeError);
    expect(() => t.update(ids, new Float32Array(11))).toThrow(
      /'grads' must hold ids.length \* dim = 3 \* 4 = 12 floats, got 11/,
    );
    const nan = new Float32Array(12).fill(1);
    nan[9] = NaN; // id 99, the last shard
    expect(() => t.update(ids, nan)).toThrow(NonFiniteGradientError);
    expect(() => t.update(ids, nan)).toThrow(/grads\[9\] is NaN \(position 2, id 99, column 1\)/);
    // Two finite gradients of one id whose float32 sum overflows.
    const big = new Float32Array(12).fill(1);
    big.fill(3e38, 4, 8);
    big.fill(3e38, 8, 12);
    expect(() => t.update(Int32Array.from([0, 70, 70]), big)).toThrow(
      /id 70, which appears several times, sum to a non-finite value/,
    );
    expect(t.stepCount).toBe(0);
    for (let i = 0; i < t.shardCount; i++) expect(t.shard(i).stepCount).toBe(0);
    expect(bitsEqual(t.lookup(Int32Array.from({ length: 100 }, (_, i) => i)), before)).toBe(-1);
    const skip = make({ nonFinite: 'skip' });
    expect(skip.update(ids, nan)).toBe(false);
    expect(skip.stepCount).toBe(0);
    expect(skip.update(ids, new Float32Array(12).fill(1))).toBe(true);
    expect(skip.stepCount).toBe(1);
    t.dispose();
    skip.dispose();
  });

  it('implements every member Embedding delegates; whole-table views and checkpoints say what to use instead', () => {
    const t = make();
    // Embedding delegates each public member to its table (src/embedding/table.ts, EmbeddingTable):
    // a ShardedEmbedding has every one of them, as LocalEmbedding does.
    const wrapped = new Embedding(100, 4, { optimizer: 'adam', init: 'uniform', seed: 3, engine: parent });
    expect(wrapped.table).toBeInstanceOf(LocalEmbedding);
    for (const name of Object.getOwnPropertyNames(Embedding.prototype)) {
      if (name === 'constructor') continue;
      expect(name in t, `ShardedEmbedding has ${name}`).toBe(true);
      expect(name in wrapped.table, `LocalEmbedding has ${name}`).toBe(true);
    }
    wrapped.dispose();
    expect(t.shardCount).toBe(4);
    expect(t.shard(3).rows).toBe(25);
    expect(() => t.weights).toThrow(/split into 4 shards.*shard\(i\)\.weights/);
    expect(() => t.state('exp_avg')).toThrow(/shard\(i\)\.state\(name\)/);
    expect(() => t.save()).toThrow(/shard\(i\)\.save\(\)/);
    expect(() => t.shard(4)).toThrow(RangeError);
    expect(() => t.row(100)).toThrow(RangeError);
    expect(t.stateKeys).toEqual(['exp_avg', 'exp_avg_sq']);
    expect(t.seed).toBe(3);
    expect(t.shard(1).seed).toBe(4);
    t.lr = 0.5;
    for (let i = 0; i < 4; i++) expect(t.shard(i).lr).toBe(0.5);
    expect(() => {
      t.lr = -1;
    }).toThrow(/lr/);
    expect(t.shard(2).lr).toBe(0.5);
    expect(t.gradView(3)).toHaveLength(12);
    expect(t.lookupView([1, 2])).toHaveLength(8);
    t.dispose();
    expect(() => t.lookup([0])).toThrow(DisposedError);
    expect(() => t.update([0], new Float32Array(4))).toThrow(DisposedError);
  });

  it('bad options throw before anything is allocated', () => {
    const blocks = parent.memoryStats().blocksInUse;
    expect(() => new ShardedEmbedding(100, 4, { engine: parent, maxShardRows: 0 })).toThrow(
      /'maxShardRows' must be an integer in \[1/,
    );
    expect(() => new ShardedEmbedding(100, 4, { engine: parent, optimizer: 'rmsprop' as never })).toThrow(/optimizer/);
    expect(() => new ShardedEmbedding(100, 4, { engine: parent, init: new Float32Array(7) })).toThrow(
      /'init' holds 7 values, the table needs rows \* dim = 400/,
    );
    expect(() => new ShardedEmbedding(0, 4, { engine: parent })).toThrow(/'rows'/);
    expect(parent.memoryStats().blocksInUse).toBe(blocks);
  });
});

describe('engine blocks in freshly grown memory', () => {
  // alloc() clears only the part of a block below the memory's old end (fresh pages are zeros, and
  // touching gigabytes of them costs seconds) plus the allocator's links at both ends of the block.
  it('every block comes out zero, also when memory grew for it, across random alloc/free with dirty frees', async () => {
    for (const engine of [
      await createEngine({ simd: false }),
      await createEngine({ simd: true }),
      await createEngine({ threads: 2 }),
    ]) {
      const r = rng(11);
      const live: [number, number][] = [];
      let grew = 0;
      for (let op = 0; op < 160; op++) {
        if (live.length > 0 && r() < 0.4) {
          const [p] = live.splice(Math.floor(r() * live.length), 1)[0];
          engine.free(p);
          continue;
        }
        const bytes = r() < 0.12 ? (1 << 20) + Math.floor(r() * (6 << 20)) : 16 + Math.floor(r() * 50_000);
        const before = engine.memory.buffer.byteLength;
        const p = engine.alloc(bytes);
        if (engine.memory.buffer.byteLength > before) grew++;
        const u32 = new Uint32Array(engine.memory.buffer, p, Math.ceil(bytes / 4));
        let nonZero = -1;
        for (let i = 0; i < u32.length; i++)
          if (u32[i] !== 0) {
            nonZero = i;
            break;
          }
        expect(nonZero, `block ${op} of ${bytes} bytes at ${p}`).toBe(-1);
        u32.fill(0xffffffff); // leave garbage for the next owner of these bytes
        live.push([p, bytes]);
      }
      expect(grew).toBeGreaterThan(2);
      for (const [p] of live) engine.free(p);
      await engine.shutdownThreads();
    }
  });
});

describe('a table over 4 GiB', () => {
  // 18M x 64 float32 with SGD: 4.6 GB of weights, past one wasm32 memory. Needs that much RAM.
  const ROWS_BIG = 18_000_000;
  const DIM_BIG = 64;
  const need = ROWS_BIG * DIM_BIG * 4 + 2 * 2 ** 30;
  const enough = totalmem() >= need;
  if (!enough)
    console.warn(
      `a table over 4 GiB: this machine has ${(totalmem() / 2 ** 30).toFixed(1)} GiB of RAM, the test needs ${(need / 2 ** 30).toFixed(1)} GiB; it checks the shard plan only`,
    );

  it('new Embedding(18M, 64) is sharded; lookups and updates reach rows in every shard', async () => {
    const parent = await createEngine();
    if (!enough) {
      // The plan alone: 5 shards of at most one 1 GiB block each.
      const { shardRowsFor } = await import('../src/embedding/sharded.js');
      expect(Math.ceil(ROWS_BIG / shardRowsFor(ROWS_BIG, DIM_BIG, { optimizer: 'sgd' }))).toBe(5);
      return;
    }
    const t0 = performance.now();
    const table = new Embedding(ROWS_BIG, DIM_BIG, { optimizer: 'sgd', lr: 0.5, init: 'zeros', engine: parent });
    // Past one engine block, the factory puts the table in shards; Embedding delegates to them.
    expect(table.table).toBeInstanceOf(ShardedEmbedding);
    const emb = table.table as ShardedEmbedding;
    expect(emb.shardCount).toBe(5);
    const bytes = emb.engines.reduce((s, e) => s + e.memoryStats().bytesInUse, 0);
    expect(bytes).toBeGreaterThan(4 * 2 ** 30);
    for (const e of emb.engines) expect(e.memoryStats().bytesInUse).toBeLessThan(4 * 2 ** 30);
    // The first, last and a middle row of every shard, and a row seen twice.
    const ids: number[] = [];
    for (let s = 0; s < emb.shardCount; s++) {
      const a = emb.shardStart(s);
      const b = Math.min(ROWS_BIG, a + emb.shardRows) - 1;
      ids.push(a, b, (a + b) >> 1);
    }
    ids.push(ids[4]);
    const idArr = Int32Array.from(ids);
    const grads = new Float32Array(ids.length * DIM_BIG);
    ids.forEach((_, i) => {
      for (let c = 0; c < DIM_BIG; c++) grads[i * DIM_BIG + c] = (i + 1) * 0.25 + c / 64;
    });
    expect(emb.update(idArr, grads)).toBe(true);
    const got = emb.lookup(idArr);
    ids.forEach((id, i) => {
      for (let c = 0; c < DIM_BIG; c++) {
        // SGD from zeros: w = -lr * (sum of this id's gradients), summed in float32.
        let g = 0;
        ids.forEach((other, j) => {
          if (other === id) g = Math.fround(g + grads[j * DIM_BIG + c]);
        });
        expect(got[i * DIM_BIG + c]).toBe(Math.fround(-0.5 * g));
      }
    });
    expect(emb.row(ids[14])[3]).toBe(got[14 * DIM_BIG + 3]);
    // Untouched neighbours stay zero; an out-of-range id changes nothing.
    expect(Array.from(emb.lookup([ids[0] + 1, ROWS_BIG - 2]).slice(0, 2))).toEqual([0, 0]);
    expect(() => emb.update([ROWS_BIG], new Float32Array(DIM_BIG))).toThrow(/outside \[0, 18000000\)/);
    expect(emb.stepCount).toBe(1);
    expect(table.stepCount).toBe(1);
    table.dispose();
    expect(emb.isDisposed).toBe(true);
    console.log(
      `a table over 4 GiB: ${(bytes / 2 ** 30).toFixed(2)} GiB in ${emb.shardCount} engines, built, updated and checked in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
  });
});
