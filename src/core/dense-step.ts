// The hot path of a dense `step()`: what one step reads, in one object of one class whatever the
// optimizer. Optimizer subclasses (Adam, SGD, ...) each have a hidden class of their own, and their
// resolved options and declarations differ in shape, so reads of them inside one shared `step()`
// turn megamorphic as soon as a process steps several kinds (a benchmark, a model with two
// optimizers): each such read then costs a cache probe or a runtime call. Here the optimizer-wide
// options are plain fields set when the table is laid out (they change only with a rebuild), and
// the wasm functions are looked up once.

import type { AnyDeclaration, StepSeries } from './declaration.js';
import type { Engine } from './engine.js';
import { NonFiniteGradientError } from './errors.js';
import { F32_MAX, F32_SAFE, F32_SQRT_MAX } from './finite-check.js';
import { MAX_STEP_COUNT } from './limits.js';
import { checkMetaStep, type MetaTracker } from './meta-gradients.js';
import type { ParamGroups } from './param-groups.js';
import type { Param } from './param.js';
import type { StepOptions } from './optimizer-options.js';
import { checkStepScale } from './step-checks.js';
import type { Schedule } from './schedules.js';
import type { StepTable } from './step-table.js';

/** @internal What a subclass may add to every step (hypergradients: src/optimizers/hypergrad.ts). */
export interface StepHook {
  /** Refuses a rate the optimizer cannot take (`opt.lr = ...`, a group's rate, a state dict's), before anything changes. */
  checkRate(value: number | Schedule): void;
  /**
   * Reads the gradients before the update (the hyper blocks are written, with the previous rates,
   * before it runs): returns their squared norm (f64, clamped to [lo, hi]; NaN if any is not finite).
   */
  measure(table: number, count: number, lo: number, hi: number): number;
  /** Called when the step goes ahead, with the final gradient scale, before the hyper blocks are written. */
  beforeUpdate(scale: number): void;
  /** Frees what it holds (at `dispose()`). */
  release(): void;
}

/** @internal The optimizer's cold half of a step: rebuilding the table, errors, exact checks. */
export interface DenseStepHost {
  /** Lays the table out again (params, groups or options changed); calls `DenseStep.configure`. */
  rebuild(): void;
  /** The error of a step on a disposed optimizer. */
  disposedError(what: string): Error;
  /** A raw gradient is NaN/Infinity: false under 'skip', else throws (nothing was changed). */
  refuseNonFinite(n: number): false;
  /** Why the kernel's gradients (or their squares) would overflow float32, or null. */
  overflow(n: number, scale: number, lo: number, hi: number, maxAbs?: number, norm?: number): string | null;
}

type TableFn = (table: number, count: number) => void;
/** The kernel before the first layout (which looks the real one up). */
const NO_KERNEL: TableFn = () => {};

/**
 * A call site of its own per kernel (`callSite`): V8 keeps what a call expression has seen per
 * expression, and one expression calling every kernel of a process (a benchmark, an app with two
 * optimizers) turns megamorphic: no inlined JS-to-wasm wrapper, a generic call instead (16-float
 * SGD step +20 ns after other optimizers stepped in the process). Kernels get sites in the order
 * processes first use them; past CALL_SITES they share the last one.
 */
const CALL_SITES = 16;
const siteOf = new Map<string, number>();
function callSite(kernel: string): number {
  let i = siteOf.get(kernel);
  if (i === undefined) siteOf.set(kernel, (i = Math.min(siteOf.size, CALL_SITES)));
  return i;
}

/** @internal One dense optimizer's step: its counters and everything a step reads. */
export class DenseStep {
  /** Completed steps. */
  steps = 0;
  /**
   * The norm `update()` measured and the step count that step left: `lastNorm` reads NaN once
   * another step ran, so the usual step writes neither (a store into a boxed double field: ~4 ns
   * of a 16-float SGD step once several optimizer kinds had stepped in the process).
   */
  private norm = NaN;
  private normAt = -1;
  // What decides whether the usual step applies, behind accessors that keep `usual` right.
  private off = false;
  private stale = true;
  private tracker: MetaTracker | null = null;
  private extra: StepHook | null = null;
  /**
   * The usual step applies (not disposed, table laid out with params, no clipping, hook or
   * meta-gradients, one group without a schedule): one field read by the step instead of seven,
   * recomputed whenever one changes.
   */
  private usual = false;
  /** The params of the table laid out (0 before the first layout). */
  private count = 0;
  /** Which of `call`'s call expressions runs this optimizer's kernel (see `callSite`). */
  private readonly site: number;
  // The optimizer-wide options (set by `configure` at every rebuild: they change only with one).
  private hasNorm = false;
  private maxNorm = 0;
  private hasClip = false;
  /** Neither clipGradNorm nor clipGradValue. */
  private unclipped = true;
  private clip = 0;
  private check = true;
  private skip = false;
  private l2Bound = 0;
  /** The kernel's wasm function, looked up at the first layout (a keyed lookup per step shows on small tensors). */
  private kernel: TableFn = NO_KERNEL;
  private readonly squares: boolean;
  private readonly elementwise: boolean;
  /** The declaration has `steadyFrom`: its usual step may find the hyper blocks already right (StepTable.holds). */
  private readonly steadies: boolean;

  constructor(
    private readonly host: DenseStepHost,
    private readonly kind: string,
    private readonly engine: Engine,
    private readonly decl: AnyDeclaration,
    private readonly kernelName: Parameters<Engine['kernel']>[0],
    private readonly quantized: boolean,
    private readonly params: readonly Param[],
    private readonly groups: ParamGroups<{ lr: number; maximize: boolean }>,
    private readonly table: StepTable,
    private readonly series: StepSeries,
  ) {
    this.squares = decl.squaresGradient === true;
    this.elementwise = decl.elementwise ?? true;
    this.steadies = decl.steadyFrom !== undefined;
    this.site = callSite(kernelName);
  }

  /** The norm the last step measured, or NaN. */
  get lastNorm(): number {
    return this.normAt === this.steps ? this.norm : NaN;
  }

  /** Sets the step count (a load): the last step's norm stays readable until the next step, as before. */
  restart(steps: number): void {
    if (this.normAt === this.steps) this.normAt = steps;
    this.steps = steps;
  }

  get disposed(): boolean {
    return this.off;
  }
  set disposed(on: boolean) {
    this.off = on;
    this.refresh();
  }
  /** Params, groups or options changed: the table is laid out again before the next step. */
  get dirty(): boolean {
    return this.stale;
  }
  set dirty(on: boolean) {
    this.stale = on;
    this.refresh();
  }
  get meta(): MetaTracker | null {
    return this.tracker;
  }
  set meta(m: MetaTracker | null) {
    this.tracker = m;
    this.refresh();
  }
  get hook(): StepHook | null {
    return this.extra;
  }
  set hook(h: StepHook | null) {
    this.extra = h;
    this.refresh();
  }

  private refresh(): void {
    this.usual =
      !this.off &&
      !this.stale &&
      this.tracker === null &&
      this.extra === null &&
      this.unclipped &&
      this.count > 0 &&
      this.oneGroup;
  }

  /**
   * One group without a schedule, as `regroup` last saw it: groups come and go only with a
   * rebuild (and loads), and a schedule is set through a rate setter (`ratesMoved`), so the usual
   * step does not read the groups (their objects: ~10 ns of a 16-float SGD step once several
   * optimizer kinds have stepped in the process).
   */
  private oneGroup = false;

  private regroup(): void {
    const states = this.groups.states;
    this.oneGroup = states.length === 1 && states[0].schedule === null;
    this.refresh();
  }

  /**
   * A group's rate is about to be set (a number or a schedule): the next step goes through
   * `full`, which looks at the groups again, and writes the hyper blocks.
   */
  ratesMoved(): void {
    this.table.ratesMoved();
    this.oneGroup = false;
    this.refresh();
  }

  /** The optimizer-wide options of the table just laid out, and the largest `wd * |p|` an L2 decay may add. */
  configure(o: { clipGradNorm: number | null; clipGradValue: number | null; nonFinite: string }, l2: number): void {
    this.hasNorm = o.clipGradNorm !== null;
    this.maxNorm = o.clipGradNorm ?? 0;
    this.hasClip = o.clipGradValue !== null;
    this.clip = o.clipGradValue ?? 0;
    this.unclipped = !this.hasNorm && !this.hasClip;
    this.check = o.nonFinite !== 'ignore';
    this.skip = o.nonFinite === 'skip';
    this.l2Bound = l2 * F32_MAX * (1 + 2 ** -20);
    this.count = this.params.length;
    if (this.kernel === NO_KERNEL) this.kernel = this.engine.kernel(this.kernelName);
    this.regroup();
  }

  /** Writes every cohort's hyper block for the coming step: gradient scale, clamp bounds. */
  writeHyper(scale: number, lo: number, hi: number): void {
    this.table.write(this.decl, this.series, this.steps, scale, lo, hi);
  }

  /**
   * `Optimizer.step()` (src/core/optimizer.ts documents it). The usual step (no options, one
   * group without a schedule, no clipping, hook, meta-gradients or worker threads, table laid out)
   * in a few lines that V8 inlines into the caller: the max |g| pass and its bound, the hyper
   * blocks when they move, the kernel. Anything else, and a bound that does not show the
   * gradients fine, goes through `full`, the same checks in their general form.
   */
  step(options: StepOptions | undefined): boolean {
    if (options === undefined && this.usual && this.engine.parallel === null && this.steps < MAX_STEP_COUNT) {
      const table = this.table;
      const n = this.count;
      if (this.check) {
        const bound = this.engine.gradMaxAbs(table.table, n);
        if (!(bound + this.l2Bound <= F32_SAFE && (!this.squares || bound <= F32_SQRT_MAX))) return this.full(options);
      }
      if (this.steadies === false || !table.settled(this.steps))
        table.write(this.decl, this.series, this.steps, 1, -Infinity, Infinity);
      this.call(table.table, n);
      this.steps++;
      return true;
    }
    return this.full(options);
  }

  /** Runs the kernel from the call expression of its site (the same call in each case, on purpose: see `callSite`). */
  private call(table: number, n: number): void {
    const k = this.kernel;
    switch (this.site) {
      case 0:
        k(table, n);
        break;
      case 1:
        k(table, n);
        break;
      case 2:
        k(table, n);
        break;
      case 3:
        k(table, n);
        break;
      case 4:
        k(table, n);
        break;
      case 5:
        k(table, n);
        break;
      case 6:
        k(table, n);
        break;
      case 7:
        k(table, n);
        break;
      case 8:
        k(table, n);
        break;
      case 9:
        k(table, n);
        break;
      case 10:
        k(table, n);
        break;
      case 11:
        k(table, n);
        break;
      case 12:
        k(table, n);
        break;
      case 13:
        k(table, n);
        break;
      case 14:
        k(table, n);
        break;
      case 15:
        k(table, n);
        break;
      default:
        k(table, n);
    }
  }

  /** The step in its general form: every check, schedules, clipping, hooks, meta-gradients, threads. */
  private full(options: StepOptions | undefined): boolean {
    // After a rate setter (or with several groups or a schedule): the groups as they are now.
    if (!this.oneGroup && !this.off) this.regroup();
    if (this.disposed) throw this.host.disposedError('step');
    if (this.steps >= MAX_STEP_COUNT)
      throw new RangeError(
        `${this.kind}.step: the step count reached its limit of 2^40 (MAX_STEP_COUNT); nothing was changed`,
      );
    // Without options and meta-gradients (the usual step) neither check has anything to look at.
    const gradScale = options === undefined ? 1 : checkStepScale(this.kind, options);
    if (this.meta !== null || options !== undefined) checkMetaStep(this.meta, this.kind, options);
    // The scheduled rates of this step (and the next), checked before anything changes.
    const groups = this.groups.states;
    for (let i = 0; i < groups.length; i++) if (groups[i].schedule !== null) this.groups.scheduleStep(i, this.steps);
    const n = this.params.length;
    this.normAt = -1;
    if (n > 0) {
      if (this.dirty) this.host.rebuild();
      // The usual step (no clipping, hook, meta-gradients or worker threads) in a few lines that V8
      // inlines: the max |g| pass and its bound, the hyper blocks, the kernel. A bound that does not
      // show the gradients fine goes through update(), which reads them again for the exact checks.
      const engine = this.engine;
      if (this.unclipped && this.hook === null && this.meta === null && engine.parallel === null) {
        const table = this.table.table;
        if (this.check) {
          const bound = engine.gradMaxAbs(table, n) * Math.abs(gradScale);
          if (!(bound + this.l2Bound <= F32_SAFE && (!this.squares || bound <= F32_SQRT_MAX)))
            return this.update(n, gradScale, options) && this.counted();
        }
        if (this.steadies === false || !this.table.holds(this.steps, gradScale))
          this.table.write(this.decl, this.series, this.steps, gradScale, -Infinity, Infinity);
        this.kernel(table, n);
      } else if (!this.update(n, gradScale, options)) return false;
    }
    this.steps++;
    return true;
  }

  /** Counts a step taken by update() from the fast path. */
  private counted(): true {
    this.steps++;
    return true;
  }

  /** Checks the gradients, writes the hyper blocks and runs the kernel; false when 'skip' skipped the step. */
  private update(n: number, gradScale: number, options: StepOptions | undefined): boolean {
    const table = this.table.table;
    const clip = this.clip;
    // Clamp bounds on the raw gradient, so that the scaled gradient lands in [-clip, clip].
    const lo = this.hasClip ? -clip / gradScale : -Infinity;
    const hi = this.hasClip ? clip / gradScale : Infinity;
    const engine = this.engine;
    // The squared norm, when a pass measured it (hypergradients' own pass, clipGradNorm). Plain
    // doubles and flags here, never `number | undefined`: V8 boxes a double that shares a
    // variable with undefined, an allocation on every step.
    let measured = false;
    let sumSq = 0;
    const hook = this.hook;
    if (hook !== null) {
      this.writeHyper(gradScale, lo, hi);
      sumSq = hook.measure(table, n, lo, hi);
      measured = true;
    } else if (this.hasNorm) {
      sumSq = this.hasClip ? engine.exports.clipSumSquares(table, n, lo, hi) : engine.gradSumSquares(table, n);
      measured = true;
    }
    const check = this.check;
    // The pre-pass: max |g| of the raw gradients (NaN/Infinity when one is not finite), unless
    // a measured norm already tells that every gradient is finite.
    const readMax = check && !(measured && Number.isFinite(sumSq));
    const maxAbs = readMax ? engine.gradMaxAbs(table, n) : 0;
    if (readMax && !(maxAbs <= F32_MAX)) return this.host.refuseNonFinite(n);
    let scale = gradScale;
    let norm = NaN;
    if (measured) {
      norm = Math.sqrt(sumSq) * scale;
      // torch.nn.utils.clip_grad_norm_: clip_coef = max_norm / (total_norm + 1e-6), clamped to 1
      if (this.hasNorm) scale *= Math.min(1, this.maxNorm / (norm + 1e-6));
    }
    // The gradient the kernel uses, clamp(g) * scale (+ wd * p), must be finite in float32 too:
    // one comparison when a bound shows it (the usual case), the exact check otherwise; and for
    // optimizers that square the gradient into their state, that square too.
    const bound = readMax ? maxAbs : measured ? Math.sqrt(sumSq) : Infinity;
    if (
      check &&
      (!(bound * Math.abs(scale) + this.l2Bound <= F32_SAFE) ||
        (this.squares && !(bound * Math.abs(scale) <= F32_SQRT_MAX)))
    ) {
      const why = this.host.overflow(
        n,
        scale,
        lo,
        hi,
        readMax ? maxAbs : undefined,
        measured ? Math.sqrt(sumSq) : undefined,
      );
      if (why !== null) {
        if (this.skip) return false;
        throw new NonFiniteGradientError(`${this.kind}.step: ${why}`);
      }
    }
    this.norm = norm;
    this.normAt = this.steps + 1;
    hook?.beforeUpdate(scale);
    this.writeHyper(scale, lo, hi);
    if (this.meta !== null) this.meta.step(table, n, options);
    // State in 16 or 8 bits: on the calling thread (the kernel's block scratch is one per optimizer).
    else if (this.quantized || engine.parallel === null) this.kernel(table, n);
    else engine.runTable(this.kernelName, table, n, this.elementwise, this.kernel);
    return true;
  }
}
