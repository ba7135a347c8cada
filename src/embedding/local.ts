// The single-memory float32 embedding table (`LocalEmbedding`): weights in one engine block, the
// optimizer state tensors interleaved by row in another. `createEmbeddingTable` (./embedding.ts)
// uses one when the table fits one engine block, else a `ShardedEmbedding` of several. What every
// single-memory table does (checks, coalescing, hyper block, lookups, state dicts) is in
// ./table-base.ts; this file is the float32 storage and exact mode (./exact.ts: the closed forms'
// configuration; assembly/embedding/exact.ts: the catch-up of missed steps).

import { SLOT as S } from '../core/abi.js';
import type { Engine } from '../core/engine.js';
import { firstNonFinite } from '../core/limits.js';
import { poolFor, runListParallel, type ThreadPool } from '../threads/pool.js';
import {
  checkLag,
  exactConfig,
  exactDecayFactor,
  exactStepScalars,
  writeExactConfig,
  type ExactConfig,
  type ExactLag,
} from './exact.js';
import { zeroStepAllRows } from './exact-ftrl.js';
import {
  rowFootprint,
  tableStateSlots,
  type RowFootprint,
  type TableMemoryStats,
  type TableStateSlot,
} from './footprint.js';
import {
  checkSeed,
  resolveInit,
  type EmbeddingOptions,
  type EmbeddingStateDict,
  type TableOptions,
} from './options.js';
import { checkTableArgs, EmbeddingTableBase } from './table-base.js';
import type { CoalescedUpdate } from './table-check.js';
import type { CheckedCheckpoint } from './table-persist.js';
import { SplitPrefetch, type UpdateSplit } from './split-update.js';
import { checkpointTable, restoreTable } from './table.js';

const MAX_ELEMENTS = (1 << 28) - 16; // one engine block holds at most 1 GiB
const BLOCK_LIMIT_BYTES = (1 << 30) - 64; // the engine's largest block (src/core/engine.ts)

/**
 * The table behind an `Embedding` whose tensors fit one engine block (see
 * `Embedding` for the semantics of every option and mode; `ShardedEmbedding.shard(i)` returns
 * these). Everything it does is documented on `EmbeddingTable`.
 */
export class LocalEmbedding extends EmbeddingTableBase {
  /** The seed the random initialisation used (null for zeros or given values). */
  readonly seed: number | null;

  private weightsPtr = 0;
  private stateBase = 0;
  /** Each state tensor's floats per row (dim, or 1 for a row-wise accumulator), in slot order. */
  private readonly slots: TableStateSlot[];
  /** Bytes per row of weights and state, and each state slot's offset (./footprint.ts). */
  private readonly foot: RowFootprint;
  private lastPtr = 0;
  private ringPtr = 0;
  private powPtr = 0;
  private exact: ExactConfig;
  private logDecay = 0;
  private decayFactor = 1;
  private cursor = 0;
  private flushedAt = 0;
  /** Exact FTRL: the rate of the last zero-gradient step of every row (NaN: none since the weights were set). */
  private zeroSteppedLr = NaN;
  private weightsView: Float32Array | null = null;
  /** The coalescing of updates split across threads (made on the first such update). */
  private splitter: SplitPrefetch | null = null;
  /** The pool the current update is split across (woken for it), else null. */
  private splitPool: ThreadPool | null = null;

  /**
   * Creates a `rows` x `dim` table in engine memory. Every option is checked before anything is
   * allocated; bad values throw a TypeError or RangeError naming the option.
   */
  constructor(rows: number, dim: number, options: EmbeddingOptions = {}) {
    const a = checkTableArgs(rows, dim, options, MAX_ELEMENTS);
    const { optimizer, mode, opts } = a;
    const slots = tableStateSlots(a.decl, opts, dim);
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
    super(a);
    this.seed = seed;
    this.exact = exact;
    this.slots = slots;
    this.foot = foot;

    this.allocateWith(() => {
      const n = rows * dim;
      // Page-aligned blocks; the state tensors interleaved by row (see assembly/embedding/layout.ts).
      this.weightsPtr = this.allocAligned(n * 4);
      if (this.names.length > 0) this.stateBase = this.allocAligned(rows * foot.stateBytes);
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
        u32[d + S.EMB_STATE0 + i] = i < this.names.length ? this.stateBase + foot.stateOffsets[i] : 0;
      u32[d + S.EMB_SROW] = foot.stateBytes;
      u32[d + S.EMB_ROWS] = rows;
      u32[d + S.EMB_DIM] = dim;
      u32[d + S.EMB_HYPER] = this.hyper;
      u32[d + S.EMB_KIND] = a.decl.rowKernel as number;
      u32[d + S.EMB_LAST] = this.lastPtr;
      this.installExact(exact, 0);
    });
  }

  // -------------------------------------------------------------------------------------------
  // Public API.

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

  /** Exact mode: brings every row up to date (one pass over the table). Lazy mode: nothing to do. */
  flush(): void {
    this.checkAlive('flush');
    if (this.exact.closedForm === S.EMB_EXACT_NONE || this.flushedAt === this.steps) return;
    this.x.embCatchUpRange(this.desc, this.steps, 0, this.rows);
    this.flushedAt = this.steps;
  }

  /** @internal The weights, each state tensor, and exact mode's history (the rows behind stay behind). */
  protected savedTensors(): Record<string, unknown> {
    const e = this.engine;
    const exact = this.exact.closedForm !== S.EMB_EXACT_NONE;
    return {
      weights: e.f32(this.weightsPtr, this.rows * this.dim),
      state: Object.fromEntries(this.names.map((name, i) => [name, this.readTensor(i)])),
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
    };
  }

  /** @internal The options must have an exact-mode configuration. */
  protected override checkSavedOptions(opts: TableOptions): void {
    exactConfig(this.optimizer, this.mode, opts, this.rows);
  }

  /** @internal Float32 tensors of the table's sizes, finite state, exact mode's history; loaded as a state dict. */
  protected restoreSaved(what: string, { p, opts, state, steps, malformed }: CheckedCheckpoint): void {
    const cfg = exactConfig(this.optimizer, this.mode, opts, this.rows);
    const sizes = [this.rows * this.dim, ...this.slots.map((sl) => this.rows * sl.width)];
    [p.weights, ...this.names.map((k) => state[k])].forEach((t, i) => {
      if (!(t instanceof Float32Array) || t.length !== sizes[i])
        malformed(`a tensor is not ${sizes[i]} float32 values`);
    });
    for (const k of this.names) {
      const j = firstNonFinite(state[k] as Float32Array);
      if (j >= 0) malformed(`state '${k}'[${j}] is ${(state[k] as Float32Array)[j]}; optimizer state must be finite`);
    }
    const lag = p.lag as ExactLag | null;
    if (cfg.closedForm !== S.EMB_EXACT_NONE) checkLag(lag, cfg, this.rows, steps, malformed);
    checkpointTable(what, () =>
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
      }),
    );
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
    return restoreTable(
      bytes,
      4,
      (p, o) => new LocalEmbedding(p.rows as number, p.dim as number, { ...o, engine: options.engine }),
    );
  }

  /** Frees the table's engine memory; any later use throws a DisposedError. */
  override dispose(): void {
    this.weightsView = null;
    super.dispose();
  }

  // -------------------------------------------------------------------------------------------
  // The float32 storage.

  /** @internal Values per row of tensor `what` (-1: the weights). */
  protected widthOf(what: number): number {
    return what < 0 ? this.dim : this.slots[what].width;
  }

  /** @internal A copy of the weights, or of state slot `i` of every row, row after row (the block's row stride is `stateBytes`). */
  protected readTensor(i: number): Float32Array {
    if (i < 0) return this.engine.f32(this.weightsPtr, this.rows * this.dim).slice();
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

  /** @internal Writes the weights (-1) or state slot `i`. */
  protected writeTensor(i: number, values: Float32Array): void {
    const f = this.engine.heapF32;
    if (i < 0) {
      f.set(values, this.weightsPtr >>> 2);
      return;
    }
    const rows = this.rows,
      w = this.slots[i].width,
      stride = this.foot.stateBytes >>> 2;
    const base = (this.stateBase + this.foot.stateOffsets[i]) >>> 2;
    if (stride === w) f.set(values, base);
    else for (let r = 0; r < rows; r++) f.set(values.subarray(r * w, r * w + w), base + r * stride);
  }

  /** @internal Gathers rows (exact mode: brought up to date first). */
  protected gatherRows(idsPtr: number, k: number, outPtr: number): void {
    this.x.embLookup(this.desc, idsPtr, k, outPtr, this.steps);
  }

  /** @internal The weights are float32 in place. */
  protected weightRows(_c: CoalescedUpdate): (r: number, id: number) => number {
    const w = this.weightsPtr >>> 2;
    return (_r, id) => w + id * this.dim;
  }

  /** @internal Exact mode: the decay factor of untouched rows must be positive. */
  protected override checkStep(): void {
    this.decayFactor = exactDecayFactor(this.exact, this.optimizer, this.opts);
  }

  /** @internal Exact mode: the state must be finite, and the options must not switch the replay on or off. */
  protected checkLoadable(opts: TableOptions, dict: EmbeddingStateDict): () => void {
    const what = 'Embedding.loadStateDict';
    const exact = exactConfig(this.optimizer, this.mode, opts, this.rows);
    if ((exact.closedForm !== S.EMB_EXACT_NONE) !== (this.exact.closedForm !== S.EMB_EXACT_NONE)) {
      throw new RangeError(
        `${what}: these options change whether exact mode has missed steps to replay; create a table with the state dict's options`,
      );
    }
    for (const k of this.names) {
      const j = firstNonFinite(dict.state[k]);
      if (j >= 0)
        throw new RangeError(
          `${what}: state '${k}'[${j}] is ${dict.state[k][j]}; optimizer state must be finite (a NaN or infinite state would make every later update of that row non-finite)`,
        );
    }
    return () => {
      this.exact = exact;
      if (exact.closedForm !== S.EMB_EXACT_NONE) {
        this.installExact(exact, this.steps);
        this.x.embExactReset(this.desc, this.steps, this.rows);
      }
      this.logDecay = 0;
      this.cursor = 0;
      this.flushedAt = this.steps;
      this.zeroSteppedLr = NaN;
    };
  }

  /**
   * One optimizer step on the rows of `ids` (see `EmbeddingTable.update`). On an engine with worker
   * threads, a lazy update of at least EMBEDDING_SPLIT_FACTOR times the pool's minParallelElements
   * gradient floats (`ids.length * dim`) is split across them, coalescing included
   * (./split-update.ts); the bits are those of one thread.
   */
  override update(ids: ArrayLike<number>, grads: ArrayLike<number>): boolean {
    try {
      return super.update(ids, grads);
    } finally {
      if (this.splitPool !== null) {
        this.splitPool.rest();
        this.splitPool = null;
      }
    }
  }

  /** @internal Lazy mode on a pool, from EMBEDDING_SPLIT_FACTOR x minParallelElements gradient floats: wakes the pool. */
  protected override splitFor(k: number): UpdateSplit | null {
    if (this.exact.closedForm !== S.EMB_EXACT_NONE) return null;
    const pool = poolFor(this.engine, k * this.dim, EMBEDDING_SPLIT_FACTOR);
    if (pool === null) return null;
    this.splitter ??= new SplitPrefetch(this.engine, this.desc, (b) => this.alloc(b));
    // Backing off after a split that waited for a worker (split-update.ts), unless every update is to split.
    if (pool.minParallelElements > 0 && !this.splitter.wanted()) return null;
    pool.wake();
    this.splitPool = pool;
    return this.splitter.use(pool);
  }

  /** @internal Steps the rows (exact mode: with the catch-up scalars and a sweep of a few rows). */
  protected applyUpdate(t: number, unique: number): boolean {
    let coef = 0;
    let ib = 0;
    let sweepFrom = 0;
    let sweepCount = 0;
    if (this.exact.closedForm !== S.EMB_EXACT_NONE) {
      if (this.exact.decay) this.logDecay += Math.log(this.decayFactor);
      ({ coef, ib } = exactStepScalars(this.exact, this.opts, t));
      sweepFrom = this.cursor;
      sweepCount = Math.min(this.exact.sweepChunk, this.rows - sweepFrom);
      this.cursor = sweepFrom + sweepCount >= this.rows ? 0 : sweepFrom + sweepCount;
    }
    // A split update (splitFor) splits the list of unique rows (distinct, so the parts touch
    // disjoint rows) across the threads too; exact mode's history ring is advanced once, on this
    // thread.
    // A worker that did not answer in time (split-update.ts) is left out: the pool rests now.
    if (this.splitPool !== null && this.splitter?.answered !== true) {
      this.splitPool.rest();
      this.splitPool = null;
    }
    // The ranges' row loops read each block's gradient rows with its rows (EMB_TOUCH_G, touch.ts):
    // a worker's were written by this thread, on another die of AMD family 26 (docs/threads.md).
    const touchG = (this.desc >>> 2) + S.EMB_TOUCH_G;
    this.engine.heapU32[touchG] = this.splitPool !== null ? 1 : 0;
    const split =
      this.splitPool !== null &&
      runListParallel(this.engine, {
        fn: 'embApply',
        desc: this.desc,
        descBytes: S.EMB_DESC_BYTES,
        listWords: [S.EMB_UNIQ, S.EMB_GPTR],
        n: unique,
        work: this.dim,
        args: (count) => [t, count, 0, 0, 0, 0, 0],
        minFactor: 0,
        minItems: SPLIT_MIN_ROWS,
      });
    this.engine.heapU32[touchG] = 0;
    if (split) this.splitter?.settle(SplitPrefetch.waited(this.splitPool as ThreadPool));
    else this.x.embApply(this.desc, t, unique, this.logDecay, coef, ib, sweepFrom, sweepCount);
    if (this.exact.zeroSteps && this.opts.lr !== this.zeroSteppedLr) {
      zeroStepAllRows(this.engine, this.desc, this.rows, this.dim, t);
      this.zeroSteppedLr = this.opts.lr;
    }
    return true;
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

  /** Allocates exact mode's ring and powers (freeing the old ones) and writes its configuration, history from update `base`. */
  private installExact(cfg: ExactConfig, base: number): void {
    if (cfg.closedForm !== S.EMB_EXACT_NONE) {
      const ring = this.alloc(cfg.ringSize * S.EMB_RING_BYTES);
      const pow = this.alloc(cfg.pow.length * 8);
      this.release(this.ringPtr);
      this.release(this.powPtr);
      this.ringPtr = ring;
      this.powPtr = pow;
    }
    writeExactConfig(this.engine, this.desc, cfg, this.ringPtr, this.powPtr, base);
  }
}

/** Rows a chunk of a split update's row steps holds at least (the workers spin: finer chunks balance). */
const SPLIT_MIN_ROWS = 128;

/**
 * Internal: lazy updates split across threads from this many times the pool's minParallelElements
 * gradient floats (`ids.length * dim`; see update()).
 */
export const EMBEDDING_SPLIT_FACTOR = 4;
