// The machinery every dense optimizer shares: params in engine memory, the tensor table the
// kernels walk (one call into wasm per step), hyperparameter blocks computed in float64 on this
// side, the non-finite policy, state dicts and disposal. Each optimizer file adds its defaults,
// its validation, its state names and how it fills its kernel's hyper block.

import { Engine, getEngine } from './engine.js';
import { DisposedError, NonFiniteGradientError } from './errors.js';
import { checkBoolean, checkChoice, checkKnownKeys, checkNumber, describe, type NonFinitePolicy } from './options.js';
import { Param } from './param.js';
import { loadOptimizer, saveOptimizer } from './checkpoint.js';

/** Options every dense optimizer accepts. */
export interface BaseOptions {
  /** Learning rate. */
  lr?: number;
  /** Weight decay (L2 added to the gradient, or decoupled for AdamW). Default 0 (AdamW: 0.01). */
  weightDecay?: number;
  /** Maximize the objective instead of minimizing it. Default false. */
  maximize?: boolean;
  /** What a step with NaN/±Infinity gradients does: `'throw'` (default), `'skip'`, `'ignore'`. */
  nonFinite?: NonFinitePolicy;
  /** The engine to allocate in; default: the one `init()` created. */
  engine?: Engine;
}

/** A param's optimizer state in a state dict. */
export interface ParamStateDict {
  /** Number of elements. */
  length: number;
  /** Steps this param has taken (PyTorch's per-param `step`). */
  step: number;
  /** Each state tensor by PyTorch's name (`exp_avg`, `exp_avg_sq`, `momentum_buffer`, ...). */
  state: Record<string, Float32Array>;
}

/** The structured state of an optimizer (hyperparameters, step count and state tensors, not the params). */
export interface OptimizerStateDict {
  kind: string;
  stepCount: number;
  options: Record<string, unknown>;
  params: ParamStateDict[];
}

const HYPER_SLOTS = 32;
const HYPER_BYTES = HYPER_SLOTS * 4;
const DESC_WORDS = 8;
const DESC_BYTES = DESC_WORDS * 4;

/** A hyperparameter block being filled: f32 slots, i32 flags. */
export interface HyperWriter {
  f32(slot: number, value: number): void;
  flag(slot: number, on: boolean): void;
}

/** Resolved options of a dense optimizer (every field set). */
export type Resolved<O> = { [K in keyof Omit<O, 'engine'>]-?: Exclude<O[K], undefined> };

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

/** The base of every dense optimizer. */
export abstract class Optimizer<O extends BaseOptions> {
  /** The engine this optimizer lives in. */
  readonly engine: Engine;
  /** The params, in the order they were added. */
  readonly params: Param[] = [];
  protected opts: Resolved<O>;
  private steps = 0;
  private disposed = false;
  private table = 0;
  private tableCapacity = 0;
  private hyper = 0;
  private hyperCapacity = 0;
  private cohorts: { group: number; birth: number }[] = [];
  private readonly hyperWriter = new BlockWriter();
  private dirty = true;
  /** @internal multiplies every gradient in the kernel (clipping, accumulation); maximize flips its sign. */
  protected gradScale = 1;

  /** The optimizer's name in messages and state dicts (`'Adam'`, `'SGD'`, ...). */
  abstract readonly kind: string;
  /** The option names this optimizer knows. */
  protected abstract readonly knownOptions: readonly string[];
  /** Validates and fills in defaults; throws before anything is allocated. */
  protected abstract resolve(options: O): Resolved<O>;
  /**
   * The kernel's state slots (state0, state1, state2) under these options: the PyTorch name of
   * the tensor each slot holds, or null for a slot these options leave unused.
   */
  protected abstract stateLayout(o: Resolved<O>): (string | null)[];

  /** Names of the state tensors each param holds under these options. */
  protected stateNames(o: Resolved<O>): string[] {
    return this.stateLayout(o).filter((n): n is string => n !== null);
  }
  /** Fills one hyper block for params that take their `t`-th step (t >= 1). */
  protected abstract fillHyper(h: HyperWriter, o: Resolved<O>, t: number, gradScale: number): void;
  /** The kernel export that steps a table. */
  protected abstract readonly kernelName: string;
  /**
   * True when the kernel updates each element from that element alone, so that an engine with
   * worker threads may cut tensors into per-thread ranges; kernels with per-tensor reductions
   * (e.g. trust ratios) set false and get whole tensors per thread.
   */
  protected readonly elementwise: boolean = true;
  /** Initial values of state tensor `name` (default zeros). */
  protected initState(_name: string, _view: Float32Array, _o: Resolved<O>): void {}

  constructor(options: O, kind: string) {
    const engine = options?.engine;
    if (engine !== undefined && !(engine instanceof Engine)) throw new TypeError(`${kind}: option 'engine' must be an Engine, got ${describe(engine)}`);
    this.engine = engine ?? getEngine();
    this.opts = undefined as unknown as Resolved<O>;
  }

  /** Call at the end of a subclass constructor: validates options before anything is allocated. */
  protected setup(options: O): void {
    checkKnownKeys(this.kind, options ?? {}, [...this.knownOptions, 'engine']);
    this.opts = this.resolve(options ?? ({} as O));
  }

  /** Validates the options shared by every optimizer. */
  protected resolveBase(o: BaseOptions, defaults: { lr: number; weightDecay: number }): {
    lr: number; weightDecay: number; maximize: boolean; nonFinite: NonFinitePolicy;
  } {
    return {
      lr: checkNumber(this.kind, 'lr', o.lr ?? defaults.lr, { min: 0 }),
      weightDecay: checkNumber(this.kind, 'weightDecay', o.weightDecay ?? defaults.weightDecay, { min: 0 }),
      maximize: checkBoolean(this.kind, 'maximize', o.maximize ?? false),
      nonFinite: checkChoice(this.kind, 'nonFinite', o.nonFinite ?? 'throw', ['throw', 'skip', 'ignore'] as const),
    };
  }

  /** The resolved hyperparameters (a copy). */
  get options(): Readonly<Resolved<O>> {
    return copyOptions(this.opts);
  }

  /** Number of completed steps. */
  get stepCount(): number {
    return this.steps;
  }

  /** The learning rate; settable between steps. */
  get lr(): number {
    return (this.opts as { lr: number }).lr;
  }

  set lr(value: number) {
    this.checkAlive('lr');
    (this.opts as { lr: number }).lr = checkNumber(this.kind, 'lr', value, { min: 0 });
  }

  /** True once `dispose()` was called. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  protected checkAlive(what: string): void {
    if (this.disposed) throw new DisposedError(`${this.kind}.${what}: this optimizer was disposed; create a new one`);
  }

  /**
   * Adds a param: a copy of `init`'s values, or `init` zeros. Returns its live handle.
   * Params added after some steps take their own first step at the next `step()`.
   */
  param(init: ArrayLike<number> | number): Param {
    this.checkAlive('param');
    let length: number;
    if (typeof init === 'number') {
      if (!Number.isInteger(init) || init < 0) throw new RangeError(`${this.kind}.param: a size must be a non-negative integer, got ${init}`);
      length = init;
    } else if (init != null && typeof init === 'object' && typeof (init as ArrayLike<number>).length === 'number') {
      length = init.length;
      for (let i = 0; i < length; i++) {
        const x = init[i];
        if (typeof x !== 'number') throw new TypeError(`${this.kind}.param: initial value [${i}] is ${describe(x)}; values must be finite numbers`);
        if (!Number.isFinite(x)) throw new RangeError(`${this.kind}.param: initial value [${i}] is ${x}; values must be finite numbers`);
        if (!Number.isFinite(Math.fround(x))) throw new RangeError(`${this.kind}.param: initial value [${i}] is ${x}, beyond float32's range (±3.4e38); scale the values down`);
      }
    } else {
      throw new TypeError(`${this.kind}.param: expected a Float32Array, an array of numbers or a size, got ${describe(init)}`);
    }
    if (length > 0x0fffffff) throw new RangeError(`${this.kind}.param: ${length} elements is more than one tensor can hold; split it`);
    const names = this.stateNames(this.opts);
    const p = new Param(this.engine, this.kind, length, names, this.steps);
    if (typeof init !== 'number') p.data.set(init);
    names.forEach((name, i) => this.initState(name, this.engine.f32(p.offset(2 + i), length), this.opts));
    this.params.push(p);
    this.dirty = true;
    return p;
  }

  /** Sets every gradient to zero. */
  zeroGrad(): void {
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
   * NonFiniteGradientError and nothing changes.
   */
  step(): boolean {
    this.checkAlive('step');
    const n = this.params.length;
    if (n > 0) {
      this.ensureTable();
      if (this.opts.nonFinite !== 'ignore') {
        const bad = this.engine.firstNonFiniteGrad(this.table, n);
        if (bad !== 0) {
          if (this.opts.nonFinite === 'skip') return false;
          throw new NonFiniteGradientError(
            `${this.kind}.step: the gradient of param #${bad - 1} (length ${this.params[bad - 1].length}) holds NaN or Infinity; ` +
              `nothing was changed. Fix the gradients, or pass nonFinite: 'skip' to skip such steps.`);
        }
      }
      this.writeHyper();
      this.engine.runTable(this.kernelName, this.table, n, this.elementwise);
    }
    this.steps++;
    return true;
  }

  private ensureTable(): void {
    if (!this.dirty) return;
    const cohorts: { group: number; birth: number }[] = [];
    const cohortOf = (p: Param): number => {
      let i = cohorts.findIndex((c) => c.group === p.group && c.birth === p.birth);
      if (i < 0) i = cohorts.push({ group: p.group, birth: p.birth }) - 1;
      return i;
    };
    const ids = this.params.map(cohortOf);
    if (this.params.length > this.tableCapacity) {
      const cap = Math.max(8, this.params.length * 2);
      const t = this.engine.alloc(cap * DESC_BYTES);
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
    const u32 = this.engine.heapU32;
    const layout = this.stateLayout(this.opts);
    const names = this.stateNames(this.opts);
    const slotOf = [0, 1, 2].map((s) => (layout[s] ? 2 + names.indexOf(layout[s] as string) : -1));
    this.params.forEach((p, i) => {
      const base = (this.table >>> 2) + i * DESC_WORDS;
      u32[base] = p.offset(0);
      u32[base + 1] = p.offset(1);
      for (let s = 0; s < 3; s++) u32[base + 2 + s] = slotOf[s] >= 0 ? p.offset(slotOf[s]) : 0;
      u32[base + 5] = p.length;
      u32[base + 6] = this.hyper + ids[i] * HYPER_BYTES;
      u32[base + 7] = 0;
    });
    this.dirty = false;
  }

  private writeHyper(): void {
    // One writer reused every step: no allocation on the step path (it shows on small tensors).
    const w = this.hyperWriter;
    w.f = this.engine.heapF32;
    w.i = this.engine.heapI32;
    const scale = this.opts.maximize ? -this.gradScale : this.gradScale;
    const cohorts = this.cohorts;
    for (let k = 0; k < cohorts.length; k++) {
      w.base = (this.hyper >>> 2) + k * HYPER_SLOTS;
      this.fillHyper(w, this.opts, this.steps + 1 - cohorts[k].birth, scale);
    }
  }

  /** The optimizer's state: hyperparameters, step counts and copies of every state tensor. */
  stateDict(): OptimizerStateDict {
    this.checkAlive('stateDict');
    const options = copyOptions(this.opts) as Record<string, unknown>;
    return {
      kind: this.kind,
      stepCount: this.steps,
      options,
      params: this.params.map((p) => ({
        length: p.length,
        step: this.steps - p.birth,
        state: Object.fromEntries(p.stateKeys.map((k) => [k, p.state(k).slice()])),
      })),
    };
  }

  /**
   * Restores hyperparameters, step counts and state tensors saved by `stateDict()` into an
   * optimizer of the same kind with params of the same lengths. Everything is checked before
   * anything changes; a mismatch throws and leaves this optimizer as it was.
   */
  loadStateDict(dict: OptimizerStateDict): void {
    this.checkAlive('loadStateDict');
    const what = `${this.kind}.loadStateDict`;
    if (dict === null || typeof dict !== 'object') throw new TypeError(`${what}: expected a state dict object, got ${describe(dict)}`);
    if (dict.kind !== this.kind) throw new TypeError(`${what}: the state dict is for ${String(dict.kind)}, not ${this.kind}`);
    if (!Number.isInteger(dict.stepCount) || dict.stepCount < 0) throw new RangeError(`${what}: bad stepCount ${dict.stepCount}`);
    if (!Array.isArray(dict.params) || dict.params.length !== this.params.length) {
      throw new RangeError(`${what}: the state dict holds ${Array.isArray(dict.params) ? dict.params.length : 'no'} params, this optimizer has ${this.params.length}; add the same params in the same order first`);
    }
    const { engine: _e, ...given } = (dict.options ?? {}) as Record<string, unknown>;
    let opts: Resolved<O>;
    try {
      opts = this.resolve(given as unknown as O);
    } catch (e) {
      if (e instanceof RangeError || e instanceof TypeError) {
        const E = e instanceof RangeError ? RangeError : TypeError;
        throw new E(`${what}: the state dict's options are invalid: ${e.message}`);
      }
      throw e;
    }
    const names = this.stateNames(opts);
    const mine = this.stateNames(this.opts);
    if (this.params.length > 0 && names.join() !== mine.join()) {
      throw new RangeError(`${what}: the state dict's options need state [${names.join(', ')}] but this optimizer holds [${mine.join(', ')}]; create it with the same ${this.kind} options`);
    }
    dict.params.forEach((ps, i) => {
      const p = this.params[i];
      if (ps.length !== p.length) throw new RangeError(`${what}: param #${i} has length ${ps.length} in the state dict, ${p.length} here`);
      if (!Number.isInteger(ps.step) || ps.step < 0 || ps.step > dict.stepCount) throw new RangeError(`${what}: param #${i} has a bad step ${ps.step}`);
      for (const k of names) {
        const s = ps.state?.[k];
        if (!s || s.length !== p.length) throw new RangeError(`${what}: param #${i} state '${k}' is missing or has the wrong length`);
        if (!(s instanceof Float32Array)) {
          for (let j = 0; j < (s as ArrayLike<unknown>).length; j++) if (typeof s[j] !== 'number') throw new TypeError(`${what}: param #${i} state '${k}'[${j}] is not a number`);
        }
      }
    });
    // Everything checked: now change.
    this.opts = opts;
    this.steps = dict.stepCount;
    dict.params.forEach((ps, i) => {
      const p = this.params[i];
      p.birth = dict.stepCount - ps.step;
      for (const k of names) p.state(k).set(ps.state[k]);
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
    return saveOptimizer(this as unknown as Optimizer<BaseOptions>);
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

  /** Frees every param and all optimizer memory; any later use throws a DisposedError. */
  dispose(): void {
    if (this.disposed) return;
    for (const p of this.params) p.release();
    if (this.table) this.engine.free(this.table);
    if (this.hyper) this.engine.free(this.hyper);
    this.table = this.hyper = 0;
    this.disposed = true;
  }
}
