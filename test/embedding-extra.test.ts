// Embedding tables with the lazy-only optimizers, Adamax, Lion, Adadelta, NAdam and RAdam: the
// float64 sparse reference, the dense kernels on the same rows (bit for bit), the step-t schedule
// of a row first touched late, SIMD = scalar, state dicts and checkpoints, sharding, threads, and
// the checks that refuse bad input without changing anything. Both builds.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import {
  Adadelta,
  Adamax,
  Embedding,
  Lion,
  NAdam,
  NonFiniteGradientError,
  RAdam,
  ShardedEmbedding,
  ThreadPool,
  createEngine,
  type EmbeddingOptions,
  type Engine,
} from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { expectRefusedWithoutAllocation, expectThrows, type ErrorClass } from './refusal-util.js';
import { LazyRef, maxRelError, rng, skewedIds, uniform, type RefOptimizer, type RefOptions } from './embedding-ref.js';

type NewOptimizer = 'adamax' | 'lion' | 'adadelta' | 'nadam' | 'radam';
const NEW_OPTIMIZERS = ['adamax', 'lion', 'adadelta', 'nadam', 'radam'] as const;

/**
 * Each lazy-only optimizer: its dense class, its state tensors, and options (off the defaults,
 * decay on, maximize) for the tests that run every optimizer alike.
 */
const SPEC: Record<
  NewOptimizer,
  {
    Dense: typeof Adamax | typeof Lion | typeof Adadelta | typeof NAdam | typeof RAdam;
    state: string[];
    hyper: EmbeddingOptions;
  }
> = {
  adamax: {
    Dense: Adamax,
    state: ['exp_avg', 'exp_inf'],
    hyper: { lr: 0.01, betas: [0.85, 0.99], eps: 1e-6, weightDecay: 0.03, maximize: true },
  },
  lion: {
    Dense: Lion,
    state: ['exp_avg'],
    hyper: { lr: 0.004, betas: [0.9, 0.99], weightDecay: 0.05, maximize: true },
  },
  adadelta: {
    Dense: Adadelta,
    state: ['square_avg', 'acc_delta'],
    hyper: { lr: 0.5, rho: 0.8, eps: 1e-4, weightDecay: 0.03, maximize: true },
  },
  nadam: {
    Dense: NAdam,
    state: ['exp_avg', 'exp_avg_sq'],
    hyper: {
      lr: 0.01,
      betas: [0.85, 0.99],
      eps: 1e-6,
      momentumDecay: 0.01,
      weightDecay: 0.03,
      decoupledWeightDecay: true,
      maximize: true,
    },
  },
  radam: {
    Dense: RAdam,
    state: ['exp_avg', 'exp_avg_sq'],
    hyper: { lr: 0.01, betas: [0.85, 0.99], eps: 1e-6, weightDecay: 0.03, maximize: true },
  },
};

function bitsOf(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Everything an update may change: weights, every state tensor, the step count. */
function snapshot(emb: Embedding): { w: Float32Array; s: Float32Array[]; t: number } {
  return { w: emb.weights.slice(), s: emb.stateKeys.map((k) => emb.state(k)), t: emb.stepCount };
}

function expectUnchanged(emb: Embedding, before: ReturnType<typeof snapshot>): void {
  const now = snapshot(emb);
  expect(now.t).toBe(before.t);
  expect(bitsOf(now.w).equals(bitsOf(before.w))).toBe(true);
  now.s.forEach((s, i) => expect(bitsOf(s).equals(bitsOf(before.s[i]))).toBe(true));
}

// lr large enough that 25 steps move the weights well past float32 rounding; weight decay on and
// off (L2 and decoupled); maximize; non-default betas, eps, rho and momentumDecay. RAdam's default
// betas take the un-rectified step for t <= 5 (rho_t <= 5) and the rectified one after.
const CASES: { name: string; optimizer: NewOptimizer; o: RefOptions }[] = [
  { name: 'adamax', optimizer: 'adamax', o: { lr: 0.01, weightDecay: 0 } },
  { name: 'adamax, L2 decay', optimizer: 'adamax', o: { lr: 0.01, weightDecay: 0.1 } },
  {
    name: 'adamax, maximize, betas (0.8, 0.95), eps 1e-3',
    optimizer: 'adamax',
    o: { lr: 0.02, maximize: true, betas: [0.8, 0.95], eps: 1e-3 },
  },
  { name: 'adamax, L2 decay, maximize', optimizer: 'adamax', o: { lr: 0.01, weightDecay: 0.05, maximize: true } },
  { name: 'lion, no decay', optimizer: 'lion', o: { lr: 0.003, weightDecay: 0 } },
  { name: 'lion, decay 0.1', optimizer: 'lion', o: { lr: 0.003, weightDecay: 0.1 } },
  {
    name: 'lion, maximize, betas (0.95, 0.98)',
    optimizer: 'lion',
    o: { lr: 0.003, weightDecay: 0, maximize: true, betas: [0.95, 0.98] },
  },
  { name: 'lion, decay, maximize', optimizer: 'lion', o: { lr: 0.003, weightDecay: 0.02, maximize: true } },
  { name: 'adadelta', optimizer: 'adadelta', o: { lr: 1, weightDecay: 0 } },
  {
    name: 'adadelta, L2 decay, rho 0.95, eps 1e-4',
    optimizer: 'adadelta',
    o: { lr: 0.5, weightDecay: 0.1, rho: 0.95, eps: 1e-4 },
  },
  { name: 'adadelta, maximize, eps 1e-3', optimizer: 'adadelta', o: { lr: 1, maximize: true, eps: 1e-3 } },
  { name: 'nadam', optimizer: 'nadam', o: { lr: 0.01, weightDecay: 0 } },
  { name: 'nadam, L2 decay', optimizer: 'nadam', o: { lr: 0.01, weightDecay: 0.1 } },
  {
    name: 'nadam, decoupled decay, maximize, momentumDecay 0.05',
    optimizer: 'nadam',
    o: { lr: 0.01, weightDecay: 0.1, decoupledWeightDecay: true, maximize: true, momentumDecay: 0.05 },
  },
  { name: 'nadam, betas (0.8, 0.95), eps 1e-3', optimizer: 'nadam', o: { lr: 0.02, betas: [0.8, 0.95], eps: 1e-3 } },
  { name: 'radam (un-rectified, then rectified from rho_t > 5)', optimizer: 'radam', o: { lr: 0.01, weightDecay: 0 } },
  { name: 'radam, L2 decay', optimizer: 'radam', o: { lr: 0.01, weightDecay: 0.1 } },
  {
    name: 'radam, decoupled decay, maximize',
    optimizer: 'radam',
    o: { lr: 0.01, weightDecay: 0.1, decoupledWeightDecay: true, maximize: true },
  },
  {
    name: 'radam, betas (0.9, 0.6): never rectified (rho_inf = 4)',
    optimizer: 'radam',
    o: { lr: 0.01, betas: [0.9, 0.6] },
  },
];

describe.each(BUILD_NAMES)('Embedding with Adamax, Lion, Adadelta, NAdam and RAdam, lazy mode (%s)', (build) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await engineFor(build);
  });

  for (const c of CASES) {
    it.each([1, 5, 16, 64])(
      `${c.name}: matches the float64 sparse reference, dim %i, duplicate ids, untouched rows bit-unchanged`,
      (dim) => {
        const rows = 37,
          k = 24,
          steps = 25;
        const rand = rng(dim * 131 + c.name.length);
        const init = uniform(rand, rows * dim);
        const emb = new Embedding(rows, dim, { optimizer: c.optimizer, ...c.o, init, engine } as EmbeddingOptions);
        const ref = new LazyRef(c.optimizer as RefOptimizer, rows, dim, init, c.o);
        let sawDuplicate = false;
        for (let s = 0; s < steps; s++) {
          const ids = skewedIds(rand, k, rows);
          sawDuplicate ||= new Set(ids).size < k;
          const grads = uniform(rand, k * dim);
          const before = snapshot(emb);
          expect(emb.update(ids, grads)).toBe(true);
          ref.update(ids, grads);
          // Rows the update did not name, and their state, are bit for bit unchanged.
          const touched = new Set(ids);
          const after = snapshot(emb);
          let changed = 0;
          for (let r = 0; r < rows; r++) {
            if (touched.has(r)) continue;
            for (let j = 0; j < dim; j++) {
              const i = r * dim + j;
              if (!Object.is(after.w[i], before.w[i])) changed++;
              after.s.forEach((st, q) => {
                if (!Object.is(st[i], before.s[q][i])) changed++;
              });
            }
          }
          expect(changed).toBe(0);
        }
        expect(sawDuplicate).toBe(true);
        expect(emb.stepCount).toBe(steps);
        const { err, at } = maxRelError(emb.weights, ref.w, 1e-2);
        expect(err, `weights[${at}]: ${emb.weights[at]} vs ${ref.w[at]}`).toBeLessThan(2e-5);
        // The test moved the weights: a table that did nothing would fail the comparison above.
        expect(maxRelError(emb.weights, init, 1e-2).err).toBeGreaterThan(1e-3);
        const refState = [ref.s0, ref.s1];
        expect(emb.stateKeys).toEqual(SPEC[c.optimizer].state);
        emb.stateKeys.forEach((name, i) => {
          const e = maxRelError(emb.state(name), refState[i], 1e-3);
          expect(e.err, `${name}[${e.at}]`).toBeLessThan(1e-4);
        });
        emb.dispose();
      },
    );
  }

  it('adamax, first step by hand: m = 0.1 g, u = |g| + eps, p -= (lr / 0.1) m / u = lr sign(g); duplicates summed first', () => {
    const emb = new Embedding(6, 3, { optimizer: 'adamax', lr: 0.5, init: 'zeros', engine });
    // ids [2, 4, 2]: row 2's gradient is [1, -2, 0.5] + [1, 1, -1] = [2, -1, -0.5], row 4's [-3, 0.25, 4]
    emb.update(new Int32Array([2, 4, 2]), new Float32Array([1, -2, 0.5, -3, 0.25, 4, 1, 1, -1]));
    const x = emb.lookup([2, 4, 0]);
    const expected = [-0.5, 0.5, 0.5, 0.5, -0.5, -0.5, 0, 0, 0];
    expected.forEach((e, i) => expect(Math.abs(x[i] - e), `x[${i}]`).toBeLessThan(1e-6));
    expect(Array.from(emb.state('exp_inf').subarray(6, 9))).toEqual([2, 1, 0.5].map((v) => Math.fround(v + 1e-8)));
    emb.dispose();
  });

  it('lion, by hand: p -= lr (sign(c) + wd p), c = b1 m + (1 - b1) g; m = b2 m + (1 - b2) g', () => {
    const emb = new Embedding(4, 2, {
      optimizer: 'lion',
      lr: 0.25,
      weightDecay: 0.5,
      init: new Float32Array([0, 0, 1, -2, 0, 0, 0, 0]),
      engine,
    });
    // t = 1, m = 0: c = 0.1 g; row 1 = [1, -2] - 0.25 ([1, -1] + 0.5 [1, -2]) = [0.625, -1.5]
    emb.update([1], [3, -0.5]);
    expect(Array.from(emb.lookup([1]))).toEqual([0.625, -1.5]);
    expect(Array.from(emb.state('exp_avg').subarray(2, 4))).toEqual(
      [Math.fround(0.01) * 3, Math.fround(0.01) * -0.5].map(Math.fround),
    );
    // t = 2, g = [-1, 0]: c = 0.9 m + 0.1 g = [0.027 - 0.1, -0.0045] -> sign [-1, -1]
    emb.update([1], [-1, 0]);
    const x = emb.lookup([1]);
    expect(Math.abs(x[0] - (0.625 - 0.25 * (-1 + 0.5 * 0.625)))).toBeLessThan(1e-7);
    expect(Math.abs(x[1] - (-1.5 - 0.25 * (-1 + 0.5 * -1.5)))).toBeLessThan(1e-7);
    emb.dispose();
  });

  it('adadelta, first step by hand: sq = (1 - rho) g^2, d = sqrt(eps) / sqrt(sq + eps) g, acc = (1 - rho) d^2', () => {
    const emb = new Embedding(3, 2, { optimizer: 'adadelta', lr: 0.5, rho: 0.75, eps: 0.25, init: 'zeros', engine });
    // ids [1, 1]: g = [1, -2] + [0, 1] = [1, -1]; sq = 0.25; d = 0.5 / sqrt(0.5) g = ±sqrt(0.5)
    emb.update([1, 1], [1, -2, 0, 1]);
    const d = Math.SQRT1_2;
    const x = emb.lookup([1, 0]);
    [-0.5 * d, 0.5 * d, 0, 0].forEach((e, i) => expect(Math.abs(x[i] - e), `x[${i}]`).toBeLessThan(1e-7));
    expect(Array.from(emb.state('square_avg').subarray(2, 4))).toEqual([0.25, 0.25]);
    [0.125, 0.125].forEach((e, i) => expect(Math.abs(emb.state('acc_delta')[2 + i] - e)).toBeLessThan(1e-7));
    emb.dispose();
  });

  it('radam, first steps by hand: rho_t <= 5, so p -= lr m / (1 - b1^t) (t = 1: p -= lr g)', () => {
    const emb = new Embedding(3, 2, { optimizer: 'radam', lr: 0.5, init: 'zeros', engine });
    emb.update([2], [1, -4]);
    expect(Array.from(emb.lookup([2]))).toEqual([-0.5, 2]);
    // t = 2 (row 0 untouched at t = 1): m = 0.1 g, p -= 0.5 * 0.1 g / (1 - 0.81)
    emb.update([0], [1, 0]);
    expect(Math.abs(emb.lookup([0])[0] + 0.05 / 0.19)).toBeLessThan(1e-7);
    emb.dispose();
  });

  // SPEC's options, and the other weight decay of NAdam (L2) and RAdam (decoupled).
  const denseCases: [NewOptimizer, EmbeddingOptions][] = [
    ...NEW_OPTIMIZERS.map((o): [NewOptimizer, EmbeddingOptions] => [o, SPEC[o].hyper]),
    ['nadam', { ...SPEC.nadam.hyper, decoupledWeightDecay: false }],
    ['radam', { ...SPEC.radam.hyper, decoupledWeightDecay: true }],
  ];
  for (const [optimizer, hyper] of denseCases) {
    it(`${optimizer} ${JSON.stringify(hyper)}: rows that every update touches equal the dense ${SPEC[optimizer].Dense.name} kernel on the summed gradients, bit for bit (20 updates)`, () => {
      const rows = 9,
        dim = 13;
      const rand = rng(optimizer.length * 17);
      const init = uniform(rand, rows * dim);
      const emb = new Embedding(rows, dim, { optimizer, ...hyper, init, engine });
      const dense = new SPEC[optimizer].Dense({ ...hyper, engine } as never);
      const p = dense.param(init);
      for (let s = 0; s < 20; s++) {
        // Every row once, then a few duplicates (their sums are formed in float32, in position order).
        const ids = Int32Array.from({ length: rows + 5 }, (_, i) =>
          i < rows ? rows - 1 - i : Math.floor(rand() * rows),
        );
        const grads = uniform(rand, ids.length * dim);
        const sum = new Float32Array(rows * dim);
        ids.forEach((r, i) => {
          for (let j = 0; j < dim; j++) sum[r * dim + j] = Math.fround(sum[r * dim + j] + grads[i * dim + j]);
        });
        emb.update(ids, grads);
        p.grad.set(sum);
        dense.step();
      }
      expect(bitsOf(emb.weights).equals(bitsOf(p.data))).toBe(true);
      for (const k of emb.stateKeys) expect(bitsOf(emb.state(k)).equals(bitsOf(p.state(k)))).toBe(true);
      dense.dispose();
      emb.dispose();
    });
  }

  it.each(['nadam', 'radam'] as const)(
    "%s: a row first touched at update 1000 takes the step-1000 schedule (a dense param at its step 1000 with fresh state, bit for bit), not step 1's",
    (optimizer) => {
      const dim = 7;
      const { Dense, hyper } = SPEC[optimizer];
      const rand = rng(5);
      const init = uniform(rand, 2 * dim);
      const emb = new Embedding(2, dim, { optimizer, ...hyper, init, engine });
      for (let s = 0; s < 999; s++) emb.update([0], uniform(rand, dim));
      expect(Array.from(emb.lookup([1]))).toEqual(Array.from(init.subarray(dim)));
      const g = uniform(rand, dim);
      emb.update([1, 0], Float32Array.from([...g, ...uniform(rand, dim)]));
      expect(emb.stepCount).toBe(1000);
      // The dense optimizer with row 1 as its param: loaded at step 999 (fresh state), then one step.
      const late = new Dense({ ...hyper, engine } as never);
      const p = late.param(init.subarray(dim));
      const dict = late.stateDict();
      late.loadStateDict({ ...dict, stepCount: 999, params: [{ ...dict.params[0], step: 999 }] });
      p.grad.set(g);
      late.step();
      expect(bitsOf(emb.lookup([1])).equals(bitsOf(p.data))).toBe(true);
      for (const k of emb.stateKeys) expect(bitsOf(emb.state(k).subarray(dim)).equals(bitsOf(p.state(k)))).toBe(true);
      // Step 1's schedule would give another update.
      const early = new Dense({ ...hyper, engine } as never);
      const q = early.param(init.subarray(dim));
      q.grad.set(g);
      early.step();
      expect(bitsOf(emb.lookup([1])).equals(bitsOf(q.data))).toBe(false);
      [late, early, emb].forEach((t) => t.dispose());
    },
  );

  it("defaults are the dense classes': adamax lr 2e-3, betas (0.9, 0.999), eps 1e-8, no decay; lion lr 1e-4, betas (0.9, 0.99), weightDecay 1e-3; adadelta lr 1, rho 0.9, eps 1e-6; nadam lr 2e-3, momentumDecay 4e-3; radam lr 1e-3", () => {
    const defaults: Record<NewOptimizer, Record<string, unknown>> = {
      adamax: { lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 },
      lion: { lr: 1e-4, betas: [0.9, 0.99], weightDecay: 1e-3 },
      adadelta: { lr: 1, rho: 0.9, eps: 1e-6, weightDecay: 0 },
      nadam: {
        lr: 2e-3,
        betas: [0.9, 0.999],
        eps: 1e-8,
        weightDecay: 0,
        momentumDecay: 4e-3,
        decoupledWeightDecay: false,
      },
      radam: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, decoupledWeightDecay: false },
    };
    for (const optimizer of NEW_OPTIMIZERS) {
      const emb = new Embedding(3, 2, { optimizer, engine });
      expect(emb.options).toEqual({ ...defaults[optimizer], maximize: false, nonFinite: 'throw' });
      const dense = new SPEC[optimizer].Dense({ engine });
      expect(dense.options).toMatchObject(emb.options);
      dense.dispose();
      emb.dispose();
    }
  });

  for (const optimizer of NEW_OPTIMIZERS) {
    it(`${optimizer}: stateDict / loadStateDict and save / fromCheckpoint continue bit for bit`, () => {
      const rows = 20,
        dim = 6;
      const rand = rng(41 + optimizer.length);
      const opts: EmbeddingOptions = { optimizer, ...SPEC[optimizer].hyper, init: uniform(rand, rows * dim), engine };
      const a = new Embedding(rows, dim, opts);
      for (let s = 0; s < 7; s++) a.update(skewedIds(rand, 9, rows), uniform(rand, 9 * dim));
      const dict = a.stateDict();
      expect(dict.optimizer).toBe(optimizer);
      expect(dict.stepCount).toBe(7);
      expect(Object.keys(dict.state)).toEqual(SPEC[optimizer].state);
      expect(dict.options).toMatchObject({ ...SPEC[optimizer].hyper, nonFinite: 'throw' });
      const b = new Embedding(rows, dim, { ...opts, lr: 0.5, weightDecay: 0, maximize: false, init: 'zeros' });
      b.loadStateDict(dict);
      expect(b.lr).toBe(SPEC[optimizer].hyper.lr);
      const c = Embedding.fromCheckpoint(a.save(), { engine });
      expect(c.optimizer).toBe(optimizer);
      expect(c.stepCount).toBe(7);
      for (let s = 0; s < 6; s++) {
        const ids = skewedIds(rand, 9, rows),
          g = uniform(rand, 9 * dim);
        a.update(ids, g);
        b.update(ids, g);
        c.update(ids, g);
      }
      for (const t of [b, c]) {
        expect(bitsOf(t.weights).equals(bitsOf(a.weights))).toBe(true);
        for (const k of a.stateKeys) expect(bitsOf(t.state(k)).equals(bitsOf(a.state(k)))).toBe(true);
      }
      // A state dict of another optimizer, or with another optimizer's options, is refused and changes nothing.
      const before = snapshot(b);
      expect(() => b.loadStateDict({ ...dict, optimizer: optimizer === 'adamax' ? 'lion' : 'adamax' })).toThrow(
        TypeError,
      );
      expect(() => b.loadStateDict({ ...dict, options: { ...dict.options, amsgrad: true } })).toThrow(
        /unknown option 'amsgrad'/,
      );
      expect(() => b.loadStateDict({ ...dict, options: { ...dict.options, lr: -1 } })).toThrow(
        /'lr' must be >= 0, got -1/,
      );
      expectUnchanged(b, before);
      [a, b, c].forEach((t) => t.dispose());
    });
  }

  describe('bad input throws a clear error and changes nothing', () => {
    for (const optimizer of NEW_OPTIMIZERS) {
      const rows = 10,
        dim = 4;
      let emb: Embedding;
      beforeAll(() => {
        emb = new Embedding(rows, dim, { optimizer, lr: 0.1, seed: 5, engine });
        emb.update([1, 2], new Float32Array(8).fill(0.25));
      });
      const cases: [string, () => unknown, RegExp, ErrorClass][] = [
        [
          'an id equal to rows',
          () => emb.update(new Int32Array([1, 10]), new Float32Array(8)),
          /ids\[1\] = 10 is outside \[0, 10\)/,
          RangeError,
        ],
        [
          'a negative id',
          () => emb.update(new Int32Array([-1, 3]), new Float32Array(8)),
          /ids\[0\] = -1 is outside/,
          RangeError,
        ],
        ['a fractional id', () => emb.update([1.5], new Float32Array(4)), /ids\[0\]/, TypeError],
        ['grads too short', () => emb.update([1, 2], new Float32Array(7)), /2 \* 4 = 8 floats, got 7/, RangeError],
        ['grads too long', () => emb.update([1], new Float32Array(5)), /got 5/, RangeError],
        [
          'a NaN gradient',
          () => emb.update([1, 2], new Float32Array([0, 0, 0, 0, 0, Number.NaN, 0, 0])),
          /grads\[5\] is NaN \(position 1, id 2, column 1\)/,
          NonFiniteGradientError,
        ],
        [
          'an infinite gradient',
          () => emb.update([3], new Float32Array([0, Infinity, 0, 0])),
          /Infinity/,
          NonFiniteGradientError,
        ],
        [
          'duplicate ids whose gradients overflow when summed',
          () => emb.update([4, 4], new Float32Array([3e38, 0, 0, 0, 3e38, 0, 0, 0])),
          /id 4, which appears several times, sum to a non-finite value/,
          NonFiniteGradientError,
        ],
      ];
      it.each(cases)(`${optimizer}: %s`, (_name, f, message, type) => {
        const before = snapshot(emb);
        expectThrows(f, message, type);
        expectUnchanged(emb, before);
      });

      it(`${optimizer}: nonFinite 'skip' returns false and changes nothing`, () => {
        const skip = new Embedding(5, 2, { optimizer, nonFinite: 'skip', init: 'zeros', engine });
        expect(skip.update([1], [Number.NaN, 1])).toBe(false);
        expect(skip.update([1, 1], [3e38, 0, 3e38, 0])).toBe(false);
        expect(skip.stepCount).toBe(0);
        expect(skip.weights).toEqual(new Float32Array(10));
        for (const k of SPEC[optimizer].state) expect(skip.state(k)).toEqual(new Float32Array(10));
        skip.dispose();
      });
    }

    it('bad options name the option and allocate nothing; exact mode is refused', () => {
      const bad: [EmbeddingOptions, RegExp, ErrorClass][] = [
        [
          { optimizer: 'adamax', mode: 'exact' },
          /mode 'exact' supports optimizers sgd, adagrad, adam, adamw, rowwiseAdagrad, partialRowwiseAdam and ftrl, not 'adamax'; use mode 'lazy'/,
          RangeError,
        ],
        [
          { optimizer: 'lion', mode: 'exact', weightDecay: 0 },
          /mode 'exact' supports optimizers sgd, adagrad, adam, adamw, rowwiseAdagrad, partialRowwiseAdam and ftrl, not 'lion'; use mode 'lazy'/,
          RangeError,
        ],
        [{ optimizer: 'adamax', lr: -1 }, /'lr' must be >= 0, got -1/, RangeError],
        [{ optimizer: 'adamax', betas: [1, 0.9] }, /betas\[0\]/, RangeError],
        [{ optimizer: 'adamax', eps: Number.NaN }, /'eps'/, RangeError],
        [{ optimizer: 'adamax', weightDecay: -0.1 }, /'weightDecay'/, RangeError],
        [{ optimizer: 'adamax', amsgrad: true }, /unknown option 'amsgrad'/, TypeError],
        [{ optimizer: 'lion', betas: [0.9, 1.5] }, /betas\[1\]/, RangeError],
        [{ optimizer: 'lion', weightDecay: Number.NaN }, /'weightDecay'/, RangeError],
        [{ optimizer: 'lion', eps: 1e-8 } as EmbeddingOptions, /unknown option 'eps'/, TypeError],
        [{ optimizer: 'lion', momentum: 0.9 }, /unknown option 'momentum'/, TypeError],
        [{ optimizer: 'lion', maximize: 1 as never }, /'maximize'/, TypeError],
        [
          { optimizer: 'adadelta', mode: 'exact' },
          /mode 'exact' supports optimizers sgd, adagrad, adam, adamw, rowwiseAdagrad, partialRowwiseAdam and ftrl, not 'adadelta'; use mode 'lazy'/,
          RangeError,
        ],
        [
          { optimizer: 'nadam', mode: 'exact' },
          /mode 'exact' supports optimizers sgd, adagrad, adam, adamw, rowwiseAdagrad, partialRowwiseAdam and ftrl, not 'nadam'; use mode 'lazy'/,
          RangeError,
        ],
        [
          { optimizer: 'radam', mode: 'exact', weightDecay: 0 },
          /mode 'exact' supports optimizers sgd, adagrad, adam, adamw, rowwiseAdagrad, partialRowwiseAdam and ftrl, not 'radam'; use mode 'lazy'/,
          RangeError,
        ],
        [{ optimizer: 'adadelta', rho: 1.5 }, /'rho' must be <= 1, got 1.5/, RangeError],
        [{ optimizer: 'adadelta', rho: -0.1 }, /'rho' must be >= 0/, RangeError],
        [{ optimizer: 'adadelta', eps: -1 }, /'eps' must be >= 0/, RangeError],
        [{ optimizer: 'adadelta', betas: [0.9, 0.9] }, /unknown option 'betas'/, TypeError],
        [{ optimizer: 'nadam', momentumDecay: -0.1 }, /'momentumDecay' must be >= 0, got -0.1/, RangeError],
        [{ optimizer: 'nadam', decoupledWeightDecay: 'yes' as never }, /'decoupledWeightDecay'/, TypeError],
        [{ optimizer: 'nadam', betas: [0.9, 1] }, /betas\[1\]/, RangeError],
        [{ optimizer: 'nadam', rho: 0.9 }, /unknown option 'rho'/, TypeError],
        [{ optimizer: 'radam', momentumDecay: 4e-3 }, /unknown option 'momentumDecay'/, TypeError],
        [{ optimizer: 'radam', lr: Number.NaN }, /'lr' must not be NaN/, RangeError],
        [{ optimizer: 'radam', decoupledWeightDecay: 1 as never }, /'decoupledWeightDecay'/, TypeError],
        [{ optimizer: 'adamw', decoupledWeightDecay: true }, /unknown option 'decoupledWeightDecay'/, TypeError],
      ];
      expectRefusedWithoutAllocation(
        engine,
        bad.map(
          ([options, message, type]) => [() => new Embedding(10, 4, { engine, ...options }), message, type] as const,
        ),
      );
    });
  });
});

describe('Embedding with the lazy-only optimizers: the SIMD and the scalar build agree bit for bit', () => {
  it.each(NEW_OPTIMIZERS)(
    '%s, dim 13 (SIMD body and scalar tail) and 70 (16-wide blocks), 200 updates',
    async (optimizer) => {
      const simd = await engineFor('simd');
      const scalar = await engineFor('scalar');
      for (const dim of [13, 70]) {
        const opts: EmbeddingOptions = {
          optimizer,
          ...SPEC[optimizer].hyper,
          init: { distribution: 'normal' },
          seed: 9,
        };
        const a = new Embedding(300, dim, { ...opts, engine: simd });
        const b = new Embedding(300, dim, { ...opts, engine: scalar });
        const rand = rng(3);
        for (let s = 0; s < 200; s++) {
          const ids = skewedIds(rand, 50, 300);
          const grads = uniform(rand, 50 * dim, 1);
          // Some tiny gradients: Adamax's max(b2 u, |g| + eps) then picks eps-dominated values (and
          // eps dominates the other denominators).
          if (s % 3 === 0) grads.forEach((g, i) => (grads[i] = g * ((i * 7) % 3 === 0 ? 1e-9 : 1e-3)));
          a.update(ids, grads);
          b.update(ids, grads);
        }
        expect(bitsOf(b.weights).equals(bitsOf(a.weights))).toBe(true);
        for (const k of a.stateKeys) expect(bitsOf(b.state(k)).equals(bitsOf(a.state(k)))).toBe(true);
        a.dispose();
        b.dispose();
      }
    },
  );
});

describe.each(BUILD_NAMES)('sharded tables with the lazy-only optimizers (%s)', (build) => {
  it.each(NEW_OPTIMIZERS)(
    '%s: three shards equal one table bit for bit; the state size sets the shard rows',
    async (optimizer) => {
      const parent = await createEngine({ simd: build === 'simd' });
      const plainEngine = await engineFor(build);
      const rows = 600,
        dim = 12;
      const rand = rng(11);
      const init = uniform(rand, rows * dim);
      const opts: EmbeddingOptions = { optimizer, lr: 0.01, weightDecay: 0.01, init };
      const sharded = new ShardedEmbedding(rows, dim, { ...opts, maxShardRows: 200, engine: parent });
      const plain = new Embedding(rows, dim, { ...opts, engine: plainEngine });
      expect(sharded.shardCount).toBe(3);
      expect(sharded.optimizer).toBe(optimizer);
      for (let s = 0; s < 10; s++) {
        const ids = Int32Array.from({ length: 120 }, (_, i) =>
          i < 6 ? [0, 199, 200, 399, 400, 599][i] : Math.floor(rand() * rows),
        );
        for (let i = 6; i < 20; i++) ids[i] = ids[i - 6];
        const grads = uniform(rand, ids.length * dim);
        expect(sharded.update(ids, grads)).toBe(true);
        plain.update(ids, grads);
      }
      const all = Int32Array.from({ length: rows }, (_, i) => i);
      expect(bitsOf(sharded.lookup(all)).equals(bitsOf(plain.lookup(all)))).toBe(true);
      const sd = sharded.stateDict();
      expect(Object.keys(sd.state)).toEqual(plain.stateKeys);
      for (const k of plain.stateKeys) expect(bitsOf(sd.state[k]).equals(bitsOf(plain.state(k)))).toBe(true);
      // Bad input is refused before any shard changes.
      expect(() => sharded.update([5, 600], new Float32Array(2 * dim))).toThrow(RangeError);
      expect(() =>
        sharded.update(
          [5, 450],
          Float32Array.from({ length: 2 * dim }, (_, i) => (i === 20 ? Number.NaN : 0)),
        ),
      ).toThrow(NonFiniteGradientError);
      expect(bitsOf(sharded.lookup(all)).equals(bitsOf(plain.lookup(all)))).toBe(true);
      expect(
        () => new ShardedEmbedding(rows, dim, { optimizer, mode: 'exact', maxShardRows: 200, engine: parent }),
      ).toThrow(/use mode 'lazy'/);
      sharded.dispose();
      plain.dispose();
    },
  );
});

describe('Embedding with the lazy-only optimizers on a threaded engine', () => {
  it.each(NEW_OPTIMIZERS)(
    '%s: updates split by row ranges across 3 threads equal one thread bit for bit',
    async (optimizer) => {
      const one = await engineFor('simd');
      const three = await createEngine({ simd: true, threads: 3, minParallelElements: 0 });
      try {
        const rows = 3000,
          dim = 20;
        const tables = [one, three].map(
          (engine) => new Embedding(rows, dim, { optimizer, lr: 0.01, weightDecay: 0.01, seed: 9, engine }),
        );
        expect(three.parallel).toBeInstanceOf(ThreadPool);
        const run = vi.spyOn(three.parallel as ThreadPool, 'run');
        const rand = rng(17);
        for (let s = 0; s < 4; s++) {
          const ids = Int32Array.from({ length: 2000 }, () => Math.floor(rows * rand() ** 2));
          const grads = uniform(rand, ids.length * dim);
          for (const t of tables) expect(t.update(ids, grads)).toBe(true);
        }
        // Every update was split across the workers: its coalescing beside their prefetch, then its
        // row steps when a worker answered in time (src/embedding/split-update.ts).
        expect(run.mock.calls.length).toBeGreaterThanOrEqual(4);
        expect(run.mock.calls.length).toBeLessThanOrEqual(8);
        expect(run.mock.calls.filter(([jobs]) => jobs[0].fn === 'embPrefetchRows')).toHaveLength(4);
        run.mockRestore();
        expect(bitsOf(tables[1].weights).equals(bitsOf(tables[0].weights))).toBe(true);
        for (const k of tables[0].stateKeys)
          expect(bitsOf(tables[1].state(k)).equals(bitsOf(tables[0].state(k)))).toBe(true);
        for (const t of tables) t.dispose();
      } finally {
        await three.shutdownThreads();
      }
    },
  );
});
