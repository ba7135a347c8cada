// Embedding updates split across worker threads (src/embedding/split-update.ts): the calling
// thread coalesces as on one thread while the workers prefetch the rows, then the distinct rows are
// stepped in ranges by every thread. Bit-identical to one thread, the same errors and `skip`, and
// no wait for a worker that does not answer in time.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createEngine,
  NonFiniteGradientError,
  DEFAULT_MIN_PARALLEL_ELEMENTS,
  Embedding,
  type Engine,
} from '../src/index.js';
import { BUILD_NAMES, createThreadEngines, poolOf, shutdownThreadEngines, type ThreadEngines } from './engines.js';
import { randomArray, rng } from './rng.js';
import { firstBitDiff as bitDiff } from './dense-util.js';
import { EMBEDDING_SPLIT_FACTOR } from '../src/embedding/local.js';
import { callExport } from '../src/threads/host.js';

describe.each(BUILD_NAMES)('threads: embedding updates (%s build)', (build) => {
  const simd = build === 'simd';
  // One engine, 2 threads with the default threshold, 3 threads splitting every update in workers.
  let engines: ThreadEngines;
  let one: Engine, two: Engine, three: Engine;
  beforeAll(async () => {
    engines = await createThreadEngines(simd);
    ({ one, two, three } = engines);
  });
  afterAll(() => shutdownThreadEngines(engines));

  for (const optimizer of ['sgd', 'adagrad', 'adam', 'adamw'] as const) {
    it(`Embedding (${optimizer}): updates split by row ranges across threads are bit-identical to one thread`, () => {
      const extra = optimizer === 'sgd' ? { momentum: 0.9 } : optimizer === 'adamw' ? { amsgrad: true } : {};
      const rows = 40000;
      const dim = 64;
      const tables = [one, two, three].map(
        (engine) => new Embedding(rows, dim, { optimizer, lr: 0.01, ...extra, seed: 9, init: 'normal', engine }),
      );
      const runs = [two, three].map((e) => vi.spyOn(poolOf(e), 'run'));
      const r = rng(17);
      let big = 0;
      for (let step = 0; step < 4; step++) {
        const k = step === 2 ? 10 : 30000; // a small update stays on the calling thread
        const ids = Int32Array.from({ length: k }, () => Math.floor(rows * r() ** 2)); // skewed: many duplicates
        const grads = randomArray(k * dim, r);
        for (const t of tables) expect(t.update(ids, grads)).toBe(true);
        if (k * dim >= DEFAULT_MIN_PARALLEL_ELEMENTS * EMBEDDING_SPLIT_FACTOR) big++;
      }
      // The 2-thread engine splits the updates whose gradients pass its threshold for tables
      // (EMBEDDING_SPLIT_FACTOR x its minParallelElements), the 3-thread one every update: the
      // coalescing beside the workers' prefetch, then the row steps (at least one row per thread).
      expect(big).toBeGreaterThan(0);
      expect(big).toBeLessThan(4);
      const prefetching = (m: (typeof runs)[number]) =>
        m.mock.calls.filter(([jobs]) => jobs.every((j) => j.fn === 'embPrefetchRows')).length;
      // (Their row steps too, when a worker took the prefetch in time: the 3-thread engine's workers
      // do all the work, so there they always do.)
      // (The default engine backs off for a few updates after a split that waited for its worker.)
      expect(prefetching(runs[0])).toBeGreaterThanOrEqual(1);
      expect(prefetching(runs[0])).toBeLessThanOrEqual(big);
      expect(runs[0].mock.calls.length).toBeGreaterThanOrEqual(prefetching(runs[0]));
      expect(runs[0].mock.calls.length).toBeLessThanOrEqual(2 * prefetching(runs[0]));
      expect(runs[1]).toHaveBeenCalledTimes(8);
      expect(prefetching(runs[1])).toBe(4);
      runs.forEach((m) => m.mockRestore());
      const [ref, ...others] = tables;
      for (const t of others) {
        expect(bitDiff(t.weights, ref.weights)).toBe(-1);
        for (const k of ref.stateKeys) expect(bitDiff(t.state(k), ref.state(k)), k).toBe(-1);
      }
      for (const t of tables) t.dispose();
    });
  }

  it('Embedding: a split update refuses non-finite gradients and sums like one thread, naming the same id, changing nothing', () => {
    const rows = 5000;
    const dim = 8;
    const make = (engine: Engine, nonFinite?: 'skip') =>
      new Embedding(rows, dim, { optimizer: 'adam', lr: 0.01, seed: 2, init: 'normal', engine, nonFinite });
    const [a, b] = [one, three].map((e) => make(e));
    const run = vi.spyOn(poolOf(three), 'run');
    const r = rng(5);
    const ids = Int32Array.from({ length: 3000 }, () => Math.floor(rows * r() ** 3));
    const grads = randomArray(ids.length * dim, r);
    for (const t of [a, b]) t.update(ids, grads);
    const before = b.weights.slice();
    // Two bad rows in different places of the batch: one thread and three give the same error.
    const bad = grads.slice();
    const small = Math.min(...ids);
    const large = ids.find((id) => id > small + 100) as number;
    bad[ids.lastIndexOf(small) * dim + 3] = NaN;
    bad[ids.indexOf(large) * dim] = Infinity;
    const msg = (t: Embedding, g: Float32Array, at: Int32Array = ids) => {
      try {
        t.update(at, g);
      } catch (e) {
        expect(e).toBeInstanceOf(NonFiniteGradientError);
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(msg(b, bad)).toMatch(/grads\[\d+\] is (NaN|Infinity)/);
    expect(msg(b, bad)).toBe(msg(a, bad));
    // Duplicates whose sum overflows float32: the same id named.
    const twice = Int32Array.from([large, 7, large]);
    const huge = new Float32Array(3 * dim).fill(3e38);
    huge.fill(0, dim, 2 * dim);
    expect(msg(b, huge, twice)).toMatch(new RegExp(`id ${large}, which appears several times`));
    expect(msg(b, huge, twice)).toBe(msg(a, huge, twice));
    // A row whose square overflows (Adam squares its gradients): the smallest such id, as on one thread.
    const sq = grads.slice();
    sq[ids.indexOf(large) * dim + 1] = 2e19;
    sq[ids.indexOf(small) * dim + 2] = -3e19;
    expect(msg(b, sq)).toMatch(new RegExp(`gradient of id ${small} has magnitude`));
    expect(msg(b, sq)).toBe(msg(a, sq));
    expect(bitDiff(b.weights, before)).toBe(-1);
    expect(b.stepCount).toBe(1);
    // Each of those ran its coalescing beside the workers' prefetch.
    expect(run.mock.calls.filter(([jobs]) => jobs[0].fn === 'embPrefetchRows').length).toBeGreaterThanOrEqual(7);
    run.mockRestore();
    // nonFinite: 'skip' skips the update on threads too.
    const c = make(three, 'skip');
    const w0 = c.weights.slice();
    expect(c.update(ids, bad)).toBe(false);
    expect(bitDiff(c.weights, w0)).toBe(-1);
    expect(c.update(ids, grads)).toBe(true);
    expect(bitDiff(c.weights, w0)).toBeGreaterThanOrEqual(0);
    for (const t of [a, b, c]) t.dispose();
  });

  it('Embedding: a split update coalesces as one thread does while a worker prefetches the rows (every way of passing the gradients), bit for bit', async () => {
    const engine = await createEngine({ simd: build === 'simd', threads: 2, minParallelElements: 0 });
    try {
      const pool = poolOf(engine);
      const rows = 3000;
      const dim = 12; // 1365 rows per 64 KiB piece: the batches below cross 5-18 pieces
      const make = (e: Engine) =>
        new Embedding(rows, dim, { optimizer: 'adam', lr: 0.01, seed: 3, init: 'normal', engine: e });
      const [a, b] = [one, engine].map(make);
      const r = rng(11);
      pool.workersOnly = true; // the calling thread claims nothing: the worker prefetches (or finds it stopped) and steps every row
      const before = pool.stats.chunksByWorkers;
      for (let step = 0; step < 8; step++) {
        const k = 6000 + 2500 * step;
        const ids = Int32Array.from({ length: k }, () => Math.floor(rows * r() ** 2));
        const g32 = randomArray(k * dim, r);
        const way = step % 4;
        const grads =
          way === 0 ? g32 : way === 1 ? Float64Array.from(g32) : way === 2 ? Array.from(g32) : b.gradView(k);
        if (way === 3) (grads as Float32Array).set(g32);
        expect(a.update(ids, g32)).toBe(true);
        expect(b.update(ids, grads)).toBe(true);
        expect(b.lastUniqueRows).toBe(a.lastUniqueRows);
      }
      pool.workersOnly = false;
      // Each update: the prefetch and at least two chunks of rows, all in the worker.
      expect(pool.stats.chunksByWorkers - before).toBeGreaterThanOrEqual(8 * 3);
      expect(bitDiff(b.weights, a.weights)).toBe(-1);
      for (const key of a.stateKeys) expect(bitDiff(b.state(key), a.state(key))).toBe(-1);
      for (const t of [a, b]) t.dispose();
    } finally {
      await engine.shutdownThreads();
    }
  });

  it('Embedding: a split update whose worker reads every row of the update while the calling thread coalesces (prefetchShare 1; by default its share) leaves the same bits', async () => {
    const engine = await createEngine({ simd: build === 'simd', threads: 2, minParallelElements: 0 });
    try {
      const make = (e: Engine) =>
        new Embedding(3000, 12, { optimizer: 'adam', lr: 0.01, seed: 5, init: 'normal', engine: e });
      const [a, b] = [one, engine].map(make);
      const r = rng(13);
      for (let step = 0; step < 4; step++) {
        const ids = Int32Array.from({ length: 5000 }, () => Math.floor(3000 * r() ** 2));
        const grads = randomArray(ids.length * 12, r);
        expect(a.update(ids, grads)).toBe(true);
        expect(b.update(ids, grads)).toBe(true);
        // The splitter exists after the first split update; from then on its worker reads every row.
        const split = (b as unknown as { table: { splitter: { prefetchShare: number } | null } }).table.splitter;
        expect(split).not.toBeNull();
        expect((split as { prefetchShare: number }).prefetchShare).toBeGreaterThan(0);
        (split as { prefetchShare: number }).prefetchShare = 1;
      }
      expect(bitDiff(b.weights, a.weights)).toBe(-1);
      for (const key of a.stateKeys) expect(bitDiff(b.state(key), a.state(key))).toBe(-1);
      for (const t of [a, b]) t.dispose();
    } finally {
      await engine.shutdownThreads();
    }
  });

  // minParallelElements 0: every update splits (no back-off); 1: the default rule, which backs off.
  for (const min of [0, 1]) {
    it(`Embedding: a worker that does not take the prefetch in time is not waited for${min ? ', and the next updates back off' : ''}, bit for bit`, async () => {
      const engine = await createEngine({ simd: build === 'simd', threads: 2, minParallelElements: min });
      try {
        const pool = poolOf(engine);
        const make = (e: Engine) =>
          new Embedding(3000, 12, { optimizer: 'adam', lr: 0.01, seed: 4, init: 'normal', engine: e });
        const [a, b] = [one, engine].map(make);
        const r = rng(12);
        // A worker without a core: every job (the prefetch, found stopped) runs on the calling thread.
        const run = vi.spyOn(pool, 'run').mockImplementation((jobs, during) => {
          during?.();
          return jobs.map((j) => callExport(engine, j.fn, j.args));
        });
        for (let step = 0; step < 6; step++) {
          const ids = Int32Array.from({ length: 5000 }, () => Math.floor(3000 * r() ** 2));
          const grads = randomArray(ids.length * 12, r);
          expect(a.update(ids, grads)).toBe(true);
          expect(b.update(ids, grads)).toBe(true);
          expect(b.lastUniqueRows).toBe(a.lastUniqueRows);
        }
        // Each split runs the prefetch only, never the row steps: nobody waits for that worker. Backing
        // off, updates 1, 3 and 6 try to split (1, then 2 updates skipped); forced, all six do.
        expect(run).toHaveBeenCalledTimes(min ? 3 : 6);
        expect(run.mock.calls.every(([jobs]) => jobs.length === 1 && jobs[0].fn === 'embPrefetchRows')).toBe(true);
        run.mockRestore();
        expect(bitDiff(b.weights, a.weights)).toBe(-1);
        for (const key of a.stateKeys) expect(bitDiff(b.state(key), a.state(key))).toBe(-1);
        for (const t of [a, b]) t.dispose();
      } finally {
        await engine.shutdownThreads();
      }
    });
  }

  it('Embedding in exact mode on a threaded engine runs on the calling thread and agrees bit for bit', () => {
    const tables = [one, three].map(
      (engine) => new Embedding(800, 20, { optimizer: 'adam', mode: 'exact', seed: 4, engine }),
    );
    const r = rng(3);
    for (let step = 0; step < 5; step++) {
      const ids = Int32Array.from({ length: 400 }, () => Math.floor(800 * r()));
      const grads = randomArray(400 * 20, r);
      for (const t of tables) t.update(ids, grads);
    }
    expect(bitDiff(tables[1].weights, tables[0].weights)).toBe(-1);
    for (const t of tables) t.dispose();
  });
});
