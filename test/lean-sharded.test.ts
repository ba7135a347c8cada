// Lean tables past one engine (issue 18, item 4): a ShardedEmbedding with 16-bit weights or 8/16-bit
// state, or a lean optimizer, gives the same bits as one unsharded lean table (the stochastic
// rounding is keyed by the table's seed and table rows, not by the shard), on every build and next
// to a table whose updates are split across threads; checkpoints and state dicts work across
// shards; refused updates and loads change nothing. Also the range checks of lean storage: L2
// decay on decoded weights, and f16 weights an update would carry past 65504.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createEngine,
  Embedding,
  LeanEmbedding,
  NonFiniteGradientError,
  ShardedEmbedding,
  type EmbeddingOptions,
  type Engine,
  type ShardedEmbeddingOptions,
} from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { rng } from './rng.js';

const ROWS = 50;
const DIM = 7;
const SHARD_ROWS = 16; // at most 16 rows a shard: four shards of 13, 13, 13 and 11 rows

/** float32 bits of a Float32Array, for exact comparisons. */
function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

/** An update of 30 ids in [0, ROWS) with duplicates, gradients in [-1, 1). */
function batch(rand: () => number): { ids: Int32Array; grads: Float32Array } {
  const ids = Int32Array.from({ length: 30 }, () => Math.floor(rand() * ROWS));
  ids[1] = ids[0]; // a duplicate id in every update
  const grads = Float32Array.from({ length: ids.length * DIM }, () => 2 * rand() - 1);
  return { ids, grads };
}

const ALL = Int32Array.from({ length: ROWS }, (_, i) => i);

const CASES: [string, EmbeddingOptions][] = [
  ['adam, bf16 weights, int8 state', { optimizer: 'adam', lr: 0.01, weightType: 'bf16', stateType: 'int8' }],
  ['adam, f16 weights, bf16 state', { optimizer: 'adam', lr: 0.01, weightType: 'f16', stateType: 'bf16' }],
  ['sgd momentum, f32 weights, int8 state', { optimizer: 'sgd', lr: 0.05, momentum: 0.9, stateType: 'int8' }],
  ['rowwiseAdagrad, bf16 weights', { optimizer: 'rowwiseAdagrad', lr: 0.05, weightType: 'bf16' }],
  [
    'partialRowwiseAdam, bf16 weights, int8 state',
    { optimizer: 'partialRowwiseAdam', lr: 0.01, weightType: 'bf16', stateType: 'int8' },
  ],
  ['ftrl, f16 weights, bf16 state', { optimizer: 'ftrl', lr: 0.1, l1: 0.001, weightType: 'f16', stateType: 'bf16' }],
];

describe('sharded lean tables', () => {
  let parent: Engine;
  let threaded: Engine;
  beforeAll(async () => {
    parent = await createEngine({ simd: true });
    threaded = await createEngine({ simd: true, threads: 2, minParallelElements: 0 });
  });
  afterAll(async () => {
    await threaded.parallel?.shutdown();
  });

  for (const build of BUILD_NAMES) {
    it.each(CASES)(
      `%s (${build}): the same bits as one unsharded lean table over 25 updates, and as one split across threads`,
      async (_name, o) => {
        const engine = await engineFor(build);
        const rand = rng(11);
        const init = Float32Array.from({ length: ROWS * DIM }, () => 2 * rand() - 1);
        const common = { ...o, init, seed: 77 };
        const one = new Embedding(ROWS, DIM, { ...common, engine });
        const onThreads = new Embedding(ROWS, DIM, { ...common, engine: threaded });
        const sharded = new ShardedEmbedding(ROWS, DIM, {
          ...common,
          maxShardRows: SHARD_ROWS,
          engine: await createEngine({ simd: build === 'simd' }),
        });
        expect(one.table).toBeInstanceOf(LeanEmbedding);
        expect(sharded.shardCount).toBe(4);
        expect(sharded.shard(1)).toBeInstanceOf(LeanEmbedding);
        expect(sharded.shardRows).toBe(13);
        expect((sharded.shard(1) as LeanEmbedding).rowOffset).toBe(13);
        expect(sharded.weightType).toBe(one.weightType);
        expect(sharded.stateType).toBe(one.stateType);
        expect(sharded.bytesPerRow).toBe(one.bytesPerRow);
        for (let u = 0; u < 25; u++) {
          const { ids, grads } = batch(rand);
          expect(one.update(ids, grads)).toBe(true);
          expect(onThreads.update(ids, grads)).toBe(true);
          expect(sharded.update(ids, grads)).toBe(true);
        }
        expect(sharded.stepCount).toBe(25);
        const want = bits(one.lookup(ALL));
        expect(bits(sharded.lookup(ALL))).toEqual(want);
        expect(bits(onThreads.lookup(ALL))).toEqual(want);
        const a = sharded.stateDict(),
          b = one.stateDict();
        expect(Object.keys(a.state)).toEqual(one.stateKeys);
        for (const k of one.stateKeys) expect(bits(a.state[k]), k).toEqual(bits(b.state[k]));
        // The updates moved the rows (the comparison is not of initial values).
        expect(want).not.toEqual(bits(Float32Array.from(init)));
        for (const t of [one, onThreads, sharded]) t.dispose();
      },
    );
  }

  it('a random initialisation: shard i draws with seed + i, as float32 shards do, and rounds with the table seed', () => {
    const o: ShardedEmbeddingOptions = { optimizer: 'adam', weightType: 'bf16', seed: 5, maxShardRows: SHARD_ROWS };
    const sharded = new ShardedEmbedding(ROWS, DIM, { ...o, engine: parent });
    const f32 = new ShardedEmbedding(ROWS, DIM, {
      optimizer: 'adam',
      seed: 5,
      maxShardRows: SHARD_ROWS,
      engine: parent,
    });
    expect(sharded.seed).toBe(5);
    for (let i = 0; i < sharded.shardCount; i++) {
      const lean = sharded.shard(i) as LeanEmbedding;
      expect(lean.seed).toBe(5);
      // bf16 of the float32 shard's N(0, 1) draws of seed 5 + i, rounded to nearest.
      const want = f32.shard(i).weights.map((v) => {
        const u = new Uint32Array(new Float32Array([v]).buffer)[0];
        const r = (u + 0x7fff + ((u >>> 16) & 1)) & 0xffff0000;
        return new Float32Array(new Uint32Array([r >>> 0]).buffer)[0];
      });
      expect(bits(lean.stateDict().weights)).toEqual(bits(want));
    }
    sharded.dispose();
    f32.dispose();
  });

  it('checkpoints across shards: each shard saved and restored (load and fromCheckpoint) continues bit for bit', () => {
    const o: EmbeddingOptions = { optimizer: 'adam', lr: 0.01, weightType: 'bf16', stateType: 'int8', seed: 9 };
    const rand = rng(3);
    const init = Float32Array.from({ length: ROWS * DIM }, () => 2 * rand() - 1);
    const a = new ShardedEmbedding(ROWS, DIM, { ...o, init, maxShardRows: SHARD_ROWS, engine: parent });
    for (let u = 0; u < 10; u++) {
      const { ids, grads } = batch(rand);
      a.update(ids, grads);
    }
    const saved = Array.from({ length: a.shardCount }, (_, i) => a.shard(i).save());
    const b = new ShardedEmbedding(ROWS, DIM, { ...o, init: 'zeros', maxShardRows: SHARD_ROWS, engine: parent });
    saved.forEach((bytes, i) => b.shard(i).load(bytes));
    const restored = saved.map((bytes) => Embedding.fromCheckpoint(bytes, { engine: parent }));
    restored.forEach((e, i) => {
      expect(e.table).toBeInstanceOf(LeanEmbedding);
      expect((e.table as LeanEmbedding).rowOffset).toBe(i * a.shardRows);
    });
    expect(b.stepCount).toBe(10);
    for (let u = 0; u < 12; u++) {
      const { ids, grads } = batch(rand);
      a.update(ids, grads);
      b.update(ids, grads);
      // The restored shards by themselves: each takes its own rows (every shard steps every update).
      restored.forEach((e, i) => {
        const mine = Array.from(ids.keys()).filter((p) => Math.floor(ids[p] / a.shardRows) === i);
        const g = new Float32Array(mine.length * DIM);
        mine.forEach((p, j) => g.set(grads.subarray(p * DIM, (p + 1) * DIM), j * DIM));
        e.update(
          mine.map((p) => ids[p] - i * a.shardRows),
          g,
        );
      });
    }
    expect(bits(b.lookup(ALL))).toEqual(bits(a.lookup(ALL)));
    restored.forEach((e, i) => expect(Buffer.from(e.save()).equals(Buffer.from(a.shard(i).save()))).toBe(true));
    for (const t of [a, b, ...restored]) t.dispose();
  });

  it('state dicts across shards: an unsharded lean state dict loads into a sharded table and continues bit for bit; refused loads change nothing', () => {
    const o: EmbeddingOptions = { optimizer: 'rowwiseAdagrad', lr: 0.05, weightType: 'f16', seed: 4 };
    const rand = rng(8);
    const init = Float32Array.from({ length: ROWS * DIM }, () => 2 * rand() - 1);
    const one = new Embedding(ROWS, DIM, { ...o, init, engine: parent });
    for (let u = 0; u < 8; u++) {
      const { ids, grads } = batch(rand);
      one.update(ids, grads);
    }
    const dict = one.stateDict();
    const sharded = new ShardedEmbedding(ROWS, DIM, { ...o, init: 'zeros', maxShardRows: SHARD_ROWS, engine: parent });
    const shardBytes = (): Buffer[] =>
      Array.from({ length: sharded.shardCount }, (_, i) => Buffer.from(sharded.shard(i).save()));
    // Refused: a non-finite value in the last shard's rows (state, then weights), a short tensor.
    const before = shardBytes();
    const badState = { ...dict, state: { sum: dict.state.sum.slice() } };
    badState.state.sum[ROWS - 1] = NaN;
    expect(() => sharded.loadStateDict(badState)).toThrow(/finite/);
    const badWeights = { ...dict, weights: dict.weights.slice() };
    badWeights.weights[ROWS * DIM - 1] = Infinity;
    expect(() => sharded.loadStateDict(badWeights)).toThrow(/finite/);
    expect(() => sharded.loadStateDict({ ...dict, weights: dict.weights.subarray(1) })).toThrow(/floats/);
    expect(() => sharded.loadStateDict({ ...dict, options: { ...dict.options, lr: -1 } })).toThrow(/lr/);
    expect(shardBytes()).toEqual(before);
    expect(sharded.stepCount).toBe(0);
    sharded.loadStateDict(dict);
    expect(sharded.stepCount).toBe(8);
    for (let u = 0; u < 12; u++) {
      const { ids, grads } = batch(rand);
      one.update(ids, grads);
      sharded.update(ids, grads);
    }
    expect(bits(sharded.lookup(ALL))).toEqual(bits(one.lookup(ALL)));
    expect(bits(sharded.stateDict().state.sum)).toEqual(bits(one.stateDict().state.sum));
    one.dispose();
    sharded.dispose();
  });

  it('an update an f16 shard cannot hold is refused with every shard unchanged (throw and skip)', () => {
    for (const nonFinite of ['throw', 'skip'] as const) {
      const init = new Float32Array(ROWS * DIM).fill(0.5);
      init[40 * DIM + 3] = 60000; // row 40: the fourth shard (rows 39..49)
      const t = new ShardedEmbedding(ROWS, DIM, {
        optimizer: 'sgd',
        lr: 1,
        weightType: 'f16',
        init,
        seed: 1,
        nonFinite,
        maxShardRows: SHARD_ROWS,
        engine: parent,
      });
      t.update([1, 2], new Float32Array(2 * DIM).fill(0.25)); // one ordinary update first
      const before = Array.from({ length: t.shardCount }, (_, i) => Buffer.from(t.shard(i).save()));
      const grads = new Float32Array(3 * DIM).fill(0.125);
      grads[2 * DIM + 3] = -10000; // 60000 + 10000 > 65504
      const ids = [3, 20, 40];
      if (nonFinite === 'throw') {
        expect(() => t.update(ids, grads)).toThrow(NonFiniteGradientError);
        expect(() => t.update(ids, grads)).toThrow(/id 40 .*column 3.*65504/);
      } else expect(t.update(ids, grads)).toBe(false);
      expect(t.stepCount).toBe(1);
      for (let i = 0; i < t.shardCount; i++) {
        expect(Buffer.from(t.shard(i).save()).equals(before[i]), `shard ${i}`).toBe(true);
        expect(t.shard(i).stepCount).toBe(1);
      }
      // Without the overflowing row the same update goes through.
      grads[2 * DIM + 3] = 0.125;
      expect(t.update(ids, grads)).toBe(true);
      expect(t.stepCount).toBe(2);
      t.dispose();
    }
  });
});

describe('lean storage range checks', () => {
  for (const build of BUILD_NAMES) {
    it(`f16 weights (${build}): an update past 65504 is refused and changes nothing; 'skip' skips it; 'ignore' stores Infinity`, async () => {
      const engine = await engineFor(build);
      for (const nonFinite of ['throw', 'skip', 'ignore'] as const) {
        const init = new Float32Array(4 * 8).fill(1);
        init[2 * 8 + 5] = 65000;
        const t = new Embedding(4, 8, { optimizer: 'sgd', lr: 1, weightType: 'f16', init, seed: 2, nonFinite, engine });
        const before = Buffer.from(t.save());
        const g = new Float32Array(2 * 8).fill(0.5);
        g[8 + 5] = -1000; // row 2, column 5: 65000 + 1000
        if (nonFinite === 'throw') {
          expect(() => t.update([0, 2], g)).toThrow(NonFiniteGradientError);
          expect(() => t.update([0, 2], g)).toThrow(/id 2 .*column 5.*65504/);
        } else if (nonFinite === 'skip') expect(t.update([0, 2], g)).toBe(false);
        else {
          expect(t.update([0, 2], g)).toBe(true);
          expect(t.lookup([2])[5]).toBe(Infinity);
          t.dispose();
          continue;
        }
        expect(t.stepCount).toBe(0);
        expect(Buffer.from(t.save()).equals(before)).toBe(true);
        // Just below the limit is fine.
        g[8 + 5] = -400;
        expect(t.update([0, 2], g)).toBe(true);
        expect(t.lookup([2])[5]).toBeGreaterThan(65000);
        t.dispose();
      }
    });

    it(`L2 decay on lean weights (${build}): g + wd * w overflowing float32 is refused before anything changes`, async () => {
      const engine = await engineFor(build);
      for (const weightType of ['bf16', 'f32'] as const) {
        const init = new Float32Array(3 * 4).fill(0.5);
        init[4 + 1] = 3e38; // row 1, column 1 (bf16: rounds to 2.999e38)
        const t = new Embedding(3, 4, {
          optimizer: 'adam',
          weightDecay: 10,
          weightType,
          stateType: 'int8',
          init,
          seed: 2,
          engine,
        });
        const before = Buffer.from(t.save());
        expect(() => t.update([0, 1], new Float32Array(8).fill(0.5))).toThrow(
          /id 1 with L2 weight decay.*overflows float32 at column 1/,
        );
        expect(Buffer.from(t.save()).equals(before)).toBe(true);
        expect(t.stepCount).toBe(0);
        // A row without such a weight steps.
        expect(t.update([0, 2], new Float32Array(8).fill(0.5))).toBe(true);
        t.dispose();
      }
    });
  }
});
