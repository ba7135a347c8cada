// Exact mode of partialRowwiseAdam tables (FBGEMM's PARTIAL_ROWWISE_ADAM: m per element, v one float
// per row; assembly/embedding/exact.ts, rowAdamCatchUp): a table in exact mode must hold what the
// optimizer gives stepping every row at every update, the rows an update does not name with a zero
// gradient. Compared with the float64 reference written from FBGEMM's formula (test/reference/lean.ts,
// stepped densely) and with a lazy table of the same optimizer that is sent every row at every update
// (zero gradients for the rows not named: the float32 kernel stepping densely), over hundreds of
// updates with gaps longer than the summed window (J = 263 for betas[0] = 0.9), rate schedules, weight
// decay, tiny gradients (sqrt(v) near eps), lookups, flushes, sweeps of lagging rows, a wrapped history
// ring, checkpoints (a resumed table equals the uninterrupted one bit for bit), threads, and the SIMD
// and scalar builds (the same bits).
import { beforeAll, describe, expect, it } from 'vitest';
import { createEngine, Embedding, ShardedEmbedding, type EmbeddingOptions, type Engine } from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { LeanRef, type LeanRefOptions } from './reference/lean.js';
import { maxRelError } from './embedding-ref.js';
import { expectRefusedWithoutAllocation } from './refusal-util.js';
import { rng } from './rng.js';

// |table - reference| / (|reference| + FLOOR) below TOL, as test/embedding-exact.test.ts.
const TOL = 2e-5;
const FLOOR = 1e-2;

/** Largest |a − b| / (|b| + floor) over all elements, and where (embedding-ref's, FLOOR by default). */
const relErr = (a: ArrayLike<number>, b: ArrayLike<number>, floor = FLOOR) => maxRelError(a, b, floor);

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

/**
 * Partial row-wise Adam stepping every row in float64 arithmetic with the float32 coefficients the
 * kernel is given (src/optimizers/rowwise.ts writeHyper: fround(beta2), fround(lr / (1 - b1^t)), ...):
 * for long runs, where FBGEMM's formula with beta2 = 0.999 itself drifts from the kernel's
 * fround(0.999) (v decays by b2^K: 5e-5 apart after 4000 updates, in the dense float32 table too).
 */
class Ref32 {
  readonly w: Float64Array;
  readonly state: { exp_avg: Float64Array; exp_avg_sq: Float64Array };
  private t = 0;
  constructor(
    readonly rows: number,
    readonly dim: number,
    init: ArrayLike<number>,
    readonly o: LeanRefOptions,
  ) {
    this.w = Float64Array.from(init);
    this.state = { exp_avg: new Float64Array(rows * dim), exp_avg_sq: new Float64Array(rows) };
  }
  update(ids: Int32Array, grads: Float32Array): void {
    const f = Math.fround;
    const { rows, dim, o, w } = this;
    const t = ++this.t;
    const [b1, b2] = o.betas ?? [0.9, 0.999];
    const ss = f(o.lr / (1 - Math.pow(b1, t))),
      ib = f(1 / Math.sqrt(1 - Math.pow(b2, t))),
      eps = f(o.eps ?? 1e-8),
      lwd = f(o.lr * (o.weightDecay ?? 0));
    const g = allRows(ids, grads, rows, dim).grads;
    const m = this.state.exp_avg,
      v = this.state.exp_avg_sq;
    for (let r = 0; r < rows; r++) {
      let sq = 0;
      for (let c = 0; c < dim; c++) sq += g[r * dim + c] ** 2;
      v[r] = (sq / dim) * f(1 - b2) + v[r] * f(b2);
      const k = ss / (Math.sqrt(v[r]) * ib + eps);
      for (let c = 0, i = r * dim; c < dim; c++, i++) {
        m[i] = f(b1) * m[i] + f(1 - b1) * (o.maximize ? -g[i] : g[i]);
        w[i] -= k * m[i] + lwd * w[i];
      }
    }
  }
}

interface Run {
  rows: number;
  dim: number;
  updates: number;
  /** ids of update u (default: 1-4 random rows, skewed to the low ones). */
  ids?: (u: number, rand: () => number) => Int32Array;
  /** Gradient scale of update u's element i (default 1). */
  scale?: (u: number, i: number) => number;
  /** lr of update u (default: constant). */
  lr?: (u: number) => number;
  /** Compare lookups of a few rows every this many updates. */
  lookupEvery?: number;
  /** Also run the lazy table sent every row (the float32 kernel stepping densely) and compare. */
  dense32?: boolean;
  /** Long runs: compare with Ref32 instead of FBGEMM's formula. */
  ref32?: boolean;
}

function defaultIds(rows: number) {
  return (_u: number, rand: () => number) =>
    Int32Array.from({ length: 1 + Math.floor(4 * rand()) }, () => Math.floor(rows * rand() * rand()));
}

/** The update's gradients with every row: zeros for the rows `ids` does not name. */
function allRows(ids: Int32Array, grads: Float32Array, rows: number, dim: number) {
  const g = new Float32Array(rows * dim);
  ids.forEach((r, k) => {
    for (let c = 0; c < dim; c++) g[r * dim + c] = Math.fround(g[r * dim + c] + grads[k * dim + c]);
  });
  return { ids: Int32Array.from({ length: rows }, (_, r) => r), grads: g };
}

/** Runs an exact table against the float64 reference stepping every row; returns the table (caller disposes). */
function compare(engine: Engine, o: LeanRefOptions, run: Run, seed = 1): Embedding {
  const { rows, dim, updates } = run;
  const rand = rng(seed);
  const init = Float32Array.from({ length: rows * dim }, () => 2 * rand() - 1);
  const opts = { optimizer: 'partialRowwiseAdam', ...o, init, engine } as EmbeddingOptions;
  const table = new Embedding(rows, dim, { ...opts, mode: 'exact' });
  const dense = run.dense32 ? new Embedding(rows, dim, { ...opts, mode: 'lazy' }) : null;
  const ref = run.ref32
    ? new Ref32(rows, dim, init, { ...o })
    : new LeanRef('partialRowwiseAdam', rows, dim, init, { ...o });
  const idsOf = run.ids ?? defaultIds(rows);
  try {
    for (let u = 0; u < updates; u++) {
      if (run.lr) table.lr = ref.o.lr = run.lr(u);
      if (dense) dense.lr = table.lr;
      const ids = idsOf(u, rand);
      const grads = Float32Array.from(
        { length: ids.length * dim },
        (_, i) => (2 * rand() - 1) * (run.scale?.(u, i) ?? 1),
      );
      expect(table.update(ids, grads)).toBe(true);
      if (ref instanceof LeanRef) ref.update(ids, grads, true);
      else ref.update(ids, grads);
      if (dense) {
        const a = allRows(ids, grads, rows, dim);
        dense.update(a.ids, a.grads);
      }
      if (run.lookupEvery && u % run.lookupEvery === 0) {
        const look = Int32Array.from({ length: 6 }, () => Math.floor(rows * rand()));
        const got = table.lookup(look);
        const want = new Float64Array(look.length * dim);
        look.forEach((r, i) => want.set(ref.w.subarray(r * dim, (r + 1) * dim), i * dim));
        const e = relErr(got, want);
        expect(e.err, `lookup after update ${u + 1}, element ${e.at}: ${got[e.at]} vs ${want[e.at]}`).toBeLessThan(TOL);
      }
    }
    const w = table.weights; // flushes
    const e = relErr(w, ref.w);
    expect(e.err, `weights[${e.at}] after ${updates} updates: ${w[e.at]} vs ${ref.w[e.at]}`).toBeLessThan(TOL);
    const m = relErr(table.state('exp_avg'), ref.state.exp_avg, 1e-6);
    expect(m.err, `exp_avg[${m.at}]`).toBeLessThan(1e-4);
    const v = relErr(table.state('exp_avg_sq'), ref.state.exp_avg_sq, 1e-12);
    expect(v.err, `exp_avg_sq[${v.at}]`).toBeLessThan(1e-4);
    if (dense) {
      const d = relErr(w, dense.weights);
      expect(d.err, `against the densely stepped float32 table, weights[${d.at}]`).toBeLessThan(TOL);
    }
  } catch (err) {
    table.dispose();
    throw err;
  } finally {
    dense?.dispose();
  }
  return table;
}

describe.each(BUILD_NAMES)('partialRowwiseAdam in exact mode = every row stepped every update (%s build)', (build) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await engineFor(build);
  });

  it.each([1, 5, 16, 64])('dim %i, 80 updates, lookups along the way, the densely stepped float32 table too', (dim) => {
    compare(engine, { lr: 0.01 }, { rows: 40, dim, updates: 80, lookupEvery: 5, dense32: true }).dispose();
  });

  it.each([5, 16])('dim %i: weight decay, maximize, betas (0.8, 0.99) and a cosine rate schedule', (dim) => {
    const lr = (u: number) => 0.001 + (0.02 * (1 + Math.cos((Math.PI * u) / 50))) / 2;
    const o: LeanRefOptions = { lr: 0.01, weightDecay: 0.1, maximize: true, betas: [0.8, 0.99], eps: 1e-6 };
    compare(engine, o, { rows: 40, dim, updates: 100, lr, lookupEvery: 7, dense32: true }).dispose();
  });

  it('rows untouched for longer than the summed window (gaps of 600 updates > J = 263), decay on', () => {
    const ids = (u: number) =>
      Int32Array.from(u === 5 || u === 606 || u === 1190 ? [0, 1, 2, 9] : [u % 3, (u + 1) % 3]);
    const o: LeanRefOptions = { lr: 0.005, weightDecay: 0.02 };
    compare(engine, o, { rows: 12, dim: 5, updates: 1200, ids, lookupEvery: 97, ref32: true }).dispose();
  });

  it('tiny gradients (sqrt(v) near eps: the term-by-term sum in early windows, the centred series later) and long gaps', () => {
    const ids = (u: number) => Int32Array.from(u % 40 === 0 ? [3, 4, 5, 6] : [u % 3]);
    const o: LeanRefOptions = { lr: 0.01, weightDecay: 0.1 };
    compare(engine, o, {
      rows: 8,
      dim: 9,
      updates: 700,
      ids,
      scale: () => 3e-8,
      lookupEvery: 13,
      ref32: true,
    }).dispose();
  });

  it('rows of tiny and of ordinary gradients side by side (each row takes its own branch of F)', () => {
    const ids = (u: number) => Int32Array.from(u % 25 === 0 ? [3, 4, 5, 6, 7] : [u % 3]);
    // Odd updates' rows get tiny gradients, even updates' ordinary ones.
    const scale = (u: number) => (u % 2 ? 1e-9 : 1e-3);
    compare(
      engine,
      { lr: 0.01, weightDecay: 0.05 },
      { rows: 9, dim: 13, updates: 600, ids, scale, lookupEvery: 11, ref32: true },
    ).dispose();
  });

  it('rows that lag thousands of updates (3000 rows swept one per update) and a wrapped history ring (4200 updates > 4096)', () => {
    const rows = 3000;
    const ids = (u: number, rand: () => number) => Int32Array.from([u % 4, Math.floor(rand() * rows)]);
    compare(
      engine,
      { lr: 0.002, weightDecay: 0.01 },
      { rows, dim: 2, updates: 4200, ids, lookupEvery: 499, ref32: true },
    ).dispose();
  });
});

describe('partialRowwiseAdam in exact mode: builds, checkpoints, flush, threads, the lazy mode', () => {
  const o: LeanRefOptions = { lr: 0.01, weightDecay: 0.05, betas: [0.85, 0.995] };
  const rows = 30,
    dim = 7;

  /** `n` updates of `tables` with the same ids and gradients (seeded by `seed`). */
  function drive(tables: Embedding[], n: number, seed: number, lr?: (u: number) => number) {
    const rand = rng(seed);
    for (let u = 0; u < n; u++) {
      const ids = defaultIds(rows)(u, rand);
      const grads = Float32Array.from({ length: ids.length * dim }, () => 2 * rand() - 1);
      for (const t of tables) {
        if (lr) t.lr = lr(u);
        expect(t.update(ids, grads)).toBe(true);
      }
    }
  }
  const make = (engine: Engine, mode: 'exact' | 'lazy' = 'exact') =>
    new Embedding(rows, dim, { optimizer: 'partialRowwiseAdam', ...o, mode, seed: 3, engine } as EmbeddingOptions);

  it('the SIMD and scalar builds give the same bits (weights, exp_avg, exp_avg_sq), lookups and flushes included', async () => {
    const tables = [make(await engineFor('simd')), make(await engineFor('scalar'))];
    const lr = (u: number) => 0.01 / (1 + u / 20);
    drive(tables, 150, 4, lr);
    const look = Int32Array.from([29, 3, 17]);
    expect(bits(tables[1].lookup(look))).toEqual(bits(tables[0].lookup(look)));
    drive(tables, 300, 5, lr);
    expect(bits(tables[1].weights)).toEqual(bits(tables[0].weights));
    for (const k of ['exp_avg', 'exp_avg_sq']) expect(bits(tables[1].state(k)), k).toEqual(bits(tables[0].state(k)));
    for (const t of tables) t.dispose();
  });

  it('save/fromCheckpoint resumes as if uninterrupted, bit for bit (the rows behind stay behind)', async () => {
    const engine = await engineFor('simd');
    const table = make(engine);
    drive([table], 120, 6);
    const back = Embedding.fromCheckpoint(table.save(), { engine });
    drive([table, back], 400, 7, (u) => 0.02 * 0.99 ** u);
    expect(bits(back.weights)).toEqual(bits(table.weights));
    for (const k of ['exp_avg', 'exp_avg_sq']) expect(bits(back.state(k)), k).toEqual(bits(table.state(k)));
    for (const t of [table, back]) t.dispose();
  });

  it('flushes and lookups along the way (catch-ups in several pieces) and a loaded state dict stay within TOL', async () => {
    const engine = await engineFor('simd');
    const [a, b] = [make(engine), make(engine)];
    for (let i = 0; i < 6; i++) {
      drive([a, b], 40, 10 + i);
      b.flush();
      b.lookup(Int32Array.from([i, rows - 1 - i]));
    }
    expect(relErr(b.weights, a.weights).err).toBeLessThan(TOL);
    const c = new Embedding(rows, dim, {
      optimizer: 'partialRowwiseAdam',
      ...o,
      mode: 'exact',
      init: 'zeros',
      engine,
    } as EmbeddingOptions);
    c.loadStateDict(a.stateDict());
    drive([a, c], 300, 20);
    expect(relErr(c.weights, a.weights).err).toBeLessThan(TOL);
    for (const t of [a, b, c]) t.dispose();
  });

  it('an engine with 3 threads gives the bits of one thread', async () => {
    const three = await createEngine({ simd: true, threads: 3, minParallelElements: 0 });
    try {
      const tables = [make(await engineFor('simd')), make(three)];
      drive(tables, 200, 8);
      expect(bits(tables[1].weights)).toEqual(bits(tables[0].weights));
      for (const t of tables) t.dispose();
    } finally {
      await three.shutdownThreads();
    }
  });

  it('a sharded table (4 shards, each with its own history ring and sweep) stays within TOL of the reference', async () => {
    const engine = await engineFor('simd');
    const rand = rng(14);
    const init = Float32Array.from({ length: 50 * dim }, () => 2 * rand() - 1);
    const sharded = new ShardedEmbedding(50, dim, {
      optimizer: 'partialRowwiseAdam',
      ...o,
      mode: 'exact',
      init,
      maxShardRows: 16,
      engine,
    } as EmbeddingOptions);
    expect(sharded.shardCount).toBe(4);
    const ref = new LeanRef('partialRowwiseAdam', 50, dim, init, { ...o });
    for (let u = 0; u < 300; u++) {
      const ids = Int32Array.from({ length: 3 }, () => Math.floor(50 * rand() * rand()));
      const grads = Float32Array.from({ length: 3 * dim }, () => 2 * rand() - 1);
      sharded.update(ids, grads);
      ref.update(ids, grads, true);
    }
    expect(relErr(sharded.lookup(Int32Array.from({ length: 50 }, (_, r) => r)), ref.w).err).toBeLessThan(TOL);
    sharded.dispose();
  });

  it('lazy mode leaves the untouched rows alone, so it differs (what exact mode fixes)', async () => {
    const engine = await engineFor('simd');
    const tables = [make(engine, 'lazy'), make(engine)];
    drive(tables, 50, 9);
    expect(relErr(tables[0].weights, tables[1].weights).err).toBeGreaterThan(1e-3);
    for (const t of tables) t.dispose();
  });

  it('refuses betas[0] whose window the ring cannot hold, and lr * weightDecay >= 1, changing nothing', async () => {
    const engine = await engineFor('simd');
    expect(
      () => new Embedding(10, 2, { optimizer: 'partialRowwiseAdam', mode: 'exact', betas: [0.99999, 0.999], engine }),
    ).toThrow(/betas\[0\] <= 0.9995/);
    const t = new Embedding(10, 2, {
      optimizer: 'partialRowwiseAdam',
      mode: 'exact',
      lr: 0.1,
      weightDecay: 0.5,
      seed: 1,
      engine,
    });
    t.update([1], [1, 1]);
    const before = t.weights.slice();
    t.lr = 2;
    expect(() => t.update([1], [1, 1])).toThrow(/lr \* weightDecay < 1/);
    expect(t.stepCount).toBe(1);
    expect(t.weights).toEqual(before);
    t.dispose();
  });
});

describe('exact mode refusals that name the fix and change nothing', () => {
  it('FTRL with l2Shrinkage > 0 (no closed form for the shrinkage of missed steps): constructor and loadStateDict', async () => {
    const engine = await engineFor('simd');
    expectRefusedWithoutAllocation(engine, [
      [
        () => new Embedding(10, 4, { optimizer: 'ftrl', mode: 'exact', l2Shrinkage: 0.1, engine }),
        /'l2Shrinkage' must be 0, got 0.1: .*moves the linear term z.*no closed form.*use l2Shrinkage: 0 or mode 'lazy'/,
        RangeError,
      ],
    ]);
    // A state dict whose options have shrinkage does not turn an exact table into one that cannot replay.
    const rand = rng(12);
    const exact = new Embedding(10, 4, { optimizer: 'ftrl', mode: 'exact', lr: 0.1, seed: 2, engine });
    const lazy = new Embedding(10, 4, { optimizer: 'ftrl', mode: 'lazy', lr: 0.1, l2Shrinkage: 0.1, seed: 3, engine });
    for (let u = 0; u < 3; u++) {
      const ids = Int32Array.from([u, 9 - u]);
      const grads = Float32Array.from({ length: 8 }, () => 2 * rand() - 1);
      exact.update(ids, grads);
      lazy.update(ids, grads);
    }
    const before = exact.stateDict();
    const dict = { ...lazy.stateDict(), mode: 'exact' as const };
    expect(() => exact.loadStateDict(dict)).toThrow(/use l2Shrinkage: 0 or mode 'lazy'/);
    const after = exact.stateDict();
    expect(after.stepCount).toBe(before.stepCount);
    expect(after.options).toEqual(before.options);
    expect(bits(after.weights)).toEqual(bits(before.weights));
    for (const k of exact.stateKeys) expect(bits(after.state[k]), k).toEqual(bits(before.state[k]));
    for (const t of [exact, lazy]) t.dispose();
  });

  it.each(['rowwiseAdagrad', 'partialRowwiseAdam', 'ftrl'] as const)(
    '%s: 16-bit weights and 16/8-bit state are lazy only (the catch-up reads float32 rows), nothing allocated',
    async (optimizer) => {
      const engine = await engineFor('simd');
      const decay = optimizer === 'rowwiseAdagrad' ? { weightDecay: 0.1, weightDecayMode: 'decoupled' } : {};
      const storages = [
        { weightType: 'bf16' },
        { weightType: 'f16' },
        { stateType: 'bf16' },
        { stateType: 'int8' },
        { weightType: 'bf16', stateType: 'int8' },
      ];
      expectRefusedWithoutAllocation(
        engine,
        storages.map((st) => [
          () => new Embedding(10, 4, { optimizer, mode: 'exact', ...decay, ...st, engine } as EmbeddingOptions),
          /mode 'exact' needs float32 storage.*use mode 'lazy', or weightType and stateType 'f32'/,
          RangeError,
        ]),
      );
      // The same options with float32 storage are accepted.
      new Embedding(10, 4, { optimizer, mode: 'exact', ...decay, engine } as EmbeddingOptions).dispose();
    },
  );
});
