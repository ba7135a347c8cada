// Exact mode: a table updated sparsely must hold what the dense optimizer of this package gives
// when every update is a dense gradient that is zero outside the ids (duplicates summed).
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Adagrad,
  Adam,
  AdamW,
  Embedding,
  SGD,
  type Engine,
  type EmbeddingOptions,
  type Optimizer,
} from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { DenseAdamRef, denseGrad, maxRelError, rng, skewedIds, uniform } from './embedding-ref.js';

// |table - dense| / (|dense| + FLOOR) must stay below TOL: relative, with a floor for weights near 0.
const TOL = 2e-5;
const FLOOR = 1e-2;

interface Run {
  rows: number;
  dim: number;
  steps: number;
  k: number;
  /** ids of step s (default: skewed random ids). */
  ids?: (s: number, rand: () => number) => Int32Array;
  gradScale?: number;
  /** Rescales the gradients of step s in place (e.g. tiny and ordinary elements side by side). */
  gradMap?: (g: Float32Array, s: number) => void;
  /** lr of step s (default: constant). */
  lr?: (s: number) => number;
  /** Compare lookups of random rows with the dense rows every this many steps. */
  lookupEvery?: number;
  /**
   * Long runs (adam/adamw): compare with the float64 dense reference at TOL, and with the float32
   * dense optimizer at DENSE_DRIFT: over thousands of steps the float32 dense optimizer drifts from
   * its own exact arithmetic (each weight-decay step rounds p, in the same direction while p moves
   * slowly), while the table applies the missed steps in closed form.
   */
  f64?: boolean;
}

const DENSE_DRIFT = 1e-3; // measured: 4e-5 after 9000 steps, 3e-4 after 34000

function makeDense(optimizer: string, o: Record<string, unknown>, engine: Engine): Optimizer<object> {
  const opts = { ...o, engine };
  if (optimizer === 'adam') return new Adam(opts) as unknown as Optimizer<object>;
  if (optimizer === 'adamw') return new AdamW(opts) as unknown as Optimizer<object>;
  if (optimizer === 'sgd') return new SGD(opts) as unknown as Optimizer<object>;
  return new Adagrad(opts) as unknown as Optimizer<object>;
}

/** Runs the table and the dense optimizer side by side; returns the worst relative error seen. */
function compare(
  engine: Engine,
  optimizer: 'adam' | 'adamw' | 'sgd' | 'adagrad',
  o: Record<string, unknown>,
  run: Run,
  seed = 1,
): number {
  const { rows, dim, steps, k } = run;
  const rand = rng(seed);
  const init = uniform(rand, rows * dim);
  const emb = new Embedding(rows, dim, { ...o, optimizer, mode: 'exact', init, engine } as EmbeddingOptions);
  const dense = makeDense(optimizer, o, engine);
  const p = dense.param(init);
  const ref = run.f64 ? new DenseAdamRef(init, { ...(o as { lr: number }), decoupled: optimizer === 'adamw' }) : null;
  const target = (): ArrayLike<number> => ref?.p ?? p.data;
  let worst = 0;
  try {
    for (let s = 0; s < steps; s++) {
      if (run.lr) emb.lr = dense.lr = run.lr(s);
      if (ref) ref.lr = dense.lr;
      const ids = run.ids ? run.ids(s, rand) : skewedIds(rand, k, rows);
      const grads = uniform(rand, ids.length * dim, run.gradScale ?? 1);
      run.gradMap?.(grads, s);
      expect(emb.update(ids, grads)).toBe(true);
      const dg = denseGrad(ids, grads, rows, dim);
      p.grad.set(dg);
      dense.step();
      ref?.step(dg);
      if (run.lookupEvery && s % run.lookupEvery === 0) {
        // Lookups return current rows: rows that missed steps are brought up to date first.
        const look = skewedIds(rand, 8, rows).map((r) => rows - 1 - r);
        const got = emb.lookup(look);
        const want = new Float32Array(look.length * dim);
        const all = target();
        look.forEach((r, i) => {
          for (let c = 0; c < dim; c++) want[i * dim + c] = all[r * dim + c];
        });
        const e = maxRelError(got, want, FLOOR);
        expect(e.err, `lookup at step ${s + 1}, element ${e.at}: ${got[e.at]} vs ${want[e.at]}`).toBeLessThan(TOL);
        worst = Math.max(worst, e.err);
      }
    }
    const w = emb.weights; // flushes
    const want = target();
    const e = maxRelError(w, want, FLOOR);
    expect(e.err, `weights[${e.at}] after ${steps} steps: ${w[e.at]} vs ${want[e.at]}`).toBeLessThan(TOL);
    worst = Math.max(worst, e.err);
    if (ref) expect(maxRelError(w, p.data, FLOOR).err).toBeLessThan(DENSE_DRIFT);
    // The state too, where the dense optimizer keeps the same tensors.
    for (const name of emb.stateKeys) {
      const es = maxRelError(emb.state(name), p.state(name), 1e-6);
      expect(es.err, `${name}[${es.at}]`).toBeLessThan(1e-4);
    }
  } finally {
    emb.dispose();
    dense.dispose();
  }
  return worst;
}

describe.each(BUILD_NAMES)('Embedding exact mode = the dense optimizer (%s)', (build) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await engineFor(build);
  });

  it.each([1, 5, 16, 64])('adam, dim %i, 60 steps, lookups along the way', (dim) => {
    compare(engine, 'adam', { lr: 0.01 }, { rows: 40, dim, steps: 60, k: 10, lookupEvery: 5 });
  });

  it.each([5, 16])('adamw (weight decay 0.1), dim %i, lr changing every step (cosine schedule)', (dim) => {
    const lr = (s: number) => 0.001 + (0.02 * (1 + Math.cos((Math.PI * s) / 50))) / 2;
    compare(engine, 'adamw', { lr: 0.01, weightDecay: 0.1 }, { rows: 40, dim, steps: 80, k: 10, lr, lookupEvery: 7 });
  });

  it('adamw with AMSGrad, maximize and betas (0.8, 0.95)', () => {
    compare(
      engine,
      'adamw',
      { lr: 0.01, weightDecay: 0.05, amsgrad: true, maximize: true, betas: [0.8, 0.95] },
      { rows: 30, dim: 7, steps: 60, k: 8, lookupEvery: 4 },
    );
  });

  it('adam with AMSGrad and a schedule', () => {
    compare(
      engine,
      'adam',
      { lr: 0.01, amsgrad: true },
      { rows: 30, dim: 6, steps: 60, k: 8, lr: (s) => 0.02 / (1 + s / 10) },
    );
  });

  it('rows untouched for longer than the summed window (gaps of 600 steps > J = 263)', () => {
    // Rows 0-2 move every step; row 9 only at steps 5, 606 and 1190; the others never.
    const ids = (s: number) =>
      Int32Array.from(s === 5 || s === 606 || s === 1190 ? [0, 1, 2, 9] : [s % 3, (s + 1) % 3]);
    compare(
      engine,
      'adamw',
      { lr: 0.005, weightDecay: 0.02 },
      { rows: 12, dim: 5, steps: 1200, k: 0, ids, lookupEvery: 97, f64: true },
    );
  });

  it('tiny gradients (sqrt(v) near eps: the term-by-term sum in early windows, the centred series later) and long gaps', () => {
    const ids = (s: number) => Int32Array.from(s % 40 === 0 ? [3, 4, 5, 6] : [s % 3]);
    compare(
      engine,
      'adamw',
      { lr: 0.01, weightDecay: 0.1, eps: 1e-8 },
      { rows: 8, dim: 9, steps: 700, k: 0, ids, gradScale: 3e-8, lookupEvery: 13, f64: true },
    );
  });

  it('tiny and ordinary gradients side by side in a row (the catch-up decides per group of 4 elements)', () => {
    const ids = (s: number) => Int32Array.from(s % 25 === 0 ? [3, 4, 5, 6, 7] : [s % 3]);
    const gradMap = (g: Float32Array) => g.forEach((x, i) => (g[i] = x * ((i * 7) % 3 === 0 ? 1e-9 : 1e-3)));
    compare(
      engine,
      'adamw',
      { lr: 0.01, weightDecay: 0.05 },
      { rows: 9, dim: 13, steps: 600, k: 0, ids, gradMap, lookupEvery: 11, f64: true },
    );
    compare(
      engine,
      'adam',
      { lr: 0.01, amsgrad: true },
      { rows: 9, dim: 13, steps: 600, k: 0, ids, gradMap, lookupEvery: 11, f64: true },
    );
  });

  it('rows that lag thousands of steps (5000 rows, swept one per update, 9000 steps)', () => {
    const rows = 5000;
    const ids = (s: number, rand: () => number) => Int32Array.from([s % 4, Math.floor(rand() * rows)]);
    compare(
      engine,
      'adamw',
      { lr: 0.002, weightDecay: 0.01 },
      { rows, dim: 1, steps: 9000, k: 0, ids, lookupEvery: 499, f64: true },
    );
  });

  it('more steps than the history ring holds (34000 > 32768): the ring wraps around', () => {
    const rows = 300;
    const ids = (s: number, rand: () => number) => Int32Array.from([s % 3, Math.floor(rand() * rows)]);
    compare(
      engine,
      'adamw',
      { lr: 0.001, weightDecay: 0.01, amsgrad: true },
      { rows, dim: 1, steps: 34000, k: 0, ids, lookupEvery: 997, f64: true },
    );
  });

  it('sgd with momentum and dampening', () => {
    compare(
      engine,
      'sgd',
      { lr: 0.05, momentum: 0.9, dampening: 0.1 },
      { rows: 30, dim: 6, steps: 80, k: 6, lookupEvery: 9, lr: (s) => 0.05 * 0.99 ** s },
    );
  });

  it('sgd with Nesterov momentum', () => {
    compare(
      engine,
      'sgd',
      { lr: 0.05, momentum: 0.8, nesterov: true },
      { rows: 30, dim: 5, steps: 80, k: 6, lookupEvery: 9 },
    );
  });

  it('sgd with weight decay (untouched rows shrink)', () => {
    compare(
      engine,
      'sgd',
      { lr: 0.1, weightDecay: 0.05 },
      { rows: 30, dim: 5, steps: 80, k: 6, lookupEvery: 9, lr: (s) => 0.1 / (1 + s) },
    );
  });

  it('adagrad (a zero gradient changes nothing: exact = lazy)', () => {
    compare(engine, 'adagrad', { lr: 0.1, lrDecay: 0.01 }, { rows: 30, dim: 5, steps: 60, k: 6, lookupEvery: 9 });
  });

  it('flush, weights and stateDict bring every row up to date; a loaded table continues like the dense one', () => {
    const rows = 25,
      dim = 4;
    const rand = rng(8);
    const init = uniform(rand, rows * dim);
    const o = { lr: 0.01, weightDecay: 0.1 };
    const emb = new Embedding(rows, dim, { ...o, optimizer: 'adamw', mode: 'exact', init, engine });
    const dense = new AdamW({ ...o, engine });
    const p = dense.param(init);
    const step = (e: Embedding) => {
      const ids = skewedIds(rand, 3, 5);
      const g = uniform(rand, 3 * dim);
      e.update(ids, g);
      p.grad.set(denseGrad(ids, g, rows, dim));
      dense.step();
    };
    for (let s = 0; s < 30; s++) step(emb);
    // Rows 5.. were never touched: flush brings them up (AdamW shrinks them every step).
    emb.flush();
    expect(maxRelError(emb.weights, p.data, FLOOR).err).toBeLessThan(TOL);
    expect(emb.weights[24 * dim]).toBeCloseTo(init[24 * dim] * (1 - 0.001) ** 30, 6);
    const dict = emb.stateDict();
    const other = new Embedding(rows, dim, { ...o, optimizer: 'adamw', mode: 'exact', init: 'zeros', engine });
    other.loadStateDict(dict);
    for (let s = 0; s < 30; s++) step(other);
    expect(maxRelError(other.weights, p.data, FLOOR).err).toBeLessThan(TOL);
    [emb, other, dense].forEach((x) => x.dispose());
  });

  it('refuses what has no closed form, naming the option; an lr * weightDecay >= 1 update changes nothing', () => {
    const bad: [EmbeddingOptions, RegExp][] = [
      [{ optimizer: 'adam', weightDecay: 0.01 }, /'weightDecay' must be 0.*use optimizer 'adamw'/],
      [{ optimizer: 'adagrad', weightDecay: 0.01 }, /'weightDecay' must be 0/],
      [{ optimizer: 'sgd', momentum: 0.9, weightDecay: 0.01 }, /momentum 0.9 with weightDecay 0.01/],
      [{ optimizer: 'sgd', momentum: 1 }, /'momentum' must be < 1/],
      [{ optimizer: 'adamw', betas: [0.99999, 0.999] }, /betas\[0\] <= 0.9995/],
    ];
    for (const [o, message] of bad)
      expect(() => new Embedding(10, 2, { ...o, mode: 'exact', engine })).toThrow(message);
    const emb = new Embedding(10, 2, { optimizer: 'adamw', mode: 'exact', lr: 0.1, weightDecay: 0.5, seed: 1, engine });
    emb.update([1], [1, 1]);
    const before = emb.weights.slice();
    emb.lr = 2;
    expect(() => emb.update([1], [1, 1])).toThrow(/lr \* weightDecay < 1/);
    expect(emb.stepCount).toBe(1);
    expect(emb.weights).toEqual(before);
    emb.dispose();
  });
});
