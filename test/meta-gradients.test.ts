// Meta-gradients (docs/meta-gradients.md): dL_val/dh through unrolled steps, on a quadratic whose
// Hessian is known, against central finite differences of the unrolled validation loss computed in
// float64 by the reference optimizers (test/reference/). 'hvp' and 'finite-difference' must match
// the full derivative, 'first-order' the derivative with the gradients held fixed (the reference
// replays the gradients of its unperturbed run); both builds, to the bit.
import { describe, expect, it } from 'vitest';
import { Adagrad, Adam, AdamW, RMSprop, SGD, type Engine, type Optimizer } from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { RefAdagrad, RefAdam, RefAdamW, RefRMSprop, RefSGD, type RefOptimizer } from './reference/index.js';
import { rng } from './rng.js';

type Opts = Record<string, unknown>;
type Mode = 'first-order' | 'hvp' | 'finite-difference';

/** A small quadratic: train loss ½θᵀAθ − bᵀθ (A SPD, known), validation loss ½(θ−c)ᵀD(θ−c). */
const SIZES = [4, 5]; // one SIMD body, one body + tail
const N = SIZES.reduce((a, b) => a + b, 0);
const uniform = rng(7);
const r = (): number => uniform() - 0.5;
const M = Array.from({ length: N }, () => Array.from({ length: N }, () => r()));
const A = M.map((_row, i) => M.map((_r2, j) => M.reduce((s, row) => s + row[i] * row[j], 0) / N + (i === j ? 0.3 : 0)));
const B = Array.from({ length: N }, () => r());
const C = Array.from({ length: N }, () => r() * 2);
const D = Array.from({ length: N }, () => 0.5 + r() + 0.5);
const THETA0 = Array.from({ length: N }, () => r() * 3);

const split = (v: ArrayLike<number>): Float64Array[] => {
  const out: Float64Array[] = [];
  let o = 0;
  for (const n of SIZES) {
    out.push(Float64Array.from(Array.prototype.slice.call(v, o, o + n)));
    o += n;
  }
  return out;
};
const flat = (parts: readonly ArrayLike<number>[]): number[] => parts.flatMap((p) => Array.from(p));
const matVec = (v: ArrayLike<number>): number[] => A.map((row) => row.reduce((s, a, j) => s + a * v[j], 0));
const grad = (theta: ArrayLike<number>): number[] => matVec(theta).map((x, i) => x - B[i]);
const valLoss = (theta: ArrayLike<number>): number => 0.5 * D.reduce((s, d, i) => s + d * (theta[i] - C[i]) ** 2, 0);
const valGrad = (theta: ArrayLike<number>): number[] => D.map((d, i) => d * (theta[i] - C[i]));

interface Case {
  kind: string;
  make: (o: Opts & { engine: Engine }) => Optimizer;
  ref: (o: Opts) => RefOptimizer<object>;
  options: Opts;
  names: string[];
  steps: number;
}

const CASES: Case[] = [
  {
    kind: 'Adam',
    make: (o) => new Adam(o),
    ref: (o) => new RefAdam(o),
    options: { lr: 0.05, betas: [0.8, 0.95], eps: 1e-2, weightDecay: 0.05 },
    names: ['lr', 'beta1', 'beta2', 'eps', 'weightDecay'],
    steps: 30,
  },
  {
    kind: 'AdamW',
    make: (o) => new AdamW(o),
    ref: (o) => new RefAdamW(o),
    options: { lr: 0.05, betas: [0.85, 0.99], eps: 1e-2, weightDecay: 0.2 },
    names: ['lr', 'beta1', 'beta2', 'eps', 'weightDecay'],
    steps: 25,
  },
  {
    kind: 'SGD',
    make: (o) => new SGD(o),
    ref: (o) => new RefSGD(o),
    options: { lr: 0.05, momentum: 0.7, dampening: 0.1, weightDecay: 0.05 },
    names: ['lr', 'momentum', 'dampening', 'weightDecay'],
    steps: 40,
  },
  {
    kind: 'SGD (Nesterov)',
    make: (o) => new SGD(o),
    ref: (o) => new RefSGD(o),
    options: { lr: 0.04, momentum: 0.6, nesterov: true, weightDecay: 0.02 },
    names: ['lr', 'momentum', 'weightDecay'],
    steps: 30,
  },
  {
    kind: 'RMSprop',
    make: (o) => new RMSprop(o),
    ref: (o) => new RefRMSprop(o),
    options: { lr: 0.01, alpha: 0.9, eps: 1e-2, weightDecay: 0.05, momentum: 0.5 },
    names: ['lr', 'alpha', 'eps', 'weightDecay', 'momentum'],
    steps: 30,
  },
  {
    kind: 'RMSprop (centered)',
    make: (o) => new RMSprop(o),
    ref: (o) => new RefRMSprop(o),
    options: { lr: 0.01, alpha: 0.9, eps: 0.05, centered: true },
    names: ['lr', 'alpha', 'eps'],
    steps: 20,
  },
  {
    kind: 'Adagrad',
    make: (o) => new Adagrad(o),
    ref: (o) => new RefAdagrad(o),
    options: { lr: 0.2, lrDecay: 0.05, eps: 1e-2, weightDecay: 0.05, initialAccumulatorValue: 0.5 },
    names: ['lr', 'lrDecay', 'eps', 'weightDecay', 'initialAccumulatorValue'],
    steps: 30,
  },
];

/** The options with hyperparameter `name` moved by `delta` ('beta1' is betas[0]). */
function perturbed(o: Opts, name: string, delta: number): Opts {
  const out: Opts = { ...o };
  if (name === 'beta1' || name === 'beta2') {
    const b = (o.betas as number[]).slice();
    b[name === 'beta1' ? 0 : 1] += delta;
    out.betas = b;
  } else out[name] = (o[name] as number) + delta;
  return out;
}
function valueOf(o: Opts, name: string): number {
  if (name === 'beta1' || name === 'beta2') return (o.betas as number[])[name === 'beta1' ? 0 : 1];
  return o[name] as number;
}

/** The float64 unrolled validation loss; `grads` replays fixed gradients (first-order) instead of ∇L(θ). */
function unrolled(c: Case, o: Opts, grads?: number[][]): { loss: number; grads: number[][] } {
  const ref = c.ref(o);
  for (const p of split(THETA0)) ref.addParam(p);
  const seen: number[][] = [];
  for (let t = 0; t < c.steps; t++) {
    const g = grads ? grads[t] : grad(flat(ref.params));
    seen.push(g);
    ref.step(split(g));
  }
  return { loss: valLoss(flat(ref.params)), grads: seen };
}

/** Central finite difference of the float64 unrolled loss with respect to `name`. */
function referenceMetaGradient(c: Case, name: string, firstOrder: boolean): number {
  const fixed = firstOrder ? unrolled(c, c.options).grads : undefined;
  const delta = 1e-5 * Math.max(Math.abs(valueOf(c.options, name)), 1e-2);
  const up = unrolled(c, perturbed(c.options, name, delta), fixed).loss;
  const down = unrolled(c, perturbed(c.options, name, -delta), fixed).loss;
  return (up - down) / (2 * delta);
}

/** The engine's run: tracked in `mode`, gradients from the quadratic at the engine's own params. */
function run(
  c: Case,
  engine: Engine,
  mode: Mode,
  steps = c.steps,
  names = c.names,
): { opt: Optimizer; mg: Record<string, number> } {
  const opt = c.make({ ...c.options, engine });
  for (const p of split(THETA0)) opt.param(p);
  opt.trackMetaGradients(names, { mode });
  for (let t = 0; t < steps; t++) tracked(opt, mode);
  return { opt, mg: opt.metaGradient(split(valGrad(flat(opt.params.map((p) => p.data))))) };
}

function tracked(opt: Optimizer, mode: Mode): void {
  const g = split(grad(flat(opt.params.map((p) => p.data))));
  opt.params.forEach((p, i) => p.grad.set(g[i]));
  if (mode === 'hvp') opt.step({ hvp: (v) => split(matVec(flat(v))) });
  else if (mode === 'finite-difference') opt.step({ gradFn: (ps) => split(grad(flat(ps))) });
  else opt.step();
}

/** |got - want| <= tol |want|, or both tiny. */
function close(got: number, want: number, tol: number, what: string): void {
  const err = Math.abs(got - want);
  if (!(err <= tol * Math.abs(want) + 1e-9))
    throw new Error(`${what}: got ${got}, want ${want} (rel ${err / Math.abs(want)})`);
}

describe.each(BUILD_NAMES)('meta-gradients (%s build)', (build) => {
  for (const c of CASES) {
    describe(c.kind, () => {
      const refs = Object.fromEntries(c.names.map((n) => [n, referenceMetaGradient(c, n, false)]));
      const refs1 = Object.fromEntries(c.names.map((n) => [n, referenceMetaGradient(c, n, true)]));

      it(`'hvp' matches central differences of the float64 unrolled loss (${c.steps} steps, ${c.names.join(', ')})`, async () => {
        const { opt, mg } = run(c, await engineFor(build), 'hvp');
        for (const n of c.names) close(mg[n], refs[n], 1e-3, `${c.kind} d/d${n}`);
        opt.dispose();
      });

      it(`'finite-difference' matches them too`, async () => {
        const { opt, mg } = run(c, await engineFor(build), 'finite-difference');
        for (const n of c.names) close(mg[n], refs[n], 1e-3, `${c.kind} d/d${n}`);
        opt.dispose();
      });

      it(`one name at a time (the one-name loops): 'hvp' and 'first-order' match too`, async () => {
        for (const n of c.names) {
          const e = await engineFor(build);
          const a = run(c, e, 'hvp', c.steps, [n]);
          close(a.mg[n], refs[n], 1e-3, `${c.kind} d/d${n} alone`);
          const b = run(c, e, 'first-order', c.steps, [n]);
          close(b.mg[n], refs1[n], 1e-4, `${c.kind} first-order d/d${n} alone`);
          a.opt.dispose();
          b.opt.dispose();
        }
      });

      it(`'first-order' equals the float64 first-order reference (gradients held fixed)`, async () => {
        const { opt, mg } = run(c, await engineFor(build), 'first-order');
        for (const n of c.names) close(mg[n], refs1[n], 1e-4, `${c.kind} first-order d/d${n}`);
        opt.dispose();
      });
    });
  }

  it('the first-order meta-gradient differs from the exact one (the modes are not the same computation)', async () => {
    const e = await engineFor(build);
    const a = run(CASES[0], e, 'first-order');
    const b = run(CASES[0], e, 'hvp');
    expect(Math.abs(a.mg.lr - b.mg.lr)).toBeGreaterThan(1e-3 * Math.abs(b.mg.lr));
    a.opt.dispose();
    b.opt.dispose();
  });

  it('a tracked step updates the params exactly as an untracked one', async () => {
    const e = await engineFor(build);
    for (const c of CASES) {
      const plain = c.make({ ...c.options, engine: e });
      for (const p of split(THETA0)) plain.param(p);
      const { opt } = run(c, e, 'hvp', 12);
      for (let t = 0; t < 12; t++) tracked(plain, 'first-order');
      opt.params.forEach((p, i) => expect(p.data, c.kind).toEqual(plain.params[i].data));
      opt.params.forEach((p, i) =>
        p.stateKeys.forEach((k) => expect(p.state(k), `${c.kind} ${k}`).toEqual(plain.params[i].state(k))),
      );
      opt.dispose();
      plain.dispose();
    }
  });
});

describe('meta-gradients: SIMD and scalar agree to the bit', () => {
  it.each(CASES.map((c) => [c.kind, c] as const))('%s', async (_k, c) => {
    const [simd, scalar] = [await engineFor('simd'), await engineFor('scalar')];
    for (const [mode, names] of [
      ['hvp', c.names],
      ['first-order', c.names],
      ['hvp', ['lr']],
      ['first-order', ['lr']],
    ] as const) {
      const a = run(c, simd, mode, c.steps, [...names]);
      const b = run(c, scalar, mode, c.steps, [...names]);
      for (const n of names) expect(Object.is(a.mg[n], b.mg[n]), `${c.kind} ${mode} ${n}`).toBe(true);
      const sa = a.opt.stateDict().metaGradients!;
      const sb = b.opt.stateDict().metaGradients!;
      expect(sa.tangents).toEqual(sb.tangents);
      a.opt.dispose();
      b.opt.dispose();
    }
  });

  it('on a long tensor (SIMD bodies, a tail, three tracked at once)', async () => {
    const len = 1027;
    const out = await Promise.all(
      (['simd', 'scalar'] as const).map(async (b) => {
        const e = await engineFor(b);
        const opt = new Adam({ lr: 0.01, betas: [0.9, 0.99], engine: e });
        const p = opt.param(Array.from({ length: len }, (_v, i) => Math.sin(i)));
        opt.trackMetaGradients(['lr', 'beta1', 'beta2'], { mode: 'hvp' });
        for (let t = 0; t < 10; t++) {
          const x = p.data;
          p.grad.set(x.map((v, i) => v * (1 + (i % 7)) - Math.cos(i)));
          opt.step({ hvp: ([v]) => [v.map((y, i) => y * (1 + (i % 7)))] });
        }
        const mg = opt.metaGradient([p.data.map((v) => v - 0.5)]);
        const st = opt.stateDict().metaGradients!;
        opt.dispose();
        return { mg, st };
      }),
    );
    expect(out[0].mg).toEqual(out[1].mg);
    expect(out[0].st.tangents).toEqual(out[1].st.tangents);
  });
});
