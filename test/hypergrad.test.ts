// Hypergradient descent (Baydin et al. 2018): SGD-HD and Adam-HD against float64 references that
// run PyTorch's SGD / Adam with the rate adapted each step from the dot product of the current
// gradient and the previous update direction; both builds, groups, clipping, state dicts, and
// the fused pre-pass.
import { beforeAll, describe, expect, it } from 'vitest';
import { AdamHD, SGD, SGDHD, cosineLR, createEngine, type Engine } from '../src/index.js';
import { BUILD_NAMES, countEngineCalls, engineFor } from './engines.js';
import { bitDiffs, mismatches, randomF32, rng, type AnyOptimizer } from './dense-util.js';
import { RefAdam, RefSGD, type RefOptimizer } from './reference/index.js';
import { transform, type GradTransform } from './training-util.js';

const SIZES = [1, 7, 33, 1000, 4099];

/** A float64 SGD-HD or Adam-HD: the plain reference plus the rate update before each step. */
class RefHD {
  readonly ref: RefOptimizer<object>;
  private prevDir: Float64Array[] = [];
  constructor(
    readonly kind: 'SGDHD' | 'AdamHD',
    readonly o: Record<string, unknown>,
  ) {
    const { hypergradLr: _h, clipGradNorm: _n, clipGradValue: _v, ...rest } = o;
    this.ref = kind === 'SGDHD' ? new RefSGD(rest) : new RefAdam(rest);
  }
  get lr(): number {
    return this.ref.lr;
  }
  addParam(values: ArrayLike<number>): void {
    const i = this.ref.addParam(values);
    this.prevDir.push(new Float64Array(values.length));
    // SGD-HD keeps the direction as state 'grad_prev' (the authors' name); compare it too.
    if (this.kind === 'SGDHD') this.ref.state[i].grad_prev = this.prevDir[i];
  }
  /** One step with the (already scaled and clipped) float64 gradients. */
  step(grads: Float64Array[]): void {
    const o = this.ref.options as Record<string, unknown>;
    const sign = o.maximize ? -1 : 1;
    const wd = o.weightDecay as number;
    const geff = grads.map((g, i) => g.map((x, j) => sign * x + wd * this.ref.params[i][j]));
    // h = g_t . u_{t-1}, u the previous update direction (p_{t-1} = p_{t-2} - lr u)
    let h = 0;
    this.ref.params.forEach((_p, i) => {
      const t = this.ref.steps[i];
      for (let j = 0; j < geff[i].length; j++) {
        let u: number;
        if (this.kind === 'SGDHD') u = this.prevDir[i][j];
        else {
          if (t === 0) continue;
          const [b1, b2] = o.betas as number[];
          const s = this.ref.state[i];
          const v = o.amsgrad ? s.max_exp_avg_sq[j] : s.exp_avg_sq[j];
          // Adam's direction: m_hat / (sqrt(v_hat) + eps) = (m / (1-b1^t)) / (sqrt(v) / sqrt(1-b2^t) + eps)
          u =
            s.exp_avg[j] / (1 - Math.pow(b1, t)) / (Math.sqrt(v) / Math.sqrt(1 - Math.pow(b2, t)) + (o.eps as number));
        }
        h += geff[i][j] * u;
      }
    });
    // lr_t = lr_{t-1} + beta h, kept >= 0
    this.ref.lr = Math.max(0, this.ref.lr + (this.o.hypergradLr as number) * h);
    this.ref.step(grads);
    if (this.kind === 'SGDHD') {
      // The direction SGD applied: d = g (+ momentum: buf, or g + mu buf with Nesterov)
      const mu = o.momentum as number;
      this.ref.params.forEach((_p, i) => {
        const buf = this.ref.state[i].momentum_buffer;
        for (let j = 0; j < geff[i].length; j++) {
          this.prevDir[i][j] = mu === 0 ? geff[i][j] : o.nesterov ? geff[i][j] + mu * buf[j] : buf[j];
        }
      });
    }
  }
}

/** Gradients of f(p) = sum a_j p_j^2 / 2 plus noise, from the real optimizer's current params. */
function quadraticGrads(opt: AnyOptimizer, r: () => number, noise = 0.1): Float32Array[] {
  // With maximize, the gradients of -f, so that ascending them still goes to the minimum of f.
  const sign = opt.options.maximize ? -1 : 1;
  return opt.params.map((p) => {
    const g = new Float32Array(p.length);
    const d = p.data;
    for (let j = 0; j < g.length; j++) g[j] = sign * ((1 + (j % 5)) * d[j] + noise * (r() - 0.5));
    p.grad.set(g);
    return g;
  });
}

function makeHD(kind: 'SGDHD' | 'AdamHD', options: Record<string, unknown>, engine: Engine): AnyOptimizer {
  return (kind === 'SGDHD'
    ? new SGDHD({ ...options, engine })
    : new AdamHD({ ...options, engine })) as unknown as AnyOptimizer;
}

function runAgainstRef(
  kind: 'SGDHD' | 'AdamHD',
  options: Record<string, unknown>,
  engine: Engine,
  steps: number,
  t: GradTransform = {},
): {
  bad: string[];
  lrs: [number, number][];
} {
  const opt = makeHD(kind, options, engine);
  const ref = new RefHD(kind, options);
  const r = rng(91);
  for (const n of SIZES) ref.addParam(opt.param(randomF32(n, r)).data);
  const lrs: [number, number][] = [];
  const scales = new Map<string, number>();
  let bad: string[] = [];
  for (let s = 1; s <= steps && bad.length === 0; s++) {
    const g = quadraticGrads(opt, r);
    opt.step(t.gradScale !== undefined ? { gradScale: t.gradScale } : undefined);
    ref.step(transform(g, t).grads);
    lrs.push([opt.lr, ref.lr]);
    bad = mismatches(opt, ref.ref, `${kind} step ${s}`, 5e-5, scales);
  }
  opt.dispose();
  return { bad, lrs };
}

describe.each(BUILD_NAMES)('SGD-HD and Adam-HD against the float64 reference (%s)', (build) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await engineFor(build);
  });

  it.each([
    ['SGDHD', { lr: 0.01, hypergradLr: 1e-6 }],
    ['SGDHD', { lr: 0.01, hypergradLr: 1e-6, momentum: 0.9, weightDecay: 0.05 }],
    ['SGDHD', { lr: 0.01, hypergradLr: 1e-6, momentum: 0.5, nesterov: true, maximize: true }],
    ['SGDHD', { lr: 0.01, hypergradLr: 1e-6, momentum: 0.9, dampening: 0.3 }],
    ['AdamHD', { lr: 0.01, hypergradLr: 1e-6 }],
    ['AdamHD', { lr: 0.01, hypergradLr: 1e-6, amsgrad: true, weightDecay: 0.05 }],
    ['AdamHD', { lr: 0.01, hypergradLr: 1e-6, betas: [0.5, 0.9], maximize: true }],
  ] as const)('%s %j: rate and params follow the reference', (kind, options) => {
    const { bad, lrs } = runAgainstRef(kind, options, engine, 20);
    expect(bad).toEqual([]);
    // Within 1e-5 of the initial rate (the rates themselves go from 0.01 to ~1e-3 .. 1e-1).
    for (const [got, want] of lrs) expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-7);
    // The rate did move (the test would not notice a frozen rate otherwise).
    expect(Math.abs(lrs[lrs.length - 1][1] - 0.01)).toBeGreaterThan(1e-4);
  });

  it.each(['SGDHD', 'AdamHD'] as const)('%s: the hypergradient sees the clipped, accumulated gradient', (kind) => {
    const t = { gradScale: 0.5, clipNorm: 3, clipValue: 0.4 };
    const { bad, lrs } = runAgainstRef(
      kind,
      { lr: 0.01, hypergradLr: 1e-5, clipGradNorm: 3, clipGradValue: 0.4 },
      engine,
      15,
      t,
    );
    expect(bad).toEqual([]);
    for (const [got, want] of lrs) expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-7);
  });

  it('each param group adapts its own rate from its own params', () => {
    const opt = new SGDHD({ lr: 0.01, hypergradLr: 1e-5, engine });
    const g1 = opt.addParamGroup({ hypergradLr: 1e-4, momentum: 0.9 });
    const refs = [
      new RefHD('SGDHD', { lr: 0.01, hypergradLr: 1e-5 }),
      new RefHD('SGDHD', { lr: 0.01, hypergradLr: 1e-4, momentum: 0.9 }),
    ];
    const r = rng(93);
    const groupOf = [0, 1, 0, 1];
    for (const [k, n] of [33, 7, 1000, 64].entries())
      refs[groupOf[k]].addParam(opt.param(randomF32(n, r), { group: groupOf[k] }).data);
    for (let s = 0; s < 15; s++) {
      const g = quadraticGrads(opt as unknown as AnyOptimizer, r);
      opt.step();
      refs.forEach((ref, gi) => ref.step(g.filter((_x, k) => groupOf[k] === gi).map((x) => Float64Array.from(x))));
    }
    expect(Math.abs(opt.lr - refs[0].lr)).toBeLessThanOrEqual(1e-6 * refs[0].lr);
    expect(Math.abs(g1.lr - refs[1].lr)).toBeLessThanOrEqual(1e-6 * refs[1].lr);
    expect(opt.lr).not.toBe(g1.lr);
    opt.dispose();
  });
});

describe('hypergradient optimizers: API', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await engineFor('simd');
  });

  it('one pass reads the gradients before the update (no separate check, no norm pass), one kernel call', () => {
    const opt = new AdamHD({ engine, clipGradNorm: 1 });
    opt.param(64).grad.fill(0.5);
    const calls = countEngineCalls(engine, () => {
      opt.step();
      opt.step();
    });
    expect(calls).toEqual({ check: 0, norm: 0, kernel: 2 });
    expect(opt.lastGradNorm).toBe(4); // sqrt(64 * 0.25)
    opt.dispose();
  });

  it('a non-finite gradient throws and changes nothing, rate included', () => {
    const opt = new SGDHD({ lr: 0.1, engine });
    const p = opt.param([1, 2, 3]);
    p.grad.set([1, 1, 1]);
    opt.step();
    const lr = opt.lr;
    const data = Array.from(p.data);
    const prev = Array.from(p.state('grad_prev'));
    p.grad.set([1, Number.NaN, 1]);
    expect(() => opt.step()).toThrow(/param #0 .*NaN or Infinity/);
    expect(opt.lr).toBe(lr);
    expect(Array.from(p.data)).toEqual(data);
    expect(Array.from(p.state('grad_prev'))).toEqual(prev);
    opt.dispose();
  });

  it('rates are not schedules; options are checked', () => {
    expect(() => new AdamHD({ lr: cosineLR({ peak: 1, decaySteps: 5 }) as never, engine })).toThrow(
      /'lr' must be a number: hypergradient descent adapts the rate itself/,
    );
    expect(() => new SGDHD({ hypergradLr: -1, engine })).toThrow(/'hypergradLr' must be >= 0/);
    expect(() => new SGDHD({ hypergrad_lr: 1, engine } as never)).toThrow(/did you mean 'hypergradLr'/);
    const opt = new SGDHD({ engine });
    const p = opt.param([1]);
    // Refused as the constructor refuses it (it used to be accepted, and every later step threw).
    expect(() => {
      opt.lr = cosineLR({ peak: 1, decaySteps: 5 });
    }).toThrow(/'lr' must be a number: hypergradient descent adapts the rate itself/);
    p.grad.set([1]);
    expect(opt.step()).toBe(true);
    expect(opt.options).toMatchObject({ hypergradLr: 1e-3 });
    expect(new AdamHD({ engine }).options).toMatchObject({ hypergradLr: 1e-7, lr: 1e-3 });
    opt.dispose();
  });

  it('the adapted rate is in the state dict: a resumed run continues bit for bit', () => {
    const make = (): AnyOptimizer => makeHD('AdamHD', { lr: 0.01, hypergradLr: 1e-5 }, engine);
    const a = make();
    const r = rng(95);
    const init = randomF32(100, r);
    a.param(init);
    for (let s = 0; s < 6; s++) {
      quadraticGrads(a, r);
      a.step();
    }
    const b = make();
    b.param(a.params[0].data);
    b.loadStateDict(a.stateDict());
    expect(b.lr).toBe(a.lr);
    for (let s = 0; s < 6; s++) {
      const g = quadraticGrads(a, r);
      b.params[0].grad.set(g[0]);
      a.step();
      b.step();
    }
    expect(b.lr).toBe(a.lr);
    expect(bitDiffs(a, b, 'AdamHD resumed')).toEqual([]);
    a.dispose();
    b.dispose();
  });

  it('SIMD and scalar builds adapt the same rate to the bit', async () => {
    const scalar = await createEngine({ simd: false });
    for (const kind of ['SGDHD', 'AdamHD'] as const) {
      const o = { lr: 0.01, hypergradLr: 1e-5, ...(kind === 'SGDHD' ? { momentum: 0.9 } : {}) };
      const a = makeHD(kind, o, engine);
      const b = makeHD(kind, o, scalar);
      const r = rng(96);
      for (const n of SIZES) {
        const init = randomF32(n, r);
        a.param(init);
        b.param(init);
      }
      for (let s = 0; s < 10; s++) {
        const g = quadraticGrads(a, r);
        b.params.forEach((p, i) => p.grad.set(g[i]));
        a.step();
        b.step();
        expect(a.lr).toBe(b.lr);
      }
      expect(bitDiffs(a, b, kind)).toEqual([]);
      a.dispose();
      b.dispose();
    }
  });

  it('on a quadratic, SGD-HD raises a too-small rate and ends far lower than SGD with that rate', () => {
    const loss = (o: AnyOptimizer): number =>
      o.params.reduce((s, p) => s + p.data.reduce((a, x, j) => a + ((1 + (j % 5)) * x * x) / 2, 0), 0);
    const run = (o: AnyOptimizer): number => {
      const r = rng(97);
      o.param(randomF32(200, r));
      for (let s = 0; s < 60; s++) {
        quadraticGrads(o, r, 0);
        o.step();
      }
      return loss(o);
    };
    const hd = makeHD('SGDHD', { lr: 1e-3, hypergradLr: 1e-4 }, engine);
    const plain = new SGD({ lr: 1e-3, engine }) as unknown as AnyOptimizer;
    const lHd = run(hd),
      lPlain = run(plain);
    expect(hd.lr).toBeGreaterThan(0.01);
    expect(lHd).toBeLessThan(lPlain / 10);
    hd.dispose();
    plain.dispose();
  });
});
