// Dense optimizers with 16- or 8-bit state (`stateType: 'bf16' | 'int8'`): which optimizers take it,
// how a param's state tensors are stored, decoded and encoded, and what the quantized kernels
// (assembly/optimizers/quant/step.ts) read besides the usual descriptor. docs/lean-state.md.

import { SLOT as S, type TableKernelName } from './abi.js';
import type { AnyDeclaration } from './declaration.js';
import type { Engine } from './engine.js';
import { checkChoice, describe } from './options.js';
import { Param } from './param.js';
import { dynamicMapsBlock } from '../embedding/dynamic-map.js';
import { bf16ToF32, f32ToBf16 } from '../embedding/half.js';
import type { StateType } from '../embedding/lean-layout.js';

// The same three types as a lean table's state (`'f32' | 'bf16' | 'int8'`).
export type { StateType };

/**
 * How a dense optimizer stores its state, given with its options (`new Adam({ stateType: 'int8' })`).
 * Optimizer-wide: a param group cannot set it.
 */
export interface StateStorageOptions {
  /**
   * `'f32'` (default), `'bf16'` (16 bits, rounded stochastically with `seed`) or `'int8'`
   * (bitsandbytes' blockwise dynamic quantization: blocks of 256 elements with one float32 absmax
   * each; tensors under 4096 elements keep float32 state). Adam, AdamW, SGD, RMSprop, Adagrad and
   * Lion take `'bf16'` and `'int8'`; the step runs in float32 on the decoded state
   * (docs/lean-state.md).
   */
  stateType?: StateType;
  /** The seed of bf16 state's stochastic rounding (a non-negative safe integer). Default 0. */
  seed?: number;
}

/** The names of `StateStorageOptions`. */
export const STORAGE_OPTIONS = ['stateType', 'seed'] as const;

/**
 * The optimizers that take a `stateType` other than `'f32'`: those whose declaration names a
 * `quantKernel` (bitsandbytes has 8-bit versions of each: Adam8bit, AdamW8bit, SGD8bit,
 * RMSprop8bit, Adagrad8bit, Lion8bit). test/lean-state.test.ts checks this list against the registry.
 */
export const QUANT_OPTIMIZERS: readonly string[] = ['Adam', 'AdamW', 'SGD', 'RMSprop', 'Adagrad', 'Lion'];

/** State tensors that take the signed map (first moments); the others (squares, sums) the unsigned one. */
const SIGNED_STATES = new Set(['exp_avg', 'momentum_buffer', 'grad_avg']);

/** True when state tensor `name` is stored with bitsandbytes' signed dynamic map (int8). */
export function isSignedState(name: string): boolean {
  return SIGNED_STATES.has(name);
}

const align16 = (n: number): number => Math.ceil(n / 16) * 16;

/** Bytes of one state tensor of `length` elements stored as `type` (S.QUANT_*): int8 codes, then one float32 absmax per block. */
export function stateBytes(length: number, type: number): number {
  if (type === S.QUANT_INT8) return align16(length) + 4 * Math.ceil(length / S.QUANT_BLOCK);
  return type === S.QUANT_BF16 ? 2 * length : 4 * length;
}

/**
 * @internal An optimizer's state storage: the type, the rounding seed, and the engine blocks the
 * quantized kernels read (the maps of int8 codes, a block of scratch).
 */
export class StateStorage {
  private mapsAt = 0;
  private scratchAt = 0;

  private constructor(
    /** The storage type asked for. */
    readonly stateType: StateType,
    /** The seed of bf16 state's stochastic rounding. */
    public seed: number,
    /** The optimizer's declaration. */
    private readonly decl: AnyDeclaration,
  ) {}

  /**
   * Checks `stateType` and `seed` of `options` for optimizer `decl` with resolved options `resolved`;
   * refuses what it cannot store.
   */
  static resolve(
    decl: AnyDeclaration,
    options: Readonly<Record<string, unknown>>,
    resolved: Readonly<Record<string, unknown>>,
    kind: string,
  ): StateStorage {
    const type = checkChoice(kind, 'stateType', options.stateType ?? 'f32', ['f32', 'bf16', 'int8'] as const);
    const seed = checkSeed(kind, options.seed ?? 0);
    if (type !== 'f32' && decl.quantKernel === undefined)
      throw new RangeError(
        `${kind}: stateType '${type}' is supported by ${QUANT_OPTIMIZERS.join(', ')} (bitsandbytes' 8-bit optimizers); use stateType 'f32' with ${kind}`,
      );
    const storage = new StateStorage(type, seed, decl);
    storage.check(resolved, kind);
    return storage;
  }

  /** Throws a RangeError when options `o` (a group's, a state dict's) cannot run with this storage. */
  check(o: Readonly<Record<string, unknown>>, kind: string): void {
    const why = this.quantized ? (this.decl.quantRefusal?.(o) ?? null) : null;
    if (why !== null) throw new RangeError(`${kind}: stateType '${this.stateType}': ${why}`);
  }

  /** True when some state may be stored in fewer than 32 bits. */
  get quantized(): boolean {
    return this.stateType !== 'f32';
  }

  /** The step kernel of `decl` for 16- or 8-bit state (`resolve` refused a declaration without one). */
  quantKernel(decl: AnyDeclaration): TableKernelName {
    if (decl.quantKernel === undefined)
      throw new TypeError(`${decl.name}: no kernel for stateType '${this.stateType}'`);
    return decl.quantKernel;
  }

  /**
   * How a param of `length` elements stores its state (S.QUANT_*): as asked, except that int8 keeps
   * tensors under 4096 elements in float32 (bitsandbytes' `min_8bit_size`).
   */
  typeOf(length: number): number {
    if (this.stateType === 'bf16') return S.QUANT_BF16;
    if (this.stateType === 'int8' && length >= S.QUANT_MIN_SIZE) return S.QUANT_INT8;
    return S.QUANT_F32;
  }

  /** Bytes of the arena slots of a param (values, gradient, each of `states` state tensors), 16-byte multiples. */
  strides(length: number, states: number): number[] {
    const f32 = Param.strideFor(length);
    const st = align16(stateBytes(length, this.typeOf(length))) || 16;
    return [f32, f32, ...new Array<number>(states).fill(st)];
  }

  /** A new param (`Param`'s constructor arguments) whose state tensors are stored as `typeOf(length)`. */
  param(...args: ConstructorParameters<typeof Param>): Param {
    const type = this.typeOf(args[2]);
    if (type === S.QUANT_F32) return new Param(...args);
    if (type === S.QUANT_INT8) this.mapsBlock(args[0]);
    return new StoredParam(args, type, this);
  }

  /**
   * Descriptor word QUANT_DESC_WORD of param `p`, the `index`-th of its optimizer, whose kernel state
   * slot `s` holds tensor `slotOf[s]` (2 + its place in `p.stateKeys`, or -1).
   */
  descWord(p: Param, index: number, slotOf: readonly number[]): number {
    if (!(p instanceof StoredParam)) return S.QUANT_F32;
    let signed = 0;
    slotOf.forEach((k, s) => {
      if (k >= 2 && isSignedState(p.stateKeys[k - 2])) signed |= 1 << s;
    });
    return (p.type | (signed << S.QUANT_SIGNED_SHIFT) | (index << S.QUANT_INDEX_SHIFT)) >>> 0;
  }

  /** Writes the QUANT_* slots of a hyper block at u32 index `base` for a cohort at its step `t`. */
  writeHyper(u32: Uint32Array, base: number, t: number): void {
    u32[base + S.QUANT_T] = t >>> 0;
    u32[base + S.QUANT_SEED_LO] = this.seed >>> 0;
    u32[base + S.QUANT_SEED_HI] = Math.floor(this.seed / 2 ** 32) >>> 0;
    u32[base + S.QUANT_MAPS] = this.mapsAt;
    u32[base + S.QUANT_SCRATCH] = this.scratchAt;
  }

  /**
   * Before a step table is built: allocates the scratch block the quantized kernels use (once) and
   * returns this storage, or undefined when the state is float32 (the table needs nothing more).
   */
  prepare(engine: Engine): StateStorage | undefined {
    if (!this.quantized) return undefined;
    if (this.scratchAt === 0) this.scratchAt = engine.alloc(S.QUANT_SCRATCH_BYTES);
    return this;
  }

  /** Throws a RangeError when the state is not float32: meta-gradients read float32 state. */
  refuseMeta(kind: string): void {
    if (this.quantized)
      throw new RangeError(
        `${kind}.trackMetaGradients: meta-gradients need float32 state; this ${kind} has stateType '${this.stateType}'`,
      );
  }

  /** The maps block of int8 codes in `engine` (allocated once). */
  mapsBlock(engine: Engine): number {
    if (this.mapsAt === 0) {
      const at = engine.alloc(S.MAPS_BYTES);
      new Uint8Array(engine.memory.buffer, at, S.MAPS_BYTES).set(dynamicMapsBlock());
      this.mapsAt = at;
    }
    return this.mapsAt;
  }

  /** Frees the engine blocks. */
  release(engine: Engine): void {
    if (this.mapsAt) engine.free(this.mapsAt);
    if (this.scratchAt) engine.free(this.scratchAt);
    this.mapsAt = this.scratchAt = 0;
  }
}

/** A rounding seed: a non-negative safe integer. */
function checkSeed(kind: string, value: unknown): number {
  if (typeof value !== 'number')
    throw new TypeError(`${kind}: option 'seed' must be a non-negative integer, got ${describe(value)}`);
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RangeError(`${kind}: option 'seed' must be a non-negative safe integer, got ${value}`);
  return value;
}

/**
 * A param whose state tensors are stored in 16 or 8 bits: `state(name)` returns a decoded float32
 * copy (there is no float32 view to write into), `setState` encodes (nearest).
 */
class StoredParam extends Param {
  private readonly engineRef: Engine;

  constructor(
    args: ConstructorParameters<typeof Param>,
    /** S.QUANT_BF16 or S.QUANT_INT8. */
    readonly type: number,
    private readonly storage: StateStorage,
  ) {
    super(...args);
    this.engineRef = args[0];
  }

  /** A decoded copy of state tensor `name` (writing into it changes nothing: use `setState`). */
  override state(name: string): Float32Array {
    const i = this.stateKeys.indexOf(name);
    if (i < 0 || this.isDisposed) return super.state(name);
    const n = this.length;
    const at = this.offset(2 + i);
    if (this.type === S.QUANT_BF16) return bf16ToF32(new Uint16Array(this.engineRef.memory.buffer, at, n));
    // int8: the kernel's own decoder (map[code] * absmax, one float32 multiply; +0 where absmax is 0).
    const e = this.engineRef;
    const tmp = e.alloc(4 * n || 16);
    try {
      e.exports.quantDecodeInt8(tmp, at, n, this.storage.mapsBlock(e), isSignedState(name) ? 1 : 0);
      return e.heapF32.slice(tmp >>> 2, (tmp >>> 2) + n);
    } finally {
      e.free(tmp);
    }
  }

  /**
   * Encodes `values` into state tensor `name`, rounded to nearest: bf16 ties to even; int8 each block's
   * absmax of these values and the nearest codes (the kernel's encoder).
   */
  override setState(name: string, values: ArrayLike<number>): void {
    const i = this.stateKeys.indexOf(name);
    if (i < 0 || this.isDisposed) return super.setState(name, values);
    this.checkStateValues(name, values);
    const n = this.length;
    const e = this.engineRef;
    const at = this.offset(2 + i);
    if (this.type === S.QUANT_BF16) {
      new Uint16Array(e.memory.buffer, at, n).set(f32ToBf16(Float32Array.from(values)));
      return;
    }
    const tmp = e.alloc(4 * n || 16);
    try {
      e.heapF32.set(values, tmp >>> 2);
      e.exports.quantEncodeInt8(at, tmp, n, this.storage.mapsBlock(e), isSignedState(name) ? 1 : 0);
    } finally {
      e.free(tmp);
    }
  }

  /** @internal the stored bytes of state tensor `name` (codes and absmax, or bf16 words), a copy. */
  override storedState(name: string): Uint8Array | null {
    const i = this.stateKeys.indexOf(name);
    return new Uint8Array(this.engineRef.memory.buffer, this.offset(2 + i), stateBytes(this.length, this.type)).slice();
  }

  /** @internal writes back bytes from `storedState` (their length checked by the caller). */
  override setStoredState(name: string, bytes: Uint8Array): void {
    const i = this.stateKeys.indexOf(name);
    new Uint8Array(this.engineRef.memory.buffer, this.offset(2 + i), bytes.length).set(bytes);
  }
}

/** What a checkpoint keeps of the state storage: the type, the seed, and each param's stored tensors. */
export interface StoredStatePayload {
  stateType: StateType;
  seed: number;
}

/**
 * @internal The stored bytes of `params`' state tensors not kept as float32, by param then name (the
 * checkpoint's `stored`: codes and absmax, or bf16 words, bit for bit).
 */
export function storedTensors(params: readonly Param[]): (Record<string, Uint8Array> | undefined)[] {
  return params.map((p) => {
    const out: Record<string, Uint8Array> = {};
    let any = false;
    for (const k of p.stateKeys) {
      const b = p.storedState(k);
      if (b !== null) {
        out[k] = b;
        any = true;
      }
    }
    return any ? out : undefined;
  });
}

/**
 * @internal Checks a checkpoint's stored tensors against `params` (as created for it): each param
 * holds exactly the tensors it stores in fewer than 32 bits, each of its stored size. Returns why
 * not, or null.
 */
export function checkStoredTensors(params: readonly Param[], stored: readonly unknown[]): string | null {
  for (let i = 0; i < params.length; i++) {
    const p = params[i];
    const s = (stored[i] ?? {}) as Record<string, unknown>;
    if (s === null || typeof s !== 'object') return `param #${i}'s stored state is not an object`;
    for (const k of p.stateKeys) {
      const want = p.storedState(k);
      const got = s[k];
      if (want === null && got !== undefined) return `param #${i} stores '${k}' as float32 here, not in fewer bits`;
      if (want !== null && !(got instanceof Uint8Array && got.length === want.length))
        return `param #${i}'s stored '${k}' is missing or not ${want.length} bytes`;
    }
    for (const k of Object.keys(s)) if (!p.stateKeys.includes(k)) return `param #${i} has no state '${k}'`;
  }
  return null;
}

/** @internal Writes back the stored tensors `checkStoredTensors` accepted. */
export function restoreStoredTensors(params: readonly Param[], stored: readonly unknown[]): void {
  params.forEach((p, i) => {
    const s = stored[i] as Record<string, Uint8Array> | undefined;
    if (s) for (const [k, b] of Object.entries(s)) p.setStoredState(k, b);
  });
}
