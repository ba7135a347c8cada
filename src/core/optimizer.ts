// The machinery every dense optimizer shares: params in engine memory, the tensor table the
// kernels walk (one call into wasm per step), hyperparameter blocks computed in float64 on this
// side, the non-finite policy, state dicts and disposal. What differs between optimizers (options,
// defaults, validation, state names, the hyper-block writer, the kernel) is the class's
// `declaration` (src/core/declaration.ts; one per optimizer in src/optimizers/).

import type { TableKernelName } from './abi.js';
import type { OptimizerStateDict } from './state-dict.js';
import { StepSeries, l2Decay, stateNames, type AnyDeclaration } from './declaration.js';
import { Engine, getEngine } from './engine.js';
import { DisposedError } from './errors.js';
import { checkKnownKeys, describe, zeroGradArgs } from './options.js';
import { Param } from './param.js';
import { ParamArena, type ArenaMark } from './param-arena.js';
import { loadOptimizer, saveOptimizer } from './optimizer-checkpoint.js';
import { loadOptimizerSafetensors, saveOptimizerSafetensors } from './torch-state.js';
import { ParamGroup, type GroupHost } from './param-group.js';
import { ParamGroups } from './param-groups.js';
import { isSchedule, type Schedule } from './schedules.js';
import { MetaTracker, type MetaGradientOptions } from './meta-gradients.js';
import type { StepCheckHost } from './finite-check.js';
// The parts of a dense optimizer, each in its own module:
import {
  BASE_OPTIONS,
  copyOptions,
  resolveBase,
  scheduledRate,
  type BaseOptions,
  type GroupOptions,
  type Resolved,
  type StepOptions,
} from './optimizer-options.js';
import { buildStateDict, checkStateDict } from './optimizer-state.js';
import { readParamInit } from './param-init.js';
import { StepTable } from './step-table.js';
import { StateStorage, STORAGE_OPTIONS, type StateStorageOptions, type StateType } from './state-type.js';
import { nonFiniteError, overflowReason, stepCheckHost } from './step-checks.js';
import { DenseStep, type StepHook } from './dense-step.js';

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
  /** The descriptor table and hyper blocks the step kernel walks (src/core/step-table.ts). */
  private readonly steptable: StepTable;
  /** The step itself, its counters and what it reads (src/core/dense-step.ts). */
  private readonly run: DenseStep;
  /** @internal the param groups: options, rates, schedules, handles (src/core/param-groups.ts). */
  readonly groups: ParamGroups<Resolved<O>>;
  /** What this optimizer is: options, state, hyper writer, kernel (the class's `declaration`). */
  protected readonly decl: AnyDeclaration;
  /** The bias-correction powers and other per-step series its hyper writer keeps. */
  protected readonly series = new StepSeries();
  /** Where the params' tensors live: each kind (values, gradients, each state) contiguous. */
  private readonly arena: ParamArena;
  /** @internal How the state tensors are stored (`stateType`, src/core/state-type.ts). */
  readonly storage: StateStorage;

  /** The optimizer's name in messages and state dicts (`'Adam'`, `'SGD'`, ...). */
  get kind(): string {
    return this.decl.name;
  }
  /** @internal What a subclass adds to every step (hypergradients), or null. */
  protected get hook(): StepHook | null {
    return this.run.hook;
  }
  /** @internal Sets what a subclass adds to every step. */
  protected set hook(h: StepHook | null) {
    this.run.hook = h;
  }
  /** The meta-gradient tangents, while tracked (src/core/meta-gradients.ts). */
  private get meta(): MetaTracker | null {
    return this.run.meta;
  }
  private set meta(m: MetaTracker | null) {
    this.run.meta = m;
  }
  /** Completed steps. */
  private get steps(): number {
    return this.run.steps;
  }
  private set steps(n: number) {
    this.run.restart(n);
  }
  /** Params, groups or options changed since the table was laid out. */
  private set dirty(on: boolean) {
    this.run.dirty = on;
  }

  constructor(options: O & StateStorageOptions = {} as O) {
    const decl = (new.target as unknown as { declaration?: AnyDeclaration }).declaration;
    if (decl === undefined)
      throw new TypeError(
        `${new.target.name}: an Optimizer subclass needs a static 'declaration' (src/core/declaration.ts)`,
      );
    if (decl.kernel === undefined)
      throw new TypeError(
        `${new.target.name}: declaration '${decl.name}' has no dense kernel (a table-only optimizer: use it in an Embedding)`,
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
    const kernelName: TableKernelName = this.storage.quantized ? this.storage.quantKernel(decl) : decl.kernel;
    const owner = {
      kind,
      params: this.params,
      optionNames: decl.options,
      steps: () => this.steps,
      checkAlive: (what: string) => this.checkAlive(what),
      // Called before every rate a group is set to (opt.lr, a group's lr): the usual step then
      // looks at the groups again and writes its hyper blocks (it reads neither the rates,
      // StepTable.settled, nor the groups' schedules).
      checkRate: (v: number | Schedule) => {
        this.run.ratesMoved();
        this.hook?.checkRate(v);
      },
      resolve: (o: Record<string, unknown>) => this.resolve(o as O),
      param: (init: ArrayLike<number> | number, o?: { group?: ParamGroup | number }) => this.param(init, o),
    };
    this.groups = new ParamGroups(owner, {
      opts: this.opts,
      schedule: isSchedule(options.lr) ? options.lr : null,
      start: 0,
    });
    const host = {
      rebuild: () => this.buildTable(),
      disposedError: (what: string) => this.disposedError(what),
      refuseNonFinite: (n: number) => this.refuseNonFinite(n),
      overflow: (n: number, scale: number, lo: number, hi: number, maxAbs?: number, norm?: number) =>
        this.overflow(n, scale, lo, hi, maxAbs, norm),
    };
    this.run = new DenseStep(
      host,
      kind,
      this.engine,
      decl,
      kernelName,
      this.storage.quantized,
      this.params,
      this.groups as unknown as ConstructorParameters<typeof DenseStep>[7],
      this.steptable,
      this.series,
    );
  }

  /** Validates and fills in defaults (the common options here, the optimizer's own by its declaration). */
  protected resolve(o: O): Resolved<O> {
    const r = {
      ...resolveBase(this.kind, o, this.decl.defaults),
      ...this.decl.resolve(o as Record<string, unknown>, this.kind),
    } as Resolved<O>;
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

  /** The resolved hyperparameters of group 0 (a copy; `lr` is the rate of the next step). */
  get options(): Readonly<Resolved<O>> {
    return { ...copyOptions(this.opts), lr: this.groups.groupLr(0) };
  }

  /** How the state tensors are stored (the `stateType` option): `'f32'`, `'bf16'` or `'int8'`. */
  get stateType(): StateType {
    return this.storage.stateType;
  }

  /** The seed of bf16 state's stochastic rounding (the `seed` option; a checkpoint restores it). */
  get seed(): number {
    return this.storage.seed;
  }

  /** Number of completed steps. */
  get stepCount(): number {
    return this.steps;
  }

  /** The learning rate of the next step (of group 0). */
  get lr(): number {
    return this.groups.groupLr(0);
  }

  /**
   * Sets the learning rate of every param group (as PyTorch's `for g in param_groups: g['lr'] = v`):
   * a number, or a schedule that starts at its step 0 with the next step.
   */
  set lr(value: number | Schedule) {
    this.checkAlive('lr');
    this.groups.setGroupLr(undefined, value);
  }

  /** The learning-rate schedule of group 0, or null when its rate is a number. */
  get lrSchedule(): Schedule | null {
    return this.groups.groupSchedule(0);
  }

  /**
   * The global L2 norm of the gradients measured by the last `step()` (of the gradients as the
   * kernel saw them: scaled by `gradScale`, clamped by `clipGradValue`, before norm clipping), or
   * NaN when the last step did not measure it (it does with `clipGradNorm` set).
   */
  get lastGradNorm(): number {
    return this.run.lastNorm;
  }

  /** The param groups, group 0 (the constructor's options) first. */
  get paramGroups(): readonly ParamGroup[] {
    return this.groups.handles.slice();
  }

  /**
   * Adds a param group with its own hyperparameters (PyTorch's `add_param_group`); options it does
   * not set are group 0's. Add params with `group.param(x)` or `opt.param(x, { group })`. Every
   * group still steps in the same single call into wasm. `nonFinite` and clipping are
   * optimizer-wide and cannot be set per group.
   */
  addParamGroup(options: GroupOptions<O> = {} as GroupOptions<O>): ParamGroup {
    const handle = this.groups.add(options as Record<string, unknown>);
    this.dirty = true;
    return handle;
  }

  /** True once `dispose()` was called. */
  get isDisposed(): boolean {
    return this.run.disposed;
  }

  protected checkAlive(what: string): void {
    // The error is built elsewhere: V8 inlines small functions.
    if (this.run.disposed) throw this.disposedError(what);
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
    const group = this.groups.groupOf(options, 'param');
    const { length, values } = readParamInit(this.kind, this.engine, init);
    const gopts = this.groups.states[group].opts;
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
    return { opts: this.opts, groups: this.groups.capture(), steps: this.steps };
  }

  /** @internal puts back what `captureGroups` returned. */
  restoreGroups(c: object): void {
    const k = c as { opts: Resolved<O>; groups: ReturnType<ParamGroups<Resolved<O>>['capture']>; steps: number };
    this.opts = k.opts;
    this.groups.restore(k.groups);
    this.steps = k.steps;
    this.dirty = true;
  }

  /** @internal the state tensor names a param of group `index` holds. */
  groupStateNames(index: number): string[] {
    return this.stateNames(this.groups.states[index].opts);
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
    return this.run.step(options);
  }

  /** A raw gradient is NaN/Infinity: false under 'skip', else the error (nothing was changed). */
  private refuseNonFinite(n: number): false {
    if (this.opts.nonFinite === 'skip') return false;
    throw nonFiniteError(this.kind, this.engine, this.steptable.table, n, this.params);
  }

  /** Why the kernel's gradients (or their squares) would overflow float32, or null (src/core/step-checks.ts). */
  private overflow(n: number, scale: number, lo: number, hi: number, maxAbs?: number, norm?: number): string | null {
    return overflowReason(
      (this.checkHost ??= stepCheckHost(this.kind, this.engine, this.params, this.decl, this.groups)),
      this.decl,
      this.steptable.table,
      n,
      scale,
      lo,
      hi,
      maxAbs,
      norm,
    );
  }

  private checkHost: StepCheckHost | null = null;

  private ensureTable(): void {
    if (this.run.dirty) this.buildTable();
  }

  /** Lays the table out again (params, groups or options changed): never on the usual step, so never inlined into it. */
  private buildTable(): void {
    this.arena.trim();
    let l2 = 0;
    for (const g of this.groups.states)
      l2 = Math.max(l2, l2Decay(this.decl, g.opts as unknown as Record<string, unknown>));
    this.run.configure(this.opts, l2);
    // Each group's state layout (groups may differ, e.g. in AMSGrad or momentum).
    const slotsOf = this.groups.states.map((g) => {
      const layout = this.stateLayout(g.opts);
      const names = this.stateNames(g.opts);
      return [0, 1, 2].map((s) => (layout[s] ? 2 + names.indexOf(layout[s] as string) : -1));
    });
    this.steptable.build(this.decl, this.params, slotsOf, this.groups.states, this.storage.prepare(this.engine));
    this.dirty = false;
  }

  /** @internal writes every cohort's hyper block for the coming step: gradient scale, clamp bounds. */
  protected writeHyper(scale: number, lo: number, hi: number): void {
    this.run.writeHyper(scale, lo, hi);
  }

  /** The optimizer's state: hyperparameters, step counts and copies of every state tensor. */
  stateDict(): OptimizerStateDict {
    this.checkAlive('stateDict');
    return buildStateDict(this.groups, this.groups.states, this.meta);
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
        checkRate: (v) => this.hook?.checkRate(v),
        scheduledRate: (sc, pos) => scheduledRate(this.kind, sc, pos),
        stateNames: (o) => this.stateNames(o),
      },
      dict,
    );
    const meta = MetaTracker.prepareLoad(this, this.decl, this.meta, dict, groups[0].opts, what);
    // Everything checked: now change.
    if (meta) this.meta = meta.commit();
    this.opts = opts;
    this.groups.replace(groups);
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
    this.storage.refuseMeta(this.kind);
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
    if (this.run.disposed) return;
    this.meta?.dispose();
    this.hook?.release();
    for (const p of this.params) p.release();
    this.arena.release();
    this.steptable.release();
    this.storage.release(this.engine);
    this.run.disposed = true;
  }
}
