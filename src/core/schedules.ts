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

/**
 * A schedule in closed form: its name, its JSON form and its rate as a function of the step. Every
 * schedule but `sequentialLR` is one (the factories below give each its formula).
 */
class Formula extends Schedule {
  constructor(
    private readonly label: string,
    private readonly spec: ScheduleSpec,
    private readonly rateAt: (t: number) => number,
  ) {
    super();
  }
  get name(): string {
    return this.label;
  }
  protected value(t: number): number {
    return this.rateAt(t);
  }
  toJSON(): ScheduleSpec {
    // A copy, arrays too (multiStepLR's milestones), so that the caller cannot change the schedule.
    return Object.fromEntries(
      Object.entries(this.spec).map(([k, v]) => [k, Array.isArray(v) ? v.slice() : v]),
    ) as ScheduleSpec;
  }
}

/** torch OneCycleLR's phases: `[end step, from rate, to rate]` each. */
function oneCyclePhases(
  maxLr: number,
  T: number,
  pctStart: number,
  divFactor: number,
  finalDivFactor: number,
  threePhase: boolean,
): { end: number; from: number; to: number }[] {
  // torch OneCycleLR: initial_lr = max_lr / div_factor, min_lr = initial_lr / final_div_factor
  const initial = maxLr / divFactor;
  const min = initial / finalDivFactor;
  return threePhase
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

/** torch OneCycleLR.get_lr; past the last step the rate stays at the final one (torch raises). */
function oneCycleAt(
  phases: readonly { end: number; from: number; to: number }[],
  totalSteps: number,
  cos: boolean,
  step: number,
): number {
  const t = Math.min(step, totalSteps - 1);
  let start = 0;
  for (let i = 0; i < phases.length; i++) {
    const { end, from, to } = phases[i];
    if (t <= end || i === phases.length - 1) {
      const pct = end === start ? 1 : (t - start) / (end - start);
      return cos ? to + ((from - to) / 2) * (Math.cos(Math.PI * pct) + 1) : (to - from) * pct + from;
    }
    start = end;
  }
  /* c8 ignore next */
  return phases[phases.length - 1].to;
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
  const v = rate('constantLR', 'value', value);
  return new Formula('constantLR', { type: 'constant', value: v }, () => v);
}

/**
 * PyTorch's `StepLR`: `lr * gamma^floor(t / stepSize)` (the rate drops by `gamma` every
 * `stepSize` steps). `gamma` defaults to 0.1.
 */
export function stepLR(options: { lr: number; stepSize: number; gamma?: number }): Schedule {
  const o = checkObject('stepLR', options);
  checkKeys('stepLR', o, ['lr', 'stepSize', 'gamma']);
  const lr = rate('stepLR', 'lr', o.lr);
  const stepSize = count('stepLR', 'stepSize', o.stepSize, 1);
  const gamma = positive('stepLR', 'gamma', o.gamma ?? 0.1);
  // torch StepLR (closed form): lr * gamma ** (t // step_size)
  return new Formula(
    'stepLR',
    { type: 'step', lr, stepSize, gamma },
    (t) => lr * Math.pow(gamma, Math.floor(t / stepSize)),
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
  const lr = rate('multiStepLR', 'lr', o.lr);
  const gamma = positive('multiStepLR', 'gamma', o.gamma ?? 0.1);
  return new Formula('multiStepLR', { type: 'multiStep', lr, milestones: ms, gamma }, (t) => {
    // torch MultiStepLR (closed form): lr * gamma ** bisect_right(milestones, t)
    let k = 0;
    while (k < ms.length && ms[k] <= t) k++;
    return lr * Math.pow(gamma, k);
  });
}

/** PyTorch's `ExponentialLR`: `lr * gamma^t`. */
export function exponentialLR(options: { lr: number; gamma: number }): Schedule {
  const o = checkObject('exponentialLR', options);
  checkKeys('exponentialLR', o, ['lr', 'gamma']);
  const lr = rate('exponentialLR', 'lr', o.lr);
  const gamma = positive('exponentialLR', 'gamma', o.gamma);
  return new Formula('exponentialLR', { type: 'exponential', lr, gamma }, (t) => lr * Math.pow(gamma, t));
}

/**
 * A linear ramp from `from` to `to` over `steps` steps, then `to` (optax's `linear_schedule`;
 * PyTorch's `LinearLR` with `from = lr * start_factor`, `to = lr * end_factor`). The usual linear
 * warmup is `linearLR({ from: 0, to: peak, steps: warmup })`; see also `warmupLR`.
 */
export function linearLR(options: { from?: number; to: number; steps: number }): Schedule {
  const o = checkObject('linearLR', options);
  checkKeys('linearLR', o, ['from', 'to', 'steps']);
  const from = rate('linearLR', 'from', o.from ?? 0);
  const to = rate('linearLR', 'to', o.to);
  const steps = count('linearLR', 'steps', o.steps);
  // optax.linear_schedule: init + (end - init) * min(t, steps) / steps; steps = 0: end at once
  return new Formula('linearLR', { type: 'linear', from, to, steps }, (t) =>
    steps === 0 ? to : from + (to - from) * (Math.min(t, steps) / steps),
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
  const init = rate('cosineLR', 'init', o.init ?? 0);
  const floor = rate('cosineLR', 'floor', o.floor ?? 0);
  const spec: ScheduleSpec = { type: 'cosine', peak, decaySteps, warmupSteps, init, floor };
  return new Formula('cosineLR', spec, (t) => {
    // optax.warmup_cosine_decay_schedule: linear init -> peak over warmupSteps, then
    // floor + (peak - floor) * (1 + cos(pi * k / K)) / 2 with k = min(t - warmup, K), K = decaySteps - warmupSteps
    const w = warmupSteps;
    if (t < w) return init + (peak - init) * (t / w);
    const K = decaySteps - w;
    if (K <= 0) return floor;
    const k = Math.min(t - w, K);
    return floor + (peak - floor) * 0.5 * (1 + Math.cos((Math.PI * k) / K));
  });
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
  const maxLr = rate(n, 'maxLr', o.maxLr);
  const totalSteps = count(n, 'totalSteps', o.totalSteps, 1);
  const pctStart = checkNumber(n, 'pctStart', o.pctStart ?? 0.3, { min: 0, max: 1 });
  const annealStrategy = checkChoice(n, 'annealStrategy', o.annealStrategy ?? 'cos', ['cos', 'linear'] as const);
  const divFactor = positive(n, 'divFactor', o.divFactor ?? 25);
  const finalDivFactor = positive(n, 'finalDivFactor', o.finalDivFactor ?? 1e4);
  const spec: ScheduleSpec = {
    type: 'oneCycle',
    maxLr,
    totalSteps,
    pctStart,
    annealStrategy,
    divFactor,
    finalDivFactor,
    threePhase,
  };
  const phases = oneCyclePhases(maxLr, totalSteps, pctStart, divFactor, finalDivFactor, threePhase);
  return new Formula(n, spec, (t) => oneCycleAt(phases, totalSteps, annealStrategy === 'cos', t));
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

/** The factory of each JSON `type` that takes the JSON's other fields as its options. */
const FROM_OPTIONS: Record<string, (options: never) => Schedule> = {
  step: stepLR,
  multiStep: multiStepLR,
  exponential: exponentialLR,
  linear: linearLR,
  cosine: cosineLR,
  oneCycle: oneCycleLR,
};

/** Rebuilds a schedule from its JSON form (`toJSON()`), validating it as the factories do. */
export function scheduleFromJSON(spec: ScheduleSpec): Schedule {
  const s = checkObject('scheduleFromJSON', spec) as ScheduleSpec;
  const { type, ...rest } = s as ScheduleSpec & Record<string, unknown>;
  // A type whose options are the JSON's other fields: its factory validates them.
  if (typeof type === 'string' && Object.prototype.hasOwnProperty.call(FROM_OPTIONS, type))
    return FROM_OPTIONS[type](rest as never);
  switch (type) {
    case 'constant':
      checkKeys('constantLR', rest, ['value']);
      return constantLR(rest.value as number);
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
