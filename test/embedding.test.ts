// Embedding tables, lazy mode and the API: every suite runs against the SIMD and the scalar build.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Adam,
  createEngine,
  DisposedError,
  Embedding,
  SHARD_MAX_FLOATS,
  shardRowsFor,
  NonFiniteGradientError,
  type Engine,
  type EmbeddingOptions,
} from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { expectRefusedWithoutAllocation, expectThrows, type ErrorClass } from './refusal-util.js';
import { LazyRef, maxRelError, rng, skewedIds, uniform, type RefOptimizer, type RefOptions } from './embedding-ref.js';

/** Everything an update may change: weights, every state tensor, the step count. */
function snapshot(emb: Embedding): { w: Float32Array; s: Float32Array[]; t: number } {
  return { w: emb.weights.slice(), s: emb.stateKeys.map((k) => emb.state(k)), t: emb.stepCount };
}

function expectUnchanged(emb: Embedding, before: ReturnType<typeof snapshot>): void {
  const now = snapshot(emb);
  expect(now.t).toBe(before.t);
  expect(Buffer.from(now.w.buffer).equals(Buffer.from(before.w.buffer))).toBe(true);
  now.s.forEach((s, i) => expect(Buffer.from(s.buffer).equals(Buffer.from(before.s[i].buffer))).toBe(true));
}

const LAZY_CASES: { name: string; optimizer: RefOptimizer; o: RefOptions }[] = [
  { name: 'adam', optimizer: 'adam', o: { lr: 0.01 } },
  { name: 'adam, L2 decay, maximize', optimizer: 'adam', o: { lr: 0.01, weightDecay: 0.1, maximize: true } },
  {
    name: 'adam, amsgrad, betas (0.8, 0.99), eps 1e-6',
    optimizer: 'adam',
    o: { lr: 0.02, amsgrad: true, betas: [0.8, 0.99], eps: 1e-6 },
  },
  { name: 'adamw', optimizer: 'adamw', o: { lr: 0.01, weightDecay: 0.05 } },
  { name: 'adagrad', optimizer: 'adagrad', o: { lr: 0.05 } },
  {
    name: 'adagrad, lrDecay, L2 decay, initial accumulator',
    optimizer: 'adagrad',
    o: { lr: 0.05, lrDecay: 0.01, weightDecay: 0.02, initialAccumulatorValue: 0.1 },
  },
  { name: 'sgd', optimizer: 'sgd', o: { lr: 0.05 } },
  {
    name: 'sgd, momentum, dampening, L2 decay',
    optimizer: 'sgd',
    o: { lr: 0.05, momentum: 0.9, dampening: 0.2, weightDecay: 0.01 },
  },
  { name: 'sgd, nesterov, maximize', optimizer: 'sgd', o: { lr: 0.05, momentum: 0.8, nesterov: true, maximize: true } },
];

describe.each(BUILD_NAMES)('Embedding lazy mode (%s)', (build) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await engineFor(build);
  });

  for (const c of LAZY_CASES) {
    it.each([1, 5, 16, 64])(`${c.name}: matches the float64 sparse reference, dim %i, duplicate ids`, (dim) => {
      const rows = 37,
        k = 24,
        steps = 30;
      const rand = rng(dim * 101 + c.name.length);
      const init = uniform(rand, rows * dim);
      const emb = new Embedding(rows, dim, { optimizer: c.optimizer, ...c.o, init, engine } as EmbeddingOptions);
      const ref = new LazyRef(c.optimizer, rows, dim, init, c.o);
      let sawDuplicate = false;
      for (let s = 0; s < steps; s++) {
        const ids = skewedIds(rand, k, rows);
        sawDuplicate ||= new Set(ids).size < k;
        const grads = uniform(rand, k * dim);
        const before = emb.weights.slice();
        expect(emb.update(ids, grads)).toBe(true);
        ref.update(ids, grads);
        // Rows the update did not name are bit for bit unchanged.
        const touched = new Set(ids);
        const w = emb.weights;
        let changed = 0;
        for (let r = 0; r < rows; r++) {
          if (touched.has(r)) continue;
          for (let j = 0; j < dim; j++) if (!Object.is(w[r * dim + j], before[r * dim + j])) changed++;
        }
        expect(changed).toBe(0);
      }
      expect(sawDuplicate).toBe(true);
      expect(emb.stepCount).toBe(steps);
      expect(emb.updateCount).toBe(steps);
      const { err, at } = maxRelError(emb.weights, ref.w, 1e-2);
      expect(err, `weights[${at}]: ${emb.weights[at]} vs ${ref.w[at]}`).toBeLessThan(2e-5);
      const names = emb.stateKeys;
      const refState = [ref.s0, ref.s1, ref.s2];
      names.forEach((name, i) => {
        const s = emb.state(name);
        const e = maxRelError(s, refState[i], 1e-3);
        expect(e.err, `${name}[${e.at}]`).toBeLessThan(1e-4);
      });
      emb.dispose();
    });
  }

  it('the first Adam step moves every touched element by lr * sign(g); duplicates are summed first; rows equal dense Adam on the summed gradient', () => {
    const emb = new Embedding(10, 5, { optimizer: 'adam', lr: 0.1, init: 'zeros', engine });
    // ids [3, 1, 3, 7]: row 3's gradient is g0 + g2 = [-3, -1, 1, 3, -2], row 1's [2, 3, -3, -2, -1], row 7's [1, 1, 1, 1, 1]
    const g = new Float32Array([-3, -2, -1, 0, 1, 2, 3, -3, -2, -1, 0, 1, 2, 3, -3, 1, 1, 1, 1, 1]);
    emb.update(new Int32Array([3, 1, 3, 7]), g);
    const x = emb.lookup(new Int32Array([3, 1, 7, 0]));
    // t = 1: m = 0.1 g, v = 0.001 g^2, p -= (lr / 0.1) m / (|g| sqrt(0.001) / sqrt(0.001) + eps) = lr sign(g) (to float32 rounding)
    const expected = [
      0.1, 0.1, -0.1, -0.1, 0.1, -0.1, -0.1, 0.1, 0.1, 0.1, -0.1, -0.1, -0.1, -0.1, -0.1, 0, 0, 0, 0, 0,
    ];
    expected.forEach((e, i) => expect(Math.abs(x[i] - e)).toBeLessThan(1e-7));
    // The same rows stepped by the dense Adam kernel on the summed gradients: bit for bit.
    const dense = new Adam({ lr: 0.1, engine });
    const p = dense.param(15);
    p.grad.set([-3, -1, 1, 3, -2, 2, 3, -3, -2, -1, 1, 1, 1, 1, 1]);
    dense.step();
    expect(x.subarray(0, 15)).toEqual(p.data);
    expect(emb.lastUniqueRows).toBe(3);
    dense.dispose();
    emb.dispose();
  });

  it('many duplicates of few ids and a sorted-order-independent result (radix sort, k > 48)', () => {
    const rows = 100000,
      dim = 3,
      k = 3000;
    const rand = rng(5);
    const init = uniform(rand, rows * dim);
    const a = new Embedding(rows, dim, { optimizer: 'sgd', lr: 0.5, init, engine });
    const b = new Embedding(rows, dim, { optimizer: 'sgd', lr: 0.5, init, engine });
    const ids = Int32Array.from({ length: k }, (_, i) => (i % 7 === 0 ? 99999 : Math.floor(rand() * rows)));
    const grads = Float32Array.from({ length: k * dim }, (_, i) => ((i * 7919) % 13) / 16);
    // b gets the same (id, gradient) pairs in reverse order: sums of exactly representable values do not depend on the order.
    const rev = ids.slice().reverse();
    const revGrads = new Float32Array(k * dim);
    for (let i = 0; i < k; i++) revGrads.set(grads.subarray((k - 1 - i) * dim, (k - i) * dim), i * dim);
    a.update(ids, grads);
    b.update(rev, revGrads);
    expect(
      Buffer.from(a.weights.buffer, a.weights.byteOffset, a.weights.byteLength).equals(
        Buffer.from(b.weights.buffer, b.weights.byteOffset, b.weights.byteLength),
      ),
    ).toBe(true);
    const ref = new LazyRef('sgd', rows, dim, init, { lr: 0.5 });
    ref.update(ids, grads);
    expect(maxRelError(a.weights, ref.w, 1e-3).err).toBeLessThan(1e-6);
    expect(a.lastUniqueRows).toBe(new Set(ids).size);
    a.dispose();
    b.dispose();
  });

  it('lookup gathers rows (into a new array, a caller buffer or an engine view); ids as Int32Array, Uint32Array or array', () => {
    const rows = 50,
      dim = 7;
    const init = uniform(rng(1), rows * dim);
    const emb = new Embedding(rows, dim, { init, engine });
    const ids = [4, 0, 49, 4];
    const expected = new Float32Array(ids.length * dim);
    ids.forEach((r, i) => expected.set(init.subarray(r * dim, r * dim + dim), i * dim));
    expect(emb.lookup(new Int32Array(ids))).toEqual(expected);
    expect(emb.lookup(new Uint32Array(ids))).toEqual(expected);
    expect(emb.lookup(ids)).toEqual(expected);
    const out = new Float32Array(ids.length * dim);
    expect(emb.lookup(ids, out)).toBe(out);
    expect(out).toEqual(expected);
    expect(emb.lookupView(ids)).toEqual(expected);
    expect(emb.lookup([])).toEqual(new Float32Array(0));
    emb.dispose();
  });

  it('update through gradView (no copy) equals update from a JS array', () => {
    const rows = 64,
      dim = 9,
      k = 40;
    const rand = rng(9);
    const init = uniform(rand, rows * dim);
    const a = new Embedding(rows, dim, { optimizer: 'adamw', lr: 0.01, init, engine });
    const b = new Embedding(rows, dim, { optimizer: 'adamw', lr: 0.01, init, engine });
    for (let s = 0; s < 5; s++) {
      const ids = skewedIds(rand, k, rows);
      const grads = uniform(rand, k * dim);
      a.update(ids, grads);
      const view = b.gradView(k);
      expect(view.length).toBe(k * dim);
      view.set(grads);
      b.update(ids, view);
    }
    expect(b.weights).toEqual(a.weights);
    a.dispose();
    b.dispose();
  });

  it('ids and gradients that are views of engine memory stay valid when the update grows the memory', async () => {
    const fresh = await createEngine({ simd: build === 'simd' });
    const rows = 100,
      dim = 256,
      k = 20000;
    const rand = rng(21);
    const init = uniform(rand, rows * dim);
    const a = new Embedding(rows, dim, { optimizer: 'sgd', lr: 0.1, init, engine: fresh });
    const b = new Embedding(rows, dim, { optimizer: 'sgd', lr: 0.1, init, engine: fresh });
    const ids = skewedIds(rand, k, rows);
    // Gradients: an engine-owned view (the looked-up rows themselves); ids: an Int32Array in engine memory too.
    a.lookupView(ids); // first calls grow the lookup and gradient buffers; the views below are taken after
    b.gradView(k);
    const at = b.gradView(k).byteOffset;
    const idsInEngine = new Int32Array(fresh.memory.buffer, at, k);
    idsInEngine.set(ids);
    const big = a.lookupView(ids);
    const bigCopy = big.slice();
    expect(idsInEngine.length).toBe(k);
    a.update(idsInEngine, big); // grows a's sort and gradient scratch, and the memory: both views detach on the way
    expect(big.length).toBe(0);
    expect(idsInEngine.length).toBe(0);
    b.update(ids, bigCopy);
    expect(a.weights).toEqual(b.weights);
    a.dispose();
    b.dispose();
  });

  it('an empty update counts as a step (bias corrections move on) and changes no row', () => {
    const emb = new Embedding(4, 4, { optimizer: 'adam', init: 'normal', seed: 3, engine });
    const before = emb.weights.slice();
    expect(emb.update(new Int32Array(0), new Float32Array(0))).toBe(true);
    expect(emb.stepCount).toBe(1);
    expect(emb.weights).toEqual(before);
    emb.dispose();
  });

  it('lr is settable between updates and used from the next one', () => {
    const emb = new Embedding(3, 2, { optimizer: 'sgd', lr: 0.5, init: 'zeros', engine });
    emb.update([1], [1, -2]);
    emb.lr = 0.25;
    expect(emb.lr).toBe(0.25);
    emb.update([1], [1, -2]);
    expect(Array.from(emb.lookup([1]))).toEqual([-0.75, 1.5]);
    expect(() => (emb.lr = -1)).toThrow(RangeError);
    expect(() => (emb.lr = Number.NaN)).toThrow(/lr/);
    expect(emb.lr).toBe(0.25);
    emb.dispose();
  });

  describe('initialisation', () => {
    it('zeros, given values (copied), and the defaults: normal N(0, 1)', () => {
      const z = new Embedding(3, 4, { init: 'zeros', engine });
      expect(z.weights).toEqual(new Float32Array(12));
      const values = Float32Array.from({ length: 12 }, (_, i) => i / 3);
      const v = new Embedding(3, 4, { init: values, engine });
      values[0] = 99;
      expect(v.weights[0]).toBe(0);
      expect(v.weights[11]).toBe(Math.fround(11 / 3));
      expect(v.seed).toBeNull();
      // An unseeded table draws with a fresh seed each time, so the bounds must hold for any seed:
      // 100000 draws, the sample mean's std is 0.0032 and the sample std's 0.0022; the bounds are
      // 6 sigma and more (with 20000 draws and the same bounds, 0.6% of seeds failed).
      const n = new Embedding(500, 200, { engine });
      const w = n.weights;
      let mean = 0,
        sq = 0;
      for (const x of w) {
        mean += x;
        sq += x * x;
      }
      mean /= w.length;
      const std = Math.sqrt(sq / w.length - mean * mean);
      expect(Math.abs(mean)).toBeLessThan(0.02);
      expect(Math.abs(std - 1)).toBeLessThan(0.015);
      expect(typeof n.seed).toBe('number');
      [z, v, n].forEach((e) => e.dispose());
    });

    it('seeded normal and uniform draws are reproducible, differ by seed, and respect their parameters', () => {
      const a = new Embedding(100, 50, { init: { distribution: 'normal', mean: 2, std: 0.5 }, seed: 42, engine });
      const b = new Embedding(100, 50, { init: { distribution: 'normal', mean: 2, std: 0.5 }, seed: 42, engine });
      const c = new Embedding(100, 50, { init: { distribution: 'normal', mean: 2, std: 0.5 }, seed: 43, engine });
      expect(b.weights).toEqual(a.weights);
      expect(c.weights).not.toEqual(a.weights);
      const m = a.weights.reduce((s, x) => s + x, 0) / 5000;
      expect(Math.abs(m - 2)).toBeLessThan(0.03);
      const u = new Embedding(100, 50, {
        init: { distribution: 'uniform', low: -0.25, high: 0.5 },
        seed: 2 ** 40 + 7,
        engine,
      });
      const uw = u.weights;
      expect(Math.min(...uw)).toBeGreaterThanOrEqual(-0.25);
      expect(Math.max(...uw)).toBeLessThan(0.5);
      const um = uw.reduce((s, x) => s + x, 0) / 5000;
      expect(Math.abs(um - 0.125)).toBeLessThan(0.01);
      const u01 = new Embedding(10, 10, { init: 'uniform', seed: 1, engine });
      expect(Math.min(...u01.weights)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...u01.weights)).toBeLessThan(1);
      [a, b, c, u, u01].forEach((e) => e.dispose());
    });
  });

  describe('state dicts and disposal', () => {
    it('stateDict / loadStateDict: a restored table continues exactly like the original', () => {
      const rows = 20,
        dim = 6;
      const rand = rng(77);
      const opts: EmbeddingOptions = {
        optimizer: 'adam',
        lr: 0.01,
        amsgrad: true,
        init: uniform(rand, rows * dim),
        engine,
      };
      const a = new Embedding(rows, dim, opts);
      for (let s = 0; s < 7; s++) a.update(skewedIds(rand, 9, rows), uniform(rand, 9 * dim));
      const dict = a.stateDict();
      expect(dict.stepCount).toBe(7);
      expect(Object.keys(dict.state)).toEqual(['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq']);
      const b = new Embedding(rows, dim, { ...opts, lr: 0.5, init: 'zeros' });
      b.loadStateDict(dict);
      expect(b.lr).toBe(0.01);
      expect(b.stepCount).toBe(7);
      for (let s = 0; s < 5; s++) {
        const ids = skewedIds(rand, 9, rows),
          g = uniform(rand, 9 * dim);
        a.update(ids, g);
        b.update(ids, g);
      }
      expect(b.weights).toEqual(a.weights);
      expect(b.state('exp_avg_sq')).toEqual(a.state('exp_avg_sq'));
      // Mismatches are refused and change nothing.
      const before = snapshot(b);
      expect(() => b.loadStateDict({ ...dict, rows: 21 })).toThrow(RangeError);
      expect(() => b.loadStateDict({ ...dict, optimizer: 'sgd' })).toThrow(TypeError);
      expect(() => b.loadStateDict({ ...dict, options: { ...dict.options, amsgrad: false } })).toThrow(/state/);
      expect(() => b.loadStateDict({ ...dict, weights: new Float32Array(3) })).toThrow(RangeError);
      expect(() => b.loadStateDict({ ...dict, options: { ...dict.options, lr: -1 } })).toThrow(/lr/);
      expect(() => b.loadStateDict(null as never)).toThrow(TypeError);
      expectUnchanged(b, before);
      a.dispose();
      b.dispose();
    });

    it('dispose frees the engine memory; later use throws DisposedError', () => {
      const before = engine.memoryStats().bytesInUse;
      const emb = new Embedding(1000, 16, { optimizer: 'adam', engine });
      emb.update([1, 2, 3], new Float32Array(48).fill(0.5));
      emb.lookup([1, 2]);
      emb.gradView(100);
      expect(engine.memoryStats().bytesInUse).toBeGreaterThan(before + 3 * 1000 * 16 * 4);
      emb.dispose();
      expect(emb.isDisposed).toBe(true);
      expect(engine.memoryStats().bytesInUse).toBe(before);
      emb.dispose(); // twice is fine
      expect(() => emb.update([1], new Float32Array(16))).toThrow(DisposedError);
      expect(() => emb.lookup([1])).toThrow(DisposedError);
      expect(() => emb.weights).toThrow(DisposedError);
      expect(() => emb.flush()).toThrow(DisposedError);
      expect(() => emb.stateDict()).toThrow(DisposedError);
      expect(() => (emb.lr = 1)).toThrow(DisposedError);
    });
  });

  describe('bad input throws a clear error and changes nothing', () => {
    let emb: Embedding;
    const rows = 10,
      dim = 4;
    beforeAll(() => {
      emb = new Embedding(rows, dim, { optimizer: 'adam', lr: 0.1, seed: 5, engine });
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
      [
        'an id past 2^31 in a Uint32Array',
        () => emb.update(new Uint32Array([3, 2 ** 31 + 3]), new Float32Array(8)),
        /ids\[1\] = 2147483651/,
        RangeError,
      ],
      [
        'an id past 2^32 in an array',
        () => emb.update([2 ** 32 + 1], new Float32Array(4)),
        /ids\[0\] = 4294967297/,
        RangeError,
      ],
      ['a fractional id', () => emb.update([1.5], new Float32Array(4)), /ids\[0\]/, TypeError],
      [
        'ids of the wrong type',
        () => emb.update(new Float32Array([1]) as never, new Float32Array(4)),
        /Int32Array/,
        TypeError,
      ],
      ['grads too short', () => emb.update([1, 2], new Float32Array(7)), /2 \* 4 = 8 floats, got 7/, RangeError],
      ['grads too long', () => emb.update([1], new Float32Array(5)), /got 5/, RangeError],
      ['grads not an array', () => emb.update([1], 'abcd' as never), /grads/, TypeError],
      ['grads holding a string', () => emb.update([1], [1, 2, 'x', 4] as never), /grads\[2\]/, TypeError],
      [
        'a NaN gradient',
        () => emb.update([1, 2], new Float32Array([0, 0, 0, 0, 0, Number.NaN, 0, 0])),
        /grads\[5\] is NaN \(position 1, id 2, column 1\)/,
        NonFiniteGradientError,
      ],
      [
        'an infinite gradient',
        () => emb.update([3], new Float32Array([0, -Infinity, 0, 0])),
        /-Infinity/,
        NonFiniteGradientError,
      ],
      [
        'duplicate ids whose gradients overflow when summed',
        () => emb.update([4, 4], new Float32Array([3e38, 0, 0, 0, 3e38, 0, 0, 0])),
        /id 4, which appears several times, sum to a non-finite value/,
        NonFiniteGradientError,
      ],
      ['a lookup id out of range', () => emb.lookup([0, 11]), /ids\[1\] = 11/, RangeError],
      [
        'a lookup out buffer of the wrong length',
        () => emb.lookup([0, 1], new Float32Array(7)),
        /8 floats, got 7/,
        RangeError,
      ],
      [
        'a lookup out buffer of the wrong type',
        () => emb.lookup([0], new Float64Array(4) as never),
        /Float32Array/,
        TypeError,
      ],
      ['a bad gradView size', () => emb.gradView(-1), /'k'/, RangeError],
    ];
    it.each(cases)('%s', (_name, f, message, type) => {
      const before = snapshot(emb);
      expectThrows(f, message, type);
      expectUnchanged(emb, before);
    });

    it("nonFinite: 'skip' returns false and changes nothing; 'ignore' does not check", () => {
      const skip = new Embedding(5, 2, { nonFinite: 'skip', init: 'zeros', engine });
      expect(skip.update([1], [Number.NaN, 1])).toBe(false);
      expect(skip.update([1, 1], [3e38, 0, 3e38, 0])).toBe(false);
      expect(skip.stepCount).toBe(0);
      expect(skip.weights).toEqual(new Float32Array(10));
      const ignore = new Embedding(5, 2, { optimizer: 'sgd', lr: 1, nonFinite: 'ignore', init: 'zeros', engine });
      expect(ignore.update([1], [Number.NaN, 1])).toBe(true);
      expect(Number.isNaN(ignore.weights[2])).toBe(true);
      expect(ignore.weights[3]).toBe(-1);
      skip.dispose();
      ignore.dispose();
    });

    it('bad constructor arguments and options name the option and allocate nothing', () => {
      const bad: [unknown[], RegExp, ErrorClass][] = [
        [[0, 4], /'rows' must be an integer in \[1/, RangeError],
        [[10.5, 4], /'rows'/, RangeError],
        [['10', 4], /'rows' must be a positive integer/, TypeError],
        [[10, 0], /'dim'/, RangeError],
        [
          [10, 4, { optimizer: 'lamb' }],
          /'optimizer' must be one of 'sgd', 'adagrad', 'adam', 'adamw', 'adamax', 'lion', 'adadelta', 'nadam', 'radam', 'rowwiseAdagrad', 'partialRowwiseAdam', 'ftrl', got 'lamb'/,
          RangeError,
        ],
        [[10, 4, { mode: 'eager' }], /'mode'/, RangeError],
        [[10, 4, { lr: -1 }], /'lr' must be >= 0, got -1/, RangeError],
        [[10, 4, { lr: Number.NaN }], /'lr' must not be NaN/, RangeError],
        [[10, 4, { betas: [0.9, 1] }], /betas\[1\]/, RangeError],
        [[10, 4, { weight_decay: 0.1 }], /unknown option 'weight_decay' \(did you mean 'weightDecay'\?\)/, TypeError],
        [[10, 4, { optimizer: 'adam', momentum: 0.9 }], /unknown option 'momentum'/, TypeError],
        [[10, 4, { optimizer: 'sgd', nesterov: true }], /'nesterov' needs momentum > 0/, RangeError],
        [[10, 4, { optimizer: 'sgd', momentum: -0.1 }], /'momentum'/, RangeError],
        [[10, 4, { nonFinite: 'warn' }], /'nonFinite'/, RangeError],
        [[10, 4, { init: new Float32Array(39) }], /holds 39 values; the table needs rows \* dim = 40/, RangeError],
        [
          [10, 4, { init: Float32Array.from({ length: 40 }, (_, i) => (i === 17 ? Infinity : 0)) }],
          /Infinity at \[17\] \(row 4\)/,
          RangeError,
        ],
        [[10, 4, { init: 'ones' }], /'init'/, RangeError],
        [[10, 4, { init: { distribution: 'normal', std: -1 } }], /'std' must be >= 0/, RangeError],
        [
          [10, 4, { init: { distribution: 'uniform', low: 1, high: 1 } }],
          /'high' must be greater than 'low'/,
          RangeError,
        ],
        [[10, 4, { init: { distribution: 'cauchy' } }], /'distribution'/, RangeError],
        [[10, 4, { seed: -1 }], /'seed'/, RangeError],
        [[10, 4, { seed: 1.5 }], /'seed'/, RangeError],
        [[10, 4, { engine: {} as Engine }], /'engine'/, TypeError],
        [[10, 4, null], /options must be an object/, TypeError],
      ];
      expectRefusedWithoutAllocation(
        engine,
        bad.map(([args, message, type]) => {
          const [rows, dim, options] = args as [number, number, EmbeddingOptions | null];
          return [
            () => new Embedding(rows, dim, options === null ? (null as never) : { engine, ...options }),
            message,
            type,
          ] as const;
        }),
      );
    });
  });
});

describe('Embedding: block limits', () => {
  it('a table right at the 1 GiB block limit is created, updated and read (no alignment padding then)', async () => {
    const fresh = await createEngine({ simd: true });
    const rows = (1 << 22) - 1,
      dim = 64; // 2^28 - 64 floats: 64 bytes under the limit
    const emb = new Embedding(rows, dim, { optimizer: 'sgd', lr: 0.5, init: 'zeros', engine: fresh });
    emb.update([rows - 1, 0], new Float32Array(2 * dim).fill(1));
    expect(Array.from(emb.lookup([rows - 1, 1, 0]).filter((_, i) => i % dim === 0))).toEqual([-0.5, 0, -0.5]);
    emb.dispose();
  });

  it('a shard holds the optimizer state of its rows side by side within one engine block', () => {
    for (const [options, tensors] of [
      [{ optimizer: 'adam' }, 2],
      [{ optimizer: 'adam', amsgrad: true }, 3],
      [{ optimizer: 'sgd' }, 1],
      [{ optimizer: 'adagrad' }, 1],
      [{ optimizer: 'adamax' }, 2],
      [{ optimizer: 'lion' }, 1],
      [{ optimizer: 'adadelta' }, 2],
      [{ optimizer: 'nadam' }, 2],
      [{ optimizer: 'radam' }, 2],
    ] as const) {
      const shardRows = shardRowsFor(2 ** 24, 64, options as EmbeddingOptions);
      expect(shardRows * 64 * tensors).toBeLessThanOrEqual(SHARD_MAX_FLOATS);
    }
  });
});

describe('Embedding: the SIMD and the scalar build agree bit for bit', () => {
  it.each(['adam', 'adamw', 'sgd', 'adagrad'] as const)(
    '%s, lazy and exact, dim 13 (SIMD body and scalar tail), 200 updates',
    async (optimizer) => {
      const simd = await engineFor('simd');
      const scalar = await engineFor('scalar');
      for (const mode of ['lazy', 'exact'] as const) {
        const opts: EmbeddingOptions = { optimizer, mode, lr: 0.01, init: { distribution: 'normal' }, seed: 9 };
        if (optimizer === 'sgd') Object.assign(opts, { momentum: 0.9 });
        if (optimizer === 'adam' && mode === 'lazy') Object.assign(opts, { weightDecay: 0.01, amsgrad: true });
        const a = new Embedding(300, 13, { ...opts, engine: simd });
        const b = new Embedding(300, 13, { ...opts, engine: scalar });
        expect(b.weights).toEqual(a.weights);
        const rand = rng(3);
        // 200 updates: windows that start after ~100 steps use the centred series in exact mode.
        for (let s = 0; s < 200; s++) {
          // Every third update goes to rows 250-299 only, with gradients that alternate between tiny
          // (1e-9) and ordinary (1e-3) elements: groups of 4 elements where some sqrt(v) are near eps
          // and some are not, which exact mode's catch-up handles per group of 4 (term-by-term sum,
          // 4-term series, centred series).
          const tiny = s % 3 === 0;
          const ids = tiny ? skewedIds(rand, 50, 50).map((r) => 250 + r) : skewedIds(rand, 50, 250);
          const grads = uniform(rand, 50 * 13, 1);
          if (tiny) grads.forEach((g, i) => (grads[i] = g * ((i * 7) % 3 === 0 ? 1e-9 : 1e-3)));
          a.update(ids, grads);
          b.update(ids, grads);
          if (s % 10 === 0) expect(b.lookup(ids)).toEqual(a.lookup(ids));
        }
        const wa = a.weights,
          wb = b.weights;
        expect(
          Buffer.from(wb.buffer, wb.byteOffset, wb.byteLength).equals(
            Buffer.from(wa.buffer, wa.byteOffset, wa.byteLength),
          ),
        ).toBe(true);
        for (const k of a.stateKeys) expect(b.state(k)).toEqual(a.state(k));
        a.dispose();
        b.dispose();
      }
    },
  );
});
