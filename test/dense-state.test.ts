// State round trips and training behaviour of the dense optimizers, in both builds:
// `stateDict()` after k steps loaded into a fresh optimizer continues bit for bit, and a small
// convergence matrix (every optimizer drives a 2-D quadratic and Rosenbrock's function down).
import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { bitDiffs, fillGrad, makeOptimizer, randomF32, REGIMES, rng, type Kind } from './dense-util.js';

const VARIANTS: [Kind, Record<string, unknown>][] = [
  ['Adam', { lr: 0.01 }],
  ['Adam', { lr: 0.01, amsgrad: true, weightDecay: 0.1, maximize: true }],
  ['AdamW', { lr: 0.01, betas: [0.8, 0.99] }],
  ['SGD', { lr: 0.01, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 }],
  ['SGD', { lr: 0.01, momentum: 0.9, nesterov: true }],
  ['Adagrad', { lr: 0.05, lrDecay: 0.01, initialAccumulatorValue: 0.1 }],
  ['RMSprop', { lr: 0.005, centered: true, momentum: 0.5, weightDecay: 0.01 }],
];

describe.each(BUILD_NAMES)('stateDict round trip (%s)', (build) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await engineFor(build);
  });

  it.each(VARIANTS)(
    '%s %j: save after k steps, load into a fresh optimizer, both continue bit for bit',
    (kind, options) => {
      const r = rng(31);
      const a = makeOptimizer(kind, options, engine);
      for (const n of [3, 33, 1000]) a.param(randomF32(n, r));
      const gradStep = (opts: (typeof a)[], t: number): void => {
        opts[0].params.forEach((p, i) => {
          const g = fillGrad(new Float32Array(p.length), REGIMES[(i + t) % REGIMES.length], r);
          for (const o of opts) o.params[i].grad.set(g);
        });
        for (const o of opts) o.step();
      };
      for (let t = 1; t <= 6; t++) {
        if (t === 3) a.param(randomF32(17, r)); // a param with its own, later birth
        gradStep([a], t);
      }
      const dict = a.stateDict();
      expect(dict.stepCount).toBe(6);
      expect(dict.params.map((p) => p.step)).toEqual([6, 6, 6, 4]);

      // A fresh optimizer, created with other hyperparameters: loading restores the saved ones.
      const b = makeOptimizer(kind, { ...options, lr: 0.123 }, engine);
      for (const p of a.params) b.param(p.data.slice());
      b.loadStateDict(dict);
      expect(b.stepCount).toBe(6);
      expect(b.lr).toBe(a.lr);
      expect(bitDiffs(a, b, 'after load')).toEqual([]);

      // The dict is a copy: stepping a does not change it, and a later load still works.
      const saved = dict.params.map((p) => Object.fromEntries(Object.entries(p.state).map(([k, v]) => [k, v.slice()])));
      for (let t = 7; t <= 16; t++) {
        if (t === 9) {
          const init = randomF32(5, r);
          a.param(init);
          b.param(init);
        } // born after the load
        if (t === 12) {
          a.lr *= 0.5;
          b.lr = a.lr;
        }
        gradStep([a, b], t);
        const diffs = bitDiffs(a, b, `step ${t}`);
        expect(diffs).toEqual([]);
      }
      dict.params.forEach((p, i) => {
        for (const [k, v] of Object.entries(p.state)) expect(Array.from(v)).toEqual(Array.from(saved[i][k]));
      });
      expect(a.stepCount).toBe(16);
      expect(b.stepCount).toBe(16);
      expect(b.stateDict().params.map((p) => p.step)).toEqual([16, 16, 16, 14, 8]);
      a.dispose();
      b.dispose();
    },
  );
});

interface Problem {
  start: [number, number];
  f(x: number, y: number): number;
  grad(x: number, y: number): [number, number];
  min: [number, number];
}

const PROBLEMS: Record<string, Problem> = {
  // f = (x^2 + 10 y^2) / 2, condition number 10, minimum at the origin.
  quadratic: { start: [3, -2], f: (x, y) => 0.5 * (x * x + 10 * y * y), grad: (x, y) => [x, 10 * y], min: [0, 0] },
  // Rosenbrock's banana, minimum at (1, 1), from the classic start (-1.2, 1).
  rosenbrock: {
    start: [-1.2, 1],
    f: (x, y) => (1 - x) ** 2 + 100 * (y - x * x) ** 2,
    grad: (x, y) => [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)],
    min: [1, 1],
  },
};

const TRAINERS: [Kind, Record<string, unknown>][] = [
  ['Adam', { lr: 0.05 }],
  ['Adam', { lr: 0.05, amsgrad: true }],
  ['AdamW', { lr: 0.05, weightDecay: 0.001 }],
  ['SGD', { lr: 0.002 }],
  ['SGD', { lr: 0.001, momentum: 0.9 }],
  ['SGD', { lr: 0.001, momentum: 0.9, nesterov: true }],
  ['Adagrad', { lr: 0.3 }],
  ['RMSprop', { lr: 0.005 }],
  ['RMSprop', { lr: 0.002, centered: true, momentum: 0.5 }],
];

describe.each(BUILD_NAMES)('convergence matrix (%s)', (build) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await engineFor(build);
  });

  const cases = TRAINERS.flatMap(([kind, options]) =>
    Object.keys(PROBLEMS).map((name) => [kind, options, name] as const),
  );
  it.each(cases)('%s %j on %s: 2000 steps take the loss below 1% of its start', (kind, options, name) => {
    const P = PROBLEMS[name];
    const opt = makeOptimizer(kind, options, engine);
    const w = opt.param(new Float32Array(P.start));
    const f0 = P.f(...P.start);
    let best = f0;
    for (let t = 0; t < 2000; t++) {
      w.grad.set(P.grad(w.data[0], w.data[1]));
      opt.step();
      best = Math.min(best, P.f(w.data[0], w.data[1]));
    }
    const [x, y] = w.data;
    const f = P.f(x, y);
    opt.dispose();
    expect(Number.isFinite(f)).toBe(true);
    expect(f).toBeLessThan(0.01 * f0);
    expect(Math.hypot(x - P.min[0], y - P.min[1])).toBeLessThan(0.5);
    expect(best).toBeLessThan(f0);
  });
});
