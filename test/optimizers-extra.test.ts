// Adamax, Adadelta, NAdam, RAdam and Lion against float64 references written from PyTorch 2.x's
// published algorithms (Lion: optax's), in both builds: every option that changes the code path,
// SIMD tail sizes, several gradient regimes, 25 steps of fresh seeded gradients. Worst
// |f32 - f64| <= 2e-5 * max|f64| per tensor, for params and every state tensor. Plus hand-derived
// first steps, SIMD = scalar bit for bit, late params, option validation, state dicts.
import { beforeAll, describe, expect, it } from 'vitest';
import { Adadelta, Adamax, Lion, NAdam, RAdam, createEngine, type Engine, type Optimizer } from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { createReference, type RefKind } from './reference/index.js';
import { bitDiffs, drive, fillGrad, randomF32, REGIMES, rng, type AnyOptimizer } from './dense-util.js';

const SIZES = [1, 3, 4, 7, 16, 33, 1000, 4099];
const STEPS = 25;

const EXTRA = { Adamax, Adadelta, NAdam, RAdam, Lion } as const;
type ExtraKind = keyof typeof EXTRA;

function make(kind: ExtraKind, options: Record<string, unknown>, engine: Engine): AnyOptimizer {
  const Ctor = EXTRA[kind] as unknown as new (o: object) => AnyOptimizer;
  return new Ctor({ ...options, engine });
}

function pairOf(
  kind: ExtraKind,
  options: Record<string, unknown>,
  engine: Engine,
  sizes: readonly number[],
  seed: number,
) {
  const opt = make(kind, options, engine);
  const ref = createReference(kind as RefKind, options);
  const r = rng(seed ^ 0x5bd1e995);
  for (const n of sizes) ref.addParam(opt.param(randomF32(n, r)).data);
  return { opt, ref };
}

interface Case {
  kind: ExtraKind;
  options: Record<string, unknown>;
}

const CASES: Case[] = [
  // PyTorch's (optax's for Lion) defaults, then every kernel variant with and without maximize.
  ...(Object.keys(EXTRA) as ExtraKind[]).map((kind) => ({ kind, options: {} })),
  ...[0, 0.1].flatMap((weightDecay) =>
    [false, true].map((maximize) => ({ kind: 'Adamax' as const, options: { lr: 0.02, weightDecay, maximize } })),
  ),
  { kind: 'Adamax', options: { lr: 0.02, betas: [0.5, 0.9], eps: 1e-3 } },
  ...[0, 0.1].flatMap((weightDecay) =>
    [false, true].map((maximize) => ({ kind: 'Adadelta' as const, options: { lr: 0.5, weightDecay, maximize } })),
  ),
  { kind: 'Adadelta', options: { rho: 0.5, eps: 1e-4 } },
  ...[0, 0.1].flatMap((weightDecay) =>
    [false, true].flatMap((decoupledWeightDecay) =>
      [false, true].map((maximize) => ({
        kind: 'NAdam' as const,
        options: { lr: 0.02, weightDecay, decoupledWeightDecay, maximize },
      })),
    ),
  ),
  { kind: 'NAdam', options: { lr: 0.01, betas: [0.8, 0.99], momentumDecay: 0.05, eps: 1e-4 } },
  ...[0, 0.1].flatMap((weightDecay) =>
    [false, true].flatMap((decoupledWeightDecay) =>
      [false, true].map((maximize) => ({
        kind: 'RAdam' as const,
        options: { lr: 0.02, weightDecay, decoupledWeightDecay, maximize },
      })),
    ),
  ),
  // beta2 = 0.9: rho_inf = 19, the rectified branch from step 2 on (default beta2: from step 6).
  { kind: 'RAdam', options: { lr: 0.01, betas: [0.8, 0.9], eps: 1e-4 } },
  ...[0, 0.1].flatMap((weightDecay) =>
    [false, true].map((maximize) => ({ kind: 'Lion' as const, options: { lr: 0.01, weightDecay, maximize } })),
  ),
  { kind: 'Lion', options: { lr: 0.01, betas: [0.5, 0.9] } },
];

const label = (c: Case): string => `${c.kind} ${JSON.stringify(c.options)}`;

describe.each(BUILD_NAMES)('Adamax, Adadelta, NAdam, RAdam, Lion against the float64 reference (%s)', (build) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await engineFor(build);
  });

  it.each(CASES.map((c, i) => [label(c), c, i] as const))('%s', (name, c, i) => {
    const { opt, ref } = pairOf(c.kind, c.options, engine, SIZES, 3000 + i);
    const bad = drive(opt, ref, name, {
      steps: STEPS,
      seed: 177 + i,
      regimeOf: (j) => REGIMES[(j + i) % REGIMES.length],
    });
    opt.dispose();
    expect(bad).toEqual([]);
  });

  it.each([
    ['NAdam', { lr: 0.02 }],
    ['RAdam', { lr: 0.02 }],
    ['Adamax', { lr: 0.02 }],
  ] as const)(
    '%s: params added after some steps take their own step 1 (bias corrections, mu products)',
    (kind, options) => {
      const { opt, ref } = pairOf(kind, options, engine, [7, 33], 31);
      const r = rng(32);
      const bad = drive(opt, ref, `${kind} late params`, {
        steps: STEPS,
        seed: 33,
        before: (t) => {
          if (t === 4 || t === 11) ref.addParam(opt.param(randomF32(t === 4 ? 16 : 1000, r)).data);
        },
      });
      expect(bad).toEqual([]);
      expect(opt.stateDict().params.map((p) => p.step)).toEqual([25, 25, 22, 15]);
      opt.dispose();
    },
  );

  it.each(Object.keys(EXTRA) as ExtraKind[])('%s follows an lr changed between steps', (kind) => {
    const base = kind === 'Adadelta' ? 0.5 : 0.02;
    const { opt, ref } = pairOf(kind, { lr: base }, engine, [5, 33, 300], 41);
    const bad = drive(opt, ref, `${kind} lr`, {
      steps: STEPS,
      seed: 42,
      before: (t) => {
        const lr = base * (0.25 + ((t * 7) % 5) / 2);
        opt.lr = lr;
        ref.lr = lr;
      },
    });
    opt.dispose();
    expect(bad).toEqual([]);
  });

  it('hand-derived first steps', () => {
    // Lion, m = 0: c = (1 - b1) g, so sign(c) = sign(g); p -= lr (sign(g) + wd p).
    // p = [1, -2, 3], g = [0.5, 0, -4], lr = 0.1, wd = 0.5: [1 - 0.1*1.5, -2 - 0.1*(-1), 3 - 0.1*(0.5)] = [0.85, -1.9, 2.95]
    const lion = new Lion({ lr: 0.1, weightDecay: 0.5, engine });
    const w = lion.param([1, -2, 3]);
    w.grad.set([0.5, 0, -4]);
    lion.step();
    [0.85, -1.9, 2.95].forEach((want, i) => expect(w.data[i]).toBeCloseTo(want, 6));
    // ... and m = b2 * 0 + (1 - b2) g.
    expect(Array.from(w.state('exp_avg'))).toEqual([0.5, 0, -4].map((x) => Math.fround(Math.fround(1 - 0.99) * x)));
    lion.dispose();

    // RAdam, t = 1: rho_1 = rho_inf - 2 b2 / (1 - b2) = 1 <= 5, so p -= lr m / (1 - b1) = lr g.
    const radam = new RAdam({ lr: 0.1, engine });
    const r = radam.param([1, 1]);
    r.grad.set([2, -3]);
    radam.step();
    expect(r.data[0]).toBeCloseTo(1 - 0.2, 6);
    expect(r.data[1]).toBeCloseTo(1 + 0.3, 6);
    radam.dispose();

    // Adamax, t = 1: m = (1-b1) g, u = |g| + eps, p -= lr/(1-b1) m / u = lr g / (|g| + eps) ~ lr sign(g).
    const adamax = new Adamax({ lr: 0.1, engine });
    const a = adamax.param([0, 0]);
    a.grad.set([5, -0.25]);
    adamax.step();
    expect(a.data[0]).toBeCloseTo(-0.1, 6);
    expect(a.data[1]).toBeCloseTo(0.1, 6);
    expect(Array.from(a.state('exp_inf'))).toEqual([5, 0.25].map((x) => Math.fround(x + 1e-8)));
    adamax.dispose();

    // Adadelta, t = 1, rho = 0.9, eps = 1e-6: sq = 0.1 g^2, delta = sqrt(eps) / sqrt(0.1 g^2 + eps) g,
    // for g = 1: delta = 1e-3 / sqrt(0.100001) = 0.0031622618...; p -= lr delta.
    const ad = new Adadelta({ engine });
    const d = ad.param([0]);
    d.grad.set([1]);
    ad.step();
    expect(d.data[0]).toBeCloseTo(-1e-3 / Math.sqrt(0.100001), 8);
    ad.dispose();

    // NAdam, t = 1, defaults: mu1 = 0.9 (1 - 0.5 * 0.96^0.004), mu2 likewise at 2;
    // p -= lr (1-mu1)/(1-mu1) g/denom + lr mu2/(1 - mu1 mu2) m/denom, denom = |g| + eps, m = 0.1 g.
    const nadam = new NAdam({ engine });
    const n = nadam.param([0]);
    n.grad.set([1]);
    nadam.step();
    const mu1 = 0.9 * (1 - 0.5 * Math.pow(0.96, 0.004));
    const mu2 = 0.9 * (1 - 0.5 * Math.pow(0.96, 0.008));
    const denom = 1 + 1e-8;
    expect(n.data[0]).toBeCloseTo(-(2e-3 / denom + ((2e-3 * mu2) / (1 - mu1 * mu2)) * (0.1 / denom)), 8);
    nadam.dispose();
  });

  it('RAdam switches to the rectified update exactly when rho_t > 5 (default beta2: at step 6)', () => {
    expect([1, 2, 3, 4, 5].map((t) => RAdam.rectification(0.999, t))).toEqual([null, null, null, null, null]);
    const r6 = RAdam.rectification(0.999, 6) as number;
    // rho_6 = 1999 - 12 * 0.999^6 / (1 - 0.999^6) = 5.99416...; r = sqrt((rho-4)(rho-2) 1999 / (1995 * 1997 * rho))
    const rho6 = 1999 - (12 * Math.pow(0.999, 6)) / (1 - Math.pow(0.999, 6));
    expect(rho6).toBeCloseTo(5.994164, 5);
    expect(r6).toBeCloseTo(Math.sqrt(((rho6 - 4) * (rho6 - 2) * 1999) / (1995 * 1997 * rho6)), 12);
  });
});

describe('SIMD and scalar builds agree bit for bit', () => {
  let simd: Engine;
  let scalar: Engine;
  beforeAll(async () => {
    simd = await createEngine({ simd: true });
    scalar = await createEngine({ simd: false });
  });

  it.each(CASES.filter((_c, i) => i % 2 === 0).map((c) => [label(c), c] as const))('%s', (_name, c) => {
    const a = make(c.kind, c.options, simd);
    const b = make(c.kind, c.options, scalar);
    const r = rng(9);
    for (const n of SIZES) {
      const init = randomF32(n, r);
      a.param(init);
      b.param(init);
    }
    for (let t = 0; t < 10; t++) {
      a.params.forEach((p, i) => {
        const g = fillGrad(new Float32Array(p.length), REGIMES[(i + t) % REGIMES.length], r);
        p.grad.set(g);
        b.params[i].grad.set(g);
      });
      a.step();
      b.step();
    }
    expect(bitDiffs(a, b, label(c))).toEqual([]);
    a.dispose();
    b.dispose();
  });
});

describe.each(BUILD_NAMES)(
  "Adamax under nonFinite 'ignore': NaN and Infinity as torch.maximum gives them (%s)",
  (build) => {
    let engine: Engine;
    beforeAll(async () => {
      engine = await engineFor(build);
    });

    // exp_inf = max(b2 exp_inf, |g| + eps): a NaN on either side gives NaN, and stays (b2 NaN is NaN);
    // an infinite gradient makes exp_inf infinite (then the update is m / inf = 0 where m is finite).
    // The kernel's max is a select (cheaper than f32x4.max on x86); this checks it against Math.max
    // in the SIMD loop, its 4-float tail and the scalar tail, on the default path (no clamp, no
    // scale) and on the general one (maximize: a gradient scale of -1; weight decay).
    it.each([[{}], [{ weightDecay: 0.1 }], [{ maximize: true, betas: [0.5, 0.9], eps: 1e-3 }]])(
      '%j',
      (options: Record<string, unknown>) => {
        const opt = new Adamax({ ...options, engine, nonFinite: 'ignore' });
        const ref = createReference('Adamax', options);
        const r = rng(31);
        const sizes = [7, 33];
        for (const n of sizes) ref.addParam(opt.param(randomF32(n, r)).data);
        const special = new Map<number, number>([
          [1, Number.NaN],
          [5, Infinity],
          [17, -Infinity],
          [30, Number.NaN],
          [32, Infinity],
        ]);
        for (let t = 0; t < 6; t++) {
          const grads = opt.params.map((p) => {
            const g = fillGrad(new Float32Array(p.length), REGIMES[t % REGIMES.length], r);
            // Non-finite values at step 2 only: later steps show whether NaN and Infinity persist.
            if (t === 2) for (const [i, v] of special) if (i < g.length) g[i] = v;
            p.grad.set(g);
            return g;
          });
          expect(opt.step()).toBe(true);
          ref.step(grads);
        }
        opt.params.forEach((p, k) => {
          for (const [name, got, want] of [
            ['param', p.data, ref.params[k]],
            ['exp_inf', p.state('exp_inf'), ref.state[k].exp_inf],
            ['exp_avg', p.state('exp_avg'), ref.state[k].exp_avg],
          ] as const) {
            for (let i = 0; i < got.length; i++) {
              const w = want[i];
              const where = `${name}[${i}] of param ${k} (length ${got.length})`;
              if (Number.isNaN(w)) expect(got[i], where).toBeNaN();
              else if (!Number.isFinite(w)) expect(got[i], where).toBe(w);
              else expect(Math.abs(got[i] - w), where).toBeLessThanOrEqual(2e-5 * Math.max(1, Math.abs(w)));
            }
          }
        });
        // The specials did reach the state: NaN occurs, and Infinity where no weight decay turns it
        // into NaN at the next step (g = grad + wd * p with p already NaN).
        const expInf = Array.from(opt.params[1].state('exp_inf'));
        expect(expInf.some(Number.isNaN)).toBe(true);
        expect(expInf.some((x) => x === Infinity)).toBe(!options.weightDecay);
        opt.dispose();
      },
    );
  },
);

describe('options, state dicts, disposal', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await engineFor('simd');
  });

  it.each([
    ['Adamax', { betas: [0.9, 1] }, RangeError, /'betas\[1\]'.*< 1/],
    ['Adamax', { eps: -1 }, RangeError, /'eps'/],
    ['Adadelta', { rho: 1.5 }, RangeError, /'rho'.*<= 1/],
    ['Adadelta', { lr: Number.NaN }, RangeError, /'lr'.*NaN/],
    ['NAdam', { momentumDecay: -0.1 }, RangeError, /'momentumDecay'/],
    ['NAdam', { decoupledWeightDecay: 'yes' }, TypeError, /'decoupledWeightDecay'.*boolean/],
    ['RAdam', { decoupled_weight_decay: true }, TypeError, /did you mean 'decoupledWeightDecay'/],
    ['RAdam', { weightDecay: Infinity }, RangeError, /'weightDecay'.*finite/],
    ['Lion', { betas: [-0.1, 0.99] }, RangeError, /'betas\[0\]'/],
    ['Lion', { eps: 1e-8 }, TypeError, /unknown option 'eps'/],
  ] as const)('%s %j throws, allocating nothing', (kind, options, E, msg) => {
    const before = engine.memoryStats().bytesInUse;
    expect(() => make(kind, options as Record<string, unknown>, engine)).toThrow(E);
    expect(() => make(kind, options as Record<string, unknown>, engine)).toThrow(msg);
    expect(engine.memoryStats().bytesInUse).toBe(before);
  });

  it.each([
    ['Adamax', ['exp_avg', 'exp_inf']],
    ['Adadelta', ['square_avg', 'acc_delta']],
    ['NAdam', ['exp_avg', 'exp_avg_sq']],
    ['RAdam', ['exp_avg', 'exp_avg_sq']],
    ['Lion', ['exp_avg']],
  ] as const)('%s: PyTorch state names; stateDict round trip continues bit for bit', (kind, names) => {
    const opts = { lr: 0.01, weightDecay: 0.05 };
    const a = make(kind, opts, engine);
    const r = rng(3);
    const init = randomF32(37, r);
    a.param(init);
    expect(a.params[0].stateKeys).toEqual(names);
    const grads = Array.from({ length: 12 }, () => fillGrad(new Float32Array(37), 'normal', r));
    for (let t = 0; t < 6; t++) {
      a.params[0].grad.set(grads[t]);
      a.step();
    }
    const b = make(kind, {}, engine);
    b.param(a.params[0].data);
    b.loadStateDict(a.stateDict());
    expect(b.options).toEqual(a.options);
    for (let t = 6; t < 12; t++) {
      a.params[0].grad.set(grads[t]);
      a.step();
      b.params[0].grad.set(grads[t]);
      b.step();
    }
    expect(bitDiffs(a, b, kind)).toEqual([]);
    a.dispose();
    b.dispose();
    expect(() => b.step()).toThrow(/disposed/);
  });

  it('a non-finite gradient throws and changes nothing (NAdam), or skips (Lion)', () => {
    const n = new NAdam({ engine });
    const p = n.param([1, 2, 3, 4, 5]);
    p.grad.set([1, 1, Number.NaN, 1, 1]);
    expect(() => n.step()).toThrow(/NaN or Infinity/);
    expect(Array.from(p.data)).toEqual([1, 2, 3, 4, 5]);
    expect(Array.from(p.state('exp_avg'))).toEqual([0, 0, 0, 0, 0]);
    expect(n.stepCount).toBe(0);
    n.dispose();
    const l = new Lion({ engine, nonFinite: 'skip' }) as Optimizer<object>;
    const q = l.param([1, 2]);
    q.grad.set([Infinity, 0]);
    expect(l.step()).toBe(false);
    expect(Array.from(q.data)).toEqual([1, 2]);
    l.dispose();
  });
});
