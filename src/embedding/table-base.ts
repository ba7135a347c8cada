// What the single-memory tables share, whichever way they store a row: `LocalEmbedding` (float32
// weights and state in blocks of their own) and `LeanEmbedding` (16-bit weights, 8/16-bit state,
// one record per row) extend `EmbeddingTableBase`. It owns the engine blocks, the scratch, the
// hyper block (written through the optimizer declaration's writer, as the dense optimizer's), the
// checks and coalescing of an update, lookups, and the state dict's shape; a subclass says how its
// rows are stored (read, written, stepped) and what it checks besides.

import { SLOT as S, type EngineFunctions } from '../core/abi.js';
import { encodeCheckpoint } from '../core/checkpoint.js';
import {
  StepSeries,
  l2Decay,
  optionsRecord,
  stateNames,
  type AnyDeclaration,
  type HyperWriter,
} from '../core/declaration.js';
import { Engine, getEngine } from '../core/engine.js';
import { NonFiniteGradientError } from '../core/errors.js';
import { TABLE_MAX_STEPS } from '../core/limits.js';
import { checkChoice, checkNumber, describe } from '../core/options.js';
import { TABLE_OPTIMIZERS, TABLE_OPTIMIZER_NAMES } from '../optimizers/registry.js';
import {
  checkIds,
  checkLookupOut,
  checkNonNegativeInt,
  checkNumbers,
  checkPositiveInt,
  checkTableKeys,
  outOfRange,
  resolveTableOptions,
  type EmbeddingMode,
  type EmbeddingOptimizer,
  type EmbeddingOptions,
  type EmbeddingStateDict,
  type TableOptions,
} from './options.js';
import { TableScratch } from './scratch.js';
import type { UpdateSplit } from './split-update.js';
import { coalescedRows, f32FromBits, rangeCheck, type CoalescedUpdate } from './table-check.js';
import { checkCheckpoint, checkStateDict, type CheckedCheckpoint } from './table-persist.js';
import type { EmbeddingTable } from './table.js';
import { EmbeddingTableCore } from './table-core.js';
import type { TableMemoryStats } from './footprint.js';

const HYPER_BYTES = S.HYPER_SLOTS * 4;

/** @internal A table's checked shape, optimizer and options (before anything is allocated). */
export interface TableArgs {
  readonly rows: number;
  readonly dim: number;
  readonly optimizer: EmbeddingOptimizer;
  readonly decl: AnyDeclaration;
  readonly mode: EmbeddingMode;
  readonly engine: Engine | undefined;
  readonly opts: TableOptions;
}

/**
 * @internal Checks a table's shape and options in the order every table reports them: rows, dim (at most
 * `maxDim`), the options object, optimizer, unknown keys, `storage` (the lean table's types), mode
 * (`checkMode` may refuse one), engine, the optimizer's own options.
 */
export function checkTableArgs(
  rows: number,
  dim: number,
  options: EmbeddingOptions,
  maxDim: number,
  hooks: { storage?: () => void; checkMode?: (mode: EmbeddingMode) => void } = {},
): TableArgs {
  const owner = 'Embedding';
  checkPositiveInt(owner, 'rows', rows, 0x7fffffff);
  checkPositiveInt(owner, 'dim', dim, maxDim);
  if (options === null || typeof options !== 'object')
    throw new TypeError(`Embedding: options must be an object, got ${describe(options)}`);
  const optimizer = checkChoice(owner, 'optimizer', options.optimizer ?? 'adam', TABLE_OPTIMIZER_NAMES);
  const decl = TABLE_OPTIMIZERS.get(optimizer) as AnyDeclaration;
  const kind = `Embedding (optimizer '${optimizer}')`;
  checkTableKeys(decl, options, kind);
  hooks.storage?.();
  const mode = checkChoice(owner, 'mode', options.mode ?? 'lazy', ['lazy', 'exact'] as const);
  hooks.checkMode?.(mode);
  const engine = options.engine;
  if (engine !== undefined && !(engine instanceof Engine))
    throw new TypeError(`Embedding: option 'engine' must be an Engine, got ${describe(engine)}`);
  const opts = resolveTableOptions(decl, options as Record<string, unknown>, kind);
  return { rows, dim, optimizer, decl, mode, engine, opts };
}

/**
 * What `LocalEmbedding` and `LeanEmbedding` share: the engine blocks they own, an update's checks
 * and coalescing, the hyper block, lookups, state dicts' checks and the safetensors files. Its
 * members are documented on `EmbeddingTable`.
 */
export abstract class EmbeddingTableBase extends EmbeddingTableCore implements EmbeddingTable {
  /** The engine the table lives in. */
  readonly engine: Engine;
  /** Number of rows. */
  readonly rows: number;
  /** Values per row. */
  readonly dim: number;
  /** The optimizer. */
  readonly optimizer: EmbeddingOptimizer;
  /** `'lazy'` or `'exact'`. */
  readonly mode: EmbeddingMode;
  /** The seed of the random initialisation (a lean table: also of its stochastic rounding). */
  abstract readonly seed: number | null;
  /** How the weights are stored. */
  abstract readonly weightType: 'f32' | 'f16' | 'bf16';
  /** How the optimizer state is stored. */
  abstract readonly stateType: 'f32' | 'bf16' | 'int8';
  /** Bytes one row takes in engine memory. */
  abstract readonly bytesPerRow: number;

  /** @internal The resolved options. */
  protected opts: TableOptions;
  /** @internal The table optimizer's declaration (options, state, hyper writer, row kernel). */
  protected readonly decl: AnyDeclaration;
  /** @internal Names of the state tensors, in kernel slot order. */
  protected readonly names: string[];
  /** @internal Updates applied. */
  protected steps = 0;
  /** @internal Every engine block the table owns. */
  protected blocks: number[] = [];
  /** @internal The table descriptor (EMB_* words) that sorting and coalescing use. */
  protected desc = 0;
  /** @internal The hyper block of the row kernel. */
  protected hyper = 0;
  /** @internal Buffers for the ids, gradients and gathered rows of a batch (./scratch.ts). */
  protected scratch!: TableScratch;
  /** @internal Distinct rows of the last update. */
  protected uniqueRows = 0;
  /** @internal The bias-correction powers and other per-step series of the declaration's writer. */
  protected readonly series = new StepSeries();

  /** @internal Takes the checked arguments; the subclass allocates. */
  protected constructor(a: TableArgs) {
    super();
    this.engine = a.engine ?? getEngine();
    this.rows = a.rows;
    this.dim = a.dim;
    this.optimizer = a.optimizer;
    this.decl = a.decl;
    this.mode = a.mode;
    this.opts = a.opts;
    this.names = stateNames(a.decl, a.opts);
  }

  /** @internal Allocates the descriptor, the hyper block and the scratch; frees everything if `build` throws. */
  protected allocateWith(build: () => void): void {
    try {
      this.desc = this.alloc(S.EMB_DESC_BYTES);
      this.hyper = this.alloc(HYPER_BYTES);
      build();
      this.scratch = new TableScratch(
        this.engine,
        this.dim,
        this.desc,
        (b) => this.alloc(b),
        (p) => this.release(p),
      );
      this.scratch.ensureIds(64);
    } catch (e) {
      for (const b of this.blocks) this.engine.free(b);
      this.blocks = [];
      this.disposed = true;
      throw e;
    }
  }

  /** Number of updates applied (the `t` of bias corrections; skipped updates do not count). */
  get stepCount(): number {
    return this.steps;
  }

  /** Number of distinct rows the last update touched. */
  get lastUniqueRows(): number {
    return this.uniqueRows;
  }

  /** The resolved hyperparameters (a copy). */
  get options(): Readonly<Record<string, unknown>> {
    return optionsRecord(this.decl, this.opts);
  }

  /** The learning rate; settable between updates (exact mode keeps each step's rate). */
  get lr(): number {
    return this.opts.lr;
  }

  set lr(value: number) {
    this.checkAlive('lr');
    this.opts = { ...this.opts, lr: checkNumber('Embedding', 'lr', value, { min: 0 }) };
  }

  /** Names of the optimizer state tensors (PyTorch's names). */
  get stateKeys(): readonly string[] {
    return this.names;
  }

  /** The weights as a live float32 view (a lean table has none and throws). */
  abstract get weights(): Float32Array;
  /** The table's footprint. */
  abstract memoryStats(): TableMemoryStats;
  /** Exact mode: brings every row up to date. */
  abstract flush(): void;

  /**
   * A copy of optimizer state tensor `name` (`rows * dim` floats row after row, or `rows` floats
   * for a per-row accumulator such as `rowwiseAdagrad`'s `sum`; exact mode: flushed first; lean
   * storage: decoded to float32).
   */
  state(name: string): Float32Array {
    this.checkAlive('state');
    const i = this.names.indexOf(name);
    if (i < 0)
      throw new RangeError(
        `Embedding.state: no state '${name}' for optimizer '${this.optimizer}' with these options; it has ${this.names.join(', ') || 'none'}`,
      );
    this.flush();
    return this.readTensor(i);
  }

  /**
   * The rows of `ids` (k ids in [0, rows)), gathered into `out` (k * dim floats) or a new
   * Float32Array. Always the current rows: in exact mode each row is brought up to date first.
   */
  lookup(ids: ArrayLike<number>, out?: Float32Array): Float32Array {
    this.checkAlive('lookup');
    const k = checkIds('Embedding.lookup', ids, this.rows);
    const n = k * this.dim;
    checkLookupOut(k, this.dim, out);
    const view = this.gather('Embedding.lookup', ids, k);
    const result = out ?? new Float32Array(n);
    result.set(view);
    return result;
  }

  /**
   * Like `lookup`, but returns a view of an engine-owned buffer (no allocation, no copy). The
   * view is overwritten by the next lookup on this table and detached when memory grows.
   */
  lookupView(ids: ArrayLike<number>): Float32Array {
    this.checkAlive('lookupView');
    const k = checkIds('Embedding.lookupView', ids, this.rows);
    return this.gather('Embedding.lookupView', ids, k);
  }

  /**
   * An engine-owned buffer for the gradients of `k` ids (k * dim floats). Write the gradients
   * there and pass it to `update()` to skip one copy. It stays valid until a later `gradView` or
   * `update` needs a larger one, or memory grows; get it again before each use.
   */
  gradView(k: number): Float32Array {
    this.checkAlive('gradView');
    checkNonNegativeInt('Embedding.gradView', 'k', k);
    this.scratch.ensureGrads(k);
    return this.engine.f32(this.scratch.gradPtr, k * this.dim);
  }

  /**
   * One optimizer step on the rows of `ids`: `grads` holds `ids.length * dim` floats, row `i` the
   * gradient of row `ids[i]`; the gradients of duplicate ids are summed (in the order they
   * appear). Returns `true` when the step was taken and `false` when `nonFinite: 'skip'` skipped
   * it. Every check (ids in [0, rows), grads' type and length, finite gradients and sums, what
   * the storage can hold) is done before anything changes: an error leaves weights, state and
   * `stepCount` as they were.
   */
  update(ids: ArrayLike<number>, grads: ArrayLike<number>): boolean {
    const unique = this.coalesce(ids, grads);
    if (unique === false) return false;
    const t = this.steps + 1;
    this.fillHyper(t);
    if (!this.applyUpdate(t, unique)) return false;
    this.steps = t;
    this.uniqueRows = unique;
    return true;
  }

  /** The table's state: hyperparameters, step count, and float32 copies of the weights and optimizer state (exact mode: flushed first). */
  stateDict(): EmbeddingStateDict {
    this.checkAlive('stateDict');
    this.flush();
    return {
      kind: 'Embedding',
      ...this.header(),
      weights: this.readTensor(-1),
      state: Object.fromEntries(this.names.map((name, i) => [name, this.readTensor(i)])),
    };
  }

  /**
   * Restores a state saved by `stateDict()` into a table of the same shape and optimizer. The
   * hyperparameters come from the state dict (values are rounded to nearest into lean storage).
   * Everything is checked before anything changes; a mismatch throws and leaves the table as it was.
   */
  loadStateDict(dict: EmbeddingStateDict): void {
    this.checkAlive('loadStateDict');
    const opts = checkStateDict('Embedding.loadStateDict', dict, this, this.decl, (i) => this.widthOf(i));
    const commit = this.checkLoadable(opts, dict);
    this.opts = opts;
    this.writeTensor(-1, dict.weights);
    this.names.forEach((k, i) => this.writeTensor(i, dict.state[k]));
    this.steps = dict.stepCount;
    commit();
  }

  /**
   * A binary checkpoint of the table (format: src/core/checkpoint.ts, with a CRC-32 over the
   * whole): shape, optimizer, mode, hyperparameters, update count, and the weights and optimizer
   * state as stored (float32; lean storage: the raw 16-bit words and int8 codes, the storage types
   * and the rounding seed; exact mode: the rows that are behind stay behind, with the history they
   * need). Restore with `load()` or `Embedding.fromCheckpoint()`: a resumed table continues bit for
   * bit as one never interrupted.
   */
  save(): Uint8Array {
    this.checkAlive('save');
    return encodeCheckpoint('Embedding', { ...this.header(), ...this.savedTensors() });
  }

  /**
   * Restores a checkpoint from `save()` into this table: same rows, dim, optimizer, mode (and
   * storage types); the hyperparameters and update count come from the checkpoint. A truncated,
   * corrupt, other-version, other-kind or mismatched checkpoint throws a CheckpointError that says
   * why, and nothing changes.
   */
  load(bytes: Uint8Array | ArrayBuffer): void {
    this.checkAlive('load');
    const what = 'Embedding.load';
    this.restoreSaved(
      what,
      checkCheckpoint(what, bytes, this, this.decl, (o) => this.checkSavedOptions(o)),
    );
  }

  /** @internal Frees the engine blocks the table owns. */
  protected freeMemory(): void {
    for (const b of this.blocks) this.engine.free(b);
    this.blocks = [];
  }

  // -------------------------------------------------------------------------------------------
  // What a kind of storage says.

  /** @internal What the checkpoint holds after its header: the tensors as stored, and what the storage needs. */
  protected abstract savedTensors(): Record<string, unknown>;
  /** @internal Refuses a checkpoint's options the storage cannot take (a malformed checkpoint). */
  protected checkSavedOptions(_opts: TableOptions): void {}
  /** @internal Checks a checkpoint's tensors (`c.malformed` throws), then restores it. */
  protected abstract restoreSaved(what: string, c: CheckedCheckpoint): void;
  /** @internal Values per row of tensor `what` (-1: the weights; i: state slot i). */
  protected abstract widthOf(what: number): number;
  /** @internal A float32 copy of tensor `what` (-1: the weights; i: state slot i), rows * width. */
  protected abstract readTensor(what: number): Float32Array;
  /** @internal Stores float32 values into tensor `what` (lean storage: rounded to nearest). */
  protected abstract writeTensor(what: number, values: Float32Array): void;
  /** @internal Gathers the rows at `idsPtr` (k checked ids) as float32 into `outPtr`. */
  protected abstract gatherRows(idsPtr: number, k: number, outPtr: number): void;
  /** @internal Checks what only this storage refuses in a state dict; returns what to do once it is written. */
  protected abstract checkLoadable(opts: TableOptions, dict: EmbeddingStateDict): () => void;
  /** @internal Steps the coalesced rows with update `t` (hyper block written); false: refused, nothing changed. */
  protected abstract applyUpdate(t: number, unique: number): boolean;
  /** @internal Checks the update may be taken at all (e.g. exact mode's decay factor). */
  protected checkStep(): void {}
  /**
   * @internal The split of this update of `k` ids across worker threads (./split-update.ts), or
   * null: the calling thread coalesces. Called once per update, after its arguments are checked.
   */
  protected splitFor(_k: number): UpdateSplit | null {
    return null;
  }
  /**
   * @internal Where the float32 weights of the coalesced update's rows are (for the range check of
   * L2 decay, rarely needed): the float32 index of unique row `r`'s weights (row id `id`).
   */
  protected abstract weightRows(c: CoalescedUpdate): (r: number, id: number) => number;

  // -------------------------------------------------------------------------------------------
  // Internals.

  /** @internal What every checkpoint and state dict of the table starts with. */
  protected header(): Omit<EmbeddingStateDict, 'kind' | 'weights' | 'state'> {
    return {
      rows: this.rows,
      dim: this.dim,
      optimizer: this.optimizer,
      mode: this.mode,
      stepCount: this.steps,
      options: optionsRecord(this.decl, this.opts),
    };
  }

  /** @internal The engine's exports. */
  protected get x(): EngineFunctions {
    return this.engine.exports;
  }

  /** @internal A block the table owns. */
  protected alloc(bytes: number): number {
    const p = this.engine.alloc(bytes);
    this.blocks.push(p);
    return p;
  }

  /** @internal Frees a block the table owns (0: nothing). */
  protected release(ptr: number): void {
    if (!ptr) return;
    const i = this.blocks.indexOf(ptr);
    if (i >= 0) this.blocks.splice(i, 1);
    this.engine.free(ptr);
  }

  /** @internal A copy of `a` when it is a view of engine memory (which an allocation may detach), else `a`. */
  protected detachSafe<T extends ArrayLike<number>>(a: T): T {
    if (ArrayBuffer.isView(a) && a.buffer === this.engine.memory.buffer)
      return (a as unknown as { slice(): T }).slice();
    return a;
  }

  private gather(what: string, ids: ArrayLike<number>, k: number): Float32Array {
    ids = this.detachSafe(ids);
    const sc = this.scratch;
    sc.ensureIds(k);
    sc.ensureOut(k);
    sc.copyIds(ids, k);
    const bad = this.x.embCheckIds(sc.idsPtr, k, this.rows);
    if (bad >= 0) throw outOfRange(what, ids, bad, this.rows);
    this.gatherRows(sc.idsPtr, k, sc.outPtr);
    return this.engine.f32(sc.outPtr, k * this.dim);
  }

  /**
   * Coalesces `k` ids (in the ids buffer, checked) with their gradients (k * dim values): read in
   * place when they are the gradient buffer (gradView), else first copied into it whole (a typed
   * array's `set`, a memmove, converting a Float64Array; other arrays, checked to hold numbers,
   * element by element). Returns embCoalesce's result (assembly/embedding/coalesce.ts).
   */
  private coalesceGrads(grads: ArrayLike<number>, k: number, check: boolean): number {
    const sc = this.scratch;
    if (!sc.holds(grads, k * this.dim)) this.engine.heapF32.set(grads, sc.gradPtr >>> 2);
    return this.x.embCoalesce(this.desc, sc.idsPtr, k, sc.gradPtr, check ? 1 : 0);
  }

  /** Writes the hyper block of update `t` with the declaration's writer (the dense class's). */
  private fillHyper(t: number): void {
    const f32 = this.engine.heapF32;
    const i32 = this.engine.heapI32;
    const base = this.hyper >>> 2;
    const w: HyperWriter = {
      f32: (slot, v) => {
        f32[base + slot] = v;
      },
      flag: (slot, on) => {
        i32[base + slot] = on ? 1 : 0;
      },
    };
    this.decl.writeHyper(w, this.opts, t, this.opts.maximize ? -1 : 1, this.series);
    // The kernels' shared loop clamps the gradients to [CLIP_LO, CLIP_HI]: a table does not clip.
    w.f32(S.CLIP_LO, -Infinity);
    w.f32(S.CLIP_HI, Infinity);
  }

  /**
   * Checks an update and coalesces it in engine memory: the number of unique rows, or false when
   * `nonFinite: 'skip'` skips it. Nothing the table holds has changed when this throws.
   */
  private coalesce(ids: ArrayLike<number>, grads: ArrayLike<number>): number | false {
    this.checkAlive('update');
    if (this.steps >= TABLE_MAX_STEPS)
      throw new RangeError(
        `Embedding.update: the table's update count reached its limit of ${TABLE_MAX_STEPS} (TABLE_MAX_STEPS; the kernels count in 32 bits); nothing was changed`,
      );
    const k = checkIds('Embedding.update', ids, this.rows);
    const n = k * this.dim;
    if (grads === null || typeof grads !== 'object' || typeof (grads as ArrayLike<number>).length !== 'number') {
      throw new TypeError(
        `Embedding.update: 'grads' must be a Float32Array of ids.length * dim floats, got ${describe(grads)}`,
      );
    }
    if (grads.length !== n) {
      throw new RangeError(
        `Embedding.update: 'grads' must hold ids.length * dim = ${k} * ${this.dim} = ${n} floats, got ${grads.length}`,
      );
    }
    if (!ArrayBuffer.isView(grads)) checkNumbers('Embedding.update', 'grads', grads);
    this.checkStep();
    const o = this.opts;
    // Engine-owned gradients (gradView) are used in place; others are copied into that buffer.
    const sc = this.scratch;
    const inPlace = sc.holds(grads, n);
    // An update split across threads (./split-update.ts): the same coalescing, the workers prefetching the rows.
    const split = this.splitFor(k);
    // Views into engine memory would be detached if the scratch buffers below grow the memory.
    ids = this.detachSafe(ids);
    if (!inPlace) grads = this.detachSafe(grads);
    sc.ensureIds(k);
    if (!inPlace) sc.ensureGrads(k);
    split?.ensure();
    sc.copyIds(ids, k);
    const bad = this.x.embCheckIds(sc.idsPtr, k, this.rows);
    if (bad >= 0) throw outOfRange('Embedding.update', ids, bad, this.rows);
    // The coalescing pass checks every row it will apply (a gradient row, or a sum of duplicates).
    const check = o.nonFinite !== 'ignore';
    const here = (): number => this.coalesceGrads(grads, k, check);
    const unique = split ? split.coalesce(sc.idsPtr, k, here) : here();
    if (unique < 0) {
      if (o.nonFinite === 'skip') return false;
      // The gradients as float32 are in the gradient buffer (the coalescing writes only its scratch).
      const b = this.x.embFirstNonFinite(sc.gradPtr, n);
      if (b >= 0) {
        const row = Math.floor(b / this.dim);
        throw new NonFiniteGradientError(
          `Embedding.update: grads[${b}] is ${this.engine.heapF32[(sc.gradPtr >>> 2) + b]} (position ${row}, id ${ids[row]}, column ${b - row * this.dim}); nothing was changed. Fix the gradients, or pass nonFinite: 'skip' to skip such updates.`,
        );
      }
      const id = this.engine.heapU32[(this.desc >>> 2) + S.EMB_BAD];
      throw new NonFiniteGradientError(
        `Embedding.update: the gradients of id ${id}, which appears several times, sum to a non-finite value (float32 overflow); nothing was changed. Scale the gradients down, or pass nonFinite: 'skip'.`,
      );
    }
    // The rows' gradients squared (Adam, Adagrad, ...) and, with L2 decay, g + wd * w: finite in
    // float32 too (src/embedding/table-check.ts), from the max |g| the coalescing pass measured.
    if (check) {
      const u32 = this.engine.heapU32,
        d = this.desc >>> 2;
      const c: CoalescedUpdate = {
        uniq: u32[d + S.EMB_UNIQ],
        gptr: u32[d + S.EMB_GPTR],
        unique,
        maxG: f32FromBits(u32[d + S.EMB_GMAX]),
      };
      const wd = l2Decay(this.decl, o as unknown as Record<string, unknown>);
      const squares = this.decl.squaresGradient === true;
      const rows = coalescedRows(this.engine, c, this.dim, () => this.weightRows(c));
      const why = rangeCheck(rows, this.dim, squares, wd, o.maximize ? -1 : 1);
      if (why !== null) {
        if (o.nonFinite === 'skip') return false;
        throw new NonFiniteGradientError(
          `Embedding.update: ${why}; nothing was changed. Scale the gradients down, or pass nonFinite: 'skip' to skip such updates.`,
        );
      }
    }
    return unique;
  }
}
