// A lean embedding table (`LeanEmbedding`): weights stored as f16 or bf16 and/or optimizer state
// as bf16 or int8 (bitsandbytes' blockwise dynamic quantization, a block = one row of one state
// tensor), one record per row (./lean-layout.ts), in one engine memory, in chunks that may together
// pass one allocator block (up to the 4 GiB of a wasm32 memory). `new Embedding()` creates one when
// `weightType` or `stateType` is not 'f32'; a `ShardedEmbedding` holds several (each placed at its
// first table row, so that the stochastic rounding sees table rows). Updates decode the touched
// rows, run the optimizer's ordinary row kernel in float32 and encode them back with stochastic
// rounding (assembly/embedding/storage.ts, assembly/shared/lowp.ts); Adam and bf16 row-wise Adagrad
// do the same operations in fused rows, with the same bits (assembly/embedding/lean-adam.ts). What every single-memory table
// does is in ./table-base.ts. Formats and limits: docs/lean-storage.md.

import { SLOT as S } from '../core/abi.js';
import { CheckpointError } from '../core/checkpoint.js';
import type { Engine } from '../core/engine.js';
import { NonFiniteGradientError } from '../core/errors.js';
import { firstNonFinite } from '../core/limits.js';
import { runListParallel } from '../threads/pool.js';
import { dynamicMapsBlock } from './dynamic-map.js';
import type { TableMemoryStats } from './footprint.js';
import {
  leanTableLayout,
  resolveStorage,
  sBytes,
  SIGNED_STATE,
  stCode,
  wBytes,
  wtCode,
  type LeanLayout,
  type StateType,
  type WeightType,
} from './lean-layout.js';
import { checkSeed, resolveInit } from './options.js';
import type { EmbeddingOptions, EmbeddingStateDict, TableOptions } from './options.js';
import { checkTableArgs, EmbeddingTableBase } from './table-base.js';
import type { CoalescedUpdate } from './table-check.js';
import type { CheckedCheckpoint } from './table-persist.js';
import { restoreTable } from './table.js';

export {
  leanLayout,
  STATE_TYPES,
  WEIGHT_TYPES,
  type LeanLayout,
  type StateType,
  type WeightType,
} from './lean-layout.js';

const BLOCK_LIMIT_BYTES = (1 << 30) - 64;
const WASM_MAX_BYTES = 2 ** 32;
/**
 * @internal Lean updates split across threads from this many times the pool's minParallelElements (work =
 * unique rows x dim x (1 + state tensors)).
 */
export const LEAN_SPLIT_FACTOR = 2;
/** Rows decoded or encoded per call when the TypeScript side reads or writes a whole tensor. */
const IO_ROWS = 4096;

/**
 * Where a lean table sits in a larger (sharded) one: the table row of its row 0, which
 * the stochastic rounding's keys use (so that any split into shards rounds every row alike), and
 * the seed of its random initialisation when it is not the rounding seed (shard i: seed + i).
 */
export interface LeanPlacement {
  /** The table row of this table's row 0. */
  readonly rowOffset: number;
  /** The seed of the random initialisation (default: the table's `seed`). */
  readonly initSeed?: number;
}

/**
 * The table behind an `Embedding` with `weightType` or `stateType` other than 'f32'
 * (see `Embedding` and docs/lean-storage.md). Lazy mode only; one engine (several: `ShardedEmbedding`).
 */
export class LeanEmbedding extends EmbeddingTableBase {
  /** The seed of the random initialisation and of the stochastic rounding. */
  readonly seed: number;
  /** How the weights are stored. */
  readonly weightType: WeightType;
  /** How the optimizer state is stored. */
  readonly stateType: StateType;
  /** Bytes of engine memory per row: weights and optimizer state (and int8's absmax words). */
  readonly bytesPerRow: number;
  /** The table row of this table's row 0 (a shard of a `ShardedEmbedding`; else 0): the rounding keys use table rows. */
  readonly rowOffset: number;

  private readonly layout: LeanLayout;
  private readonly shift: number;
  private chunks: number[] = [];
  private ld = 0;
  private blockBytes = 0;
  /** The last update's count of kept records (f16 weights: see `applyUpdate`), or null. */
  private undo: { count: number; unique: number } | null = null;
  /** The f16 guard's keep area (the records an update changed, as they were before it) and its size. */
  private keep = 0;
  private keepBytes = 0;

  /**
   * Creates a `rows` x `dim` lean table in engine memory. Every option is checked before anything
   * is allocated; bad values throw a TypeError or RangeError naming the option. `place`: where a
   * shard sits in its sharded table.
   */
  constructor(rows: number, dim: number, options: EmbeddingOptions = {}, place: LeanPlacement = { rowOffset: 0 }) {
    let storage!: ReturnType<typeof resolveStorage>;
    const a = checkTableArgs(rows, dim, options, 1 << 24, {
      storage: () => {
        storage = resolveStorage(options);
      },
      checkMode: (mode) => {
        if (mode !== 'lazy')
          throw new RangeError(
            `Embedding: mode 'exact' needs float32 storage; a table with weightType '${storage.weightType}' and stateType '${storage.stateType}' is lazy only: use mode 'lazy', or weightType and stateType 'f32'`,
          );
      },
    });
    const { weightType, stateType } = storage;
    const layout = leanTableLayout(a.decl, a.opts, dim, weightType, stateType);
    const total = rows * layout.record;
    if (total > WASM_MAX_BYTES - 64 * 2 ** 20)
      throw new RangeError(
        `Embedding: a ${rows} x ${dim} table with weightType '${weightType}', stateType '${stateType}' and optimizer '${a.optimizer}' needs ${total} bytes (${layout.record} per row), more than one engine's 4 GiB memory holds; use fewer rows, leaner storage (weightType 'bf16', stateType 'int8'), or a ShardedEmbedding (new ShardedEmbedding(rows, dim, options): row ranges in engines of their own)`,
      );
    const init = resolveInit(options.init ?? 'normal', rows * dim);
    const seed = options.seed === undefined ? Math.floor(Math.random() * 2 ** 32) : checkSeed(options.seed);
    super(a);
    this.seed = seed;
    this.weightType = weightType;
    this.stateType = stateType;
    this.layout = layout;
    this.bytesPerRow = layout.record;
    this.rowOffset = place.rowOffset;
    // Rows per chunk: a power of two whose records (and page alignment) fit one allocator block.
    let shift = 0;
    while (shift < 31 && 2 ** (shift + 1) * layout.record + 4096 <= BLOCK_LIMIT_BYTES && 2 ** shift < rows) shift++;
    this.shift = shift;
    this.allocateWith(() => {
      this.allocate();
      this.fillInitial(init, place.initSeed ?? seed);
    });
  }

  private allocate(): void {
    const { rows, dim, names, layout } = this;
    const e = this.engine;
    const widths = layout.widths;
    const srow = 4 * widths.reduce((a, w) => a + w, 0);
    this.blockBytes = Math.ceil((S.LEAN_SCRATCH_AT + S.LEAN_BLOCK * (dim * 4 + srow)) / 16) * 16;
    this.ld = this.alloc(this.blockBytes);
    let maps = 0;
    if (this.stateType === 'int8' && widths.includes(dim)) {
      maps = this.alloc(S.MAPS_BYTES);
      new Uint8Array(e.memory.buffer, maps, S.MAPS_BYTES).set(dynamicMapsBlock());
    }
    const perChunk = 2 ** this.shift;
    const nChunks = Math.ceil(rows / perChunk);
    const chunkTable = this.alloc(nChunks * 4);
    for (let c = 0; c < nChunks; c++) {
      const bytes = Math.min(perChunk, rows - c * perChunk) * layout.record;
      const p = this.alloc(bytes + 4096);
      this.chunks.push(Math.ceil(p / 4096) * 4096);
    }
    const u32 = e.heapU32;
    u32.set(this.chunks, chunkTable >>> 2);
    // The main descriptor (sorting and coalescing) and the shadow one over the scratch rows, whose
    // pointers the kernel sets from the block's base.
    const kernel = this.decl.rowKernel as number;
    for (const [d, n] of [
      [this.desc, rows],
      [this.ld + S.LEAN_SHADOW_AT, S.LEAN_BLOCK],
    ]) {
      const o = d >>> 2;
      u32[o + S.EMB_SROW] = srow;
      u32[o + S.EMB_ROWS] = n;
      u32[o + S.EMB_DIM] = dim;
      u32[o + S.EMB_HYPER] = this.hyper;
      u32[o + S.EMB_KIND] = kernel;
      u32[o + S.EMB_EXACT] = S.EMB_EXACT_NONE;
    }
    for (let i = 0; i < S.LEAN_BLOCK; i++) u32[((this.ld + S.LEAN_IOTA_AT) >>> 2) + i] = i;
    const l = this.ld >>> 2;
    let signed = 0;
    names.forEach((name, i) => {
      if (SIGNED_STATE.has(name)) signed |= 1 << i;
    });
    u32[l + S.LEAN_WTYPE] = wtCode(this.weightType);
    u32[l + S.LEAN_STYPE] = stCode(this.stateType);
    u32[l + S.LEAN_NSTATE] = names.length;
    u32[l + S.LEAN_SIGNED] = signed;
    u32[l + S.LEAN_REC] = layout.record;
    u32[l + S.LEAN_SROW] = srow;
    let shadowAt = 0;
    widths.forEach((w, i) => {
      const o = l + S.LEAN_SLOT0 + 4 * i;
      u32[o] = shadowAt;
      u32[o + 1] = layout.stateOffsets[i];
      u32[o + 2] = Math.max(0, layout.absmaxOffsets[i]);
      u32[o + 3] = w;
      shadowAt += 4 * w;
    });
    u32[l + S.LEAN_SHIFT] = this.shift;
    u32[l + S.LEAN_CHUNKS] = chunkTable;
    u32[l + S.LEAN_SEEDLO] = this.seed >>> 0;
    u32[l + S.LEAN_SEEDHI] = Math.floor(this.seed / 2 ** 32) >>> 0;
    u32[l + S.LEAN_MAPS] = maps;
    u32[l + S.LEAN_DIM] = dim;
    u32[l + S.LEAN_ROW0] = this.rowOffset;
  }

  /** Initial weights (rounded to nearest in the stored type) and state, IO_ROWS rows at a time. */
  private fillInitial(init: ReturnType<typeof resolveInit>, initSeed: number): void {
    const { rows, dim } = this;
    const x = this.x;
    const buf = this.alloc(IO_ROWS * dim * 4);
    const seedLo = initSeed >>> 0,
      seedHi = Math.floor(initSeed / 2 ** 32) >>> 0;
    if (init.kind === 'values') {
      const bad = firstNonFinite(init.values as Float32Array);
      if (bad >= 0)
        throw new RangeError(
          `Embedding: option 'init' holds ${init.values[bad]} at [${bad}] (row ${Math.floor(bad / dim)}); initial values must be finite`,
        );
    }
    if (init.kind !== 'zeros') {
      for (let r = 0; r < rows; r += IO_ROWS) {
        const count = Math.min(IO_ROWS, rows - r);
        const m = count * dim;
        if (init.kind === 'values') {
          const f = this.engine.heapF32,
            v = init.values,
            b = buf >>> 2;
          for (let i = 0; i < m; i++) f[b + i] = v[r * dim + i];
        } else if (init.kind === 'normal') {
          // Even-sized pieces keep Marsaglia's pairs: the same draws as a float32 table of this seed.
          if (r === 0) x.embFillNormal(buf, m, seedLo, seedHi, init.a, init.b);
          else x.embFillNormalNext(buf, m, init.a, init.b);
        } else {
          if (r === 0) x.embFillUniform(buf, m, seedLo, seedHi, init.a, init.b);
          else x.embFillUniformNext(buf, m, init.a, init.b);
        }
        x.leanWrite(this.ld, r, count, buf, -1);
      }
    }
    const initState = this.decl.initState;
    if (initState) {
      this.names.forEach((name, i) => {
        const w = this.layout.widths[i];
        const row = new Float32Array(w);
        initState(name, row, this.opts);
        if (row.every((v) => v === 0)) return;
        const f = this.engine.heapF32;
        for (let q = 0; q < IO_ROWS; q++) f.set(row, (buf >>> 2) + q * w);
        for (let r = 0; r < rows; r += IO_ROWS) x.leanWrite(this.ld, r, Math.min(IO_ROWS, rows - r), buf, i);
      });
    }
    this.release(buf);
  }

  // -------------------------------------------------------------------------------------------
  // Public API (documented on EmbeddingTable and Embedding).

  /** The table's footprint: bytes per row of weights and of state (int8's absmax words included), and in all. */
  memoryStats(): TableMemoryStats {
    const w = Math.ceil((this.dim * (this.weightType === 'f32' ? 4 : 2)) / 4) * 4;
    return {
      rows: this.rows,
      weightBytesPerRow: w,
      stateBytesPerRow: this.bytesPerRow - w,
      bytesPerRow: this.bytesPerRow,
      tableBytes: this.rows * this.bytesPerRow,
    };
  }

  /** Lean tables hold no float32 weights to view: throws a RangeError that says what to use. */
  get weights(): Float32Array {
    this.checkAlive('weights');
    throw new RangeError(
      `Embedding.weights: this table stores its weights as ${this.weightType}${this.weightType === 'f32' ? ' records interleaved with its ' + this.stateType + ' state' : ''}, so there is no float32 view; use lookup(ids), stateDict().weights (a decoded copy) or weightType 'f32'`,
    );
  }

  /** Nothing to do: lean tables are lazy. */
  flush(): void {
    this.checkAlive('flush');
  }

  /** @internal Runs step `t` on the unique rows in pieces (tests: the bits do not depend on the split). */
  applyRows(t: number, unique: number, pieces: readonly number[] = [unique]): void {
    const u32 = this.engine.heapU32;
    u32[(this.ld >>> 2) + S.LEAN_UNIQ] = u32[(this.desc >>> 2) + S.EMB_UNIQ];
    u32[(this.ld >>> 2) + S.LEAN_GPTR] = u32[(this.desc >>> 2) + S.EMB_GPTR];
    // On an engine with worker threads, large updates split the unique rows across them: each part
    // runs in its own copy of the lean block (scratch rows included); the bits do not depend on it.
    if (
      pieces.length === 1 &&
      runListParallel(this.engine, {
        fn: 'leanApply',
        desc: this.ld,
        descBytes: this.blockBytes,
        listWords: [S.LEAN_UNIQ, S.LEAN_GPTR],
        n: unique,
        work: this.dim + this.layout.widths.reduce((a, w) => a + w, 0),
        args: (count) => [t, 0, count],
        minFactor: LEAN_SPLIT_FACTOR,
      })
    )
      return;
    let from = 0;
    for (const count of pieces) {
      this.x.leanApply(this.ld, t, from, count);
      from += count;
    }
  }

  /**
   * @internal The stored values bit for bit: the storage types, the rounding seed (and a shard's
   * `rowOffset`), the weights' raw 16-bit (or 32-bit) values, each state tensor's raw values (int8:
   * codes, and `absmax.<name>` per row).
   */
  protected savedTensors(): Record<string, unknown> {
    const raw = this.rawTensors();
    return {
      weightType: this.weightType,
      stateType: this.stateType,
      seed: this.seed,
      ...(this.rowOffset !== 0 ? { rowOffset: this.rowOffset } : {}),
      weights: raw.weights,
      state: raw.state,
      absmax: raw.absmax,
      lag: null,
    };
  }

  /** @internal The same storage types, raw tensors of the table's sizes, finite non-negative absmax words. */
  protected restoreSaved(what: string, { p, opts, state, steps, malformed }: CheckedCheckpoint): void {
    if ((p.weightType ?? 'f32') !== this.weightType || (p.stateType ?? 'f32') !== this.stateType)
      throw new CheckpointError(
        'layout',
        `${what}: the checkpoint stores weights as ${String(p.weightType ?? 'f32')} and state as ${String(p.stateType ?? 'f32')}, this table ${this.weightType} and ${this.stateType}; create the table with the checkpoint's weightType and stateType (or use Embedding.fromCheckpoint)`,
      );
    const absmax = (p.absmax ?? {}) as Record<string, unknown>;
    const { rows } = this;
    const w = p.weights;
    if (!(w instanceof Uint8Array) || w.length !== rows * this.storedBytes(-1))
      malformed(`the weights are not ${rows * this.storedBytes(-1)} bytes`);
    for (const [i, k] of this.names.entries()) {
      const s = state[k];
      if (!(s instanceof Uint8Array) || s.length !== rows * this.storedBytes(i))
        malformed(`state '${k}' is not ${rows * this.storedBytes(i)} bytes`);
      if (this.layout.absmaxOffsets[i] >= 0) {
        const a = absmax[k];
        if (!(a instanceof Float32Array) || a.length !== rows) malformed(`absmax '${k}' is not ${rows} float32 values`);
        const bad = firstNonFinite(a as Float32Array);
        if (bad >= 0 || (a as Float32Array).some((v) => v < 0))
          malformed(`absmax '${k}' holds a negative or non-finite value`);
      }
    }
    this.opts = opts;
    this.steps = steps;
    this.undo = null;
    this.writeRaw(w as Uint8Array, state as Record<string, Uint8Array>, absmax as Record<string, Float32Array>);
  }

  /** A new lean table restored from a checkpoint of one (`save()`; a shard's keeps its `rowOffset`). */
  static fromCheckpoint(bytes: Uint8Array | ArrayBuffer, options: { engine?: Engine } = {}): LeanEmbedding {
    return restoreTable(
      bytes,
      (p) => wBytes(p.weightType === 'f16' || p.weightType === 'bf16' ? p.weightType : 'f32'),
      (p, o) => {
        const rowOffset = p.rowOffset ?? 0;
        if (!Number.isSafeInteger(rowOffset) || (rowOffset as number) < 0)
          throw new RangeError(`the row offset ${String(rowOffset)} is not a row`);
        return new LeanEmbedding(
          p.rows as number,
          p.dim as number,
          {
            ...o,
            weightType: p.weightType as WeightType,
            stateType: p.stateType as StateType,
            seed: p.seed as number,
            engine: options.engine,
          },
          { rowOffset: rowOffset as number },
        );
      },
    );
  }

  // -------------------------------------------------------------------------------------------
  // The lean storage.

  /** @internal Values per row of tensor `what` (-1: the weights; i: state slot i). */
  protected widthOf(what: number): number {
    return what < 0 ? this.dim : this.layout.widths[what];
  }

  /** @internal Decodes the rows into float32. */
  protected gatherRows(idsPtr: number, k: number, outPtr: number): void {
    this.x.leanLookup(this.ld, idsPtr, k, outPtr);
  }

  /** @internal The coalesced rows' weights, decoded into the lookup buffer. */
  protected weightRows(c: CoalescedUpdate): (r: number, id: number) => number {
    this.scratch.ensureOut(c.unique);
    const out = this.scratch.outPtr;
    this.x.leanLookup(this.ld, c.uniq, c.unique, out);
    return (r) => (out >>> 2) + r * this.dim;
  }

  /** @internal Lean tables hold finite values only. */
  protected checkLoadable(_opts: TableOptions, dict: EmbeddingStateDict): () => void {
    const tensors: [string, Float32Array][] = [
      ['weights', dict.weights],
      ...this.names.map((k): [string, Float32Array] => [`state.${k}`, dict.state[k]]),
    ];
    for (const [name, t] of tensors) {
      const j = firstNonFinite(t);
      if (j >= 0)
        throw new RangeError(
          `Embedding.loadStateDict: '${name}'[${j}] is ${t[j]}; a lean table's values must be finite`,
        );
    }
    return () => {
      this.undo = null;
    };
  }

  /**
   * @internal Steps the rows. f16 weights hold at most 65504: unless `nonFinite` is 'ignore', the touched
   * records are kept, and an update that leaves a weight infinite is undone and refused (nothing changed).
   */
  protected applyUpdate(t: number, unique: number): boolean {
    const guard = this.weightType === 'f16' && this.opts.nonFinite !== 'ignore';
    this.undo = null;
    if (!guard) {
      this.applyRows(t, unique);
      return true;
    }
    // The kernel keeps each touched record (4 + record bytes an entry) before writing it, and flags a
    // stored weight that came out infinite (an f16 weight past 65504 is stored as Infinity).
    const need = unique * (this.layout.record + 4);
    if (need > this.keepBytes) {
      this.release(this.keep);
      this.keep = 0;
      this.keepBytes = Math.max(need, 2 * this.keepBytes);
      this.keep = this.alloc(this.keepBytes);
    }
    let u32 = this.engine.heapU32;
    const l = this.ld >>> 2;
    u32[l + S.LEAN_KEEP] = this.keep;
    u32[l + S.LEAN_UNIQ0] = u32[(this.desc >>> 2) + S.EMB_UNIQ];
    u32[l + S.LEAN_FAIL] = this.ld + 4 * S.LEAN_FAILED;
    u32[l + S.LEAN_FAILED] = 0;
    try {
      this.applyRows(t, unique);
    } finally {
      u32 = this.engine.heapU32;
      u32[l + S.LEAN_KEEP] = 0;
    }
    if (u32[l + S.LEAN_FAILED] === 0) {
      this.undo = { count: unique, unique: this.uniqueRows };
      return true;
    }
    // Name the smallest id (and column) that failed, then put everything back.
    const u16 = new Uint16Array(this.engine.memory.buffer);
    const uniq = u32[(this.desc >>> 2) + S.EMB_UNIQ] >>> 2;
    const list = u32.slice(uniq, uniq + unique).sort();
    let at = '';
    for (let r = 0; r < unique && !at; r++) {
      const w = this.recordAt(list[r]) >>> 1;
      for (let j = 0; j < this.dim; j++)
        if ((u16[w + j] & 0x7c00) === 0x7c00) {
          at = `id ${this.rowOffset + list[r]} makes its weight at column ${j}`;
          break;
        }
    }
    this.x.leanRestore(this.ld, this.keep, unique);
    if (this.opts.nonFinite === 'skip') return false;
    throw new NonFiniteGradientError(
      `Embedding.update: the update of ${at} pass what weightType 'f16' holds (65504); nothing was changed. Scale the gradients or the learning rate down, use weightType 'bf16', or pass nonFinite: 'skip' to skip such updates.`,
    );
  }

  /**
   * @internal Undoes the last update (a sharded table's, when a later shard refuses the step): only
   * after an update that kept its records (f16 weights, `nonFinite` other than 'ignore').
   */
  undoUpdate(): void {
    const u = this.undo;
    if (u === null) throw new Error('LeanEmbedding.undoUpdate: the last update kept nothing to undo');
    this.x.leanRestore(this.ld, this.keep, u.count);
    this.steps -= 1;
    this.uniqueRows = u.unique;
    this.undo = null;
  }

  /** Row `id`'s record address (as the kernels' recAddr: chunks of 2^shift rows). */
  private recordAt(id: number): number {
    return this.chunks[id >>> this.shift] + (id % 2 ** this.shift) * this.layout.record;
  }

  /** Stored bytes per row of tensor `what`: a per-row slot is float32. */
  private storedBytes(what: number): number {
    const w = this.widthOf(what);
    return what < 0 ? w * wBytes(this.weightType) : w === this.dim ? w * sBytes(this.stateType) : 4 * w;
  }

  /** @internal Decoded float32 copy of tensor `what` (-1: weights; i: state i), rows * width. */
  protected readTensor(what: number): Float32Array {
    const { rows } = this;
    const w = this.widthOf(what);
    const out = new Float32Array(rows * w);
    const buf = this.alloc(IO_ROWS * w * 4);
    try {
      for (let r = 0; r < rows; r += IO_ROWS) {
        const count = Math.min(IO_ROWS, rows - r);
        this.x.leanRead(this.ld, r, count, buf, what);
        out.set(this.engine.f32(buf, count * w), r * w);
      }
    } finally {
      this.release(buf);
    }
    return out;
  }

  /** @internal Encodes float32 values (rounded to nearest) into tensor `what`. */
  protected writeTensor(what: number, values: Float32Array): void {
    const { rows } = this;
    const w = this.widthOf(what);
    const buf = this.alloc(IO_ROWS * w * 4);
    try {
      for (let r = 0; r < rows; r += IO_ROWS) {
        const count = Math.min(IO_ROWS, rows - r);
        this.engine.heapF32.set(values.subarray(r * w, (r + count) * w), buf >>> 2);
        this.x.leanWrite(this.ld, r, count, buf, what);
      }
    } finally {
      this.release(buf);
    }
  }

  /** The stored bytes of every tensor, row after row (and int8's absmax per row). */
  private rawTensors(): {
    weights: Uint8Array;
    state: Record<string, Uint8Array>;
    absmax: Record<string, Float32Array>;
  } {
    const { rows, layout } = this;
    const wb = this.storedBytes(-1);
    const weights = new Uint8Array(rows * wb);
    const state: Record<string, Uint8Array> = {};
    const absmax: Record<string, Float32Array> = {};
    this.names.forEach((k, i) => {
      state[k] = new Uint8Array(rows * this.storedBytes(i));
      if (layout.absmaxOffsets[i] >= 0) absmax[k] = new Float32Array(rows);
    });
    const mem = new Uint8Array(this.engine.memory.buffer);
    const dv = new DataView(this.engine.memory.buffer);
    for (let r = 0; r < rows; r++) {
      const rec = this.x.leanRecord(this.ld, r);
      weights.set(mem.subarray(rec, rec + wb), r * wb);
      this.names.forEach((k, i) => {
        const sb = this.storedBytes(i);
        const at = rec + layout.stateOffsets[i];
        state[k].set(mem.subarray(at, at + sb), r * sb);
        if (layout.absmaxOffsets[i] >= 0) absmax[k][r] = dv.getFloat32(rec + layout.absmaxOffsets[i], true);
      });
    }
    return { weights, state, absmax };
  }

  private writeRaw(weights: Uint8Array, state: Record<string, Uint8Array>, absmax: Record<string, Float32Array>): void {
    const { rows, layout } = this;
    const wb = this.storedBytes(-1);
    const mem = new Uint8Array(this.engine.memory.buffer);
    const dv = new DataView(this.engine.memory.buffer);
    for (let r = 0; r < rows; r++) {
      const rec = this.x.leanRecord(this.ld, r);
      mem.set(weights.subarray(r * wb, (r + 1) * wb), rec);
      this.names.forEach((k, i) => {
        const sb = this.storedBytes(i);
        mem.set(state[k].subarray(r * sb, (r + 1) * sb), rec + layout.stateOffsets[i]);
        if (layout.absmaxOffsets[i] >= 0) dv.setFloat32(rec + layout.absmaxOffsets[i], absmax[k][r], true);
      });
    }
  }
}
