// The machinery every dense optimizer shares: params in engine memory, the tensor table the
// kernels walk (one call into wasm per step), hyperparameter blocks computed in float64 on this
// side, the non-finite policy, state dicts and disposal. What differs between optimizers (options,
// defaults, validation, state names, the hyper-block writer, the kernel) is the class's
// `declaration` (src/core/declaration.ts; one per optimizer in src/optimizers/).

import { SLOT as S, type TableKernelName } from './abi.js';
import type { OptimizerStateDict, ParamGroupStateDict } from './state-dict.js';
import { StepSeries, l2Decay, stateNames, type AnyDeclaration, type HyperWriter } from './declaration.js';
import { Engine, getEngine } from './engine.js';
import { DisposedError, NonFiniteGradientError } from './errors.js';
import {
  checkBoolean,
  checkChoice,
  checkKnownKeys,
  checkNumber,
  describe,
  zeroGradArgs,
  type NonFinitePolicy,
} from './options.js';
import { Param } from './param.js';
import { ParamArena, type ArenaMark } from './param-arena.js';
import { loadOptimizer, saveOptimizer } from './optimizer-checkpoint.js';
import { loadOptimizerSafetensors, saveOptimizerSafetensors } from './torch-state.js';
import { ParamGroup, type GroupHost } from './param-group.js';
import { isSchedule, scheduleFromJSON, type Schedule } from './schedules.js';
import { firstNonFinite, MAX_STEP_COUNT } from './limits.js';
import { checkMetaStep, MetaTracker, type MetaGradientOptions, type MetaStepOptions } from './meta-gradients.js';
import {
  checkF32Scale,
  effectiveOverflow,
  F32_MAX,
  F32_SAFE,
  F32_SQRT_MAX,
  squareOverflow,
  type StepCheckHost,
} from './finite-check.js';

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

export type { OptimizerStateDict, ParamStateDict, ParamGroupStateDict } from './state-dict.js';

/** Options that belong to the whole optimizer, not to a param group. */
const OPTIMIZER_WIDE = ['nonFinite', 'clipGradNorm', 'clipGradValue'];
/** Options every optimizer accepts besides its own `knownOptions`. */
const BASE_OPTIONS = ['clipGradNorm', 'clipGradValue'];

interface GroupState<R> {
  /** Resolved options; `lr` holds the rate of the coming step. */
  opts: R;
  schedule: Schedule | null;
  /** The step count when the schedule was set (its position is `stepCount - start`). */
  start: number;
}

const HYPER_BYTES = S.HYPER_SLOTS * 4;
const DESC_WORDS = S.DESC_BYTES / 4;

export type { HyperWriter } from './declaration.js';

/** Resolved options of a dense optimizer (every field set; `lr` is the current rate). */
export type Resolved<O> = { [K in keyof Omit<O, 'engine' | 'lr'>]-?: Exclude<O[K], undefined> } & { lr: number };

/** A copy of resolved options whose arrays (e.g. `betas`) are copies too, so callers cannot change them. */
function copyOptions<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Array.isArray(v) ? v.slice() : v])) as T;
}

/** Writes one cohort's hyper block: slot `i` at float index `base + i` of the current heap. */
class BlockWriter implements HyperWriter {
  base = 0;
  f: Float32Array = new Float32Array(0);
  i: Int32Array = new Int32Array(0);
  f32(slot: number, value: number): void {
    this.f[this.base + slot] = value;
  }
  flag(slot: number, on: boolean): void {
    this.i[this.base + slot] = on ? 1 : 0;
  }
}

/**
 * The base of every dense optimizer. A subclass is its declaration:
 * `class Adam extends Optimizer<AdamOptions> { static readonly declaration = adamDecl; }`.
 */
export abstract class Optimizer<O extends BaseOptions = BaseOptions> implements GroupHost {
  /** The engine this optimizer lives in. */
  readonly engine: Engine;
  /** The params, in the order they were added (read only: add params with `param()`). */
  readonly params: readonly Param[] = [];
  protected opts: Resolved<O>;
  private steps = 0;
  private disposed = false;
  private table = 0;
  private tableCapacity = 0;
  private hyper = 0;
  private hyperCapacity = 0;
  private cohorts: { group: number; birth: number }[] = [];
  private readonly hyperWriter = new BlockWriter();
  /**
   * True once the hyper blocks hold a whole block for the current options and cohorts: a step then
   * writes only what moves from step to step (lr, t, the gradient scale; `stepOnly` of the
   * declaration's writer). Anything else that changes (options, groups, params) rebuilds the table,
   * which clears it.
   */
  private hyperWhole = false;
  /** The clamp bounds the hyper blocks hold (written again only when they change). */
  private hyperLo = NaN;
  private hyperHi = NaN;
  private dirty = true;
  private groupStates: GroupState<Resolved<O>>[] = [];
  private handles: ParamGroup[] = [];
  private lastNorm = NaN;
  /** The step kernel's wasm function, looked up once (a keyed lookup per step shows on small tensors). */
  private kernel: ((table: number, count: number) => void) | null = null;
  /** What this optimizer is: options, state, hyper writer, kernel (the class's `declaration`). */
  protected readonly decl: AnyDeclaration;
  /** The bias-correction powers and other per-step series its hyper writer keeps. */
  protected readonly series = new StepSeries();
  /** Where the params' tensors live: each kind (values, gradients, each state) contiguous. */
  private readonly arena: ParamArena;
  /** @internal multiplies every gradient in the kernel (clipping, accumulation); maximize flips its sign. */
  protected gradScale = 1;
  /** The meta-gradient tangents, while tracked (src/core/meta-gradients.ts). */
  private meta: MetaTracker | null = null;

  /** The optimizer's name in messages and state dicts (`'Adam'`, `'SGD'`, ...). */
  get kind(): string {
    return this.decl.name;
  }
  /**
   * @internal A subclass that reads the gradients itself before the update (hypergradients)
   * returns their squared norm (f64, clamped to [lo, hi]; NaN if any is not finite); the hyper
   * blocks are written (with the previous rates) before it runs.
   */
  protected measureGrads?(lo: number, hi: number): number;
  /** @internal Called when the step goes ahead, with the final gradient scale, before the hyper blocks are written. */
  protected beforeUpdate?(scale: number): void;

  constructor(options: O = {} as O) {
    const decl = (new.target as unknown as { declaration?: AnyDeclaration }).declaration;
    if (decl === undefined)
      throw new TypeError(
        `${new.target.name}: an Optimizer subclass needs a static 'declaration' (src/core/declaration.ts)`,
      );
    this.decl = decl;
    const kind = decl.name;
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw new TypeError(`${kind}: options must be an object, got ${describe(options)} (e.g. { lr: 1e-3 })`);
    }
    const engine = options?.engine;
    if (engine !== undefined && !(engine instanceof Engine))
      throw new TypeError(`${kind}: option 'engine' must be an Engine, got ${describe(engine)}`);
    this.engine = engine ?? getEngine();
    this.arena = new ParamArena(this.engine);
    // Options are checked before anything is allocated.
    checkKnownKeys(kind, options, [...decl.options, ...BASE_OPTIONS, 'engine']);
    this.opts = this.resolve(options);
    this.groupStates = [{ opts: this.opts, schedule: isSchedule(options?.lr) ? options.lr : null, start: 0 }];
    this.handles = [new ParamGroup(this, 0)];
  }

  /** Validates and fills in defaults (the common options here, the optimizer's own by its declaration). */
  protected resolve(o: O): Resolved<O> {
    return {
      ...this.resolveBase(o, this.decl.defaults),
      ...this.decl.resolve(o as Record<string, unknown>, this.kind),
    } as Resolved<O>;
  }

  /** The kernel's state slots under these options (the declaration's `stateLayout`). */
  protected stateLayout(o: Resolved<O>): readonly (string | null)[] {
    return this.decl.stateLayout(o);
  }

  /** Names of the state tensors each param holds under these options. */
  protected stateNames(o: Resolved<O>): string[] {
    return stateNames(this.decl, o as unknown as Parameters<typeof stateNames>[1]);
  }

  /** Validates the options shared by every optimizer. */
  private resolveBase(
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
        throw new TypeError(`${this.kind}: option '${k}' is null; leave it out (or undefined) for the default`);
    }
    const clip = (name: 'clipGradNorm' | 'clipGradValue'): number | null =>
      o[name] === undefined || o[name] === null
        ? null
        : checkNumber(this.kind, name, o[name], { min: 0, minExclusive: true });
    const lr = o.lr ?? defaults.lr;
    return {
      lr: isSchedule(lr) ? this.scheduledRate(lr, 0) : checkNumber(this.kind, 'lr', lr, { min: 0 }),
      weightDecay: checkNumber(this.kind, 'weightDecay', o.weightDecay ?? defaults.weightDecay, { min: 0 }),
      maximize: checkBoolean(this.kind, 'maximize', o.maximize ?? false),
      nonFinite: checkChoice(this.kind, 'nonFinite', o.nonFinite ?? 'throw', ['throw', 'skip', 'ignore'] as const),
      clipGradNorm: clip('clipGradNorm'),
      clipGradValue: clip('clipGradValue'),
    };
  }

  /** @internal A subclass that cannot take some rates (hypergradient ones: a schedule) refuses them here, before anything changes. */
  protected checkRate(_value: number | Schedule): void {}

  /** A schedule's rate at `position`, checked to be a finite number >= 0. */
  private scheduledRate(s: Schedule, position: number): number {
    const v = s.at(position);
    if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0)) {
      throw new RangeError(
        `${this.kind}: the lr schedule ${s.name} gives ${v} at its step ${position}; a learning rate must be a finite number >= 0`,
      );
    }
    return v;
  }

  /** The resolved hyperparameters of group 0 (a copy; `lr` is the rate of the next step). */
  get options(): Readonly<Resolved<O>> {
    return { ...copyOptions(this.opts), lr: this.groupLr(0) };
  }

  /** Number of completed steps. */
  get stepCount(): number {
    return this.steps;
  }

  /** The learning rate of the next step (of group 0). */
  get lr(): number {
    return this.groupLr(0);
  }

  /**
   * Sets the learning rate of every param group (as PyTorch's `for g in param_groups: g['lr'] = v`):
   * a number, or a schedule that starts at its step 0 with the next step.
   */
  set lr(value: number | Schedule) {
    this.checkAlive('lr');
    this.checkRate(value);
    const rate = isSchedule(value) ? this.scheduledRate(value, 0) : checkNumber(this.kind, 'lr', value, { min: 0 });
    for (const g of this.groupStates) {
      g.schedule = isSchedule(value) ? value : null;
      g.start = this.steps;
      g.opts.lr = rate;
    }
  }

  /** The learning-rate schedule of group 0, or null when its rate is a number. */
  get lrSchedule(): Schedule | null {
    return this.groupStates[0].schedule;
  }

  /**
   * The global L2 norm of the gradients measured by the last `step()` (of the gradients as the
   * kernel saw them: scaled by `gradScale`, clamped by `clipGradValue`, before norm clipping), or
   * NaN when the last step did not measure it (it does with `clipGradNorm` set).
   */
  get lastGradNorm(): number {
    return this.lastNorm;
  }

  /** The param groups, group 0 (the constructor's options) first. */
  get paramGroups(): readonly ParamGroup[] {
    return this.handles.slice();
  }

  /**
   * Adds a param group with its own hyperparameters (PyTorch's `add_param_group`); options it does
   * not set are group 0's. Add params with `group.param(x)` or `opt.param(x, { group })`. Every
   * group still steps in the same single call into wasm. `nonFinite` and clipping are
   * optimizer-wide and cannot be set per group.
   */
  addParamGroup(options: GroupOptions<O> = {} as GroupOptions<O>): ParamGroup {
    this.checkAlive('addParamGroup');
    const what = `${this.kind}.addParamGroup`;
    if (options === null || typeof options !== 'object')
      throw new TypeError(`${what}: options must be an object, got ${describe(options)}`);
    for (const k of Object.keys(options)) {
      if (OPTIMIZER_WIDE.includes(k) || k === 'engine')
        throw new TypeError(`${what}: option '${k}' applies to the whole optimizer; set it in the constructor`);
    }
    checkKnownKeys(
      what,
      options,
      this.decl.options.filter((k: string) => !OPTIMIZER_WIDE.includes(k)),
    );
    const base = this.groupStates[0];
    const given = options as Record<string, unknown>;
    const lr = given.lr !== undefined ? given.lr : (base.schedule ?? this.groupLr(0));
    const opts = this.resolve({ ...copyOptions(this.opts), ...given, lr } as unknown as O);
    const schedule = isSchedule(lr) ? lr : null;
    this.groupStates.push({
      opts,
      schedule,
      start: schedule !== null && schedule === base.schedule ? base.start : this.steps,
    });
    const handle = new ParamGroup(this, this.handles.length);
    this.handles.push(handle);
    this.dirty = true;
    return handle;
  }

  /** @internal (ParamGroup) throws unless group `index` exists. */
  checkGroup(index: number, what: string): void {
    this.checkAlive(what);
    if (index >= this.groupStates.length) {
      throw new RangeError(
        `${this.kind}: param group #${index} no longer exists (a state dict with ${this.groupStates.length} groups was loaded); use opt.paramGroups`,
      );
    }
  }

  /** @internal (ParamGroup) a copy of group `index`'s options. */
  groupOptions(index: number): Record<string, unknown> {
    return { ...copyOptions(this.groupStates[index].opts), lr: this.groupLr(index) };
  }

  /** @internal the number of param groups (`paramGroups.length` without copying the list). */
  get groupCount(): number {
    return this.groupStates.length;
  }

  /** @internal group `index`'s resolved options themselves (no copy: read them, never keep or change them). */
  groupOptionsLive(index: number): Readonly<Record<string, unknown>> {
    return this.groupStates[index].opts as unknown as Readonly<Record<string, unknown>>;
  }

  /** @internal (ParamGroup) the rate of group `index` for the next step. */
  groupLr(index: number): number {
    const g = this.groupStates[index];
    return g.schedule ? this.scheduledRate(g.schedule, this.steps - g.start) : g.opts.lr;
  }

  /** @internal (ParamGroup) the schedule of group `index`, or null. */
  groupSchedule(index: number): Schedule | null {
    return this.groupStates[index].schedule;
  }

  /** @internal (ParamGroup) sets the rate of group `index`. */
  setGroupLr(index: number, value: number | Schedule): void {
    this.checkRate(value);
    const g = this.groupStates[index];
    const rate = isSchedule(value) ? this.scheduledRate(value, 0) : checkNumber(this.kind, 'lr', value, { min: 0 });
    g.schedule = isSchedule(value) ? value : null;
    g.start = this.steps;
    g.opts.lr = rate;
  }

  /** The group index named by `options.group` (a ParamGroup of this optimizer or an index). */
  private groupOf(options: { group?: ParamGroup | number } | undefined, what: string): number {
    if (options === undefined) return 0;
    if (options === null || typeof options !== 'object')
      throw new TypeError(`${this.kind}.${what}: options must be an object, got ${describe(options)}`);
    checkKnownKeys(`${this.kind}.${what}`, options, ['group']);
    const g = options.group;
    if (g === undefined) return 0;
    if (g instanceof ParamGroup) {
      if (this.handles[g.index] !== g)
        throw new RangeError(
          `${this.kind}.${what}: option 'group' is a param group of another optimizer (or one that no longer exists)`,
        );
      return g.index;
    }
    if (typeof g !== 'number' || !Number.isInteger(g))
      throw new TypeError(
        `${this.kind}.${what}: option 'group' must be a ParamGroup or a group index, got ${describe(g)}`,
      );
    if (g < 0 || g >= this.groupStates.length)
      throw new RangeError(
        `${this.kind}.${what}: option 'group' is ${g}, but this optimizer has groups 0..${this.groupStates.length - 1}; create one with addParamGroup()`,
      );
    return g;
  }

  /** True once `dispose()` was called. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  protected checkAlive(what: string): void {
    // The error is built elsewhere: this runs first in every step, and V8 inlines small functions.
    if (this.disposed) throw this.disposedError(what);
  }

  private disposedError(what: string): DisposedError {
    return new DisposedError(`${this.kind}.${what}: this optimizer was disposed; create a new one`);
  }

  /**
   * Adds a param: a copy of `init`'s values, or `init` zeros. Returns its live handle.
   * Params added after some steps take their own first step at the next `step()`.
   * `options.group` puts it in a param group (a ParamGroup from `addParamGroup()`, or an index).
   */
  param(init: ArrayLike<number> | number, options?: { group?: ParamGroup | number }): Param {
    this.checkAlive('param');
    const group = this.groupOf(options, 'param');
    let length: number;
    if (typeof init === 'number') {
      if (!Number.isInteger(init) || init < 0)
        throw new RangeError(`${this.kind}.param: a size must be a non-negative integer, got ${init}`);
      length = init;
    } else if (init != null && typeof init === 'object' && typeof (init as ArrayLike<number>).length === 'number') {
      // A view into engine memory (another param's data, say) would be detached if this param's
      // allocation grows the memory: copy it first.
      if (ArrayBuffer.isView(init) && init.buffer === this.engine.memory.buffer) init = (init as Float32Array).slice();
      // Anything but a genuine typed array (an array, an array-like, a Proxy) is read once into a
      // copy, which is what gets checked and copied: a value read twice could differ the second time.
      if (!ArrayBuffer.isView(init)) {
        const n = init.length;
        if (!Number.isInteger(n) || n < 0)
          throw new TypeError(
            `${this.kind}.param: expected a Float32Array, an array of numbers or a size; this array-like has length ${n}`,
          );
        if (n > 0x0fffffff)
          throw new RangeError(`${this.kind}.param: ${n} elements is more than one tensor can hold; split it`);
        const copy = new Array<number>(n);
        for (let i = 0; i < n; i++) copy[i] = (init as ArrayLike<number>)[i];
        init = copy;
      }
      length = init.length;
      for (let i = 0; i < length; i++) {
        const x = init[i];
        if (typeof x !== 'number')
          throw new TypeError(
            `${this.kind}.param: initial value [${i}] is ${describe(x)}; values must be finite numbers`,
          );
        if (!Number.isFinite(x))
          throw new RangeError(`${this.kind}.param: initial value [${i}] is ${x}; values must be finite numbers`);
        if (!Number.isFinite(Math.fround(x)))
          throw new RangeError(
            `${this.kind}.param: initial value [${i}] is ${x}, beyond float32's range (±3.4e38); scale the values down`,
          );
      }
    } else {
      throw new TypeError(
        `${this.kind}.param: expected a Float32Array, an array of numbers or a size, got ${describe(init)}`,
      );
    }
    if (length > 0x0fffffff)
      throw new RangeError(`${this.kind}.param: ${length} elements is more than one tensor can hold; split it`);
    const gopts = this.groupStates[group].opts;
    const names = this.stateNames(gopts);
    const offsets = this.arena.take(Param.strideFor(length), 2 + names.length);
    const p = new Param(this.engine, this.kind, length, names, offsets, this.steps, group);
    if (typeof init !== 'number') p.data.set(init);
    const initState = this.decl.initState;
    if (initState) names.forEach((name, i) => initState(name, this.engine.f32(p.offset(2 + i), length), gopts));
    (this.params as Param[]).push(p);
    this.dirty = true;
    return p;
  }

  /**
   * @internal the optimizer's options, groups (with their schedules and the ParamGroup handles
   * given out) and step count as the objects themselves, for `restoreGroups`: a load that fails
   * half-way puts these very objects back (never rebuilt copies), so the user's handles and
   * schedule objects stay the optimizer's.
   */
  captureGroups(): object {
    return { opts: this.opts, groupStates: this.groupStates, handles: this.handles, steps: this.steps };
  }

  /** @internal puts back what `captureGroups` returned. */
  restoreGroups(c: object): void {
    const k = c as { opts: Resolved<O>; groupStates: GroupState<Resolved<O>>[]; handles: ParamGroup[]; steps: number };
    this.opts = k.opts;
    this.groupStates = k.groupStates;
    this.handles = k.handles;
    this.steps = k.steps;
    this.dirty = true;
  }

  /** @internal the state tensor names a param of group `index` holds. */
  groupStateNames(index: number): string[] {
    return this.stateNames(this.groupStates[index].opts);
  }

  /** @internal where the params stand now, for `dropParamsTo` (undoing params added after it). */
  paramsMark(): { readonly count: number; readonly arena: ArenaMark } {
    return { count: this.params.length, arena: this.arena.mark() };
  }

  /** @internal takes back the params added since `mark` (disposed, their memory returned). */
  dropParamsTo(mark: { readonly count: number; readonly arena: ArenaMark }): void {
    for (const p of (this.params as Param[]).splice(mark.count)) p.release();
    this.arena.rollback(mark.arena);
    this.dirty = true;
  }

  /**
   * Sets every gradient to zero, in place (gradients live in engine memory: there is no
   * `set_to_none`). Takes no arguments; passing any throws, so that an option is never ignored.
   */
  zeroGrad(): void {
    // eslint-disable-next-line prefer-rest-params
    if (arguments.length > 0) throw zeroGradArgs(arguments[0]);
    this.checkAlive('zeroGrad');
    for (const p of this.params) p.grad.fill(0);
  }

  /** Index of the first param whose gradient holds NaN/±Infinity, or -1 (one SIMD pass in wasm). */
  firstNonFiniteGrad(): number {
    this.checkAlive('firstNonFiniteGrad');
    if (this.params.length === 0) return -1;
    this.ensureTable();
    return this.engine.firstNonFiniteGrad(this.table, this.params.length) - 1;
  }

  /**
   * One update of every param, in one call into wasm. Returns `true` when the step was taken and
   * `false` when `nonFinite: 'skip'` skipped it; under `'throw'` a non-finite gradient throws a
   * NonFiniteGradientError and nothing changes. With `clipGradNorm` one pass measures the norm
   * (it replaces the non-finite check: a NaN/Infinity norm is a non-finite step) and the kernel
   * applies the clip scale. `options.gradScale` multiplies the gradients (accumulation).
   */
  step(options?: StepOptions): boolean {
    this.checkAlive('step');
    if (this.steps >= MAX_STEP_COUNT)
      throw new RangeError(
        `${this.kind}.step: the step count reached its limit of 2^40 (MAX_STEP_COUNT); nothing was changed`,
      );
    // Without options and meta-gradients (the usual step) neither check has anything to look at.
    const gradScale = options === undefined ? 1 : this.stepScale(options);
    if (this.meta !== null || options !== undefined) checkMetaStep(this.meta, this.kind, options);
    // The scheduled rates of this step, checked before anything changes.
    // And the rate after it: a step that would leave the schedule at an invalid rate (an
    // exponentialLR overflowing to Infinity) is refused, so that opt.lr, stateDict() and save()
    // keep working after every accepted step.
    for (let i = 0; i < this.groupStates.length; i++) {
      const g = this.groupStates[i];
      if (g.schedule) {
        this.scheduledRate(g.schedule, this.steps + 1 - g.start);
        g.opts.lr = this.groupLr(i);
      }
    }
    const n = this.params.length;
    this.lastNorm = NaN;
    if (n > 0) {
      this.ensureTable();
      const { clipGradNorm: maxNorm, clipGradValue: clip } = this.opts;
      // Clamp bounds on the raw gradient, so that the scaled gradient lands in [-clip, clip].
      const lo = clip === null ? -Infinity : -clip / gradScale;
      const hi = clip === null ? Infinity : clip / gradScale;
      // The squared norm, when a pass measured it (hypergradients' own pass, clipGradNorm). Plain
      // doubles and flags here, never `number | undefined`: V8 boxes a double that shares a
      // variable with undefined, an allocation on every step.
      let measured = false;
      let sumSq = 0;
      if (this.measureGrads) {
        this.writeHyper(gradScale, lo, hi);
        sumSq = this.measureGrads(lo, hi);
        measured = true;
      } else if (maxNorm !== null) {
        sumSq =
          clip === null
            ? this.engine.gradSumSquares(this.table, n)
            : this.engine.exports.clipSumSquares(this.table, n, lo, hi);
        measured = true;
      }
      const check = this.opts.nonFinite !== 'ignore';
      // The pre-pass: max |g| of the raw gradients (NaN/Infinity when one is not finite), unless
      // a measured norm already tells that every gradient is finite.
      const readMax = check && !(measured && Number.isFinite(sumSq));
      const maxAbs = readMax ? this.engine.gradMaxAbs(this.table, n) : 0;
      if (readMax && !(maxAbs <= F32_MAX)) return this.refuseNonFinite(n);
      let scale = this.gradScale * gradScale;
      let norm = NaN;
      if (measured) {
        norm = Math.sqrt(sumSq) * scale;
        // torch.nn.utils.clip_grad_norm_: clip_coef = max_norm / (total_norm + 1e-6), clamped to 1
        if (maxNorm !== null) scale *= Math.min(1, maxNorm / (norm + 1e-6));
      }
      // The gradient the kernel uses, clamp(g) * scale (+ wd * p), must be finite in float32 too:
      // one comparison when a bound shows it (the usual case), the exact check otherwise; and for
      // optimizers that square the gradient into their state, that square too.
      const bound = readMax ? maxAbs : measured ? Math.sqrt(sumSq) : Infinity;
      if (
        check &&
        (!(bound * Math.abs(scale) + this.l2Bound <= F32_SAFE) ||
          (this.decl.squaresGradient === true && !(bound * Math.abs(scale) <= F32_SQRT_MAX)))
      ) {
        const why = this.overflow(
          n,
          scale,
          lo,
          hi,
          readMax ? maxAbs : undefined,
          measured ? Math.sqrt(sumSq) : undefined,
        );
        if (why !== null) {
          if (this.opts.nonFinite === 'skip') return false;
          throw new NonFiniteGradientError(`${this.kind}.step: ${why}`);
        }
      }
      this.lastNorm = norm;
      this.beforeUpdate?.(scale);
      this.writeHyper(scale, lo, hi);
      if (this.meta) this.meta.step(this.table, n, options);
      else {
        const kernel = this.decl.kernel as TableKernelName; // every dense class's declaration names one
        this.engine.runTable(
          kernel,
          this.table,
          n,
          this.decl.elementwise ?? true,
          (this.kernel ??= this.engine.kernel(kernel)),
        );
      }
    }
    this.steps++;
    return true;
  }

  /** A raw gradient is NaN/Infinity: false under 'skip', else the error (nothing was changed). */
  private refuseNonFinite(n: number): false {
    const bad = this.engine.firstNonFiniteGrad(this.table, n);
    if (this.opts.nonFinite === 'skip') return false;
    throw new NonFiniteGradientError(
      `${this.kind}.step: the gradient of param #${bad - 1} (length ${this.params[bad - 1].length}) holds NaN or Infinity; ` +
        `nothing was changed. Fix the gradients, or pass nonFinite: 'skip' to skip such steps.`,
    );
  }

  /**
   * Why the gradients the kernel would use overflow float32 (the effective gradient, or its square
   * for optimizers that square it), with what to do, or null when they do not: the exact check
   * behind the step's bound (`maxAbs` the raw max |g| when read, `norm` the measured norm).
   */
  private overflow(
    n: number,
    scale: number,
    lo: number,
    hi: number,
    maxAbs: number | undefined,
    norm: number | undefined,
  ): string | null {
    const why = effectiveOverflow(this.stepCheckHost(), this.table, scale, lo, hi, maxAbs, norm);
    if (why !== null)
      return `${why}; nothing was changed. Lower gradScale (or the loss scale), or pass nonFinite: 'skip' to skip such steps.`;
    if (!this.decl.squaresGradient) return null;
    const sq = squareOverflow(maxAbs ?? this.engine.gradMaxAbs(this.table, n), scale, lo, hi);
    return sq === null
      ? null
      : `${sq}; nothing was changed. Scale the gradients down (gradScale or the loss scale), or pass nonFinite: 'skip' to skip such steps.`;
  }

  /** The checked `gradScale` of a step. */
  private stepScale(options: StepOptions | undefined): number {
    if (options === undefined) return 1;
    if (options === null || typeof options !== 'object')
      throw new TypeError(`${this.kind}.step: options must be an object, got ${describe(options)}`);
    checkKnownKeys(`${this.kind}.step`, options, ['gradScale', 'hvp', 'gradFn']);
    const s = checkNumber(`${this.kind}.step`, 'gradScale', options.gradScale ?? 1, { min: 0, minExclusive: true });
    return checkF32Scale(`${this.kind}.step`, 'gradScale', s);
  }

  /** The L2 weight decay these options add to the gradient (`g + wd * p`), 0 when none (or decoupled). */
  private l2WeightDecay(o: Resolved<O>): number {
    return l2Decay(this.decl, o as unknown as Record<string, unknown>);
  }

  /** The largest `wd * |p|` an L2 decay may add to a gradient (set with the table): 0 without L2. */
  private l2Bound = 0;
  private checkHost: StepCheckHost | null = null;
  /** What the step's gradient check reads of this optimizer (made once). */
  private stepCheckHost(): StepCheckHost {
    return (this.checkHost ??= {
      kind: this.kind,
      engine: this.engine,
      params: this.params,
      scaleAndL2: (i, scale) => {
        const o = this.groupStates[this.params[i].group].opts;
        return { s: o.maximize ? -scale : scale, wd: this.l2WeightDecay(o) };
      },
      maxL2: () => {
        let m = 0;
        for (const g of this.groupStates) m = Math.max(m, this.l2WeightDecay(g.opts));
        return m;
      },
    });
  }

  /** @internal the table's address and its param count (for subclasses' own passes). */
  protected get tableInfo(): { table: number; count: number } {
    this.ensureTable();
    return { table: this.table, count: this.params.length };
  }

  private ensureTable(): void {
    if (!this.dirty) return;
    this.arena.trim();
    const cohorts: { group: number; birth: number }[] = [];
    const cohortOf = (p: Param): number => {
      let i = cohorts.findIndex((c) => c.group === p.group && c.birth === p.birth);
      if (i < 0) i = cohorts.push({ group: p.group, birth: p.birth }) - 1;
      return i;
    };
    const ids = this.params.map(cohortOf);
    if (this.params.length > this.tableCapacity) {
      const cap = Math.max(8, this.params.length * 2);
      const t = this.engine.alloc(cap * S.DESC_BYTES);
      if (this.table) this.engine.free(this.table);
      this.table = t;
      this.tableCapacity = cap;
    }
    if (cohorts.length > this.hyperCapacity) {
      const cap = Math.max(2, cohorts.length * 2);
      const h = this.engine.alloc(cap * HYPER_BYTES);
      if (this.hyper) this.engine.free(this.hyper);
      this.hyper = h;
      this.hyperCapacity = cap;
    }
    this.cohorts = cohorts;
    let l2 = 0;
    for (const g of this.groupStates) l2 = Math.max(l2, this.l2WeightDecay(g.opts));
    this.l2Bound = l2 * F32_MAX * (1 + 2 ** -20);
    const u32 = this.engine.heapU32;
    // Each group's state layout (groups may differ, e.g. in AMSGrad or momentum).
    const slotsOf = this.groupStates.map((g) => {
      const layout = this.stateLayout(g.opts);
      const names = this.stateNames(g.opts);
      return [0, 1, 2].map((s) => (layout[s] ? 2 + names.indexOf(layout[s] as string) : -1));
    });
    this.params.forEach((p, i) => {
      const slotOf = slotsOf[p.group];
      const base = (this.table >>> 2) + i * DESC_WORDS;
      u32[base + S.DESC_PARAM] = p.offset(0);
      u32[base + S.DESC_GRAD] = p.offset(1);
      for (let s = 0; s < 3; s++) u32[base + S.DESC_STATE0 + s] = slotOf[s] >= 0 ? p.offset(slotOf[s]) : 0;
      u32[base + S.DESC_LENGTH] = p.length;
      u32[base + S.DESC_HYPER] = this.hyper + ids[i] * HYPER_BYTES;
      u32[base + 7] = 0;
    });
    this.hyperWhole = false;
    this.dirty = false;
  }

  /** @internal writes every cohort's hyper block for the coming step: gradient scale, clamp bounds. */
  protected writeHyper(scale: number, lo: number, hi: number): void {
    // One writer reused every step: no allocation on the step path (it shows on small tensors).
    const w = this.hyperWriter;
    w.f = this.engine.heapF32;
    w.i = this.engine.heapI32;
    const cohorts = this.cohorts;
    const decl = this.decl,
      series = this.series;
    // After the first whole write, only the slots that move with lr, t and the scale (and the clamp
    // bounds when they change): most of a block is constant, and writing it showed on small tensors.
    const stepOnly = this.hyperWhole;
    const bounds = !stepOnly || lo !== this.hyperLo || hi !== this.hyperHi;
    for (let k = 0; k < cohorts.length; k++) {
      const o = this.groupStates[cohorts[k].group].opts;
      w.base = (this.hyper >>> 2) + k * S.HYPER_SLOTS;
      decl.writeHyper(w, o, this.steps + 1 - cohorts[k].birth, o.maximize ? -scale : scale, series, stepOnly);
      if (bounds) {
        w.f32(S.CLIP_LO, lo);
        w.f32(S.CLIP_HI, hi);
      }
    }
    this.hyperWhole = true;
    this.hyperLo = lo;
    this.hyperHi = hi;
  }

  /** The optimizer's state: hyperparameters, step counts and copies of every state tensor. */
  stateDict(): OptimizerStateDict {
    this.checkAlive('stateDict');
    const dict: OptimizerStateDict = {
      kind: this.kind,
      stepCount: this.steps,
      options: this.groupOptions(0),
      params: this.params.map((p) => ({
        length: p.length,
        step: this.steps - p.birth,
        state: Object.fromEntries(p.stateKeys.map((k) => [k, p.state(k).slice()])),
        ...(p.group !== 0 ? { group: p.group } : {}),
      })),
    };
    if (this.meta) dict.metaGradients = this.meta.state();
    // Groups and schedules only when there are any, so that a plain optimizer's dict stays small.
    if (this.groupStates.length > 1 || this.groupStates[0].schedule !== null) {
      dict.groups = this.groupStates.map((g, i) => ({
        options: this.groupOptions(i),
        lrSchedule: g.schedule ? g.schedule.toJSON() : null,
        schedulePosition: g.schedule ? this.steps - g.start : 0,
      }));
    }
    return dict;
  }

  /**
   * Restores hyperparameters, step counts and state tensors saved by `stateDict()` into an
   * optimizer of the same kind with params of the same lengths. Everything is checked before
   * anything changes; a mismatch throws and leaves this optimizer as it was.
   */
  loadStateDict(dict: OptimizerStateDict): void {
    this.checkAlive('loadStateDict');
    const what = `${this.kind}.loadStateDict`;
    if (dict === null || typeof dict !== 'object')
      throw new TypeError(`${what}: expected a state dict object, got ${describe(dict)}`);
    if (dict.kind !== this.kind)
      throw new TypeError(`${what}: the state dict is for ${String(dict.kind)}, not ${this.kind}`);
    if (!Number.isInteger(dict.stepCount) || dict.stepCount < 0)
      throw new RangeError(`${what}: bad stepCount ${dict.stepCount}`);
    if (dict.stepCount > MAX_STEP_COUNT)
      throw new RangeError(`${what}: stepCount ${dict.stepCount} is beyond the limit of 2^40 steps (MAX_STEP_COUNT)`);
    if (!Array.isArray(dict.params) || dict.params.length !== this.params.length) {
      throw new RangeError(
        `${what}: the state dict holds ${Array.isArray(dict.params) ? dict.params.length : 'no'} params, this optimizer has ${this.params.length}; add the same params in the same order first`,
      );
    }
    const { engine: _e, ...given } = (dict.options ?? {}) as Record<string, unknown>;
    const invalid = (where: string, e: unknown): never => {
      if (e instanceof RangeError || e instanceof TypeError) {
        const E = e instanceof RangeError ? RangeError : TypeError;
        throw new E(`${what}: the state dict's ${where} are invalid: ${e.message}`);
      }
      throw e;
    };
    let opts: Resolved<O>;
    try {
      opts = this.resolve(given as unknown as O);
    } catch (e) {
      return invalid('options', e);
    }
    // Param groups (a dict without them holds one group); group 0's options are `options`.
    const groupsIn: ParamGroupStateDict[] = dict.groups ?? [{ options: given, lrSchedule: null, schedulePosition: 0 }];
    if (!Array.isArray(groupsIn) || groupsIn.length === 0)
      throw new TypeError(`${what}: 'groups' must be a non-empty array of param groups, got ${describe(groupsIn)}`);
    const groups: GroupState<Resolved<O>>[] = groupsIn.map((g, gi) => {
      if (g === null || typeof g !== 'object')
        throw new TypeError(`${what}: param group #${gi} is ${describe(g)}, not an object`);
      let gopts = opts;
      let schedule: Schedule | null = null;
      try {
        if (gi > 0) {
          const { engine: _ge, ...own } = (g.options ?? {}) as Record<string, unknown>;
          gopts = this.resolve({ ...given, ...own } as unknown as O);
        }
        if (g.lrSchedule !== null && g.lrSchedule !== undefined)
          schedule = isSchedule(g.lrSchedule) ? g.lrSchedule : scheduleFromJSON(g.lrSchedule);
        if (schedule) this.checkRate(schedule);
      } catch (e) {
        return invalid(`param group #${gi} options`, e);
      }
      const pos = g.schedulePosition ?? 0;
      if (!Number.isInteger(pos) || pos < 0 || pos > dict.stepCount)
        throw new RangeError(
          `${what}: param group #${gi} has a bad schedulePosition ${pos} (step count ${dict.stepCount})`,
        );
      if (schedule) {
        try {
          gopts.lr = this.scheduledRate(schedule, pos);
        } catch (e) {
          return invalid(`param group #${gi} schedule`, e);
        }
      }
      return { opts: gopts, schedule, start: dict.stepCount - pos };
    });
    dict.params.forEach((ps, i) => {
      const p = this.params[i];
      if (ps.length !== p.length)
        throw new RangeError(`${what}: param #${i} has length ${ps.length} in the state dict, ${p.length} here`);
      if (!Number.isInteger(ps.step) || ps.step < 0 || ps.step > dict.stepCount)
        throw new RangeError(`${what}: param #${i} has a bad step ${ps.step}`);
      const gi = ps.group ?? 0;
      if (!Number.isInteger(gi) || gi < 0 || gi >= groups.length)
        throw new RangeError(
          `${what}: param #${i} is in group ${gi}, but the state dict has groups 0..${groups.length - 1}`,
        );
      const names = this.stateNames(groups[gi].opts);
      if (names.join() !== p.stateKeys.join()) {
        throw new RangeError(
          `${what}: param #${i}'s options in the state dict need state [${names.join(', ')}] but it holds [${p.stateKeys.join(', ')}]; create the ${this.kind} with the same options`,
        );
      }
      for (const k of names) {
        const s = ps.state?.[k];
        if (!s || s.length !== p.length)
          throw new RangeError(`${what}: param #${i} state '${k}' is missing or has the wrong length`);
        if (!(s instanceof Float32Array)) {
          for (let j = 0; j < (s as ArrayLike<unknown>).length; j++)
            if (typeof s[j] !== 'number')
              throw new TypeError(`${what}: param #${i} state '${k}'[${j}] is not a number`);
        }
        const bad = firstNonFinite(s);
        if (bad >= 0)
          throw new RangeError(
            `${what}: param #${i} state '${k}'[${bad}] is ${s[bad]}; optimizer state must be finite (a NaN or infinite state would make every later step non-finite)`,
          );
      }
    });
    const meta = MetaTracker.prepareLoad(this, this.decl, this.meta, dict, groups[0].opts, what);
    // Everything checked: now change.
    if (meta) this.meta = meta.commit();
    this.opts = opts;
    this.groupStates = groups;
    this.handles = groups.map((_g, i) => this.handles[i] ?? new ParamGroup(this, i));
    this.steps = dict.stepCount;
    dict.params.forEach((ps, i) => {
      const p = this.params[i];
      p.birth = dict.stepCount - ps.step;
      p.group = ps.group ?? 0;
      for (const k of p.stateKeys) p.state(k).set(ps.state[k]);
    });
    this.dirty = true;
  }

  /**
   * A binary checkpoint of this optimizer: hyperparameters, step counts, every param's values and
   * state tensors, with a CRC-32 over the whole (format: src/checkpoint.ts). Restore it with
   * `load()`, in this process or another, on either engine build.
   */
  save(): Uint8Array {
    this.checkAlive('save');
    return saveOptimizer(this);
  }

  /**
   * Restores a checkpoint from `save()`: into an optimizer of the same kind that has no params
   * (they are created, in order; read them from `params`), or that has params of the same lengths
   * and state layout. Hyperparameters and step counts come from the checkpoint. A truncated,
   * corrupt, other-version, other-kind or mismatched checkpoint throws a CheckpointError that
   * says why, and nothing changes.
   */
  load(bytes: Uint8Array | ArrayBuffer): void {
    this.checkAlive('load');
    loadOptimizer(this as unknown as Optimizer<BaseOptions>, bytes);
  }

  /**
   * This optimizer in the safetensors format, named as PyTorch's `optimizer.state_dict()`
   * flattens: `param.<i>`, `state.<i>.<name>`, `state.<i>.step`, and `param_groups` in the
   * metadata (format and mapping: docs/safetensors.md, src/core/safetensors.ts).
   */
  saveSafetensors(): Uint8Array {
    this.checkAlive('saveSafetensors');
    return saveOptimizerSafetensors(this);
  }

  /**
   * Loads a safetensors file in PyTorch's names (from `saveSafetensors()` or from PyTorch) into
   * this optimizer: one with params of the same sizes, or one with none (they are created).
   * Everything is checked first; a refused file throws a CheckpointError and changes nothing.
   */
  loadSafetensors(bytes: Uint8Array | ArrayBuffer): void {
    this.checkAlive('loadSafetensors');
    loadOptimizerSafetensors(this as unknown as Optimizer<BaseOptions>, bytes);
  }

  /**
   * Tracks the meta-gradients dL/dh of hyperparameters `names` (`'lr'`, `'beta1'`, ...): from now on
   * every step also updates dθ/dh and d(state)/dh in the same wasm pass; `metaGradient()` reads
   * dL/dh. Calling it again restarts the tangents at zero. Modes, costs, limits: docs/meta-gradients.md.
   */
  trackMetaGradients(names: readonly string[], options?: MetaGradientOptions): void {
    this.checkAlive('trackMetaGradients');
    const m = MetaTracker.track(this, this.decl, names, options);
    this.meta?.dispose();
    this.meta = m;
  }

  /** Stops tracking meta-gradients and frees the tangents (no-op when none are tracked). */
  untrackMetaGradients(): void {
    this.checkAlive('untrackMetaGradients');
    this.meta?.dispose();
    this.meta = null;
  }

  /** The tracked hyperparameters (empty when none are). */
  get metaGradientNames(): string[] {
    return this.meta ? this.meta.spec.names.slice() : [];
  }

  /**
   * dL/dh for each tracked h: Σ valGrads · dθ/dh over every param in float64, `valGrads` the
   * gradient of the validation loss at the current params (one array per param; default: `p.grad`).
   */
  metaGradient(valGrads?: readonly ArrayLike<number>[]): Record<string, number> {
    this.checkAlive('metaGradient');
    if (!this.meta)
      throw new RangeError(`${this.kind}.metaGradient: no meta-gradients are tracked; call trackMetaGradients() first`);
    return this.meta.metaGradient(valGrads);
  }

  /** Frees every param and all optimizer memory; any later use throws a DisposedError. */
  dispose(): void {
    if (this.disposed) return;
    this.meta?.dispose();
    for (const p of this.params) p.release();
    this.arena.release();
    if (this.table) this.engine.free(this.table);
    if (this.hyper) this.engine.free(this.hyper);
    this.table = this.hyper = 0;
    this.disposed = true;
  }
}
