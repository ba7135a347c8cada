// Helpers for the training-extras tests (clipping, accumulation, schedules, param groups,
// hypergradients): every optimizer by kind, and the float64 model of what the kernels do to the
// gradients before the update (PyTorch's loss / k, clip_grad_value_, clip_grad_norm_).
import { Adadelta, Adagrad, Adam, Adamax, AdamW, Lion, NAdam, RAdam, RMSprop, SGD, type Engine } from '../src/index.js';
import { createReference, type RefKind, type RefOptimizer } from './reference/index.js';
import { fillGrad, mismatches, randomF32, rng, type AnyOptimizer, type Regime } from './dense-util.js';

/** Every dense optimizer that has a float64 reference. */
export const ALL = { Adam, AdamW, SGD, Adagrad, RMSprop, Adamax, Adadelta, NAdam, RAdam, Lion } as const;
/** Their kinds. */
export type AnyKind = keyof typeof ALL;
/** Each kind with options that exercise its state (momentum for SGD, ...). */
export const KIND_OPTIONS: [AnyKind, Record<string, unknown>][] = [
  ['Adam', { lr: 0.02 }],
  ['AdamW', { lr: 0.02 }],
  ['SGD', { lr: 0.02, momentum: 0.9 }],
  ['Adagrad', { lr: 0.05 }],
  ['RMSprop', { lr: 0.01, centered: true }],
  ['Adamax', { lr: 0.02 }],
  ['Adadelta', { lr: 0.5 }],
  ['NAdam', { lr: 0.02 }],
  ['RAdam', { lr: 0.02, betas: [0.9, 0.9] }],
  ['Lion', { lr: 0.01 }],
];

/** A new optimizer of `kind` in `engine`. */
export function makeAny(kind: AnyKind, options: Record<string, unknown>, engine: Engine): AnyOptimizer {
  const Ctor = ALL[kind] as unknown as new (o: object) => AnyOptimizer;
  return new Ctor({ ...options, engine });
}

/** The reference of `kind`, without the options only the real optimizer knows. */
export function refOf(kind: AnyKind, options: Record<string, unknown>): RefOptimizer<object> {
  const { clipGradNorm: _n, clipGradValue: _v, ...rest } = options;
  return createReference(kind as RefKind, rest);
}

/** What the kernels do to the gradients before the update, in float64. */
export interface GradTransform {
  /** step({ gradScale }). */
  gradScale?: number;
  /** clipGradValue. */
  clipValue?: number | null;
  /** clipGradNorm. */
  clipNorm?: number | null;
}

/**
 * The gradients the update sees, in float64: g * gradScale, clamped to [-clipValue, clipValue]
 * (clip_grad_value_), then scaled by min(1, clipNorm / (norm + 1e-6)) (clip_grad_norm_), and the
 * global norm before that last scaling.
 */
export function transform(
  grads: readonly ArrayLike<number>[],
  t: GradTransform,
): { grads: Float64Array[]; norm: number } {
  const s = t.gradScale ?? 1;
  const c = t.clipValue ?? null;
  const out = grads.map((g) =>
    Float64Array.from(g, (x) => {
      const y = s * x;
      return c === null ? y : Math.min(c, Math.max(-c, y));
    }),
  );
  let sq = 0;
  for (const g of out) for (const x of g) sq += x * x;
  const norm = Math.sqrt(sq);
  if (t.clipNorm != null) {
    const coef = Math.min(1, t.clipNorm / (norm + 1e-6));
    for (const g of out) for (let i = 0; i < g.length; i++) g[i] *= coef;
  }
  return { grads: out, norm };
}

/** A real optimizer and its reference with the same params of `sizes` (N(0,1) values). */
export function pairAny(
  kind: AnyKind,
  options: Record<string, unknown>,
  engine: Engine,
  sizes: readonly number[],
  seed: number,
): {
  opt: AnyOptimizer;
  ref: RefOptimizer<object>;
} {
  const opt = makeAny(kind, options, engine);
  const ref = refOf(kind, options);
  const r = rng(seed);
  for (const n of sizes) ref.addParam(opt.param(randomF32(n, r)).data);
  return { opt, ref };
}

/** Fresh gradients for every param of `opt` (written into p.grad), as float32 copies. */
export function freshGrads(opt: AnyOptimizer, r: () => number, regime: Regime = 'normal', scale = 1): Float32Array[] {
  return opt.params.map((p) => {
    const g = fillGrad(new Float32Array(p.length), regime, r).map((x) => x * scale);
    p.grad.set(g);
    return g;
  });
}

/** Runs `steps` steps of `opt` and `ref` with the transform; returns the first step's mismatches. */
export function driveTransformed(
  opt: AnyOptimizer,
  ref: RefOptimizer<object>,
  label: string,
  o: {
    steps: number;
    seed: number;
    t: GradTransform;
    scale?: number;
    tol?: number;
    check?: (opt: AnyOptimizer, norm: number, step: number) => void;
  },
): string[] {
  const r = rng(o.seed);
  const scales = new Map<string, number>();
  for (let step = 1; step <= o.steps; step++) {
    const grads = freshGrads(opt, r, 'normal', o.scale ?? 1);
    const { grads: g64, norm } = transform(grads, o.t);
    opt.step(o.t.gradScale !== undefined ? { gradScale: o.t.gradScale } : undefined);
    ref.step(g64);
    o.check?.(opt, norm, step);
    const bad = mismatches(opt, ref, `${label} step ${step}`, o.tol, scales);
    if (bad.length) return bad;
  }
  return [];
}
