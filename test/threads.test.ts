// Worker threads on shared memory: every optimizer gives the same bits on several threads as on
// one, the non-finite pre-pass and norms agree, small steps stay on the calling thread, a failed
// worker surfaces as an error (never a hang), environments without SharedArrayBuffer fall back to
// one thread, and a process with a pool exits by itself.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as api from '../src/index.js';
import {
  Adam,
  createEngine,
  init,
  getEngine,
  shutdownThreads,
  NonFiniteGradientError,
  Optimizer,
  ThreadPoolError,
  DEFAULT_MIN_PARALLEL_ELEMENTS,
  type Engine,
} from '../src/index.js';
import { BUILD_NAMES, createThreadEngines, poolOf, shutdownThreadEngines, type ThreadEngines } from './engines.js';
import { randomArray, rng } from './rng.js';
import { firstBitDiff as bitDiff } from './dense-util.js';

type AnyOpt = Optimizer<Record<string, unknown>>;
type Ctor = new (o: object) => AnyOpt;

/** Every dense optimizer class the package exports (so that new ones are covered too). */
const OPTIMIZER_CLASSES: [string, Ctor][] = Object.entries(api)
  .filter(([, v]) => typeof v === 'function' && (v as { prototype?: unknown }).prototype instanceof Optimizer)
  .map(([k, v]) => [k, v as unknown as Ctor]);

/** Option variants that reach each kernel branch of the optimizers we know; others run with defaults. */
const VARIANTS: Record<string, Record<string, unknown>[]> = {
  Adam: [{}, { amsgrad: true, weightDecay: 0.1 }, { maximize: true, lr: 0.01 }],
  AdamW: [{}, { amsgrad: true }],
  SGD: [
    { lr: 0.01 },
    { lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 0.01 },
    { lr: 0.01, momentum: 0.8, dampening: 0.3 },
  ],
  Adagrad: [{}, { lrDecay: 0.01, weightDecay: 0.1, initialAccumulatorValue: 0.5 }],
  RMSprop: [{}, { centered: true, momentum: 0.9, weightDecay: 0.01 }],
};

/**
 * Runs the same optimizer on `engines` (same params, same gradients, a param added after two
 * steps, a few steps) and returns a description of every tensor that differs from engines[0].
 */
function compareRuns(
  make: (engine: Engine) => AnyOpt,
  engines: Engine[],
  sizes: number[],
  seed: number,
  steps = 4,
): string[] {
  const runs = engines.map((engine) => {
    const r = rng(seed);
    const opt = make(engine);
    const params = sizes.map((n) => opt.param(randomArray(n, r)));
    for (let s = 0; s < steps; s++) {
      if (s === 2) params.push(opt.param(randomArray(5003, r)));
      for (const p of params) p.grad.set(randomArray(p.length, r));
      opt.step();
    }
    return { opt, params };
  });
  const problems: string[] = [];
  const [ref, ...others] = runs;
  others.forEach((o, e) => {
    ref.params.forEach((p, i) => {
      const q = o.params[i];
      const d = bitDiff(p.data, q.data);
      if (d >= 0) problems.push(`engine ${e + 1} param #${i} (n=${p.length}) data[${d}]: ${q.data[d]} vs ${p.data[d]}`);
      for (const k of p.stateKeys) {
        const ds = bitDiff(p.state(k), q.state(k));
        if (ds >= 0) problems.push(`engine ${e + 1} param #${i} ${k}[${ds}]`);
      }
    });
  });
  for (const r of runs) r.opt.dispose();
  return problems;
}

/** A hand-built table of `sizes` gradient tensors (descriptor word 1 = grad, word 5 = length). */
function buildTable(engine: Engine, grads: Float32Array[]): { table: number; free(): void } {
  const table = engine.alloc(grads.length * 32);
  const blocks = grads.map((g) => {
    const p = engine.alloc(g.length * 4);
    engine.f32(p, g.length).set(g);
    return p;
  });
  const u32 = engine.heapU32;
  blocks.forEach((p, t) => {
    u32[(table >>> 2) + t * 8 + 1] = p;
    u32[(table >>> 2) + t * 8 + 5] = grads[t].length;
  });
  return {
    table,
    free: () => {
      blocks.forEach((p) => engine.free(p));
      engine.free(table);
    },
  };
}

it('the package exports the dense optimizers these tests cover', () => {
  const names = OPTIMIZER_CLASSES.map(([k]) => k);
  for (const k of ['Adam', 'AdamW', 'SGD', 'Adagrad', 'RMSprop']) expect(names).toContain(k);
});

describe.each(BUILD_NAMES)('threads (%s build)', (build) => {
  const simd = build === 'simd';
  // One engine, 2 threads with the default threshold (chunks shared between the calling thread and
  // its worker, whichever claims first), 3 threads splitting every step, every chunk in a worker.
  let engines: ThreadEngines;
  let one: Engine, two: Engine, three: Engine;
  beforeAll(async () => {
    engines = await createThreadEngines(simd);
    ({ one, two, three } = engines);
  });
  afterAll(() => shutdownThreadEngines(engines));

  it('starts the pool it was asked for, with the build it was asked for', () => {
    expect(three.threads).toBe(3);
    expect(two.threads).toBe(2);
    expect(three.simd).toBe(simd);
    expect(three.threadsFallbackReason).toBeNull();
    expect(three.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(one.threads).toBe(1);
    expect(poolOf(two).minParallelElements).toBe(DEFAULT_MIN_PARALLEL_ELEMENTS);
  });

  // Tensor sizes that cut tensors at odd places (1, 3, 17 elements) and across threads.
  const SMALL = [1, 3, 17, 64, 1000, 4097, 30001];
  const LARGE = [7, 200_003, 65, 70_001];

  for (const [kind, Cls] of OPTIMIZER_CLASSES) {
    const variants = VARIANTS[kind] ?? [{}];
    it(`${kind}: bit-identical on 3 threads (every step split) and on 2 threads (default threshold)`, () => {
      variants.forEach((options, v) => {
        const make = (engine: Engine): AnyOpt => new Cls({ ...options, engine });
        expect(
          compareRuns(make, [one, three], SMALL, 100 + v),
          `${kind} ${JSON.stringify(options)} on 3 threads`,
        ).toEqual([]);
        expect(
          compareRuns(make, [one, two, three], LARGE, 200 + v, 3),
          `${kind} ${JSON.stringify(options)} on 2 and 3 threads`,
        ).toEqual([]);
      });
    });
  }

  it('a kernel that is not elementwise gets whole tensors per chunk, with the same bits', () => {
    class WholeTensorAdam extends Adam {
      static override readonly declaration = { ...Adam.declaration, elementwise: false };
    }
    const spy = vi.spyOn(poolOf(three), 'run');
    const make = (engine: Engine): AnyOpt => new WholeTensorAdam({ engine, lr: 0.01 }) as unknown as AnyOpt;
    expect(compareRuns(make, [one, three], [...LARGE, 3, 90_000], 77, 3)).toEqual([]);
    expect(spy).toHaveBeenCalled();
    // Every chunk is a run of whole descriptors of the optimizer's own table (32-byte steps, no
    // sub-table copies), so no tensor was cut.
    for (const [jobs] of spy.mock.calls) {
      const starts = jobs.filter((j) => j.fn === 'adamStep').map((j) => j.args[0]);
      for (let i = 1; i < starts.length; i++) expect((starts[i] - starts[0]) % 32).toBe(0);
    }
    spy.mockRestore();
  });

  it('the non-finite pre-pass names the same first bad param and changes nothing', () => {
    const runs = [one, three, two].map((engine) => {
      const opt = new Adam({ lr: 0.1, engine });
      const ps = [opt.param(40_000), opt.param(90_001), opt.param(3), opt.param(50_000)];
      ps.forEach((p) => p.grad.fill(0.5));
      opt.step();
      // NaN late in param #1 (in the second thread's range) and an Infinity in param #3.
      ps[1].grad[90_000] = NaN;
      ps[3].grad[10] = -Infinity;
      return { opt, ps };
    });
    for (const { opt, ps } of runs) {
      expect(opt.firstNonFiniteGrad()).toBe(1);
      const before = ps.map((p) => p.data.slice());
      const m = ps.map((p) => p.state('exp_avg').slice());
      expect(() => opt.step()).toThrow(NonFiniteGradientError);
      expect(() => opt.step()).toThrow(/param #1 /);
      ps.forEach((p, i) => {
        expect(bitDiff(p.data, before[i])).toBe(-1);
        expect(bitDiff(p.state('exp_avg'), m[i])).toBe(-1);
      });
      expect(opt.stepCount).toBe(1);
      ps[1].grad[90_000] = 0;
      expect(opt.firstNonFiniteGrad()).toBe(3);
      ps[3].grad[10] = 0;
      expect(opt.firstNonFiniteGrad()).toBe(-1);
      opt.dispose();
    }
  });

  it('skips a non-finite step under nonFinite: "skip" on threads', () => {
    const opt = new Adam({ engine: three, nonFinite: 'skip' });
    const p = opt.param(new Float32Array(100_000).fill(1));
    p.grad.fill(1);
    p.grad[99_999] = Infinity;
    expect(opt.step()).toBe(false);
    expect(p.data.every((x) => x === 1)).toBe(true);
    p.grad[99_999] = 1;
    expect(opt.step()).toBe(true);
    expect(p.data[99_999]).toBe(Math.fround(1 - 1e-3));
    opt.dispose();
  });

  it('sums of squares (norms) are bit-identical to the single-thread kernel', () => {
    const r = rng(7);
    const grads = [5, 100_000, 3, 77_777, 1, 150_000, 12].map((n) => randomArray(n, r, 3));
    const tOne = buildTable(one, grads);
    const tThree = buildTable(three, grads);
    const want = one.exports.gradSumSquares(tOne.table, grads.length);
    expect(one.gradSumSquares(tOne.table, grads.length)).toBe(want);
    expect(three.gradSumSquares(tThree.table, grads.length)).toBe(want);
    expect(three.exports.gradSumSquares(tThree.table, grads.length)).toBe(want);
    // The f64 sum agrees with a direct float64 sum to rounding.
    let direct = 0;
    for (const g of grads) for (const x of g) direct += x * x;
    expect(Math.abs(want - direct) / direct).toBeLessThan(1e-12);
    tOne.free();
    tThree.free();
  });

  it('the tests above ran chunks in workers (3-thread engine: only there) and on 2 threads', () => {
    const s3 = poolOf(three).stats;
    expect(s3.chunks).toBeGreaterThan(100);
    expect(s3.chunksByWorkers).toBe(s3.chunks);
    expect(poolOf(two).stats.chunks).toBeGreaterThan(20);
  });

  it('steps params allocated after the pool started, also after memory grew', () => {
    const before = three.memory.buffer.byteLength;
    const make = (engine: Engine): AnyOpt => new Adam({ engine, amsgrad: true }) as unknown as AnyOpt;
    // Large enough that its five tensors cannot fit in the memory the earlier tests grew.
    const n = Math.max(1_500_001, Math.ceil(before / 4 / 5) + 1);
    expect(compareRuns(make, [one, three], [n, 17], 9, 2)).toEqual([]);
    expect(three.memory.buffer.byteLength).toBeGreaterThan(before);
  });
});

describe('threads: the engine instance in each worker', () => {
  it('instantiating the module again on the same memory (as each worker does) changes no byte of it', async () => {
    const engine = await createEngine({ threads: 2, minParallelElements: 0 });
    const opt = new Adam({ engine });
    const p = opt.param(new Float32Array(1000).map((_, i) => i));
    p.grad.fill(1);
    opt.step();
    const snapshot = new Uint8Array(engine.memory.buffer).slice();
    const bytes = readFileSync(new URL('../dist/wasm-optim.threads.wasm', import.meta.url));
    const module = new WebAssembly.Module(bytes);
    new WebAssembly.Instance(module, {
      env: {
        memory: engine.memory,
        abort() {
          throw new Error('abort');
        },
      },
    });
    const after = new Uint8Array(engine.memory.buffer);
    let changed = -1;
    for (let i = 0; i < snapshot.length; i++)
      if (after[i] !== snapshot[i]) {
        changed = i;
        break;
      }
    expect(changed).toBe(-1);
    // The allocator's state is intact: more blocks come out and the old ones keep their values.
    const q = opt.param(5000);
    q.grad.fill(2);
    opt.step();
    expect(p.data[999]).toBeLessThan(999);
    expect(engine.memoryStats().blocksInUse).toBeGreaterThan(2);
    opt.dispose();
    await engine.shutdownThreads();
  });
});

describe('threads: small steps stay on the calling thread', () => {
  it('below minParallelElements the workers are not involved; above it they are', async () => {
    const engine = await createEngine({ threads: 2, minParallelElements: 50_000 });
    const pool = poolOf(engine);
    const small = new Adam({ engine });
    const ps = small.param(49_999);
    ps.grad.fill(1);
    pool.injectFault(1, 'throw'); // a worker that throws at its next job
    expect(small.step()).toBe(true); // ran on this thread alone
    expect(small.step()).toBe(true);
    const big = new Adam({ engine });
    const pb = big.param(50_000);
    pb.grad.fill(1);
    expect(() => big.step()).toThrow(ThreadPoolError);
    small.dispose();
    big.dispose();
  });
});

describe('threads: a failed worker surfaces as an error, never a hang', () => {
  const setup = async (timeout?: number): Promise<{ engine: Engine; opt: Adam; p: api.Param }> => {
    const engine = await createEngine({ threads: 2, minParallelElements: 0, threadTimeoutMs: timeout });
    const opt = new Adam({ engine, lr: 0.01 });
    const p = opt.param(new Float32Array(10_000).fill(1));
    p.grad.fill(1);
    opt.step();
    return { engine, opt, p };
  };

  it('a worker that throws: the step throws a ThreadPoolError with its message, then the engine runs on one thread', async () => {
    const { engine, opt, p } = await setup();
    poolOf(engine).injectFault(1, 'throw');
    expect(() => opt.step()).toThrow(/worker 1 threw: fault injected by a test hook.*now runs on one thread/s);
    expect(engine.threads).toBe(1);
    expect(engine.parallel).toBeNull();
    expect(engine.threadsFallbackReason).toMatch(/thread pool failed: worker 1 threw/);
    const before = p.data[0];
    expect(opt.step()).toBe(true);
    expect(p.data[0]).toBeLessThan(before);
    expect(p.data[9999]).toBe(p.data[0]);
    opt.dispose();
  });

  it('a worker that exits during a step: that step throws', async () => {
    const { engine, opt } = await setup();
    poolOf(engine).injectFault(1, 'exit');
    expect(() => opt.step()).toThrow(/worker 1 died during a step/);
    expect(engine.threads).toBe(1);
    opt.dispose();
  });

  it('a worker that ended between steps: the next step throws before it changes anything', async () => {
    const { engine, opt, p } = await setup();
    await poolOf(engine).terminateWorker(1);
    const before = p.data.slice();
    expect(() => opt.step()).toThrow(/worker 1 (exited|died).*before the step started; nothing was changed/s);
    expect(bitDiff(p.data, before)).toBe(-1);
    expect(opt.stepCount).toBe(1);
    expect(engine.threads).toBe(1);
    expect(opt.step()).toBe(true);
    opt.dispose();
  });

  it('a worker that hangs: the step throws after threadTimeoutMs', async () => {
    const { engine, opt } = await setup(300);
    poolOf(engine).injectFault(1, 'hang');
    const t0 = performance.now();
    expect(() => opt.step()).toThrow(/worker 1 did not finish within 300 ms/);
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(engine.threads).toBe(1);
    opt.dispose();
  });
});

describe('threads: fallback and options', () => {
  it('without SharedArrayBuffer it warns, runs on one thread and says why', async () => {
    // Node sets up its worker machinery (a SharedArrayBuffer of its own) when worker_threads is
    // first loaded: load it before the global goes away, so later workers in this process work.
    await import('node:worker_threads');
    const g = globalThis as { SharedArrayBuffer?: unknown };
    const saved = g.SharedArrayBuffer;
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    let engine: Engine;
    let warnings: unknown[][];
    try {
      delete g.SharedArrayBuffer;
      expect(api.threadsUnavailableReason()).toMatch(/SharedArrayBuffer is not available/);
      engine = await createEngine({ threads: 4 });
    } finally {
      g.SharedArrayBuffer = saved;
      warnings = warn.mock.calls.slice();
      warn.mockRestore();
    }
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0][0])).toMatch(/running on one thread: SharedArrayBuffer is not available/);
    expect(engine.threads).toBe(1);
    expect(engine.parallel).toBeNull();
    expect(engine.threadsFallbackReason).toMatch(/Cross-Origin-Opener-Policy/);
    expect(engine.memory.buffer).toBeInstanceOf(ArrayBuffer);
    const opt = new Adam({ engine, lr: 0.5 });
    const p = opt.param([1, 2]);
    p.grad.set([1, -1]);
    opt.step();
    expect(Array.from(p.data)).toEqual([0.5, 2.5]);
    expect(api.threadsUnavailableReason()).toBeNull();
  });

  it('threads: 1 is an ordinary engine', async () => {
    const engine = await createEngine({ threads: 1 });
    expect(engine.threads).toBe(1);
    expect(engine.parallel).toBeNull();
    expect(engine.threadsFallbackReason).toBeNull();
    expect(engine.memory.buffer).toBeInstanceOf(ArrayBuffer);
  });

  it('bad thread options throw RangeErrors naming the option', async () => {
    for (const threads of [0, -1, 1.5, 65, NaN, '2']) {
      await expect(createEngine({ threads: threads as number })).rejects.toThrow(
        /option 'threads' must be an integer in \[1, 64\]/,
      );
    }
    await expect(createEngine({ threads: '2' as unknown as number })).rejects.toThrow(TypeError);
    await expect(createEngine({ threads: 1.5 })).rejects.toThrow(RangeError);
    await expect(createEngine({ threads: 2, minParallelElements: 'many' as unknown as number })).rejects.toThrow(
      TypeError,
    );
    await expect(createEngine({ threads: 2, minParallelElements: -5 })).rejects.toThrow(
      /'minParallelElements' must be a non-negative integer, got -5/,
    );
    await expect(createEngine({ threads: 2, threadTimeoutMs: 0 })).rejects.toThrow(
      /'threadTimeoutMs' must be a positive number/,
    );
    await expect(
      createEngine({ threads: 2, source: new URL('../dist/wasm-optim.simd.wasm', import.meta.url) }),
    ).rejects.toThrow(/must import a shared memory/);
  });

  it('ThreadPool.run checks its jobs', async () => {
    const engine = await createEngine({ threads: 2 });
    const pool = poolOf(engine);
    expect(() => pool.run([{ fn: 'nope' as never, args: [] }])).toThrow(/no function export 'nope'/);
    expect(() => pool.run(Array.from({ length: 257 }, () => ({ fn: 'simdEnabled', args: [] })))).toThrow(
      /at most 256 jobs per call, got 257/,
    );
    expect(() => pool.run([{ fn: 'simdEnabled', args: [1, 2, 3, 4, 5, 6, 7, 8, 9] }])).toThrow(
      /at most 8 arguments, got 9/,
    );
    expect(pool.run([])).toEqual([]);
    expect(pool.run(Array.from({ length: 9 }, () => ({ fn: 'simdEnabled', args: [] })))).toEqual(new Array(9).fill(1));
    await engine.shutdownThreads();
    expect(engine.threads).toBe(1);
    expect(() => pool.run([{ fn: 'simdEnabled', args: [] }])).toThrow(/shut down/);
  });
});

describe('engine siblings (the engines of sharded tables)', () => {
  it('a sibling is an independent engine of the same build, created synchronously', async () => {
    for (const parent of [await createEngine({ simd: false }), await createEngine({ simd: true, threads: 2 })]) {
      const child = parent.sibling();
      expect(child).not.toBe(parent);
      expect(child.simd).toBe(parent.simd);
      expect(child.module).toBe(parent.module);
      expect(child.memory).not.toBe(parent.memory);
      expect(child.threads).toBe(1);
      expect(child.memory.buffer instanceof SharedArrayBuffer).toBe(parent.memory.buffer instanceof SharedArrayBuffer);
      const parentBlocks = parent.memoryStats().blocksInUse;
      const a = child.alloc(64);
      expect(child.memoryStats().blocksInUse).toBe(1);
      expect(parent.memoryStats().blocksInUse).toBe(parentBlocks);
      child.free(a);
      await parent.shutdownThreads();
    }
  });
});

describe('threads: init({ threads }) and shutdownThreads()', () => {
  it('init starts the default engine on threads; optimizers use it; shutdownThreads stops it', async () => {
    const engine = await init({ threads: 2, minParallelElements: 1000 });
    expect(getEngine()).toBe(engine);
    expect(engine.threads).toBe(2);
    expect(await init({ threads: 2 })).toBe(engine);
    const single = await createEngine();
    const make = (e?: Engine): AnyOpt => new Adam({ lr: 0.01, ...(e ? { engine: e } : {}) }) as unknown as AnyOpt;
    const a = make();
    expect(a.engine).toBe(engine);
    const b = make(single);
    for (const opt of [a, b]) {
      const p = opt.param(new Float32Array(30_000).map((_, i) => Math.sin(i)));
      for (let s = 0; s < 3; s++) {
        p.grad.set(new Float32Array(30_000).map((_, i) => Math.cos(i * (s + 1))));
        opt.step();
      }
    }
    expect(bitDiff(a.params[0].data, b.params[0].data)).toBe(-1);
    await shutdownThreads();
    expect(engine.threads).toBe(1);
    a.params[0].grad.fill(1);
    expect(a.step()).toBe(true);
    await shutdownThreads(); // idempotent
  });
});

describe('threads: process exit', () => {
  const fixture = new URL('./fixtures/threads-exit.mts', import.meta.url).pathname;
  for (const mode of ['keep', 'shutdown']) {
    it(`a process with a pool exits by itself (${mode === 'keep' ? 'pool left running' : 'after shutdownThreads()'})`, () => {
      const t0 = performance.now();
      const r = spawnSync(process.execPath, ['--import', 'tsx', fixture, mode], { encoding: 'utf8', timeout: 60_000 });
      expect(r.signal, `killed after ${Math.round(performance.now() - t0)} ms; stderr: ${r.stderr}`).toBeNull();
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout.trim().split('\n').pop() as string);
      expect(out).toEqual({ threads: 2, first: Math.fround(1 - 0.01), last: Math.fround(1 - 0.01) });
    });
  }
});
