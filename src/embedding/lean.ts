// A lean embedding table (`LeanEmbedding`): weights stored as f16 or bf16 and/or optimizer state
// as bf16 or int8 (bitsandbytes' blockwise dynamic quantization, a block = one row of one state
// tensor), in one engine memory, in chunks that may together pass one allocator block (up to the
// 4 GiB of a wasm32 memory). `new Embedding()` creates one when `weightType` or `stateType` is not
// 'f32'. Updates decode the touched rows, run the optimizer's ordinary row kernel in float32 and
// encode them back with stochastic rounding (assembly/embedding/lean.ts, assembly/shared/lowp.ts).
// Formats and limits: docs/lean-storage.md.

import type { TableMemoryStats } from './footprint.js';
import { SLOT as S, type EngineFunctions } from '../core/abi.js';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint } from '../core/checkpoint.js';
import { StepSeries, optionsRecord, stateNames, type AnyDeclaration, type HyperWriter } from '../core/declaration.js';
import { Engine, getEngine } from '../core/engine.js';
import { DisposedError, NonFiniteGradientError } from '../core/errors.js';
import { TABLE_MAX_STEPS, firstNonFinite } from '../core/limits.js';
import { checkChoice, checkKnownKeys, checkNumber, describe } from '../core/options.js';
import { TABLE_OPTIMIZERS, TABLE_OPTIMIZER_NAMES } from '../optimizers/registry.js';
import { dynamicMapsBlock } from './dynamic-map.js';
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
import { loadEmbeddingSafetensors, saveEmbeddingSafetensors } from './safetensors.js';
import { TableScratch } from './scratch.js';
import { f32FromBits, tableRangeCheck } from './table-check.js';
import { runListParallel } from '../threads/pool.js';
import { restoreTable, type EmbeddingTable } from './table.js';

/** How a table stores its weights: float32, IEEE half (`'f16'`) or bfloat16 (`'bf16'`). */
export type WeightType = 'f32' | 'f16' | 'bf16';
/** How a table stores its optimizer state: float32, bfloat16, or int8 codes of a dynamic map with one absmax per row. */
export type StateType = 'f32' | 'bf16' | 'int8';

/** The weight types, in the order of the kernels' codes. */
export const WEIGHT_TYPES: readonly WeightType[] = ['f32', 'f16', 'bf16'];
/** The state types. */
export const STATE_TYPES: readonly StateType[] = ['f32', 'bf16', 'int8'];

/** State tensors that may be negative take the signed map; the others (second moments, sums) the unsigned one. */
const SIGNED_STATE = new Set(['exp_avg', 'momentum_buffer']);
const BLOCK_LIMIT_BYTES = (1 << 30) - 64;
const WASM_MAX_BYTES = 2 ** 32;
const HYPER_BYTES = S.HYPER_SLOTS * 4;
/**
 * @internal Lean updates split across threads from this many times the pool's minParallelElements (work =
 * unique rows x dim x (1 + state tensors)).
 */
export const LEAN_SPLIT_FACTOR = 2;
/** Rows decoded or encoded per call when the TypeScript side reads or writes a whole tensor. */
const IO_ROWS = 4096;

const wtCode = (t: WeightType): number => (t === 'f32' ? S.LEAN_F32 : t === 'f16' ? S.LEAN_F16 : S.LEAN_BF16);
const stCode = (t: StateType): number => (t === 'f32' ? S.LEAN_F32 : t === 'bf16' ? S.LEAN_BF16 : S.LEAN_INT8);
const wBytes = (t: WeightType): number => (t === 'f32' ? 4 : 2);
const sBytes = (t: StateType): number => (t === 'f32' ? 4 : t === 'bf16' ? 2 : 1);
const ceil4 = (n: number): number => Math.ceil(n / 4) * 4;

/** The byte layout of one row's record. */
export interface LeanLayout {
  /** Bytes of one row: weights, absmax words (int8), per-row slots, per-element state. */
  record: number;
  /** Each state tensor's byte offset in the record, in slot order. */
  stateOffsets: number[];
  /** Each state tensor's absmax word's byte offset (int8 per-element tensors; else -1). */
  absmaxOffsets: number[];
  /** Each state tensor's width: `dim`, or its own (a per-row slot, kept as float32). */
  widths: number[];
}

/**
 * The record layout of a row of `dim` weights of type `wt` with state tensors of type `st`: `states`
 * is their number (each `dim` wide) or their widths (a width other than `dim` is a per-row slot,
 * stored as float32). Weights, padded to 4 bytes; one float32 absmax per int8 tensor; the per-row
 * slots; the per-element tensors; padded to 4 bytes.
 */
export function leanLayout(dim: number, states: number | readonly number[], wt: WeightType, st: StateType): LeanLayout {
  const widths = typeof states === 'number' ? Array.from({ length: states }, () => dim) : [...states];
  let at = ceil4(dim * wBytes(wt));
  const absmaxOffsets = widths.map((w) => (st === 'int8' && w === dim ? (at += 4) - 4 : -1));
  const stateOffsets = widths.map(() => 0);
  widths.forEach((w, i) => {
    if (w !== dim) stateOffsets[i] = (at += 4 * w) - 4 * w;
  });
  widths.forEach((w, i) => {
    if (w === dim) stateOffsets[i] = (at += dim * sBytes(st)) - dim * sBytes(st);
  });
  return { record: ceil4(at), stateOffsets, absmaxOffsets, widths };
}

/** @internal The checked `weightType` and `stateType` of table options (defaults 'f32'). */
export function resolveStorage(options: { weightType?: unknown; stateType?: unknown }): {
  weightType: WeightType;
  stateType: StateType;
} {
  return {
    weightType: checkChoice('Embedding', 'weightType', options.weightType ?? 'f32', WEIGHT_TYPES),
    stateType: checkChoice('Embedding', 'stateType', options.stateType ?? 'f32', STATE_TYPES),
  };
}

/**
 * The table behind an `Embedding` with `weightType` or `stateType` other than 'f32'
 * (see `Embedding` and docs/lean-storage.md). Lazy mode only; one engine.
 */
export class LeanEmbedding implements EmbeddingTable {
  /** The engine the table lives in. */
  readonly engine: Engine;
  /** Number of rows. */
  readonly rows: number;
  /** Values per row. */
  readonly dim: number;
  /** The optimizer. */
  readonly optimizer: EmbeddingOptimizer;
  /** Always `'lazy'`. */
  readonly mode: EmbeddingMode = 'lazy';
  /** The seed of the random initialisation and of the stochastic rounding. */
  readonly seed: number;
  /** How the weights are stored. */
  readonly weightType: WeightType;
  /** How the optimizer state is stored. */
  readonly stateType: StateType;
  /** Bytes of engine memory per row: weights and optimizer state (and int8's absmax words). */
  readonly bytesPerRow: number;

  private opts: TableOptions;
  private readonly decl: AnyDeclaration;
  private readonly names: string[];
  private readonly layout: LeanLayout;
  private readonly shift: number;
  private steps = 0;
  private disposed = false;
  private blocks: number[] = [];
  private chunks: number[] = [];
  private desc = 0;
  private ld = 0;
  private blockBytes = 0;
  private hyper = 0;
  private scratch!: TableScratch;
  private uniqueRows = 0;
  private readonly series = new StepSeries();

  /**
   * Creates a `rows` x `dim` lean table in engine memory. Every option is checked before anything
   * is allocated; bad values throw a TypeError or RangeError naming the option.
   */
  constructor(rows: number, dim: number, options: EmbeddingOptions = {}) {
    const owner = 'Embedding';
    checkPositiveInt(owner, 'rows', rows, 0x7fffffff);
    checkPositiveInt(owner, 'dim', dim, 1 << 24);
    if (options === null || typeof options !== 'object')
      throw new TypeError(`Embedding: options must be an object, got ${describe(options)}`);
    const optimizer = checkChoice(owner, 'optimizer', options.optimizer ?? 'adam', TABLE_OPTIMIZER_NAMES);
    const decl = TABLE_OPTIMIZERS.get(optimizer) as AnyDeclaration;
    const kind = `Embedding (optimizer '${optimizer}')`;
    checkTableKeys(decl, options, kind);
    const { weightType, stateType } = resolveStorage(options);
    const mode = checkChoice(owner, 'mode', options.mode ?? 'lazy', ['lazy', 'exact'] as const);
    if (mode !== 'lazy')
      throw new RangeError(
        `Embedding: mode 'exact' needs float32 storage; a table with weightType '${weightType}' and stateType '${stateType}' is lazy only: use mode 'lazy', or weightType and stateType 'f32'`,
      );
    const engine = options.engine;
    if (engine !== undefined && !(engine instanceof Engine))
      throw new TypeError(`Embedding: option 'engine' must be an Engine, got ${describe(engine)}`);
    const opts = resolveTableOptions(decl, options as Record<string, unknown>, kind);
    const names = stateNames(decl, opts);
    // Per-row slots (a declaration's `rowState`, e.g. row-wise Adagrad's sum) are one float per row.
    const rowState = (decl as { rowState?: readonly string[] }).rowState ?? [];
    const layout = leanLayout(
      dim,
      names.map((n) => (rowState.includes(n) ? 1 : dim)),
      weightType,
      stateType,
    );
    const total = rows * layout.record;
    if (total > WASM_MAX_BYTES - 64 * 2 ** 20)
      throw new RangeError(
        `Embedding: a ${rows} x ${dim} table with weightType '${weightType}', stateType '${stateType}' and optimizer '${optimizer}' needs ${total} bytes (${layout.record} per row), more than one engine's 4 GiB memory holds; use fewer rows, leaner storage (weightType 'bf16', stateType 'int8') or several tables`,
      );
    const init = resolveInit(options.init ?? 'normal', rows * dim);
    const seed = options.seed === undefined ? Math.floor(Math.random() * 2 ** 32) : checkSeed(options.seed);

    this.engine = engine ?? getEngine();
    this.rows = rows;
    this.dim = dim;
    this.optimizer = optimizer;
    this.decl = decl;
    this.opts = opts;
    this.names = names;
    this.seed = seed;
    this.weightType = weightType;
    this.stateType = stateType;
    this.layout = layout;
    this.bytesPerRow = layout.record;
    // Rows per chunk: a power of two whose records (and page alignment) fit one allocator block.
    let shift = 0;
    while (shift < 31 && 2 ** (shift + 1) * layout.record + 4096 <= BLOCK_LIMIT_BYTES && 2 ** shift < rows) shift++;
    this.shift = shift;

    try {
      this.allocate();
      this.fillInitial(init, rows * dim);
    } catch (e) {
      for (const b of this.blocks) this.engine.free(b);
      this.blocks = [];
      this.disposed = true;
      throw e;
    }
  }

  private allocate(): void {
    const { rows, dim, names, layout } = this;
    const e = this.engine;
    this.desc = this.alloc(S.EMB_DESC_BYTES);
    const widths = layout.widths;
    const srow = 4 * widths.reduce((a, w) => a + w, 0);
    this.blockBytes = Math.ceil((S.LEAN_SCRATCH_AT + S.LEAN_BLOCK * (dim * 4 + srow)) / 16) * 16;
    this.ld = this.alloc(this.blockBytes);
    this.hyper = this.alloc(HYPER_BYTES);
    const hist = this.alloc(S.EMB_HIST_WORDS * 4);
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
      u32[o + S.EMB_HIST] = hist;
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
    this.scratch = new TableScratch(
      e,
      this.dim,
      this.desc,
      (b) => this.alloc(b),
      (p) => this.release(p),
    );
    this.scratch.ensureIds(64);
  }

  /** Initial weights (rounded to nearest in the stored type) and state, IO_ROWS rows at a time. */
  private fillInitial(init: ReturnType<typeof resolveInit>, n: number): void {
    const { rows, dim } = this;
    const x = this.x;
    const buf = this.alloc(IO_ROWS * dim * 4);
    const seedLo = this.seed >>> 0,
      seedHi = Math.floor(this.seed / 2 ** 32) >>> 0;
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
    void n;
    this.release(buf);
  }

  // -------------------------------------------------------------------------------------------
  // Public API (documented on EmbeddingTable and Embedding).

  /** Number of updates applied. */
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

  get stepCount(): number {
    return this.steps;
  }

  /** @deprecated The same count as `stepCount`. */
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

  /** The learning rate; settable between updates. */
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

  /** True once `dispose()` was called. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Lean tables hold no float32 weights to view: throws a RangeError that says what to use. */
  get weights(): Float32Array {
    this.checkAlive('weights');
    throw new RangeError(
      `Embedding.weights: this table stores its weights as ${this.weightType}${this.weightType === 'f32' ? ' records interleaved with its ' + this.stateType + ' state' : ''}, so there is no float32 view; use lookup(ids), stateDict().weights (a decoded copy) or weightType 'f32'`,
    );
  }

  /** A decoded float32 copy of state tensor `name` (`rows * dim`). */
  state(name: string): Float32Array {
    this.checkAlive('state');
    const i = this.names.indexOf(name);
    if (i < 0)
      throw new RangeError(
        `Embedding.state: no state '${name}' for optimizer '${this.optimizer}' with these options; it has ${this.names.join(', ') || 'none'}`,
      );
    return this.readTensor(i);
  }

  /** Nothing to do: lean tables are lazy. */
  flush(): void {
    this.checkAlive('flush');
  }

  /** The rows of `ids`, decoded to float32, into `out` or a new Float32Array. */
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

  /** Like `lookup`, into an engine-owned buffer (overwritten by the next lookup; detached when memory grows). */
  lookupView(ids: ArrayLike<number>): Float32Array {
    this.checkAlive('lookupView');
    const k = checkIds('Embedding.lookupView', ids, this.rows);
    return this.gather('Embedding.lookupView', ids, k);
  }

  /** An engine-owned buffer for the gradients of `k` ids (see EmbeddingTable). */
  gradView(k: number): Float32Array {
    this.checkAlive('gradView');
    checkNonNegativeInt('Embedding.gradView', 'k', k);
    this.scratch.ensureGrads(k);
    return this.engine.f32(this.scratch.gradPtr, k * this.dim);
  }

  /**
   * One optimizer step on the rows of `ids` (duplicates summed), computed in float32 and stored
   * back with stochastic rounding. Every check happens before anything changes.
   */
  update(ids: ArrayLike<number>, grads: ArrayLike<number>): boolean {
    this.checkAlive('update');
    if (this.steps >= TABLE_MAX_STEPS)
      throw new RangeError(
        `Embedding.update: the table's update count reached its limit of ${TABLE_MAX_STEPS} (TABLE_MAX_STEPS; the kernels count in 32 bits); nothing was changed`,
      );
    const k = checkIds('Embedding.update', ids, this.rows);
    const n = k * this.dim;
    if (grads === null || typeof grads !== 'object' || typeof (grads as ArrayLike<number>).length !== 'number')
      throw new TypeError(
        `Embedding.update: 'grads' must be a Float32Array of ids.length * dim floats, got ${describe(grads)}`,
      );
    if (grads.length !== n)
      throw new RangeError(
        `Embedding.update: 'grads' must hold ids.length * dim = ${k} * ${this.dim} = ${n} floats, got ${grads.length}`,
      );
    if (!ArrayBuffer.isView(grads)) checkNumbers('Embedding.update', 'grads', grads);
    const o = this.opts;
    const sc = this.scratch;
    const inPlace = sc.holds(grads, n);
    ids = this.detachSafe(ids);
    if (!inPlace) grads = this.detachSafe(grads);
    sc.ensureIds(k);
    if (!inPlace) sc.ensureGrads(k);
    sc.copyIds(ids, k);
    const bad = this.x.embCheckIds(sc.idsPtr, k, this.rows);
    if (bad >= 0) throw outOfRange('Embedding.update', ids, bad, this.rows);
    if (!inPlace) this.engine.heapF32.set(grads, sc.gradPtr >>> 2);
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
    // Optimizers that square the gradient refuse rows whose square overflows float32, as float32
    // tables do (src/embedding/table-check.ts; the L2 bound needs float32 weights: not made here).
    if (check && this.decl.squaresGradient === true) {
      const u32 = this.engine.heapU32,
        d = this.desc >>> 2;
      const coalesced = {
        uniq: u32[d + S.EMB_UNIQ],
        gptr: u32[d + S.EMB_GPTR],
        unique,
        maxG: f32FromBits(u32[d + S.EMB_GMAX]),
      };
      const why = tableRangeCheck(this.engine, coalesced, this.dim, true, 0, 0, 1);
      if (why !== null) {
        if (o.nonFinite === 'skip') return false;
        throw new NonFiniteGradientError(
          `Embedding.update: ${why}; nothing was changed. Scale the gradients down, or pass nonFinite: 'skip' to skip such updates.`,
        );
      }
    }
    const t = this.steps + 1;
    this.fillHyper(t);
    this.applyRows(t, unique);
    this.steps = t;
    this.uniqueRows = unique;
    return true;
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
      runListParallel(
        this.engine,
        'leanApply',
        this.ld,
        this.blockBytes,
        [S.LEAN_UNIQ, S.LEAN_GPTR],
        unique,
        this.dim + this.layout.widths.reduce((a, w) => a + w, 0),
        (count) => [t, 0, count],
        LEAN_SPLIT_FACTOR,
      )
    )
      return;
    let from = 0;
    for (const count of pieces) {
      this.x.leanApply(this.ld, t, from, count);
      from += count;
    }
  }

  /** Hyperparameters, step count, and decoded float32 copies of the weights and state. */
  stateDict(): EmbeddingStateDict {
    this.checkAlive('stateDict');
    return {
      kind: 'Embedding',
      rows: this.rows,
      dim: this.dim,
      optimizer: this.optimizer,
      mode: this.mode,
      stepCount: this.steps,
      options: optionsRecord(this.decl, this.opts),
      weights: this.readTensor(-1),
      state: Object.fromEntries(this.names.map((name, i) => [name, this.readTensor(i)])),
    };
  }

  /**
   * Restores a `stateDict()`: values are rounded to nearest into the stored types (a lean table's
   * own state dict comes back bit for bit: its values are exactly representable). Everything is
   * checked before anything changes.
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
    if (names.join() !== this.names.join())
      throw new RangeError(
        `${what}: the state dict's options need state [${names.join(', ')}] but this table holds [${this.names.join(', ')}]; create it with the same options`,
      );
    const tensors: [string, unknown, number][] = [
      ['weights', dict.weights, this.rows * this.dim],
      ...names.map((k, i): [string, unknown, number] => [`state.${k}`, dict.state?.[k], this.rows * this.widthOf(i)]),
    ];
    for (const [name, t, n] of tensors) {
      if (!(t instanceof Float32Array))
        throw new TypeError(`${what}: '${name}' must be a Float32Array, got ${describe(t)}`);
      if (t.length !== n) throw new RangeError(`${what}: '${name}' has ${t.length} floats, the table needs ${n}`);
      const j = firstNonFinite(t);
      if (j >= 0) throw new RangeError(`${what}: '${name}'[${j}] is ${t[j]}; a lean table's values must be finite`);
    }
    this.opts = opts;
    this.writeTensor(-1, dict.weights);
    names.forEach((k, i) => this.writeTensor(i, dict.state[k]));
    this.steps = dict.stepCount;
  }

  /**
   * A binary checkpoint in the stored types, bit for bit: shape, optimizer, options, update count,
   * storage types, rounding seed, the weights' raw 16-bit (or 32-bit) values, each state tensor's
   * raw values (int8: codes, and `absmax.<name>` per row). Restore with `load()` or `Embedding.fromCheckpoint()`.
   */
  save(): Uint8Array {
    this.checkAlive('save');
    const raw = this.rawTensors();
    return encodeCheckpoint('Embedding', {
      rows: this.rows,
      dim: this.dim,
      optimizer: this.optimizer,
      mode: this.mode,
      stepCount: this.steps,
      options: optionsRecord(this.decl, this.opts),
      weightType: this.weightType,
      stateType: this.stateType,
      seed: this.seed,
      weights: raw.weights,
      state: raw.state,
      absmax: raw.absmax,
      lag: null,
    });
  }

  /** Restores a checkpoint from `save()` of a table with the same shape, optimizer and storage types. */
  load(bytes: Uint8Array | ArrayBuffer): void {
    this.checkAlive('load');
    const what = 'Embedding.load';
    const p = decodeCheckpoint(bytes, 'Embedding', what).payload as Record<string, unknown>;
    const malformed = (why: string): never => {
      throw new CheckpointError(
        'malformed',
        `${what}: the checkpoint is malformed (${why}) although its checksum holds`,
      );
    };
    if (p.optimizer !== this.optimizer || p.rows !== this.rows || p.dim !== this.dim)
      throw new CheckpointError(
        'layout',
        `${what}: the checkpoint holds a ${String(p.rows)} x ${String(p.dim)} table with optimizer '${String(p.optimizer)}', this one is ${this.rows} x ${this.dim} with '${this.optimizer}'; create the table with the same shape and optimizer (or use Embedding.fromCheckpoint)`,
      );
    if ((p.weightType ?? 'f32') !== this.weightType || (p.stateType ?? 'f32') !== this.stateType)
      throw new CheckpointError(
        'layout',
        `${what}: the checkpoint stores weights as ${String(p.weightType ?? 'f32')} and state as ${String(p.stateType ?? 'f32')}, this table ${this.weightType} and ${this.stateType}; create the table with the checkpoint's weightType and stateType (or use Embedding.fromCheckpoint)`,
      );
    let opts: TableOptions;
    try {
      const given = (p.options ?? {}) as Record<string, unknown>;
      checkKnownKeys(what, given, this.decl.options);
      opts = resolveTableOptions(this.decl, given, what);
    } catch (e) {
      return malformed(`its options are invalid: ${(e as Error).message}`);
    }
    const names = stateNames(this.decl, opts);
    const state = (p.state ?? {}) as Record<string, unknown>;
    const absmax = (p.absmax ?? {}) as Record<string, unknown>;
    if (names.join() !== this.names.join() || Object.keys(state).join() !== names.join())
      throw new CheckpointError(
        'layout',
        `${what}: the checkpoint holds state [${Object.keys(state).join(', ')}] but this table holds [${this.names.join(', ')}]; create the table with the options it was saved with`,
      );
    const { rows } = this;
    const steps = p.stepCount as number;
    if (!Number.isSafeInteger(steps) || steps < 0 || steps > TABLE_MAX_STEPS) malformed('bad update count');
    const w = p.weights;
    if (!(w instanceof Uint8Array) || w.length !== rows * this.storedBytes(-1))
      malformed(`the weights are not ${rows * this.storedBytes(-1)} bytes`);
    for (const [i, k] of names.entries()) {
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
    this.writeRaw(w as Uint8Array, state as Record<string, Uint8Array>, absmax as Record<string, Float32Array>);
  }

  /** A new lean table restored from a checkpoint of one (`save()`). */
  static fromCheckpoint(bytes: Uint8Array | ArrayBuffer, options: { engine?: Engine } = {}): LeanEmbedding {
    const p = decodeCheckpoint(bytes, 'Embedding', 'Embedding.fromCheckpoint').payload;
    return restoreTable(
      () =>
        new LeanEmbedding(p.rows as number, p.dim as number, {
          ...((p.options ?? {}) as Record<string, unknown>),
          optimizer: p.optimizer as EmbeddingOptimizer,
          weightType: p.weightType as WeightType,
          stateType: p.stateType as StateType,
          seed: p.seed as number,
          init: 'zeros',
          engine: options.engine,
        }),
      bytes,
    );
  }

  /** The table in the safetensors format (`weight` in the stored dtype: F16, BF16 or F32; state decoded to F32). */
  saveSafetensors(): Uint8Array {
    this.checkAlive('saveSafetensors');
    return saveEmbeddingSafetensors(this);
  }

  /** Loads a table's safetensors file (values rounded to nearest into the stored types). */
  loadSafetensors(bytes: Uint8Array | ArrayBuffer): void {
    this.checkAlive('loadSafetensors');
    loadEmbeddingSafetensors(this, bytes);
  }

  /** Frees the table's engine memory; any later use throws a DisposedError. */
  dispose(): void {
    if (this.disposed) return;
    for (const b of this.blocks) this.engine.free(b);
    this.blocks = [];
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

  private release(ptr: number): void {
    if (!ptr) return;
    const i = this.blocks.indexOf(ptr);
    if (i >= 0) this.blocks.splice(i, 1);
    this.engine.free(ptr);
  }

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
    this.x.leanLookup(this.ld, sc.idsPtr, k, sc.outPtr);
    return this.engine.f32(sc.outPtr, k * this.dim);
  }

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
    w.f32(S.CLIP_LO, -Infinity);
    w.f32(S.CLIP_HI, Infinity);
  }

  /** Values per row of tensor `what` (-1: the weights; i: state slot i). */
  private widthOf(what: number): number {
    return what < 0 ? this.dim : this.layout.widths[what];
  }

  /** Stored bytes per row of tensor `what`: a per-row slot is float32. */
  private storedBytes(what: number): number {
    const w = this.widthOf(what);
    return what < 0 ? w * wBytes(this.weightType) : w === this.dim ? w * sBytes(this.stateType) : 4 * w;
  }

  /** Decoded float32 copy of tensor `what` (-1: weights; i: state i), rows * width. */
  private readTensor(what: number): Float32Array {
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

  /** Encodes float32 values (rounded to nearest) into tensor `what`. */
  private writeTensor(what: number, values: Float32Array): void {
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
