// The single-memory embedding table (`LocalEmbedding`): weights and optimizer state in one engine's
// memory. `new Embedding()` (./embedding.ts) uses one when the table fits one engine block, else a
// `ShardedEmbedding` of several. The table lives in engine memory; update() copies the ids and gradients in, and two wasm calls sort and coalesce the ids
// and step the touched rows (assembly/embedding/). This side validates, owns the memory and
// computes each step's hyperparameters in float64 through the optimizer's declaration, exactly as
// the dense optimizer does (the same writer, the same series of powers).

import { SLOT as S, type EngineFunctions } from '../core/abi.js';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint } from '../core/checkpoint.js';
import {
  StepSeries,
  l2Decay,
  optionsRecord,
  stateNames,
  type AnyDeclaration,
  type HyperWriter,
} from '../core/declaration.js';
import { Engine, getEngine } from '../core/engine.js';
import { DisposedError, NonFiniteGradientError } from '../core/errors.js';
import { checkChoice, checkKnownKeys, checkNumber, describe } from '../core/options.js';
import { TABLE_OPTIMIZERS, TABLE_OPTIMIZER_NAMES } from '../optimizers/registry.js';
import { runListParallel } from '../threads/pool.js';
import { CENTRED_RHO, exactConfig, type ExactConfig } from './exact.js';
import { TableScratch } from './scratch.js';
import {
  rowFootprint,
  tableStateSlots,
  type RowFootprint,
  type TableMemoryStats,
  type TableStateSlot,
} from './footprint.js';
import { loadEmbeddingSafetensors, saveEmbeddingSafetensors } from './safetensors.js';
import { restoreTable, type EmbeddingTable } from './table.js';
import {
  checkIds,
  checkNonNegativeInt,
  checkNumbers,
  checkPositiveInt,
  checkSeed,
  checkTableKeys,
  outOfRange,
  resolveInit,
  resolveTableOptions,
  type EmbeddingMode,
  type EmbeddingOptimizer,
  type EmbeddingOptions,
  type EmbeddingStateDict,
  type TableOptions,
} from './options.js';
import { firstNonFinite, TABLE_MAX_STEPS } from '../core/limits.js';
import { f32FromBits, tableRangeCheck } from './table-check.js';

export type {
  EmbeddingInit,
  EmbeddingInitDistribution,
  EmbeddingMode,
  EmbeddingOptimizer,
  EmbeddingOptions,
  EmbeddingStateDict,
} from './options.js';

const MODES = ['lazy', 'exact'] as const;
const MAX_ELEMENTS = (1 << 28) - 16; // one engine block holds at most 1 GiB
const BLOCK_LIMIT_BYTES = (1 << 30) - 64; // the engine's largest block (src/core/engine.ts)
const HYPER_BYTES = S.HYPER_SLOTS * 4;

/** The declaration of table optimizer `name` (checked by the caller). */
function declarationOf(name: EmbeddingOptimizer): AnyDeclaration {
  return TABLE_OPTIMIZERS.get(name) as AnyDeclaration;
}

/**
 * The table behind an `Embedding` whose tensors fit one engine block (see
 * `Embedding` for the semantics of every option and mode; `ShardedEmbedding.shard(i)` returns
 * these). Everything it does is documented on `EmbeddingTable`.
 */
export class LocalEmbedding implements EmbeddingTable {
  /** The engine the table lives in. */
  readonly engine: Engine;
  /** Number of rows. */
  readonly rows: number;
  /** Floats per row. */
  readonly dim: number;
  /** The optimizer. */
  readonly optimizer: EmbeddingOptimizer;
  /** `'lazy'` or `'exact'`. */
  readonly mode: EmbeddingMode;
  /** The seed the random initialisation used (null for zeros or given values). */
  readonly seed: number | null;

  private opts: TableOptions;
  /** The table optimizer's declaration (options, state, hyper writer, row kernel). */
  private readonly decl: AnyDeclaration;
  private steps = 0;
  private disposed = false;
  private blocks: number[] = [];
  private desc = 0;
  private hyper = 0;
  private weightsPtr = 0;
  private stateBase = 0;
  private stateNames: string[] = [];
  /** Each state tensor's floats per row (dim, or 1 for a row-wise accumulator), in slot order. */
  private slots: TableStateSlot[] = [];
  /** Bytes per row of weights and state, and each state slot's offset (./footprint.ts). */
  private foot!: RowFootprint;
  private lastPtr = 0;
  private ringPtr = 0;
  private powPtr = 0;
  private exact: ExactConfig;
  private logDecay = 0;
  private cursor = 0;
  private flushedAt = 0;
  /** Buffers for the ids, gradients and gathered rows of a batch (src/embedding/scratch.ts). */
  private scratch!: TableScratch;
  private uniqueRows = 0;
  private weightsView: Float32Array | null = null;
  /** The bias-correction powers and other per-step series of the declaration's writer. */
  private readonly series = new StepSeries();

  /**
   * Creates a `rows` x `dim` table in engine memory. Every option is checked before anything is
   * allocated; bad values throw a TypeError or RangeError naming the option.
   */
  constructor(rows: number, dim: number, options: EmbeddingOptions = {}) {
    const owner = 'Embedding';
    checkPositiveInt(owner, 'rows', rows, 0x7fffffff);
    checkPositiveInt(owner, 'dim', dim, MAX_ELEMENTS);
    if (options === null || typeof options !== 'object')
      throw new TypeError(`Embedding: options must be an object, got ${describe(options)}`);
    const optimizer = checkChoice(owner, 'optimizer', options.optimizer ?? 'adam', TABLE_OPTIMIZER_NAMES);
    const decl = declarationOf(optimizer);
    const kind = `Embedding (optimizer '${optimizer}')`;
    checkTableKeys(decl, options, kind);
    const mode = checkChoice(owner, 'mode', options.mode ?? 'lazy', MODES);
    const engine = options.engine;
    if (engine !== undefined && !(engine instanceof Engine))
      throw new TypeError(`Embedding: option 'engine' must be an Engine, got ${describe(engine)}`);
    const opts = resolveTableOptions(decl, options as Record<string, unknown>, kind);
    const names = stateNames(decl, opts);
    const slots = tableStateSlots(decl, opts, dim);
    const foot = rowFootprint(dim, slots);
    // One block holds the weights, one the state tensors side by side: each at most 1 GiB.
    const blockFloats = (rows * Math.max(foot.weightBytes, foot.stateBytes)) / 4;
    if (blockFloats > MAX_ELEMENTS) {
      throw new RangeError(
        `Embedding: a ${rows} x ${dim} table with optimizer '${optimizer}' needs blocks of ${blockFloats} floats (weights, or the optimizer state of every row side by side), more than one engine block holds (${MAX_ELEMENTS} floats, 1 GiB); split the table into shards`,
      );
    }
    const exact = exactConfig(optimizer, mode, opts, rows);
    const init = resolveInit(options.init ?? 'normal', rows * dim);
    let seed: number | null = null;
    if (init.kind === 'normal' || init.kind === 'uniform') {
      seed = options.seed === undefined ? Math.floor(Math.random() * 2 ** 32) : checkSeed(options.seed);
    } else if (options.seed !== undefined) {
      checkSeed(options.seed);
    }

    this.engine = engine ?? getEngine();
    this.rows = rows;
    this.dim = dim;
    this.optimizer = optimizer;
    this.decl = decl;
    this.mode = mode;
    this.seed = seed;
    this.opts = opts;
    this.exact = exact;
    this.stateNames = names;
    this.slots = slots;
    this.foot = foot;

    try {
      const n = rows * dim;
      this.desc = this.alloc(S.EMB_DESC_BYTES);
      this.hyper = this.alloc(HYPER_BYTES);
      // Page-aligned blocks; the state tensors interleaved by row (see assembly/embedding_common.ts).
      this.weightsPtr = this.allocAligned(n * 4);
      if (this.stateNames.length > 0) this.stateBase = this.allocAligned(rows * foot.stateBytes);
      const hist = this.alloc(S.EMB_HIST_WORDS * 4);
      if (exact.closedForm !== S.EMB_EXACT_NONE) this.lastPtr = this.alloc(rows * 4);
      // Initial values.
      const heap = this.engine.heapF32;
      if (init.kind === 'values') {
        heap.set(init.values, this.weightsPtr >>> 2);
        const bad = this.x.embFirstNonFinite(this.weightsPtr, n);
        if (bad >= 0)
          throw new RangeError(
            `Embedding: option 'init' holds ${init.values[bad]} at [${bad}] (row ${Math.floor(bad / dim)}); initial values must be finite`,
          );
      } else if (init.kind === 'normal' || init.kind === 'uniform') {
        const fill = init.kind === 'normal' ? this.x.embFillNormal : this.x.embFillUniform;
        fill(this.weightsPtr, n, (seed as number) >>> 0, Math.floor((seed as number) / 2 ** 32) >>> 0, init.a, init.b);
      }
      this.initState();
      const u32 = this.engine.heapU32;
      const d = this.desc >>> 2;
      u32[d + S.EMB_WEIGHTS] = this.weightsPtr;
      for (let i = 0; i < 3; i++)
        u32[d + S.EMB_STATE0 + i] = i < this.stateNames.length ? this.stateBase + foot.stateOffsets[i] : 0;
      u32[d + S.EMB_SROW] = foot.stateBytes;
      u32[d + S.EMB_ROWS] = rows;
      u32[d + S.EMB_DIM] = dim;
      u32[d + S.EMB_HYPER] = this.hyper;
      u32[d + S.EMB_KIND] = decl.rowKernel as number;
      u32[d + S.EMB_HIST] = hist;
      u32[d + S.EMB_LAST] = this.lastPtr;
      this.writeExact(exact, 0);
      this.scratch = new TableScratch(
        this.engine,
        dim,
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

  // -------------------------------------------------------------------------------------------
  // Public API.

  /** Number of updates applied (the `t` of bias corrections; skipped updates do not count). */
  get stepCount(): number {
    return this.steps;
  }

  /** @deprecated The same count as `stepCount` (one name per concept: use `stepCount`). */
  get updateCount(): number {
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
    return this.stateNames;
  }

  /** Bytes one row takes in engine memory: its weights and its optimizer state (./footprint.ts). */
  get bytesPerRow(): number {
    return this.foot.bytesPerRow;
  }

  /** The table's footprint: bytes per row (weights, state, both) and in all (`rows * bytesPerRow`). */
  memoryStats(): TableMemoryStats {
    const f = this.foot;
    return {
      rows: this.rows,
      weightBytesPerRow: f.weightBytes,
      stateBytesPerRow: f.stateBytes,
      bytesPerRow: f.bytesPerRow,
      tableBytes: this.rows * f.bytesPerRow,
    };
  }

  /** Float32 weights (`weightType` other than 'f32' makes a `LeanEmbedding`). */
  get weightType(): 'f32' {
    return 'f32';
  }

  /** Float32 optimizer state. */
  get stateType(): 'f32' {
    return 'f32';
  }

  /** True once `dispose()` was called. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /**
   * The weights, `rows * dim` floats row after row: a live view into engine memory. Read it
   * through this getter each time (memory growth detaches views that were kept). In exact mode
   * the getter first brings every row up to date (`flush()`), which costs one pass over the table
   * when updates happened since the last flush.
   */
  get weights(): Float32Array {
    this.checkAlive('weights');
    this.flush();
    let v = this.weightsView;
    if (v === null || !this.engine.isCurrent(v)) {
      v = this.engine.f32(this.weightsPtr, this.rows * this.dim);
      this.weightsView = v;
    }
    return v;
  }

  /**
   * A copy of optimizer state tensor `name` (`rows * dim` floats row after row, or `rows` floats
   * for a per-row accumulator such as `rowwiseAdagrad`'s `sum`; exact mode: flushed first). The
   * table keeps its state tensors interleaved by row, so this is a copy, not a live view.
   */
  state(name: string): Float32Array {
    this.checkAlive('state');
    const i = this.stateNames.indexOf(name);
    if (i < 0)
      throw new RangeError(
        `Embedding.state: no state '${name}' for optimizer '${this.optimizer}' with these options; it has ${this.stateNames.join(', ') || 'none'}`,
      );
    this.flush();
    return this.readState(i);
  }

  /** Exact mode: brings every row up to date (one pass over the table). Lazy mode: nothing to do. */
  flush(): void {
    this.checkAlive('flush');
    if (this.exact.closedForm === S.EMB_EXACT_NONE || this.flushedAt === this.steps) return;
    this.x.embCatchUpRange(this.desc, this.steps, 0, this.rows);
    this.flushedAt = this.steps;
  }

  /**
   * The rows of `ids` (k ids in [0, rows)), gathered into `out` (k * dim floats) or a new
   * Float32Array. Always the current rows: in exact mode each row is brought up to date first.
   */
  lookup(ids: ArrayLike<number>, out?: Float32Array): Float32Array {
    this.checkAlive('lookup');
    const k = checkIds('Embedding.lookup', ids, this.rows);
    const n = k * this.dim;
    if (out !== undefined) {
      if (!(out instanceof Float32Array))
        throw new TypeError(`Embedding.lookup: 'out' must be a Float32Array, got ${describe(out)}`);
      if (out.length !== n)
        throw new RangeError(
          `Embedding.lookup: 'out' must hold ids.length * dim = ${k} * ${this.dim} = ${n} floats, got ${out.length}`,
        );
    }
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
   * it. Every check (ids in [0, rows), grads' type and length, finite gradients and sums) is done
   * before anything changes: an error leaves weights, state and `stepCount` as they were.
   */
  update(ids: ArrayLike<number>, grads: ArrayLike<number>): boolean {
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
    const o = this.opts;
    const t = this.steps + 1;
    let decayFactor = 1;
    if (this.exact.decay) {
      decayFactor =
        this.optimizer === 'adamw' || this.optimizer === 'rowwiseAdagrad'
          ? Math.fround(1 - o.lr * o.weightDecay)
          : 1 - Math.fround(o.lr) * Math.fround(o.weightDecay);
      if (!(decayFactor > 0)) {
        throw new RangeError(
          `Embedding.update: exact mode needs lr * weightDecay < 1 (the weights of untouched rows shrink by 1 - lr * weightDecay per step), got lr ${o.lr}, weightDecay ${o.weightDecay}; lower lr or use mode 'lazy'`,
        );
      }
    }
    // Engine-owned gradients (gradView) are used in place; anything else is copied in.
    const sc = this.scratch;
    const inPlace = sc.holds(grads, n);
    // Views into engine memory would be detached if the scratch buffers below grow the memory.
    ids = this.detachSafe(ids);
    if (!inPlace) grads = this.detachSafe(grads);
    sc.ensureIds(k);
    if (!inPlace) sc.ensureGrads(k);
    sc.copyIds(ids, k);
    const bad = this.x.embCheckIds(sc.idsPtr, k, this.rows);
    if (bad >= 0) throw outOfRange('Embedding.update', ids, bad, this.rows);
    if (!inPlace) this.engine.heapF32.set(grads, sc.gradPtr >>> 2);
    // The coalescing pass checks every row it will apply (a gradient row, or a sum of duplicates).
    const check = o.nonFinite !== 'ignore';
    const unique = this.x.embCoalesce(this.desc, sc.idsPtr, k, sc.gradPtr, check ? 1 : 0);
    if (unique < 0) {
      if (o.nonFinite === 'skip') return false;
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
      const coalesced = {
        uniq: u32[d + S.EMB_UNIQ],
        gptr: u32[d + S.EMB_GPTR],
        unique,
        maxG: f32FromBits(u32[d + S.EMB_GMAX]),
      };
      const wdL2 = l2Decay(this.decl, o as unknown as Record<string, unknown>);
      const squares = this.decl.squaresGradient === true;
      const why = tableRangeCheck(
        this.engine,
        coalesced,
        this.dim,
        squares,
        this.weightsPtr,
        wdL2,
        o.maximize ? -1 : 1,
      );
      if (why !== null) {
        if (o.nonFinite === 'skip') return false;
        throw new NonFiniteGradientError(
          `Embedding.update: ${why}; nothing was changed. Scale the gradients down, or pass nonFinite: 'skip' to skip such updates.`,
        );
      }
    }
    // Everything checked: step t.
    this.fillHyper(t);
    let coef = 0;
    let ib = 0;
    let sweepFrom = 0;
    let sweepCount = 0;
    if (this.exact.closedForm !== S.EMB_EXACT_NONE) {
      if (this.exact.decay) this.logDecay += Math.log(decayFactor);
      if (this.exact.closedForm === S.EMB_EXACT_ADAM) {
        const [b1, b2] = o.betas as [number, number];
        coef = Math.fround(o.lr / (1 - Math.pow(b1, t)));
        ib = Math.fround(1 / Math.sqrt(1 - Math.pow(b2, t)));
      } else {
        coef = o.nesterov ? Math.fround(o.lr) * Math.fround(o.momentum as number) : Math.fround(o.lr);
      }
      sweepFrom = this.cursor;
      sweepCount = Math.min(this.exact.sweepChunk, this.rows - sweepFrom);
      this.cursor = sweepFrom + sweepCount >= this.rows ? 0 : sweepFrom + sweepCount;
    }
    // On an engine with worker threads, lazy updates split the unique rows (sorted, so disjoint
    // row ranges) across the threads; exact mode's history ring is advanced once, on this thread.
    // Only from 4x the pool's minParallelElements (512K floats by default): measured on a 262144 x
    // 64 table, 2 threads against 1, an update of 1940 rows (124K floats) ran 0.91x as fast, 6089
    // rows 1.05x, 18178 rows 1.14x (the sort and coalescing stay on this thread).
    const split =
      this.exact.closedForm === S.EMB_EXACT_NONE &&
      runListParallel(
        this.engine,
        'embApply',
        this.desc,
        S.EMB_DESC_BYTES,
        [S.EMB_UNIQ, S.EMB_GPTR],
        unique,
        this.dim,
        (count) => [t, count, 0, 0, 0, 0, 0],
        EMBEDDING_SPLIT_FACTOR,
      );
    if (!split) this.x.embApply(this.desc, t, unique, this.logDecay, coef, ib, sweepFrom, sweepCount);
    this.steps = t;
    this.uniqueRows = unique;
    return true;
  }

  /** The table's state: hyperparameters, step count, and copies of the weights and optimizer state (exact mode: flushed first). */
  stateDict(): EmbeddingStateDict {
    this.checkAlive('stateDict');
    this.flush();
    const n = this.rows * this.dim;
    return {
      kind: 'Embedding',
      rows: this.rows,
      dim: this.dim,
      optimizer: this.optimizer,
      mode: this.mode,
      stepCount: this.steps,
      options: optionsRecord(this.decl, this.opts),
      weights: this.engine.f32(this.weightsPtr, n).slice(),
      state: Object.fromEntries(this.stateNames.map((name, i) => [name, this.readState(i)])),
    };
  }

  /**
   * Restores a state saved by `stateDict()` into a table of the same shape and optimizer (the
   * mode may differ). The hyperparameters come from the state dict. Everything is checked before
   * anything changes; a mismatch throws and leaves the table as it was.
   */
  loadStateDict(dict: EmbeddingStateDict): void {
    this.checkAlive('loadStateDict');
    const what = 'Embedding.loadStateDict';
    if (dict === null || typeof dict !== 'object')
      throw new TypeError(`${what}: expected a state dict object, got ${describe(dict)}`);
    if (dict.kind !== 'Embedding')
      throw new TypeError(`${what}: the state dict is for ${String(dict.kind)}, not an Embedding`);
    if (dict.rows !== this.rows || dict.dim !== this.dim)
      throw new RangeError(
        `${what}: the state dict is for a ${dict.rows} x ${dict.dim} table, this one is ${this.rows} x ${this.dim}`,
      );
    if (dict.optimizer !== this.optimizer)
      throw new TypeError(
        `${what}: the state dict uses optimizer '${String(dict.optimizer)}', this table '${this.optimizer}'`,
      );
    if (!Number.isSafeInteger(dict.stepCount) || dict.stepCount < 0 || dict.stepCount > TABLE_MAX_STEPS)
      throw new RangeError(`${what}: bad stepCount ${dict.stepCount} (an integer in [0, ${TABLE_MAX_STEPS}])`);
    const given = (dict.options ?? {}) as Record<string, unknown>;
    checkKnownKeys(what, given, this.decl.options);
    const opts = resolveTableOptions(this.decl, given, what);
    const names = stateNames(this.decl, opts);
    if (names.join() !== this.stateNames.join()) {
      throw new RangeError(
        `${what}: the state dict's options need state [${names.join(', ')}] but this table holds [${this.stateNames.join(', ')}]; create it with the same options`,
      );
    }
    const exact = exactConfig(this.optimizer, this.mode, opts, this.rows);
    const n = this.rows * this.dim;
    const tensors: [string, unknown, number][] = [
      ['weights', dict.weights, n],
      ...names.map((k, i): [string, unknown, number] => [
        `state.${k}`,
        dict.state?.[k],
        this.rows * this.slots[i].width,
      ]),
    ];
    for (const [name, t, size] of tensors) {
      if (!(t instanceof Float32Array))
        throw new TypeError(`${what}: '${name}' must be a Float32Array, got ${describe(t)}`);
      if (t.length !== size) throw new RangeError(`${what}: '${name}' has ${t.length} floats, the table needs ${size}`);
    }
    if ((exact.closedForm !== S.EMB_EXACT_NONE) !== (this.exact.closedForm !== S.EMB_EXACT_NONE)) {
      throw new RangeError(
        `${what}: these options change whether exact mode has missed steps to replay; create a table with the state dict's options`,
      );
    }
    for (const k of names) {
      const j = firstNonFinite(dict.state[k]);
      if (j >= 0)
        throw new RangeError(
          `${what}: state '${k}'[${j}] is ${dict.state[k][j]}; optimizer state must be finite (a NaN or infinite state would make every later update of that row non-finite)`,
        );
    }
    // Everything checked: now change.
    this.opts = opts;
    this.engine.heapF32.set(dict.weights, this.weightsPtr >>> 2);
    names.forEach((k, i) => this.writeState(i, dict.state[k]));
    this.steps = dict.stepCount;
    this.exact = exact;
    if (exact.closedForm !== S.EMB_EXACT_NONE) {
      this.writeExact(exact, this.steps);
      this.x.embExactReset(this.desc, this.steps, this.rows);
    }
    this.logDecay = 0;
    this.cursor = 0;
    this.flushedAt = this.steps;
  }

  /**
   * A binary checkpoint of the table (format: src/checkpoint.ts): shape, optimizer, mode,
   * hyperparameters, step count, weights and optimizer state, with a CRC-32 over the whole. In
   * exact mode the rows that are behind stay behind, with the history they need to catch up
   * (nothing is flushed), so a resumed run continues bit for bit as if never interrupted.
   * Restore with `load()` or `Embedding.fromCheckpoint()`.
   */
  save(): Uint8Array {
    this.checkAlive('save');
    const n = this.rows * this.dim;
    const e = this.engine;
    const exact = this.exact.closedForm !== S.EMB_EXACT_NONE;
    return encodeCheckpoint('Embedding', {
      rows: this.rows,
      dim: this.dim,
      optimizer: this.optimizer,
      mode: this.mode,
      stepCount: this.steps,
      options: optionsRecord(this.decl, this.opts),
      weights: e.f32(this.weightsPtr, n),
      state: Object.fromEntries(this.stateNames.map((name, i) => [name, this.readState(i)])),
      lag: exact
        ? {
            last: new Uint32Array(e.memory.buffer, this.lastPtr, this.rows),
            ring: new Uint8Array(e.memory.buffer, this.ringPtr, this.exact.ringSize * S.EMB_RING_BYTES),
            base: e.heapU32[(this.desc >>> 2) + S.EMB_BASE],
            logDecay: this.logDecay,
            cursor: this.cursor,
            flushedAt: this.flushedAt,
          }
        : null,
    });
  }

  /**
   * Restores a checkpoint from `save()` into this table: same rows, dim, optimizer and mode (the
   * hyperparameters and step count come from the checkpoint). A truncated, corrupt,
   * other-version, other-kind or mismatched checkpoint throws a CheckpointError that says why,
   * and nothing changes.
   */
  load(bytes: Uint8Array | ArrayBuffer): void {
    this.checkAlive('load');
    const what = 'Embedding.load';
    const p = decodeCheckpoint(bytes, 'Embedding', what).payload as Record<string, unknown> & {
      lag: {
        last: Uint32Array;
        ring: Uint8Array;
        base: number;
        logDecay: number;
        cursor: number;
        flushedAt: number;
      } | null;
    };
    const malformed: (why: string) => never = (why) => {
      throw new CheckpointError(
        'malformed',
        `${what}: the checkpoint is malformed (${why}) although its checksum holds`,
      );
    };
    const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
    if (
      !isCount(p.rows) ||
      !isCount(p.dim) ||
      !isCount(p.stepCount) ||
      typeof p.optimizer !== 'string' ||
      typeof p.mode !== 'string'
    )
      malformed('no shape, optimizer, mode or step count');
    if (p.optimizer !== this.optimizer) {
      throw new CheckpointError(
        'kind',
        `${what}: the checkpoint holds an Embedding trained with optimizer '${String(p.optimizer)}', this table uses '${this.optimizer}'; create the table with optimizer '${String(p.optimizer)}' (or use Embedding.fromCheckpoint)`,
      );
    }
    if (p.rows !== this.rows || p.dim !== this.dim || p.mode !== this.mode) {
      throw new CheckpointError(
        'layout',
        `${what}: the checkpoint holds a ${p.rows} x ${p.dim} table in mode '${String(p.mode)}', this one is ${this.rows} x ${this.dim} in mode '${this.mode}'; create the table with the same shape and mode (or use Embedding.fromCheckpoint)`,
      );
    }
    let opts: TableOptions;
    let cfg: ExactConfig;
    try {
      const given = (p.options ?? {}) as Record<string, unknown>;
      checkKnownKeys(what, given, this.decl.options);
      opts = resolveTableOptions(this.decl, given, what);
      cfg = exactConfig(this.optimizer, this.mode, opts, this.rows);
    } catch (e) {
      return malformed(`its options are invalid: ${(e as Error).message}`);
    }
    const names = stateNames(this.decl, opts);
    const state = (p.state ?? {}) as Record<string, unknown>;
    if (names.join() !== this.stateNames.join() || Object.keys(state).join() !== names.join()) {
      throw new CheckpointError(
        'layout',
        `${what}: the checkpoint holds state [${Object.keys(state).join(', ')}] but this table holds [${this.stateNames.join(', ')}]; create the table with the options it was saved with (see inspectCheckpoint)`,
      );
    }
    const n = this.rows * this.dim;
    const sizes = [n, ...this.slots.map((sl) => this.rows * sl.width)];
    [p.weights, ...names.map((k) => state[k])].forEach((t, i) => {
      if (!(t instanceof Float32Array) || t.length !== sizes[i])
        malformed(`a tensor is not ${sizes[i]} float32 values`);
    });
    if ((p.stepCount as number) > TABLE_MAX_STEPS)
      malformed(`its update count ${p.stepCount} is beyond the limit of ${TABLE_MAX_STEPS}`);
    for (const k of names) {
      const j = firstNonFinite(state[k] as Float32Array);
      if (j >= 0) malformed(`state '${k}'[${j}] is ${(state[k] as Float32Array)[j]}; optimizer state must be finite`);
    }
    const lag = p.lag;
    const steps = p.stepCount as number;
    if (cfg.closedForm !== S.EMB_EXACT_NONE) {
      if (
        lag === null ||
        typeof lag !== 'object' ||
        !(lag.last instanceof Uint32Array) ||
        lag.last.length !== this.rows ||
        !(lag.ring instanceof Uint8Array) ||
        lag.ring.length !== cfg.ringSize * S.EMB_RING_BYTES ||
        !isCount(lag.base) ||
        !Number.isFinite(lag.logDecay) ||
        !isCount(lag.cursor) ||
        lag.cursor >= this.rows ||
        !isCount(lag.flushedAt) ||
        lag.flushedAt > steps ||
        lag.base > steps
      )
        malformed('its exact-mode history does not fit the table');
      for (let r = 0; r < lag.last.length; r++) if (lag.last[r] > steps) malformed(`row ${r} is ahead of the table`);
    }
    try {
      this.loadStateDict({
        kind: 'Embedding',
        rows: this.rows,
        dim: this.dim,
        optimizer: this.optimizer,
        mode: this.mode,
        stepCount: steps,
        options: p.options as Record<string, unknown>,
        weights: p.weights as Float32Array,
        state: state as Record<string, Float32Array>,
      });
    } catch (e) {
      if (e instanceof RangeError || e instanceof TypeError)
        throw new CheckpointError('layout', `${what}: ${e.message}`);
      throw e;
    }
    if (cfg.closedForm !== S.EMB_EXACT_NONE && lag) {
      const e = this.engine;
      e.heapU32.set(lag.last, this.lastPtr >>> 2);
      new Uint8Array(e.memory.buffer).set(lag.ring, this.ringPtr);
      e.heapU32[(this.desc >>> 2) + S.EMB_BASE] = lag.base;
      this.logDecay = lag.logDecay;
      this.cursor = lag.cursor;
      this.flushedAt = lag.flushedAt;
    }
  }

  /**
   * A new table restored from a checkpoint from `save()`: the shape, optimizer, mode and
   * hyperparameters come from the checkpoint. Throws a CheckpointError when it is refused.
   */
  static fromCheckpoint(bytes: Uint8Array | ArrayBuffer, options: { engine?: Engine } = {}): LocalEmbedding {
    const p = decodeCheckpoint(bytes, 'Embedding', 'Embedding.fromCheckpoint').payload;
    const o = (p.options ?? {}) as Record<string, unknown>;
    // The shape must match the weights the checkpoint holds before any engine memory is taken: a
    // few hundred bytes claiming a 2e9 x 64 table built hundreds of shard engines before refusing.
    const rows = p.rows,
      dim = p.dim,
      w = p.weights;
    if (
      !Number.isSafeInteger(rows) ||
      !Number.isSafeInteger(dim) ||
      (rows as number) < 0 ||
      (dim as number) < 0 ||
      !(w instanceof Float32Array) ||
      w.length !== (rows as number) * (dim as number)
    ) {
      throw new CheckpointError(
        'malformed',
        `Embedding.fromCheckpoint: the checkpoint is malformed (it claims a ${String(rows)} x ${String(dim)} table but holds ${w instanceof Float32Array ? w.length : 'no'} float32 weights) although its checksum holds`,
      );
    }
    return restoreTable(
      () =>
        new LocalEmbedding(p.rows as number, p.dim as number, {
          ...o,
          optimizer: p.optimizer as EmbeddingOptimizer,
          mode: p.mode as EmbeddingMode,
          init: 'zeros',
          engine: options.engine,
        }),
      bytes,
    );
  }

  /**
   * The table in the safetensors format, named as PyTorch would hold an `nn.Embedding` and its
   * optimizer: `weight`, `state.0.<name>`, `state.0.step` (docs/safetensors.md).
   */
  saveSafetensors(): Uint8Array {
    this.checkAlive('saveSafetensors');
    return saveEmbeddingSafetensors(this);
  }

  /** Loads a table's safetensors file (same shape and optimizer); a refused file throws a CheckpointError and changes nothing. */
  loadSafetensors(bytes: Uint8Array | ArrayBuffer): void {
    this.checkAlive('loadSafetensors');
    loadEmbeddingSafetensors(this, bytes);
  }

  /** Frees the table's engine memory; any later use throws a DisposedError. */
  dispose(): void {
    if (this.disposed) return;
    for (const b of this.blocks) this.engine.free(b);
    this.blocks = [];
    this.weightsView = null;
    this.disposed = true;
  }

  // -------------------------------------------------------------------------------------------
  // Internals.

  private get x(): EngineFunctions {
    return this.engine.exports;
  }

  private checkAlive(what: string): void {
    if (this.disposed) throw new DisposedError(`Embedding.${what}: this table was disposed; create a new one`);
  }

  private alloc(bytes: number): number {
    const p = this.engine.alloc(bytes);
    this.blocks.push(p);
    return p;
  }

  /**
   * A block of `bytes` aligned to 4096 (rows then never straddle a page more than they must), or
   * only 16-byte aligned when the padding would pass the engine's 1 GiB block limit.
   */
  private allocAligned(bytes: number): number {
    if (bytes + 4096 > BLOCK_LIMIT_BYTES) return this.alloc(bytes);
    const p = this.alloc(bytes + 4096);
    return Math.ceil(p / 4096) * 4096;
  }

  /** State slot `i` of every row, row after row (`width` floats a row; the block's row stride is `stateBytes`). */
  private readState(i: number): Float32Array {
    const rows = this.rows,
      w = this.slots[i].width,
      stride = this.foot.stateBytes >>> 2;
    const out = new Float32Array(rows * w);
    const f = this.engine.heapF32;
    const base = (this.stateBase + this.foot.stateOffsets[i]) >>> 2;
    if (stride === w) out.set(f.subarray(base, base + rows * w));
    else for (let r = 0; r < rows; r++) out.set(f.subarray(base + r * stride, base + r * stride + w), r * w);
    return out;
  }

  private writeState(i: number, values: Float32Array): void {
    const rows = this.rows,
      w = this.slots[i].width,
      stride = this.foot.stateBytes >>> 2;
    const f = this.engine.heapF32;
    const base = (this.stateBase + this.foot.stateOffsets[i]) >>> 2;
    if (stride === w) f.set(values, base);
    else for (let r = 0; r < rows; r++) f.set(values.subarray(r * w, r * w + w), base + r * stride);
  }

  private release(ptr: number): void {
    if (!ptr) return;
    const i = this.blocks.indexOf(ptr);
    if (i >= 0) this.blocks.splice(i, 1);
    this.engine.free(ptr);
  }

  /** A copy of `a` when it is a view of engine memory (which an allocation may detach), else `a`. */
  private detachSafe<T extends ArrayLike<number>>(a: T): T {
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
    this.x.embLookup(this.desc, sc.idsPtr, k, sc.outPtr, this.steps);
    return this.engine.f32(sc.outPtr, k * this.dim);
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

  /** Initial values of the state tensors (the declaration's `initState`, e.g. Adagrad's accumulator), row by row. */
  private initState(): void {
    const init = this.decl.initState;
    if (!init) return;
    const rows = this.rows,
      stride = this.foot.stateBytes >>> 2;
    this.slots.forEach(({ name, width }, i) => {
      const row = new Float32Array(width);
      init(name, row, this.opts);
      if (row.every((v) => v === 0)) return;
      const f = this.engine.heapF32;
      const base = (this.stateBase + this.foot.stateOffsets[i]) >>> 2;
      for (let r = 0; r < rows; r++) f.set(row, base + r * stride);
    });
  }

  /** Writes the exact-mode configuration (and allocates its ring) with history starting at step `base`. */
  private writeExact(cfg: ExactConfig, base: number): void {
    const s = S;
    const d = this.desc >>> 2;
    if (cfg.closedForm !== S.EMB_EXACT_NONE) {
      const ringBytes = cfg.ringSize * s.EMB_RING_BYTES;
      const ring = this.alloc(ringBytes);
      const pow = this.alloc(cfg.pow.length * 8);
      this.release(this.ringPtr);
      this.release(this.powPtr);
      this.ringPtr = ring;
      this.powPtr = pow;
      this.engine.heapF64.set(cfg.pow, pow >>> 3);
    }
    const u32 = this.engine.heapU32;
    u32[d + s.EMB_EXACT] = cfg.closedForm;
    u32[d + s.EMB_EX_DECAY] = cfg.decay ? 1 : 0;
    u32[d + s.EMB_EX_AMS] = cfg.ams ? 1 : 0;
    u32[d + s.EMB_EX_MOM] = cfg.mom ? 1 : 0;
    u32[d + s.EMB_WINDOW] = cfg.window;
    u32[d + s.EMB_RING] = this.ringPtr;
    u32[d + s.EMB_RING_MASK] = cfg.ringSize - 1;
    u32[d + s.EMB_POW] = this.powPtr;
    u32[d + s.EMB_BASE] = base;
    const f = this.engine.heapF64;
    const fb = (this.desc + 128) >>> 3;
    f[fb + s.EMBF_EPS] = cfg.eps;
    f[fb + s.EMBF_THR] = cfg.thr;
    f[fb + s.EMBF_B1] = cfg.b1;
    f[fb + s.EMBF_B2] = cfg.b2;
    f[fb + s.EMBF_BETA2] = cfg.beta2;
    f[fb + s.EMBF_RHO] = CENTRED_RHO;
  }
}

/** Internal: Lazy updates split across threads from this many times the pool's minParallelElements (see update()). */
export const EMBEDDING_SPLIT_FACTOR = 4;
