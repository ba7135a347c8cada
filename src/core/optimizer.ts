// The machinery every dense optimizer shares: params in engine memory, the tensor table the
// kernels walk (one call into wasm per step), hyperparameter blocks computed in float64 on this
// side, the non-finite policy, state dicts and disposal. What differs between optimizers (options,
// defaults, validation, state names, the hyper-block writer, the kernel) is the class's
// `declaration` (src/core/declaration.ts; one per optimizer in src/optimizers/).

import type { OptimizerStateDict } from './state-dict.js';
import { StepSeries, l2Decay, stateNames, type AnyDeclaration } from './declaration.js';
import { Engine, getEngine } from './engine.js';
import { DisposedError, NonFiniteGradientError } from './errors.js';
import { checkKnownKeys, checkNumber, describe, zeroGradArgs } from './options.js';
import { Param } from './param.js';
import { ParamArena, type ArenaMark } from './param-arena.js';
import { loadOptimizer, saveOptimizer } from './optimizer-checkpoint.js';
import { loadOptimizerSafetensors, saveOptimizerSafetensors } from './torch-state.js';
import { ParamGroup, type GroupHost } from './param-group.js';
import { isSchedule, type Schedule } from './schedules.js';
import { MAX_STEP_COUNT } from './limits.js';
import { checkMetaStep, MetaTracker, type MetaGradientOptions } from './meta-gradients.js';
import { F32_MAX, F32_SAFE, F32_SQRT_MAX, type StepCheckHost } from './finite-check.js';
// The parts of a dense optimizer, each in its own module:
import {
  BASE_OPTIONS,
  copyOptions,
  OPTIMIZER_WIDE,
  resolveBase,
  scheduledRate,
  type BaseOptions,
  type GroupOptions,
  type GroupState,
  type Resolved,
  type StepOptions,
} from './optimizer-options.js';
import { buildStateDict, checkStateDict } from './optimizer-state.js';
import { readParamInit } from './param-init.js';
import { StepTable } from './step-table.js';
import { StateStorage, STORAGE_OPTIONS, type StateStorageOptions, type StateType } from './state-type.js';
import { checkStepScale, nonFiniteError, overflowReason } from './step-checks.js';

export type { BaseOptions, StepOptions, GroupOptions, Resolved } from './optimizer-options.js';
export type { OptimizerStateDict, ParamStateDict, ParamGroupStateDict } from './state-dict.js';
export type { HyperWriter } from './declaration.js';

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
  /** The descriptor table and hyper blocks the step kernel walks (src/core/step-table.ts). */
  private readonly steptable: StepTable;
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
  /** How the state tensors are stored (`stateType`, src/core/state-type.ts). */
  private readonly storage: StateStorage;

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

  constructor(options: O & StateStorageOptions = {} as O) {
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
    this.steptable = new StepTable(this.engine);
    // Options are checked before anything is allocated.
    checkKnownKeys(kind, options, [...decl.options, ...BASE_OPTIONS, ...STORAGE_OPTIONS, 'engine']);
    this.opts = this.resolve(options);
    this.storage = StateStorage.resolve(decl, options as Record<string, unknown>, this.opts, kind);
    this.groupStates = [{ opts: this.opts, schedule: isSchedule(options?.lr) ? options.lr : null, start: 0 }];
    this.handles = [new ParamGroup(this, 0)];
  }

  /** Validates and fills in defaults (the common options here, the optimizer's own by its declaration). */
  protected resolve(o: O): Resolved<O> {
    const r = {
      ...resolveBase(this.kind, o, this.decl.defaults),
      ...this.decl.resolve(o as Record<string, unknown>, this.kind),
    } as Resolved<O>;
    // Options the state storage cannot run (a group's, a state dict's; the constructor checks its own).
    (this.storage as StateStorage | undefined)?.check(r, this.kind);
    return r;
  }

  /** The kernel's state slots under these options (the declaration's `stateLayout`). */
  protected stateLayout(o: Resolved<O>): readonly (string | null)[] {
    return this.decl.stateLayout(o);
  }

  /** Names of the state tensors each param holds under these options. */
  protected stateNames(o: Resolved<O>): string[] {
    return stateNames(this.decl, o as unknown as Parameters<typeof stateNames>[1]);
  }

  /** @internal A subclass that cannot take some rates (hypergradient ones: a schedule) refuses them here, before anything changes. */
  protected checkRate(_value: number | Schedule): void {}

  /** A schedule's rate at `position`, checked to be a finite number >= 0. */
  private scheduledRate(s: Schedule, position: number): number {
    return scheduledRate(this.kind, s, position);
  }

  /** The resolved hyperparameters of group 0 (a copy; `lr` is the rate of the next step). */
  get options(): Readonly<Resolved<O>> {
    return { ...copyOptions(this.opts), lr: this.groupLr(0) };
  }

  /** How the state tensors are stored (the `stateType` option): `'f32'`, `'bf16'` or `'int8'`. */
  get stateType(): StateType {
    return this.storage.stateType;
  }

  /** The seed of bf16 state's stochastic rounding (the `seed` option; a checkpoint restores it). */
  get seed(): number {
    return this.storage.seed;
  }

  /** @internal sets the rounding seed (a checkpoint restores it). */
  restoreSeed(seed: number): void {
    this.storage.seed = seed;
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
      if (OPTIMIZER_WIDE.includes(k) || (STORAGE_OPTIONS as readonly string[]).includes(k) || k === 'engine')
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
    const { length, values } = readParamInit(this.kind, this.engine, init);
    const gopts = this.groupStates[group].opts;
    const names = this.stateNames(gopts);
    const offsets = this.arena.take(this.storage.strides(length, names.length), 2 + names.length);
    const p = this.storage.param(this.engine, this.kind, length, names, offsets, this.steps, group);
    if (values !== null) p.data.set(values);
    const initState = this.decl.initState;
    if (initState)
      names.forEach((name) => {
        const v = new Float32Array(length);
        initState(name, v, gopts);
        p.setState(name, v);
      });
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
    return this.engine.firstNonFiniteGrad(this.steptable.table, this.params.length) - 1;
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
      if (this.dirty) this.buildTable();
      const table = this.steptable.table;
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
          clip === null ? this.engine.gradSumSquares(table, n) : this.engine.exports.clipSumSquares(table, n, lo, hi);
        measured = true;
      }
      const check = this.opts.nonFinite !== 'ignore';
      // The pre-pass: max |g| of the raw gradients (NaN/Infinity when one is not finite), unless
      // a measured norm already tells that every gradient is finite.
      const readMax = check && !(measured && Number.isFinite(sumSq));
      const maxAbs = readMax ? this.engine.gradMaxAbs(table, n) : 0;
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
      if (this.meta) this.meta.step(table, n, options);
      else {
        const kernel = this.storage.kernel(this.decl); // every dense class's declaration names one
        this.kernel ??= this.engine.kernel(kernel);
        // State in 16 or 8 bits: on the calling thread (the kernel's block scratch is one per optimizer).
        if (this.storage.quantized) this.kernel(table, n);
        else this.engine.runTable(kernel, table, n, this.decl.elementwise ?? true, this.kernel);
      }
    }
    this.steps++;
    return true;
  }

  /** A raw gradient is NaN/Infinity: false under 'skip', else the error (nothing was changed). */
  private refuseNonFinite(n: number): false {
    if (this.opts.nonFinite === 'skip') return false;
    throw nonFiniteError(this.kind, this.engine, this.steptable.table, n, this.params);
  }

  /** Why the kernel's gradients (or their squares) would overflow float32, or null (src/core/step-checks.ts). */
  private overflow(n: number, scale: number, lo: number, hi: number, maxAbs?: number, norm?: number): string | null {
    return overflowReason(this.stepCheckHost(), this.decl, this.steptable.table, n, scale, lo, hi, maxAbs, norm);
  }

  /** The checked `gradScale` of a step. */
  private stepScale(options: StepOptions): number {
    return checkStepScale(this.kind, options);
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
    return { table: this.steptable.table, count: this.params.length };
  }

  private ensureTable(): void {
    if (this.dirty) this.buildTable();
  }

  /** Lays the table out again (params, groups or options changed): never on the usual step, so never inlined into it. */
  private buildTable(): void {
    this.arena.trim();
    let l2 = 0;
    for (const g of this.groupStates) l2 = Math.max(l2, this.l2WeightDecay(g.opts));
    this.l2Bound = l2 * F32_MAX * (1 + 2 ** -20);
    // Each group's state layout (groups may differ, e.g. in AMSGrad or momentum).
    const slotsOf = this.groupStates.map((g) => {
      const layout = this.stateLayout(g.opts);
      const names = this.stateNames(g.opts);
      return [0, 1, 2].map((s) => (layout[s] ? 2 + names.indexOf(layout[s] as string) : -1));
    });
    if (this.storage.quantized) this.storage.prepare(this.engine);
    this.steptable.build(this.params, slotsOf, this.storage.quantized ? this.storage : undefined);
    this.dirty = false;
  }

  /** @internal writes every cohort's hyper block for the coming step: gradient scale, clamp bounds. */
  protected writeHyper(scale: number, lo: number, hi: number): void {
    this.steptable.write(this.decl, this.series, this.groupStates, this.steps, scale, lo, hi);
  }

  /** The optimizer's state: hyperparameters, step counts and copies of every state tensor. */
  stateDict(): OptimizerStateDict {
    this.checkAlive('stateDict');
    return buildStateDict(this, this.groupStates, this.meta);
  }

  /**
   * Restores hyperparameters, step counts and state tensors saved by `stateDict()` into an
   * optimizer of the same kind with params of the same lengths. Everything is checked before
   * anything changes; a mismatch throws and leaves this optimizer as it was.
   */
  loadStateDict(dict: OptimizerStateDict): void {
    this.checkAlive('loadStateDict');
    const what = `${this.kind}.loadStateDict`;
    const { opts, groups } = checkStateDict<Resolved<O>>(
      {
        kind: this.kind,
        params: this.params,
        resolve: (o) => this.resolve(o as unknown as O),
        checkRate: (v) => this.checkRate(v),
        scheduledRate: (sc, pos) => this.scheduledRate(sc, pos),
        stateNames: (o) => this.stateNames(o),
      },
      dict,
    );
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
      for (const k of p.stateKeys) p.setState(k, ps.state[k]);
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
    if (this.storage.quantized)
      throw new RangeError(
        `${this.kind}.trackMetaGradients: meta-gradients need float32 state; this ${this.kind} has stateType '${this.storage.stateType}'`,
      );
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
    this.steptable.release();
    this.storage.release(this.engine);
    this.disposed = true;
  }
}
