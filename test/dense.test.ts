// Exactness of the dense optimizers against float64 references written from PyTorch 2.x's
// published algorithms (test/reference/): every optimizer, every option that changes the code
// path, SIMD tail sizes, several gradient regimes, 25 steps of fresh seeded gradients, in both
// builds. Worst |f32 - f64| <= 2e-5 * max|f64| per tensor, for params and every state tensor.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { createReference } from './reference/index.js';
import { bitDiffs, drive, makeOptimizer, pair, REGIMES, rng, fillGrad, randomF32, type Kind } from './dense-util.js';

/** Sizes that exercise the 16-wide unrolled loop, the 4-wide loop and the scalar tail. */
const SIZES = [1, 3, 4, 7, 16, 33, 1000, 4099];
const STEPS = 25;

interface Case {
  kind: Kind;
  options: Record<string, unknown>;
}

function product<T extends Record<string, unknown[]>>(axes: T): { [K in keyof T]: T[K][number] }[] {
  let out: Record<string, unknown>[] = [{}];
  for (const [k, values] of Object.entries(axes)) out = out.flatMap((o) => values.map((v) => ({ ...o, [k]: v })));
  return out as { [K in keyof T]: T[K][number] }[];
}

const CASES: Case[] = [
  // PyTorch defaults first.
  ...(['Adam', 'AdamW', 'SGD', 'Adagrad', 'RMSprop'] as const).map((kind) => ({ kind, options: {} })),
  // Adam: L2 decay, AMSGrad, maximize (each its own kernel variant), plus unusual betas/eps.
  ...product({ amsgrad: [false, true], weightDecay: [0, 0.1], maximize: [false, true] }).map((o) => ({
    kind: 'Adam' as const,
    options: { lr: 0.05, ...o },
  })),
  { kind: 'Adam', options: { lr: 0.02, betas: [0, 0.5], eps: 1e-3 } },
  // AdamW: decoupled decay with and without AMSGrad and maximize.
  ...product({ amsgrad: [false, true], weightDecay: [0.01, 0.3], maximize: [false, true] }).map((o) => ({
    kind: 'AdamW' as const,
    options: { lr: 0.05, ...o },
  })),
  // SGD: plain, momentum, dampening, Nesterov, each with and without decay and maximize.
  ...product({
    mom: [
      { momentum: 0 },
      { momentum: 0, dampening: 0.3 },
      { momentum: 0.9 },
      { momentum: 0.9, dampening: 0.3 },
      { momentum: 0.9, nesterov: true },
    ],
    weightDecay: [0, 0.05],
    maximize: [false, true],
  }).map(({ mom, ...o }) => ({ kind: 'SGD' as const, options: { lr: 0.05, ...mom, ...o } })),
  // Adagrad: lrDecay, weightDecay, initialAccumulatorValue, eps, maximize.
  ...product({ lrDecay: [0, 0.05], weightDecay: [0, 0.1], initialAccumulatorValue: [0, 0.5] }).map((o) => ({
    kind: 'Adagrad' as const,
    options: { lr: 0.1, ...o },
  })),
  { kind: 'Adagrad', options: { lr: 0.1, eps: 1e-3, maximize: true } },
  // RMSprop: centered, momentum, weightDecay, maximize.
  ...product({ centered: [false, true], momentum: [0, 0.9], weightDecay: [0, 0.1], maximize: [false, true] }).map(
    (o) => ({ kind: 'RMSprop' as const, options: { lr: 0.01, ...o } }),
  ),
  { kind: 'RMSprop', options: { lr: 0.01, alpha: 0.5, eps: 1e-4, centered: true } },
];

const label = (c: Case): string => `${c.kind} ${JSON.stringify(c.options)}`;

describe.each(BUILD_NAMES)('dense optimizers against the float64 reference (%s)', (build) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await engineFor(build);
  });

  it.each(CASES.map((c, i) => [label(c), c, i] as const))('%s', (name, c, i) => {
    const { opt, ref } = pair(c.kind, c.options, engine, SIZES, 1000 + i);
    // Each tensor keeps one regime; the assignment rotates per case so every size meets every regime.
    const bad = drive(opt, ref, name, {
      steps: STEPS,
      seed: 77 + i,
      regimeOf: (j) => REGIMES[(j + i) % REGIMES.length],
    });
    opt.dispose();
    expect(bad).toEqual([]);
  });

  it.each(['Adam', 'AdamW', 'SGD', 'Adagrad', 'RMSprop'] as const)('%s follows an lr changed between steps', (kind) => {
    const options =
      kind === 'SGD' ? { lr: 0.05, momentum: 0.9 } : kind === 'RMSprop' ? { lr: 0.01, momentum: 0.5 } : { lr: 0.05 };
    const { opt, ref } = pair(kind, options, engine, [5, 33, 300], 11);
    const bad = drive(opt, ref, `${kind} lr schedule`, {
      steps: STEPS,
      seed: 12,
      before: (t) => {
        const lr = options.lr * (0.25 + ((t * 7) % 5) / 2);
        opt.lr = lr;
        ref.lr = lr;
      },
    });
    expect(opt.lr).toBe(ref.lr);
    opt.dispose();
    expect(bad).toEqual([]);
  });

  it.each([
    ['Adam', { lr: 0.05, amsgrad: true }],
    ['AdamW', { lr: 0.05 }],
    ['SGD', { lr: 0.05, momentum: 0.9, dampening: 0.2 }],
    ['SGD', { lr: 0.05, momentum: 0.8, nesterov: true }],
    ['Adagrad', { lr: 0.1, lrDecay: 0.1 }],
    ['RMSprop', { lr: 0.01, centered: true, momentum: 0.5 }],
  ] as const)('%s %j: params added after some steps take their own step 1', (kind, options) => {
    const { opt, ref } = pair(kind, options, engine, [7, 33], 21);
    const r = rng(22);
    const add = (n: number): void => {
      const p = opt.param(randomF32(n, r));
      ref.addParam(p.data);
    };
    const bad = drive(opt, ref, `${kind} late params`, {
      steps: STEPS,
      seed: 23,
      before: (t) => {
        if (t === 4) {
          add(16);
          add(1000);
        }
        if (t === 11) {
          add(1);
          add(4099);
        }
      },
    });
    expect(bad).toEqual([]);
    // Each param's own step count, as PyTorch keeps it, is in the state dict.
    expect(opt.stateDict().params.map((p) => p.step)).toEqual([25, 25, 22, 22, 15, 15]);
    expect(ref.steps).toEqual([25, 25, 22, 22, 15, 15]);
    opt.dispose();
  });

  it('a late param is not just the old ones rerun: Adam bias correction restarts at t = 1', () => {
    // Hand-derived: at a param's first Adam step m = (1-b1) g, v = (1-b2) g^2, and
    // p -= lr/(1-b1) * m / (sqrt(v)/sqrt(1-b2) + eps) = lr * g / (|g| + eps)  ~  lr * sign(g).
    const opt = makeOptimizer('Adam', { lr: 0.1 }, engine);
    const a = opt.param(new Float32Array([0]));
    for (let t = 0; t < 5; t++) {
      a.grad.set([1]);
      opt.step();
    }
    const b = opt.param(new Float32Array([0]));
    a.grad.set([1]);
    b.grad.set([-1]);
    opt.step();
    expect(b.data[0]).toBeCloseTo(0.1, 6);
    expect(a.data[0]).toBeCloseTo(-0.6, 5);
    opt.dispose();
  });

  describe("equivalences (as in optax's tests)", () => {
    function runBoth(
      kindA: Kind,
      optsA: Record<string, unknown>,
      kindB: Kind,
      optsB: Record<string, unknown>,
      negateB = false,
    ): string[] {
      const A = makeOptimizer(kindA, optsA, engine);
      const B = makeOptimizer(kindB, optsB, engine);
      const r = rng(5);
      for (const n of SIZES) {
        const init = randomF32(n, r);
        A.param(init);
        B.param(init);
      }
      for (let t = 0; t < STEPS; t++) {
        A.params.forEach((p, i) => {
          const g = fillGrad(new Float32Array(p.length), REGIMES[(i + t) % REGIMES.length], r);
          p.grad.set(g);
          B.params[i].grad.set(negateB ? g.map((x) => -x) : g);
        });
        A.step();
        B.step();
      }
      const diffs = bitDiffs(A, B, `${kindA} vs ${kindB}`);
      A.dispose();
      B.dispose();
      return diffs;
    }

    it.each([false, true])('AdamW with weightDecay 0 is Adam bit for bit (amsgrad %s)', (amsgrad) => {
      expect(runBoth('AdamW', { lr: 0.05, weightDecay: 0, amsgrad }, 'Adam', { lr: 0.05, amsgrad })).toEqual([]);
    });

    it('SGD with momentum 0 is plain SGD bit for bit (dampening ignored)', () => {
      expect(
        runBoth('SGD', { lr: 0.05, momentum: 0, dampening: 0.7, weightDecay: 0.01 }, 'SGD', {
          lr: 0.05,
          weightDecay: 0.01,
        }),
      ).toEqual([]);
    });

    it.each([
      ['Adam', { lr: 0.05, amsgrad: true, weightDecay: 0.1 }],
      ['AdamW', { lr: 0.05 }],
      ['SGD', { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.1 }],
      ['Adagrad', { lr: 0.1, weightDecay: 0.1 }],
      ['RMSprop', { lr: 0.01, centered: true, momentum: 0.9, weightDecay: 0.1 }],
    ] as const)('%s: maximize on g is minimize on -g bit for bit', (kind, options) => {
      expect(runBoth(kind, { ...options, maximize: true }, kind, options, true)).toEqual([]);
    });
  });

  it('the reference itself: hand-derived first steps', () => {
    // SGD momentum: buf starts as the first gradient. p = 1, g = 2, lr = 0.1, mu = 0.9:
    // step 1: buf = 2, p = 1 - 0.2 = 0.8; step 2 (g = 2): buf = 0.9*2 + 2 = 3.8, p = 0.8 - 0.38 = 0.42.
    const sgd = createReference('SGD', { lr: 0.1, momentum: 0.9 });
    sgd.addParam([1]);
    sgd.step([[2]]);
    expect(sgd.params[0][0]).toBeCloseTo(0.8, 12);
    sgd.step([[2]]);
    expect(sgd.params[0][0]).toBeCloseTo(0.42, 12);
    // Adagrad, lrDecay 1: step 2 uses clr = lr / 2. p = 0, g = 3, lr = 1, eps 0:
    // step 1: sum = 9, p = -3/3 = -1; step 2: sum = 18, p = -1 - 0.5 * 3/sqrt(18).
    const ada = createReference('Adagrad', { lr: 1, lrDecay: 1, eps: 0 });
    ada.addParam([0]);
    ada.step([[3]]);
    ada.step([[3]]);
    expect(ada.params[0][0]).toBeCloseTo(-1 - 1.5 / Math.sqrt(18), 12);
    // RMSprop centered, alpha 0.5, g = 2 once: sq = 2, ga = 1, avg = sqrt(2 - 1) = 1, p -= lr * 2.
    const rms = createReference('RMSprop', { lr: 0.1, alpha: 0.5, eps: 0, centered: true });
    rms.addParam([0]);
    rms.step([[2]]);
    expect(rms.params[0][0]).toBeCloseTo(-0.2, 12);
    // AdamW decays first: p = 1, lr = 0.1, wd = 0.5, g = 0: p = 0.95 and m = v = 0 leave it there.
    const adamw = createReference('AdamW', { lr: 0.1, weightDecay: 0.5 });
    adamw.addParam([1]);
    adamw.step([[0]]);
    expect(adamw.params[0][0]).toBeCloseTo(0.95, 12);
  });
});
