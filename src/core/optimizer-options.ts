// The options every dense optimizer shares (learning rate or schedule, weight decay, maximize, the
// non-finite policy, clipping), what a param group may set, and their validation; each optimizer's
// own options are its declaration's (src/core/declaration.ts).

import type { Engine } from './engine.js';
import type { MetaStepOptions } from './meta-gradients.js';
import { checkBoolean, checkChoice, checkNumber, type NonFinitePolicy } from './options.js';
import { isSchedule, type Schedule } from './schedules.js';

/** Options every dense optimizer accepts. */
export interface BaseOptions {
  /** Learning rate: a number, or a schedule (`cosineLR(...)`, ...) evaluated at every step. */
  lr?: number | Schedule;
  /** Weight decay (L2 added to the gradient, or decoupled for AdamW). Default 0 (AdamW: 0.01). */
  weightDecay?: number;
  /** Maximize the objective instead of minimizing it. Default false. */
  maximize?: boolean;
  /** What a step with NaN/±Infinity gradients does: `'throw'` (default), `'skip'`, `'ignore'`. */
  nonFinite?: NonFinitePolicy;
  /** The engine to allocate in; default: the one `init()` created. */
  engine?: Engine;
  /**
   * Clip the global L2 norm of all gradients to this value at every step (PyTorch's
   * `clip_grad_norm_` before `step()`): the kernel scales the gradients by
   * `min(1, clipGradNorm / (norm + 1e-6))`, nothing rewrites them. `null` (default): off.
   */
  clipGradNorm?: number | null;
  /**
   * Clamp every gradient to [-clipGradValue, clipGradValue] inside the kernel (PyTorch's
   * `clip_grad_value_`, without writing the gradients). `null` (default): off.
   */
  clipGradValue?: number | null;
}

/** Options of `step()` (`hvp`, `gradFn`: meta-gradients, docs/meta-gradients.md). */
export interface StepOptions extends MetaStepOptions {
  /**
   * Multiplies every gradient in this step, inside the kernel (> 0, default 1). Gradient
   * accumulation: add k micro-batch gradients into `p.grad`, then `step({ gradScale: 1 / k })`.
   * Clipping applies to the scaled gradient.
   */
  gradScale?: number;
}

/** Options a param group may set: the optimizer's, except the optimizer-wide ones. */
export type GroupOptions<O> = Omit<O, 'engine' | 'nonFinite' | 'clipGradNorm' | 'clipGradValue'>;

/** Options that belong to the whole optimizer, not to a param group. */
export const OPTIMIZER_WIDE = ['nonFinite', 'clipGradNorm', 'clipGradValue'];
/** Options every optimizer accepts besides its declaration's `options`. */
export const BASE_OPTIONS = ['clipGradNorm', 'clipGradValue'];

/** @internal One param group: its resolved options and its rate's schedule. */
export interface GroupState<R> {
  /** Resolved options; `lr` holds the rate of the coming step. */
  opts: R;
  schedule: Schedule | null;
  /** The step count when the schedule was set (its position is `stepCount - start`). */
  start: number;
}

/** Resolved options of a dense optimizer (every field set; `lr` is the current rate). */
export type Resolved<O> = { [K in keyof Omit<O, 'engine' | 'lr'>]-?: Exclude<O[K], undefined> } & { lr: number };

/** @internal A copy of resolved options whose arrays (e.g. `betas`) are copies too, so callers cannot change them. */
export function copyOptions<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Array.isArray(v) ? v.slice() : v])) as T;
}

/** @internal A schedule's rate at `position`, checked to be a finite number >= 0 (`kind` names the optimizer). */
export function scheduledRate(kind: string, s: Schedule, position: number): number {
  const v = s.at(position);
  if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0)) {
    throw new RangeError(
      `${kind}: the lr schedule ${s.name} gives ${v} at its step ${position}; a learning rate must be a finite number >= 0`,
    );
  }
  return v;
}

/** @internal Validates the options shared by every optimizer (`kind` names it in messages). */
export function resolveBase(
  kind: string,
  o: BaseOptions,
  defaults: { readonly lr: number; readonly weightDecay: number },
): {
  lr: number;
  weightDecay: number;
  maximize: boolean;
  nonFinite: NonFinitePolicy;
  clipGradNorm: number | null;
  clipGradValue: number | null;
} {
  // null is not 'unset': { lr: null } silently meant the default. Only the clip options take null (off).
  for (const [k, v] of Object.entries(o)) {
    if (v === null && k !== 'clipGradNorm' && k !== 'clipGradValue')
      throw new TypeError(`${kind}: option '${k}' is null; leave it out (or undefined) for the default`);
  }
  const clip = (name: 'clipGradNorm' | 'clipGradValue'): number | null =>
    o[name] === undefined || o[name] === null ? null : checkNumber(kind, name, o[name], { min: 0, minExclusive: true });
  const lr = o.lr ?? defaults.lr;
  return {
    lr: isSchedule(lr) ? scheduledRate(kind, lr, 0) : checkNumber(kind, 'lr', lr, { min: 0 }),
    weightDecay: checkNumber(kind, 'weightDecay', o.weightDecay ?? defaults.weightDecay, { min: 0 }),
    maximize: checkBoolean(kind, 'maximize', o.maximize ?? false),
    nonFinite: checkChoice(kind, 'nonFinite', o.nonFinite ?? 'throw', ['throw', 'skip', 'ignore'] as const),
    clipGradNorm: clip('clipGradNorm'),
    clipGradValue: clip('clipGradValue'),
  };
}
