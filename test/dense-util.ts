// Helpers shared by the dense optimizer tests: seeded random numbers, gradient regimes, the
// optimizer factory, comparisons against the float64 references and bit-level comparisons.
import { OPTIMIZERS as REGISTRY, type Engine, type Optimizer, type Param } from '../src/index.js';
import { createReference, type RefOptimizer } from './reference/index.js';
import { rng } from './rng.js';

export { rng };

/** PyTorch's five dense optimizers by kind, from the package's registry. */
export const OPTIMIZERS = {
  Adam: REGISTRY.Adam,
  AdamW: REGISTRY.AdamW,
  SGD: REGISTRY.SGD,
  Adagrad: REGISTRY.Adagrad,
  RMSprop: REGISTRY.RMSprop,
} as const;
/** A dense optimizer kind. */
export type Kind = keyof typeof OPTIMIZERS;
/** Every dense kind. */
export const KINDS = Object.keys(OPTIMIZERS) as Kind[];
/** Any dense optimizer. */
export type AnyOptimizer = Optimizer<Record<string, unknown>>;

/** A new `kind` optimizer in `engine` with `options` (an `engine` in `options` wins, for tests of bad engines). */
export function makeOptimizer(kind: Kind, options: Record<string, unknown>, engine: Engine): AnyOptimizer {
  const Ctor = OPTIMIZERS[kind] as unknown as new (o: object) => AnyOptimizer;
  return new Ctor({ engine, ...options });
}

/** A standard normal sample (Box-Muller) from the uniform generator `r`. */
export function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** How the gradients of a tensor are drawn at every step. */
export type Regime = 'normal' | 'tiny' | 'huge' | 'mixed' | 'zeros' | 'sparse';
/** Every regime. */
export const REGIMES: readonly Regime[] = ['normal', 'tiny', 'huge', 'mixed', 'zeros', 'sparse'];

/**
 * Fills `out` with fresh gradients: `normal` N(0,1); `tiny` ~1e-6; `huge` ~1e4; `mixed` scales
 * from 1e-6 to 1e4 within the tensor; `zeros` exact zeros; `sparse` 70% exact zeros, rest N(0,1).
 */
export function fillGrad(out: Float32Array, regime: Regime, r: () => number): Float32Array {
  for (let i = 0; i < out.length; i++) {
    switch (regime) {
      case 'normal':
        out[i] = gaussian(r);
        break;
      case 'tiny':
        out[i] = 1e-6 * gaussian(r);
        break;
      case 'huge':
        out[i] = 1e4 * gaussian(r);
        break;
      case 'mixed':
        out[i] = (r() < 0.5 ? -1 : 1) * Math.pow(10, -6 + 10 * r());
        break;
      case 'zeros':
        out[i] = 0;
        break;
      case 'sparse':
        out[i] = r() < 0.7 ? 0 : gaussian(r);
        break;
    }
  }
  return out;
}

/** `n` float32 values drawn N(0, scale^2). */
export function randomF32(n: number, r: () => number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = scale * gaussian(r);
  return a;
}

/**
 * The worst absolute error of `got` against `want` and the tensor's scale: `max|want|`, or
 * `floor` when that is larger (the tensor's scale earlier in the run).
 */
export function worstError(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  floor = 0,
): { worst: number; scale: number; at: number } {
  let worst = 0,
    scale = floor,
    at = -1;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]));
    const e = Number.isFinite(got[i]) ? Math.abs(got[i] - want[i]) : Infinity;
    if (e > worst || (at < 0 && e === Infinity)) {
      worst = e;
      at = i;
    }
  }
  return { worst, scale, at };
}

/** The default tolerance: worst |f32 - f64| <= TOL * max|f64| per tensor. */
export const TOL = 2e-5;
/** Below the smallest normal float32 (2^-126) float32 cannot follow float64 at all: an absolute floor. */
export const F32_MIN_NORMAL = 2 ** -126;

/**
 * Compares every param and state tensor of `opt` with the reference; returns one line per tensor
 * outside the tolerance (an empty list when all agree). State names must match exactly.
 *
 * A tensor's scale is the largest |value| the reference held in it so far: pass the same `scales`
 * map at every step of a run. (A value that crosses zero carries the rounding error of its larger
 * past, so a one-element tensor cannot be held to the precision of its current value alone.)
 */
export function mismatches(
  opt: AnyOptimizer,
  ref: RefOptimizer<object>,
  label: string,
  tol = TOL,
  scales: Map<string, number> = new Map(),
): string[] {
  const out: string[] = [];
  if (opt.params.length !== ref.params.length)
    return [`${label}: ${opt.params.length} params, reference has ${ref.params.length}`];
  opt.params.forEach((p: Param, i) => {
    const check = (name: string, got: Float32Array, want: Float64Array | undefined): void => {
      if (!want) {
        out.push(`${label} param ${i} (n=${p.length}): the reference has no '${name}'`);
        return;
      }
      const key = `${i}/${name}`;
      const { worst, scale, at } = worstError(got, want, scales.get(key) ?? 0);
      scales.set(key, scale);
      if (!(worst <= tol * scale + F32_MIN_NORMAL)) {
        out.push(
          `${label} param ${i} (n=${p.length}) ${name}: worst error ${worst} at [${at}] (got ${got[at]}, want ${want[at]}) > ${tol} * ${scale}`,
        );
      }
    };
    check('data', p.data, ref.params[i]);
    const refKeys = Object.keys(ref.state[i]).sort().join();
    const keys = [...p.stateKeys].sort().join();
    if (refKeys !== keys) out.push(`${label} param ${i}: state keys [${keys}], reference has [${refKeys}]`);
    for (const k of p.stateKeys) check(k, p.state(k), ref.state[i][k]);
  });
  return out;
}

/** Index of the first element whose bits differ, or -1 (NaNs compare by their bits too). */
export function firstBitDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return 0;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

/** Lines describing every param/state tensor where `a` and `b` differ in any bit (empty when identical). */
export function bitDiffs(a: AnyOptimizer, b: AnyOptimizer, label: string): string[] {
  const out: string[] = [];
  if (a.params.length !== b.params.length) return [`${label}: ${a.params.length} vs ${b.params.length} params`];
  a.params.forEach((p, i) => {
    const q = b.params[i];
    const cmp = (name: string, x: Float32Array, y: Float32Array): void => {
      const at = firstBitDiff(x, y);
      if (at >= 0) out.push(`${label} param ${i} (n=${p.length}) ${name} differs at [${at}]: ${x[at]} vs ${y[at]}`);
    };
    cmp('data', p.data, q.data);
    for (const k of p.stateKeys) cmp(k, p.state(k), q.state(k));
  });
  return out;
}

/** Options of a run against the reference. */
export interface DriveOptions {
  /** Number of steps. */
  steps: number;
  /** Seed of the gradients. */
  seed: number;
  /** The regime of param `i`'s gradients (default: all `normal`). */
  regimeOf?: (i: number) => Regime;
  /** Called before step `t` (1-based): change lr, add params, ... */
  before?: (t: number) => void;
  /** Tolerance (default TOL). */
  tol?: number;
  /**
   * After each step's comparison, copy the real optimizer's float32 params and state into the
   * reference, so that each step is checked from identical inputs and rounding differences do not
   * compound (for random hyperparameters whose dynamics amplify them, e.g. sign-like updates of
   * params oscillating around zero). Off by default: then 25+ steps accumulate as they will.
   */
  resync?: boolean;
}

/**
 * Steps `opt` and `ref` together with the same fresh seeded gradients and compares every tensor
 * after every step. Returns the mismatch lines of the first step that had any (empty: all agree).
 */
export function drive(opt: AnyOptimizer, ref: RefOptimizer<object>, label: string, o: DriveOptions): string[] {
  const r = rng(o.seed);
  const scales = new Map<string, number>();
  const start = mismatches(opt, ref, `${label} before step 1`, o.tol, scales);
  if (start.length) return start;
  for (let t = 1; t <= o.steps; t++) {
    o.before?.(t);
    const grads = opt.params.map((p, i) => {
      const g = fillGrad(new Float32Array(p.length), o.regimeOf?.(i) ?? 'normal', r);
      p.grad.set(g);
      return g;
    });
    opt.step();
    ref.step(grads);
    const bad = mismatches(opt, ref, `${label} step ${t}`, o.tol, scales);
    if (bad.length) return bad;
    if (o.resync) {
      opt.params.forEach((p, i) => {
        ref.params[i].set(p.data);
        for (const k of p.stateKeys) ref.state[i][k].set(p.state(k));
      });
    }
  }
  return [];
}

/** A real optimizer and its reference with the same params (random N(0,1) float32 values). */
export function pair(
  kind: Kind,
  options: Record<string, unknown>,
  engine: Engine,
  sizes: readonly number[],
  seed: number,
): {
  opt: AnyOptimizer;
  ref: RefOptimizer<object>;
} {
  const opt = makeOptimizer(kind, options, engine);
  const ref = createReference(kind, options);
  const r = rng(seed ^ 0x5bd1e995);
  for (const n of sizes) {
    const p = opt.param(randomF32(n, r));
    ref.addParam(p.data);
  }
  return { opt, ref };
}
