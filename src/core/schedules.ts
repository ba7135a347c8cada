// Learning-rate schedules: small immutable objects that map a step number (0 for the first step)
// to a learning rate, after PyTorch's torch.optim.lr_scheduler and optax's schedules. They hold no
// position of their own: the optimizer evaluates them at its step count (kept in its state dict),
// so a schedule can be shared, composed and serialized (`toJSON()` / `scheduleFromJSON()`).

import { checkChoice, checkNumber, describe, unknownOption } from './options.js';

/** The JSON form of a schedule (what `toJSON()` returns and `scheduleFromJSON()` reads). */
export type ScheduleSpec =
  | { type: 'constant'; value: number }
  | { type: 'step'; lr: number; stepSize: number; gamma: number }
  | { type: 'multiStep'; lr: number; milestones: number[]; gamma: number }
  | { type: 'exponential'; lr: number; gamma: number }
  | { type: 'linear'; from: number; to: number; steps: number }
  | { type: 'cosine'; peak: number; decaySteps: number; warmupSteps: number; init: number; floor: number }
  | {
      type: 'oneCycle';
      maxLr: number;
      totalSteps: number;
      pctStart: number;
      annealStrategy: 'cos' | 'linear';
      divFactor: number;
      finalDivFactor: number;
      threePhase: boolean;
    }
  | { type: 'sequential'; schedules: ScheduleSpec[]; boundaries: number[] };

/**
 * A learning-rate schedule: `at(step)` is the rate of the step that follows `step` completed
 * steps (so `at(0)` is the first step's rate). Pass one as an optimizer's `lr`.
 */
export abstract class Schedule {
  /** The learning rate after `step` completed steps (`step` a non-negative integer). */
  at(step: number): number {
    if (!Number.isInteger(step) || step < 0)
      throw new RangeError(`${this.name}.at: step must be a non-negative integer, got ${step}`);
    return this.value(step);
  }

  /** The schedule's name in messages (`'cosineLR'`, ...). */
  abstract get name(): string;
  /** The JSON form, for state dicts and checkpoints. */
  abstract toJSON(): ScheduleSpec;
  /** @internal the rate at a checked step. */
  protected abstract value(step: number): number;
}

const rate = (owner: string, name: string, v: unknown): number => checkNumber(owner, name, v, { min: 0 });
const count = (owner: string, name: string, v: unknown, min = 0): number =>
  checkNumber(owner, name, v, { min, integer: true });
const positive = (owner: string, name: string, v: unknown): number =>
  checkNumber(owner, name, v, { min: 0, minExclusive: true });

function checkObject(owner: string, o: unknown): Record<string, unknown> {
  if (o === null || typeof o !== 'object' || Array.isArray(o))
    throw new TypeError(`${owner}: expected an options object, got ${describe(o)}`);
  return o as Record<string, unknown>;
}

function checkKeys(owner: string, o: Record<string, unknown>, known: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (k !== 'type' && !known.includes(k)) throw unknownOption(owner, k, known);
  }
}

class Constant extends Schedule {
  constructor(readonly rateValue: number) {
    super();
  }
  get name(): string {
    return 'constantLR';
  }
  protected value(): number {
    return this.rateValue;
  }
  toJSON(): ScheduleSpec {
    return { type: 'constant', value: this.rateValue };
  }
}

class StepDecay extends Schedule {
  constructor(
    readonly lr: number,
    readonly stepSize: number,
    readonly gamma: number,
  ) {
    super();
  }
  get name(): string {
    return 'stepLR';
  }
  protected value(t: number): number {
    // torch StepLR (closed form): lr * gamma ** (t // step_size)
    return this.lr * Math.pow(this.gamma, Math.floor(t / this.stepSize));
  }
  toJSON(): ScheduleSpec {
    return { type: 'step', lr: this.lr, stepSize: this.stepSize, gamma: this.gamma };
  }
}

class MultiStep extends Schedule {
  constructor(
    readonly lr: number,
    readonly milestones: readonly number[],
    readonly gamma: number,
  ) {
    super();
  }
  get name(): string {
    return 'multiStepLR';
  }
  protected value(t: number): number {
    // torch MultiStepLR (closed form): lr * gamma ** bisect_right(milestones, t)
    let k = 0;
    while (k < this.milestones.length && this.milestones[k] <= t) k++;
    return this.lr * Math.pow(this.gamma, k);
  }
  toJSON(): ScheduleSpec {
    return { type: 'multiStep', lr: this.lr, milestones: this.milestones.slice(), gamma: this.gamma };
  }
}

class Exponential extends Schedule {
  constructor(
    readonly lr: number,
    readonly gamma: number,
  ) {
    super();
  }
  get name(): string {
    return 'exponentialLR';
  }
  protected value(t: number): number {
    return this.lr * Math.pow(this.gamma, t);
  }
  toJSON(): ScheduleSpec {
    return { type: 'exponential', lr: this.lr, gamma: this.gamma };
  }
}

class Linear extends Schedule {
  constructor(
    readonly from: number,
    readonly to: number,
    readonly steps: number,
  ) {
    super();
  }
  get name(): string {
    return 'linearLR';
  }
  protected value(t: number): number {
    // optax.linear_schedule: init + (end - init) * min(t, steps) / steps; steps = 0: end at once
    if (this.steps === 0) return this.to;
    return this.from + (this.to - this.from) * (Math.min(t, this.steps) / this.steps);
  }
  toJSON(): ScheduleSpec {
    return { type: 'linear', from: this.from, to: this.to, steps: this.steps };
  }
}

class Cosine extends Schedule {
  constructor(
    readonly peak: number,
    readonly decaySteps: number,
    readonly warmupSteps: number,
    readonly init: number,
    readonly floor: number,
  ) {
    super();
  }
  get name(): string {
    return 'cosineLR';
  }
  protected value(t: number): number {
    // optax.warmup_cosine_decay_schedule: linear init -> peak over warmupSteps, then
    // floor + (peak - floor) * (1 + cos(pi * k / K)) / 2 with k = min(t - warmup, K), K = decaySteps - warmupSteps
    const w = this.warmupSteps;
    if (t < w) return this.init + (this.peak - this.init) * (t / w);
    const K = this.decaySteps - w;
    if (K <= 0) return this.floor;
    const k = Math.min(t - w, K);
    return this.floor + (this.peak - this.floor) * 0.5 * (1 + Math.cos((Math.PI * k) / K));
  }
  toJSON(): ScheduleSpec {
    return {
      type: 'cosine',
      peak: this.peak,
      decaySteps: this.decaySteps,
      warmupSteps: this.warmupSteps,
      init: this.init,
      floor: this.floor,
    };
  }
}

class OneCycle extends Schedule {
  private readonly phases: { end: number; from: number; to: number }[];
  constructor(
    readonly maxLr: number,
    readonly totalSteps: number,
    readonly pctStart: number,
    readonly annealStrategy: 'cos' | 'linear',
    readonly divFactor: number,
    readonly finalDivFactor: number,
    readonly threePhase: boolean,
  ) {
    super();
    // torch OneCycleLR: initial_lr = max_lr / div_factor, min_lr = initial_lr / final_div_factor
    const initial = maxLr / divFactor;
    const min = initial / finalDivFactor;
    const T = totalSteps;
    this.phases = threePhase
      ? [
          { end: pctStart * T - 1, from: initial, to: maxLr },
          { end: 2 * pctStart * T - 2, from: maxLr, to: initial },
          { end: T - 1, from: initial, to: min },
        ]
      : [
          { end: pctStart * T - 1, from: initial, to: maxLr },
          { end: T - 1, from: maxLr, to: min },
        ];
  }
  get name(): string {
    return 'oneCycleLR';
  }
  protected value(step: number): number {
    // torch OneCycleLR.get_lr; past the last step the rate stays at the final one (torch raises).
    const t = Math.min(step, this.totalSteps - 1);
    let start = 0;
    for (let i = 0; i < this.phases.length; i++) {
      const { end, from, to } = this.phases[i];
      if (t <= end || i === this.phases.length - 1) {
        const pct = end === start ? 1 : (t - start) / (end - start);
        return this.annealStrategy === 'cos'
          ? to + ((from - to) / 2) * (Math.cos(Math.PI * pct) + 1)
          : (to - from) * pct + from;
      }
      start = end;
    }
    /* c8 ignore next */
    return this.phases[this.phases.length - 1].to;
  }
  toJSON(): ScheduleSpec {
    return {
      type: 'oneCycle',
      maxLr: this.maxLr,
      totalSteps: this.totalSteps,
      pctStart: this.pctStart,
      annealStrategy: this.annealStrategy,
      divFactor: this.divFactor,
      finalDivFactor: this.finalDivFactor,
      threePhase: this.threePhase,
    };
  }
}

class Sequential extends Schedule {
  constructor(
    readonly parts: readonly Schedule[],
    readonly boundaries: readonly number[],
  ) {
    super();
  }
  get name(): string {
    return 'sequentialLR';
  }
  protected value(t: number): number {
    // optax.join_schedules: the last boundary <= t picks the schedule, which sees t - boundary.
    let k = 0;
    while (k < this.boundaries.length && this.boundaries[k] <= t) k++;
    return this.parts[k].at(k === 0 ? t : t - this.boundaries[k - 1]);
  }
  toJSON(): ScheduleSpec {
    return { type: 'sequential', schedules: this.parts.map((s) => s.toJSON()), boundaries: this.boundaries.slice() };
  }
}

/** A constant learning rate `value`. */
export function constantLR(value: number): Schedule {
  return new Constant(rate('constantLR', 'value', value));
}

/**
 * PyTorch's `StepLR`: `lr * gamma^floor(t / stepSize)` (the rate drops by `gamma` every
 * `stepSize` steps). `gamma` defaults to 0.1.
 */
export function stepLR(options: { lr: number; stepSize: number; gamma?: number }): Schedule {
  const o = checkObject('stepLR', options);
  checkKeys('stepLR', o, ['lr', 'stepSize', 'gamma']);
  return new StepDecay(
    rate('stepLR', 'lr', o.lr),
    count('stepLR', 'stepSize', o.stepSize, 1),
    positive('stepLR', 'gamma', o.gamma ?? 0.1),
  );
}

/**
 * PyTorch's `MultiStepLR`: `lr * gamma^k`, k = how many `milestones` are <= t (ascending step
 * numbers; a repeated milestone applies `gamma` twice, as in PyTorch). `gamma` defaults to 0.1.
 */
export function multiStepLR(options: { lr: number; milestones: readonly number[]; gamma?: number }): Schedule {
  const o = checkObject('multiStepLR', options);
  checkKeys('multiStepLR', o, ['lr', 'milestones', 'gamma']);
  if (!Array.isArray(o.milestones))
    throw new TypeError(
      `multiStepLR: option 'milestones' must be an array of step numbers, got ${describe(o.milestones)}`,
    );
  const ms = (o.milestones as unknown[]).map((m, i) => count('multiStepLR', `milestones[${i}]`, m));
  for (let i = 1; i < ms.length; i++) {
    if (ms[i] < ms[i - 1])
      throw new RangeError(
        `multiStepLR: option 'milestones' must be in ascending order, got ${ms[i - 1]} before ${ms[i]}`,
      );
  }
  return new MultiStep(rate('multiStepLR', 'lr', o.lr), ms, positive('multiStepLR', 'gamma', o.gamma ?? 0.1));
}

/** PyTorch's `ExponentialLR`: `lr * gamma^t`. */
export function exponentialLR(options: { lr: number; gamma: number }): Schedule {
  const o = checkObject('exponentialLR', options);
  checkKeys('exponentialLR', o, ['lr', 'gamma']);
  return new Exponential(rate('exponentialLR', 'lr', o.lr), positive('exponentialLR', 'gamma', o.gamma));
}

/**
 * A linear ramp from `from` to `to` over `steps` steps, then `to` (optax's `linear_schedule`;
 * PyTorch's `LinearLR` with `from = lr * start_factor`, `to = lr * end_factor`). The usual linear
 * warmup is `linearLR({ from: 0, to: peak, steps: warmup })`; see also `warmupLR`.
 */
export function linearLR(options: { from?: number; to: number; steps: number }): Schedule {
  const o = checkObject('linearLR', options);
  checkKeys('linearLR', o, ['from', 'to', 'steps']);
  return new Linear(
    rate('linearLR', 'from', o.from ?? 0),
    rate('linearLR', 'to', o.to),
    count('linearLR', 'steps', o.steps),
  );
}

/**
 * Cosine decay with an optional linear warmup and a floor (optax's
 * `warmup_cosine_decay_schedule`): from `init` (default 0) up to `peak` over `warmupSteps`
 * (default 0), then `floor + (peak - floor) (1 + cos(pi k / K)) / 2` for k = 0..K,
 * K = `decaySteps - warmupSteps` (`decaySteps` counts the warmup, as in optax), then `floor`
 * (default 0). Without warmup this is PyTorch's `CosineAnnealingLR` with `T_max = decaySteps`,
 * `eta_min = floor`, except that it stays at `floor` after T_max instead of rising again.
 */
export function cosineLR(options: {
  peak: number;
  decaySteps: number;
  warmupSteps?: number;
  init?: number;
  floor?: number;
}): Schedule {
  const o = checkObject('cosineLR', options);
  checkKeys('cosineLR', o, ['peak', 'decaySteps', 'warmupSteps', 'init', 'floor']);
  const peak = rate('cosineLR', 'peak', o.peak);
  const decaySteps = count('cosineLR', 'decaySteps', o.decaySteps, 1);
  const warmupSteps = count('cosineLR', 'warmupSteps', o.warmupSteps ?? 0);
  if (warmupSteps > decaySteps)
    throw new RangeError(
      `cosineLR: option 'warmupSteps' (${warmupSteps}) must not exceed 'decaySteps' (${decaySteps}), which counts the warmup`,
    );
  return new Cosine(
    peak,
    decaySteps,
    warmupSteps,
    rate('cosineLR', 'init', o.init ?? 0),
    rate('cosineLR', 'floor', o.floor ?? 0),
  );
}

/**
 * PyTorch's `OneCycleLR` (Smith & Topin's 1cycle policy): from `maxLr / divFactor` up to `maxLr`
 * over the first `pctStart` of `totalSteps`, then down to `maxLr / divFactor / finalDivFactor`
 * (with `threePhase`, back to the start first, as in PyTorch). Defaults: `pctStart` 0.3,
 * `annealStrategy` 'cos', `divFactor` 25, `finalDivFactor` 1e4, `threePhase` false. After
 * `totalSteps` steps the rate stays at its final value (PyTorch raises instead).
 */
export function oneCycleLR(options: {
  maxLr: number;
  totalSteps: number;
  pctStart?: number;
  annealStrategy?: 'cos' | 'linear';
  divFactor?: number;
  finalDivFactor?: number;
  threePhase?: boolean;
}): Schedule {
  const n = 'oneCycleLR';
  const o = checkObject(n, options);
  checkKeys(n, o, ['maxLr', 'totalSteps', 'pctStart', 'annealStrategy', 'divFactor', 'finalDivFactor', 'threePhase']);
  const threePhase = o.threePhase ?? false;
  if (typeof threePhase !== 'boolean')
    throw new TypeError(`${n}: option 'threePhase' must be a boolean, got ${describe(threePhase)}`);
  return new OneCycle(
    rate(n, 'maxLr', o.maxLr),
    count(n, 'totalSteps', o.totalSteps, 1),
    checkNumber(n, 'pctStart', o.pctStart ?? 0.3, { min: 0, max: 1 }),
    checkChoice(n, 'annealStrategy', o.annealStrategy ?? 'cos', ['cos', 'linear'] as const),
    positive(n, 'divFactor', o.divFactor ?? 25),
    positive(n, 'finalDivFactor', o.finalDivFactor ?? 1e4),
    threePhase,
  );
}

/**
 * Runs `schedules` one after the other (optax's `join_schedules`, PyTorch's `SequentialLR`):
 * schedule i + 1 takes over at step `boundaries[i]` and sees the step count from there (it starts
 * at its own step 0). Needs one boundary fewer than schedules, ascending.
 */
export function sequentialLR(schedules: readonly Schedule[], boundaries: readonly number[]): Schedule {
  const n = 'sequentialLR';
  if (!Array.isArray(schedules) || schedules.length === 0)
    throw new TypeError(`${n}: expected a non-empty array of schedules, got ${describe(schedules)}`);
  schedules.forEach((s, i) => {
    if (!(s instanceof Schedule))
      throw new TypeError(
        `${n}: schedules[${i}] is not a schedule (got ${describe(s)}); build one with constantLR, cosineLR, ...`,
      );
  });
  if (!Array.isArray(boundaries) || boundaries.length !== schedules.length - 1) {
    throw new RangeError(
      `${n}: ${schedules.length} schedules need ${schedules.length - 1} boundaries, got ${Array.isArray(boundaries) ? boundaries.length : describe(boundaries)}`,
    );
  }
  const b = boundaries.map((x, i) => count(n, `boundaries[${i}]`, x));
  for (let i = 1; i < b.length; i++) {
    if (b[i] < b[i - 1]) throw new RangeError(`${n}: boundaries must be ascending, got ${b[i - 1]} before ${b[i]}`);
  }
  return new Sequential(schedules.slice(), b);
}

/**
 * A linear warmup from `from` (default 0) to `after.at(0)` over `steps` steps, then `after` from
 * its own step 0: `sequentialLR([linearLR(...), after], [steps])`.
 */
export function warmupLR(steps: number, after: Schedule, options: { from?: number } = {}): Schedule {
  if (!(after instanceof Schedule)) throw new TypeError(`warmupLR: 'after' must be a schedule, got ${describe(after)}`);
  const o = checkObject('warmupLR', options);
  checkKeys('warmupLR', o, ['from']);
  const w = count('warmupLR', 'steps', steps);
  return sequentialLR([linearLR({ from: (o.from as number | undefined) ?? 0, to: after.at(0), steps: w }), after], [w]);
}

/** True when `x` is a schedule. */
export function isSchedule(x: unknown): x is Schedule {
  return x instanceof Schedule;
}

/** Rebuilds a schedule from its JSON form (`toJSON()`), validating it as the factories do. */
export function scheduleFromJSON(spec: ScheduleSpec): Schedule {
  const s = checkObject('scheduleFromJSON', spec) as ScheduleSpec;
  const { type, ...rest } = s as ScheduleSpec & Record<string, unknown>;
  switch (type) {
    case 'constant':
      checkKeys('constantLR', rest, ['value']);
      return constantLR(rest.value as number);
    case 'step':
      return stepLR(rest as never);
    case 'multiStep':
      return multiStepLR(rest as never);
    case 'exponential':
      return exponentialLR(rest as never);
    case 'linear':
      return linearLR(rest as never);
    case 'cosine':
      return cosineLR(rest as never);
    case 'oneCycle':
      return oneCycleLR(rest as never);
    case 'sequential': {
      checkKeys('sequentialLR', rest, ['schedules', 'boundaries']);
      if (!Array.isArray(rest.schedules))
        throw new TypeError(
          `scheduleFromJSON: a sequential schedule needs a 'schedules' array, got ${describe(rest.schedules)}`,
        );
      return sequentialLR((rest.schedules as ScheduleSpec[]).map(scheduleFromJSON), rest.boundaries as number[]);
    }
    default:
      throw new TypeError(
        `scheduleFromJSON: unknown schedule type ${describe(type)}; expected one of constant, step, multiStep, exponential, linear, cosine, oneCycle, sequential`,
      );
  }
}
