import type { Engine } from './engine.js';
import { DisposedError } from './errors.js';
import { firstNonFinite } from './limits.js';

/**
 * One tensor of an optimizer: its values, its gradient and its optimizer state, all in engine
 * memory. `data` and `grad` are live Float32Array views: write into them, read from them, and
 * read them through the getter each time (memory growth detaches views that were kept).
 */
export class Param {
  /** Number of elements. */
  readonly length: number;
  /** @internal byte offsets of the values, the gradient, then each state tensor (16-byte aligned; in the optimizer's arenas, src/param-arena.ts). */
  private readonly offsets: readonly number[];
  /** @internal the optimizer step at which this param was added (its own step count starts there). */
  birth: number;
  /** @internal index of the param group. */
  group: number;
  private readonly engine: Engine;
  private readonly stateNames: readonly string[];
  private views: (Float32Array | undefined)[] = [];
  private disposed = false;
  private readonly owner: string;

  /** @internal `offsets`: where the values, the gradient and each state tensor live (the owner allocates them). */
  constructor(
    engine: Engine,
    owner: string,
    length: number,
    stateNames: readonly string[],
    offsets: readonly number[],
    birth: number,
    group = 0,
  ) {
    if (offsets.length !== 2 + stateNames.length)
      throw new Error(
        `wasm-optim: a param with ${stateNames.length} state tensors needs ${2 + stateNames.length} offsets, got ${offsets.length}`,
      );
    this.engine = engine;
    this.owner = owner;
    this.length = length;
    this.stateNames = stateNames;
    this.offsets = offsets;
    this.birth = birth;
    this.group = group;
  }

  /** @internal bytes per tensor slot for `length` floats, rounded up to 16. */
  static strideFor(length: number): number {
    return Math.ceil((length * 4) / 16) * 16 || 16;
  }

  /** @internal byte offset of slot `i` (0 data, 1 grad, 2.. state). */
  offset(i: number): number {
    return this.offsets[i];
  }

  private view(i: number): Float32Array {
    if (this.disposed)
      throw new DisposedError(`${this.owner}: this param was disposed with its optimizer; create a new one`);
    let v = this.views[i];
    if (v === undefined || !this.engine.isCurrent(v)) {
      v = this.engine.f32(this.offset(i), this.length);
      this.views[i] = v;
    }
    return v;
  }

  /** The param's values (a live view into engine memory). */
  get data(): Float32Array {
    return this.view(0);
  }

  /** The param's gradient (a live view; `step()` reads it, `zeroGrad()` clears it). */
  get grad(): Float32Array {
    return this.view(1);
  }

  /** Names of the optimizer state tensors held for this param (PyTorch's names, e.g. `exp_avg`). */
  get stateKeys(): readonly string[] {
    return this.stateNames;
  }

  /** A live view of the optimizer state tensor `name` (e.g. `exp_avg`, `momentum_buffer`). */
  state(name: string): Float32Array {
    const i = this.stateNames.indexOf(name);
    if (i < 0)
      throw new RangeError(
        `${this.owner}: no state '${name}' for this param; it has ${this.stateNames.join(', ') || 'none'}`,
      );
    return this.view(2 + i);
  }

  /**
   * Copies `values` into optimizer state tensor `name`, checking the length first (state stored in
   * 16 or 8 bits, `stateType`, is encoded: rounded to nearest).
   */
  setState(name: string, values: ArrayLike<number>): void {
    const v = this.state(name);
    this.checkStateValues(name, values);
    v.set(values);
  }

  /** @internal the stored bytes of state tensor `name` when it is not stored as float32, else null. */
  storedState(_name: string): Uint8Array | null {
    return null;
  }

  /** @internal writes back bytes from `storedState` (state stored in 16 or 8 bits only). */
  setStoredState(name: string, _bytes: Uint8Array): void {
    throw new Error(`wasm-optim: state '${name}' is stored as float32`);
  }

  /** Copies `values` into the gradient, checking the length first. */
  setGrad(values: ArrayLike<number>): void {
    this.checkLength('setGrad', values);
    this.grad.set(values);
  }

  /** Copies `values` into the param, checking the length first. */
  setData(values: ArrayLike<number>): void {
    this.checkLength('setData', values);
    this.data.set(values);
  }

  /** Throws unless `values` is an array of `length` numbers (`what` names the call). */
  protected checkLength(what: string, values: ArrayLike<number>): void {
    if (values == null || typeof values.length !== 'number')
      throw new TypeError(`${this.owner}: ${what} expects an array of ${this.length} numbers`);
    if (values.length !== this.length)
      throw new RangeError(`${this.owner}: ${what} expects ${this.length} values, got ${values.length}`);
  }

  /**
   * Throws unless `values` are `length` finite numbers for state tensor `name`, as `loadStateDict`
   * requires (a NaN or infinite state would make every later step non-finite; stored in 8 bits, one
   * would also take its block's absmax, and so the whole block, with it).
   */
  protected checkStateValues(name: string, values: ArrayLike<number>): void {
    this.checkLength('setState', values);
    const bad = firstNonFinite(values);
    if (bad >= 0)
      throw new RangeError(
        `${this.owner}: setState('${name}') got ${values[bad]} at index ${bad}; optimizer state must be finite, nothing was changed`,
      );
  }

  /** True once the owning optimizer was disposed. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** @internal marks the param disposed (its memory belongs to the optimizer's arenas, freed with them). */
  release(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.views = [];
  }
}
