// The memory-lean table optimizers: rowwiseAdagrad and partialRowwiseAdam as pytorch/FBGEMM
// defines them (fbgemm_gpu/codegen/genscript/optimizers.py) and ftrl as TensorFlow's ApplyFtrlV2
// (tensorflow/core/kernels/training_ops.cc) with Keras' beta: float64 references
// (test/reference/lean.ts) across dims that hit the SIMD tails, gradient regimes and
// hyperparameters; SIMD = scalar and threads = one thread bit for bit; checkpoints, state dicts,
// safetensors and shards continue bit for bit; exact mode (decoupled decay); the footprint; the
// dense FTRL class; and bad options refused with errors that name the fix.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import {
  Embedding,
  FTRL,
  ShardedEmbedding,
  ThreadPool,
  createEngine,
  type EmbeddingOptions,
  type Engine,
} from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { LeanRef, type LeanKind, type LeanRefOptions } from './reference/lean.js';
import { expectRefusedWithoutAllocation } from './refusal-util.js';
import { rng } from './rng.js';

const DIMS = [1, 3, 4, 5, 63, 64, 65];
type Regime = 'normal' | 'tiny' | 'huge' | 'duplicates';
const REGIMES: Regime[] = ['normal', 'tiny', 'huge', 'duplicates'];

/** Hyperparameter sets per optimizer: defaults, decay modes, maximize, FTRL's regularizers and powers. */
const CASES: [LeanKind, LeanRefOptions][] = [
  ['rowwiseAdagrad', { lr: 0.05 }],
  ['rowwiseAdagrad', { lr: 0.05, weightDecay: 0.1, eps: 1e-6, initialAccumulatorValue: 0.01 }],
  ['rowwiseAdagrad', { lr: 0.02, weightDecay: 0.2, weightDecayMode: 'decoupled', maximize: true }],
  ['partialRowwiseAdam', { lr: 0.01 }],
  ['partialRowwiseAdam', { lr: 0.01, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.05, maximize: true }],
  ['ftrl', { lr: 0.1 }],
  ['ftrl', { lr: 0.05, l1: 0.01, l2: 0.1, l2Shrinkage: 0.05, beta: 0.5, initialAccumulatorValue: 0.2 }],
  ['ftrl', { lr: 0.05, learningRatePower: -0.7, l1: 0.001, maximize: true }],
  ['ftrl', { lr: 0.05, learningRatePower: 0, l2: 0.01, initialAccumulatorValue: 0 }],
];

const UPDATES = 12;

/** The ids and gradients of update `u` in `regime` for a `rows` x `dim` table. */
function batch(
  rand: () => number,
  regime: Regime,
  rows: number,
  dim: number,
): { ids: Int32Array; grads: Float32Array } {
  const k = regime === 'duplicates' ? 24 : 6;
  const ids = Int32Array.from({ length: k }, () =>
    regime === 'duplicates' ? Math.floor(rows * rand() * rand() * rand()) : Math.floor(rows * rand()),
  );
  const scale = regime === 'tiny' ? 1e-6 : regime === 'huge' ? 1e4 : 1;
  const grads = Float32Array.from({ length: k * dim }, () => (2 * rand() - 1) * scale * (rand() < 0.1 ? 0 : 1));
  return { ids, grads };
}

/** Worst |engine - reference| over a tensor, relative to the reference's largest |value| (floor 1e-30). */
function worst(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let big = 1e-30,
    err = 0;
  for (let i = 0; i < b.length; i++) big = Math.max(big, Math.abs(b[i]));
  for (let i = 0; i < b.length; i++) err = Math.max(err, Math.abs(a[i] - b[i]));
  return err / big;
}

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

function options(kind: LeanKind, o: LeanRefOptions): EmbeddingOptions {
  return { optimizer: kind, ...o } as EmbeddingOptions;
}

/** Runs `updates` updates of one case on `engine`; returns the table (caller disposes) and the reference. */
function run(engine: Engine, kind: LeanKind, o: LeanRefOptions, dim: number, regime: Regime, updates = UPDATES) {
  const rows = 9;
  const rand = rng(dim * 31 + REGIMES.indexOf(regime));
  const init = Float32Array.from({ length: rows * dim }, () => 2 * rand() - 1);
  const table = new Embedding(rows, dim, { ...options(kind, o), init, engine });
  const ref = new LeanRef(kind, rows, dim, init, o);
  for (let u = 0; u < updates; u++) {
    const { ids, grads } = batch(rand, regime, rows, dim);
    expect(table.update(ids, grads)).toBe(true);
    ref.update(ids, grads);
  }
  return { table, ref };
}

describe.each(BUILD_NAMES)('lean table optimizers against the float64 references (%s build)', (build) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await engineFor(build);
  });

  it.each(CASES)('%s %j: every dim and gradient regime within 2e-5 of the reference', (kind, o) => {
    for (const dim of DIMS) {
      for (const regime of REGIMES) {
        const { table, ref } = run(engine, kind, o, dim, regime);
        // FTRL with tiny gradients: g^2 ~ 1e-12 is below half an ulp of the float32 accumulator
        // (0.1: ulp 7e-9), so n' = n in float32 and the float64 reference's sigma * w (~1e-11
        // against a linear of ~1e-6) is lost to the state's precision, as in TensorFlow's kernel.
        const tol = kind === 'ftrl' && regime === 'tiny' ? 1e-4 : 2e-5;
        try {
          const where = `${kind} dim ${dim} ${regime}`;
          expect(worst(table.weights, ref.w), `${where} weights`).toBeLessThan(tol);
          for (const k of table.stateKeys) {
            expect(table.state(k).length, `${where} ${k} length`).toBe(ref.state[k].length);
            expect(worst(table.state(k), ref.state[k]), `${where} ${k}`).toBeLessThan(tol);
          }
        } finally {
          table.dispose();
        }
      }
    }
  });
});

describe('lean table optimizers: builds, threads, checkpoints, shards', () => {
  it.each(CASES)('%s %j: the SIMD and scalar builds agree bit for bit at every dim and regime', async (kind, o) => {
    const simd = await engineFor('simd'),
      scalar = await engineFor('scalar');
    for (const dim of DIMS) {
      for (const regime of REGIMES) {
        const a = run(simd, kind, o, dim, regime).table;
        const b = run(scalar, kind, o, dim, regime).table;
        expect(bits(a.weights), `${kind} dim ${dim} ${regime}`).toEqual(bits(b.weights));
        for (const k of a.stateKeys) expect(bits(a.state(k)), `${k} dim ${dim} ${regime}`).toEqual(bits(b.state(k)));
        a.dispose();
        b.dispose();
      }
    }
  });

  it.each(['rowwiseAdagrad', 'partialRowwiseAdam', 'ftrl'] as const)(
    '%s: updates split by row ranges across 3 threads equal one thread bit for bit',
    async (optimizer) => {
      const one = await engineFor('simd');
      const three = await createEngine({ simd: true, threads: 3, minParallelElements: 0 });
      try {
        const rows = 3000,
          dim = 20;
        const tables = [one, three].map((engine) => new Embedding(rows, dim, { optimizer, lr: 0.01, seed: 9, engine }));
        const spy = vi.spyOn(three.parallel as ThreadPool, 'run');
        const rand = rng(17);
        for (let s = 0; s < 4; s++) {
          const ids = Int32Array.from({ length: 2000 }, () => Math.floor(rows * rand() ** 2));
          const grads = Float32Array.from({ length: ids.length * dim }, () => 2 * rand() - 1);
          for (const t of tables) expect(t.update(ids, grads)).toBe(true);
        }
        // Every update was split across the workers: its coalescing beside their prefetch, then its
        // row steps when a worker answered in time (src/embedding/split-update.ts).
        expect(spy.mock.calls.length).toBeGreaterThanOrEqual(4);
        expect(spy.mock.calls.length).toBeLessThanOrEqual(8);
        expect(spy.mock.calls.filter(([jobs]) => jobs[0].fn === 'embPrefetchRows')).toHaveLength(4);
        spy.mockRestore();
        expect(bits(tables[1].weights)).toEqual(bits(tables[0].weights));
        for (const k of tables[0].stateKeys) expect(bits(tables[1].state(k))).toEqual(bits(tables[0].state(k)));
        for (const t of tables) t.dispose();
      } finally {
        await three.shutdownThreads();
      }
    },
  );

  it.each(CASES)(
    '%s %j: save/fromCheckpoint, stateDict and safetensors round trips continue bit for bit',
    async (kind, o) => {
      const engine = await engineFor('simd');
      const dim = 5,
        rows = 9;
      const rand = rng(3);
      const table = new Embedding(rows, dim, { ...options(kind, o), seed: 4, engine });
      const next = () => batch(rand, 'duplicates', rows, dim);
      for (let u = 0; u < 5; u++) {
        const { ids, grads } = next();
        table.update(ids, grads);
      }
      const fromCkpt = Embedding.fromCheckpoint(table.save(), { engine });
      const fromDict = new Embedding(rows, dim, { ...options(kind, o), init: 'zeros', engine });
      fromDict.loadStateDict(table.stateDict());
      const fromSt = new Embedding(rows, dim, { ...options(kind, o), init: 'zeros', engine });
      fromSt.loadSafetensors(table.saveSafetensors());
      const all = [table, fromCkpt, fromDict, fromSt];
      for (let u = 0; u < 5; u++) {
        const { ids, grads } = next();
        for (const t of all) t.update(ids, grads);
      }
      for (const t of all.slice(1)) {
        expect(t.stepCount).toBe(table.stepCount);
        expect(bits(t.weights)).toEqual(bits(table.weights));
        for (const k of table.stateKeys) expect(bits(t.state(k)), k).toEqual(bits(table.state(k)));
      }
      for (const t of all) t.dispose();
    },
  );

  it.each(CASES)('%s %j: a sharded table equals one table bit for bit, state dicts included', async (kind, o) => {
    const engine = await engineFor('simd');
    const parent = await createEngine({ simd: true });
    const rows = 50,
      dim = 7;
    const rand = rng(5);
    const init = Float32Array.from({ length: rows * dim }, () => 2 * rand() - 1);
    const local = new Embedding(rows, dim, { ...options(kind, o), init, engine });
    const sharded = new ShardedEmbedding(rows, dim, { ...options(kind, o), init, maxShardRows: 16, engine: parent });
    expect(sharded.shardCount).toBe(4);
    for (let u = 0; u < 6; u++) {
      const { ids, grads } = batch(rand, 'duplicates', rows, dim);
      local.update(ids, grads);
      sharded.update(ids, grads);
    }
    const all = Int32Array.from({ length: rows }, (_, i) => i);
    expect(bits(sharded.lookup(all))).toEqual(bits(local.lookup(all)));
    const a = sharded.stateDict(),
      b = local.stateDict();
    for (const k of local.stateKeys) expect(bits(a.state[k]), k).toEqual(bits(b.state[k]));
    const again = new ShardedEmbedding(rows, dim, {
      ...options(kind, o),
      init: 'zeros',
      maxShardRows: 16,
      engine: parent,
    });
    again.loadStateDict(b);
    expect(bits(again.lookup(all))).toEqual(bits(local.lookup(all)));
    expect(sharded.bytesPerRow).toBe(local.bytesPerRow);
    for (const t of [local, sharded, again]) t.dispose();
  });
});

describe('rowwiseAdagrad in exact mode', () => {
  // dim 6: one row at a time; 8 and 64: the SIMD build's rows four at a time (assembly/optimizers/rowwise/lanes.ts).
  it.each([6, 8, 64])(
    'decoupled decay: untouched rows shrink by 1 - lr wd per step (FBGEMM DECOUPLE_GLOBAL), as the dense reference (dim %i)',
    async (dim) => {
      const engine = await engineFor('simd');
      const rows = 40;
      const o: LeanRefOptions = { lr: 0.05, weightDecay: 0.3, weightDecayMode: 'decoupled' };
      const rand = rng(8);
      const init = Float32Array.from({ length: rows * dim }, () => 2 * rand() - 1);
      const table = new Embedding(rows, dim, { ...options('rowwiseAdagrad', o), mode: 'exact', init, engine });
      const ref = new LeanRef('rowwiseAdagrad', rows, dim, init, o);
      for (let u = 0; u < 30; u++) {
        const ids = Int32Array.from({ length: 9 }, () => Math.floor(rows * rand() * rand()));
        const grads = Float32Array.from({ length: 9 * dim }, () => 2 * rand() - 1);
        table.update(ids, grads);
        ref.update(ids, grads, true);
      }
      expect(worst(table.weights, ref.w)).toBeLessThan(1e-5);
      expect(worst(table.state('sum'), ref.state.sum)).toBeLessThan(1e-5);
      // The lazy table leaves untouched rows alone: it differs.
      table.dispose();
    },
  );

  it.each([5, 8])('without decay, exact mode equals lazy mode bit for bit (dim %i)', async (dim) => {
    const engine = await engineFor('simd');
    const rand = rng(2);
    const tables = (['lazy', 'exact'] as const).map(
      (mode) => new Embedding(20, dim, { optimizer: 'rowwiseAdagrad', mode, seed: 1, engine }),
    );
    for (let u = 0; u < 5; u++) {
      const { ids, grads } = batch(rand, 'duplicates', 20, dim);
      for (const t of tables) t.update(ids, grads);
    }
    expect(bits(tables[1].weights)).toEqual(bits(tables[0].weights));
    for (const t of tables) t.dispose();
  });

  it.each([6, 8, 64])('decoupled decay: the SIMD and scalar builds agree bit for bit (dim %i)', async (dim) => {
    const o: LeanRefOptions = { lr: 0.05, weightDecay: 0.3, weightDecayMode: 'decoupled', maximize: true };
    const out = [];
    for (const build of ['simd', 'scalar'] as const) {
      const engine = await engineFor(build);
      const rand = rng(dim);
      const table = new Embedding(40, dim, { ...options('rowwiseAdagrad', o), mode: 'exact', seed: 3, engine });
      for (let u = 0; u < 20; u++) {
        const { ids, grads } = batch(rand, 'duplicates', 40, dim);
        table.update(ids, grads);
      }
      out.push([bits(table.weights).slice(), bits(table.state('sum')).slice()]);
      table.dispose();
    }
    expect(out[0]).toEqual(out[1]);
  });
});

describe('footprint', () => {
  it('bytesPerRow and memoryStats: weights + state per row (Adam fp32 64-dim = 768 B)', async () => {
    const engine = await engineFor('simd');
    const expected: [EmbeddingOptions, number][] = [
      [{ optimizer: 'adam' }, 768],
      [{ optimizer: 'adam', amsgrad: true }, 1024],
      [{ optimizer: 'sgd' }, 256],
      [{ optimizer: 'rowwiseAdagrad' }, 260],
      [{ optimizer: 'partialRowwiseAdam' }, 516],
      [{ optimizer: 'ftrl' }, 768],
    ];
    for (const [o, bytes] of expected) {
      const t = new Embedding(100, 64, { ...o, engine });
      expect(t.bytesPerRow, JSON.stringify(o)).toBe(bytes);
      const s = t.memoryStats();
      expect(s).toEqual({
        rows: 100,
        weightBytesPerRow: 256,
        stateBytesPerRow: bytes - 256,
        bytesPerRow: bytes,
        tableBytes: 100 * bytes,
      });
      t.dispose();
    }
  });

  it("rowwiseAdagrad's state is one float per row; partialRowwiseAdam's exp_avg_sq too", async () => {
    const engine = await engineFor('simd');
    const a = new Embedding(10, 8, { optimizer: 'rowwiseAdagrad', initialAccumulatorValue: 0.5, engine });
    expect(a.stateKeys).toEqual(['sum']);
    expect(Array.from(a.state('sum'))).toEqual(new Array(10).fill(0.5));
    const b = new Embedding(10, 8, { optimizer: 'partialRowwiseAdam', engine });
    expect(b.stateKeys).toEqual(['exp_avg', 'exp_avg_sq']);
    expect(b.state('exp_avg').length).toBe(80);
    expect(b.state('exp_avg_sq').length).toBe(10);
    a.dispose();
    b.dispose();
  });
});

describe('per-row state in state dicts and safetensors', () => {
  it('a per-row tensor of the wrong length is refused, naming the length, and nothing changes', async () => {
    const engine = await engineFor('simd');
    const t = new Embedding(6, 4, { optimizer: 'rowwiseAdagrad', seed: 2, engine });
    t.update([1, 2], new Float32Array(8).fill(0.5));
    const dict = t.stateDict();
    const before = { w: bits(t.weights), s: bits(t.state('sum')) };
    const bad = { ...dict, state: { sum: new Float32Array(24) } };
    expect(() => t.loadStateDict(bad)).toThrow(/'state\.sum' has 24 floats, the table needs 6/);
    expect(bits(t.weights)).toEqual(before.w);
    expect(bits(t.state('sum'))).toEqual(before.s);
    t.dispose();
  });

  it('safetensors: per-row accumulators have shape [rows], per-element ones [rows, dim]', async () => {
    const { decodeSafetensors } = await import('../src/index.js');
    const engine = await engineFor('simd');
    const t = new Embedding(6, 4, { optimizer: 'partialRowwiseAdam', seed: 2, engine });
    t.update([1, 2], new Float32Array(8).fill(0.5));
    const f = decodeSafetensors(t.saveSafetensors());
    expect(f.metadata.optimizer).toBe('PartialRowwiseAdam');
    expect(f.tensors['state.0.exp_avg'].shape).toEqual([6, 4]);
    expect(f.tensors['state.0.exp_avg_sq'].shape).toEqual([6]);
    expect(f.tensors.weight.shape).toEqual([6, 4]);
    t.dispose();
  });
});

describe('the dense FTRL class', () => {
  it.each(BUILD_NAMES)(
    '%s build: FTRL on a param equals the float64 reference; lr_power -0.5 and -0.7',
    async (build) => {
      const engine = await engineFor(build);
      for (const o of [
        { lr: 0.1, l1: 0.01, l2: 0.05, l2Shrinkage: 0.02, beta: 0.3 },
        { lr: 0.05, learningRatePower: -0.7 },
      ]) {
        for (const n of [1, 7, 64, 65]) {
          const rand = rng(n);
          const init = Float32Array.from({ length: n }, () => 2 * rand() - 1);
          const opt = new FTRL({ engine, ...o });
          const p = opt.param(init);
          const ref = new LeanRef('ftrl', 1, n, init, o);
          for (let s = 0; s < 10; s++) {
            const g = Float32Array.from({ length: n }, () => 2 * rand() - 1);
            p.grad.set(g);
            opt.step();
            ref.update([0], g);
          }
          expect(worst(p.data, ref.w)).toBeLessThan(2e-5);
          expect(worst(p.state('accumulator'), ref.state.accumulator)).toBeLessThan(2e-5);
          expect(worst(p.state('linear'), ref.state.linear)).toBeLessThan(2e-5);
          opt.dispose();
        }
      }
    },
  );
});

describe('bad options are refused, naming the fix, and nothing is allocated', () => {
  it('tables and the dense class', async () => {
    const engine = await engineFor('simd');
    const mk = (o: Record<string, unknown>) => () => new Embedding(10, 4, { engine, ...o } as EmbeddingOptions);
    expectRefusedWithoutAllocation(engine, [
      [mk({ optimizer: 'ftrl', learningRatePower: 0.5 }), /learningRatePower.*0\.5/, RangeError],
      [mk({ optimizer: 'ftrl', l1: -1 }), /'l1'/, RangeError],
      [mk({ optimizer: 'ftrl', lr: 0 }), /'lr' must be > 0 for FTRL/, RangeError],
      [mk({ optimizer: 'ftrl', initialAccumulatorValue: -0.1 }), /initialAccumulatorValue/, RangeError],
      [mk({ optimizer: 'ftrl', weightDecay: 0.1 }), /weightDecay/, TypeError],
      [
        mk({ optimizer: 'rowwiseAdagrad', weightDecayMode: 'global' }),
        /weightDecayMode.*'l2'.*'decoupled'/,
        RangeError,
      ],
      [mk({ optimizer: 'rowwiseAdagrad', eps: -1 }), /'eps'/, RangeError],
      [mk({ optimizer: 'rowwiseAdagrad', betas: [0.9, 0.99] }), /betas/, TypeError],
      [
        mk({ optimizer: 'rowwiseAdagrad', mode: 'exact', weightDecay: 0.1 }),
        /weightDecayMode: 'decoupled'.*mode 'lazy'/,
        RangeError,
      ],
      [
        mk({ optimizer: 'partialRowwiseAdam', mode: 'exact', stateType: 'int8' }),
        /needs float32 storage.*mode 'lazy'/,
        RangeError,
      ],
      [mk({ optimizer: 'ftrl', mode: 'exact', l2Shrinkage: 0.1 }), /l2Shrinkage: 0 or mode 'lazy'/, RangeError],
      [mk({ optimizer: 'partialRowwiseAdam', betas: [1.5, 0.9] }), /betas/, RangeError],
      [() => new FTRL({ engine, l2: -1 }), /'l2'/, RangeError],
      [() => new FTRL({ engine, learningRatePower: 1 }), /learningRatePower/, RangeError],
    ]);
  });
});
