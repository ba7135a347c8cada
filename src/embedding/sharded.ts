// Embedding tables past one engine: a table whose weights or optimizer state exceed one engine
// block (1 GiB) or one wasm32 memory (4 GiB) is cut by row ranges into shards, each an ordinary
// single-memory table (`LocalEmbedding`, or `LeanEmbedding` for 16-bit weights or 8/16-bit state)
// in an engine of its own (`engine.sibling()`), behind the same API. `new Embedding()` builds one
// of these when a float32 table is too large for one block; how the rows are cut is in
// ./shard-plan.ts.

import { LocalEmbedding } from './local.js';
import { LeanEmbedding } from './lean.js';
import { isLean } from './lean-layout.js';
import type { EmbeddingMode, EmbeddingOptimizer, EmbeddingStateDict } from './options.js';
import type { EmbeddingTable } from './table.js';
import { EmbeddingTableCore } from './table-core.js';
import { Engine, getEngine } from '../core/engine.js';
import { NonFiniteGradientError } from '../core/errors.js';
import { describe } from '../core/options.js';
import { firstNonFinite } from '../core/limits.js';
import { tableStateSlots, type TableMemoryStats } from './footprint.js';
import { l2Decay } from '../core/declaration.js';
import { TABLE_OPTIMIZERS } from '../optimizers/registry.js';
import { checkLookupOut, resolveTableOptions } from './options.js';
import {
  checkInt,
  checkShardedIds,
  shardRowsFor,
  slice,
  SHARD_MAX_FLOATS,
  type ShardedEmbeddingOptions,
} from './shard-plan.js';
import { rangeCheck } from './table-check.js';
import { checkStateDictShape, checkTensors } from './table-persist.js';

export { shardRowsFor, SHARD_MAX_BYTES, SHARD_MAX_FLOATS, type ShardedEmbeddingOptions } from './shard-plan.js';

/** A shard: a single-memory table. */
export type EmbeddingShard = LocalEmbedding | LeanEmbedding;

/**
 * An embedding table split by row ranges into shards, each an `Embedding` in its own engine, so
 * that a table may exceed one engine block (1 GiB) and one wasm32 memory (4 GiB) — e.g. SGD on
 * 18M x 64 float32 (4.6 GB) is five shards. `new Embedding(rows, dim, options)` delegates to one
 * when the table exceeds one block (`embedding.table`); it implements `EmbeddingTable`, except:
 *
 * - `weights` and `state(name)` cannot be one live view across several memories: they throw a
 *   RangeError. Read rows with `lookup()`, a live view of one row with `row(r)`, or a shard's own
 *   views with `shard(i).weights` (rows `shardStart(i)` to `shardStart(i) + shard(i).rows`).
 * - `lookupView()` and `gradView()` return ordinary arrays (not engine-owned buffers).
 * - `engine` is the first shard's engine; `engines` lists them all. Shards run on the calling
 *   thread (their engines have no worker pool).
 * - Random initialisation: shard `i` draws with seed `seed + i`.
 * - Lean storage (`weightType`, `stateType`; docs/lean-storage.md): each shard is a `LeanEmbedding`
 *   whose stochastic rounding uses the table's `seed` and the table's row numbers, so the shards
 *   round every row as one unsharded lean table of that seed does (bit for bit, given the same
 *   initial values). Save and restore each shard with `shard(i).save()` / `shard(i).load(bytes)`.
 *
 * Every update steps every shard once (a shard with none of the ids takes an empty step), so
 * each row sees the table's step count, and the results equal an unsharded table's: bit for bit
 * in lazy mode. Everything is checked before any shard changes.
 */
export class ShardedEmbedding extends EmbeddingTableCore implements EmbeddingTable {
  /** Number of rows. */
  readonly rows: number;
  /** Floats per row. */
  readonly dim: number;
  /** Rows per shard (the last shard may hold fewer). */
  readonly shardRows: number;
  /** The optimizer. */
  readonly optimizer: EmbeddingOptimizer;
  /** `'lazy'` or `'exact'`. */
  readonly mode: EmbeddingMode;
  /** The seed of the random initialisation (shard i uses seed + i), or null; lean storage: also of the rounding (every shard). */
  readonly seed: number | null;
  /** Each shard's engine. */
  readonly engines: readonly Engine[];
  private readonly tables: EmbeddingShard[];
  private unique = 0;

  /**
   * Creates the shards, each in a new sibling engine of `options.engine` (default: the `init()`
   * engine). Options are checked (by the first shard) before anything is allocated; when a later
   * shard cannot be allocated the ones made so far are freed and the error is thrown.
   */
  constructor(rows: number, dim: number, options: ShardedEmbeddingOptions = {}) {
    super();
    checkInt('Embedding', 'rows', rows, 1, 0x7fffffff);
    checkInt('Embedding', 'dim', dim, 1, SHARD_MAX_FLOATS);
    if (options === null || typeof options !== 'object')
      throw new TypeError(`Embedding: options must be an object, got ${describe(options)}`);
    const { maxShardRows, engine: parentOption, ...rest } = options;
    if (maxShardRows !== undefined) checkInt('Embedding', 'maxShardRows', maxShardRows, 1, 0x7fffffff);
    if (parentOption !== undefined && !(parentOption instanceof Engine))
      throw new TypeError(`Embedding: option 'engine' must be an Engine, got ${describe(parentOption)}`);
    const parent = parentOption ?? getEngine();
    const shardRows = shardRowsFor(rows, dim, options);
    const count = Math.ceil(rows / shardRows);
    const init = rest.init;
    let seed: number | null = null;
    const lean = isLean(rest);
    const random =
      init === undefined ||
      init === 'normal' ||
      init === 'uniform' ||
      (init !== null && typeof init === 'object' && 'distribution' in init);
    if (random || lean) {
      const s = rest.seed ?? Math.floor(Math.random() * 2 ** 32);
      if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 0 || s + count > Number.MAX_SAFE_INTEGER) {
        throw new RangeError(
          `Embedding: option 'seed' must be a non-negative safe integer (a sharded table uses seed + shard), got ${String(s)}`,
        );
      }
      seed = s;
    }
    let values: ArrayLike<number> | null = null;
    if (init !== undefined && typeof init === 'object' && init !== null && !('distribution' in init)) {
      values = init as ArrayLike<number>;
      if (typeof values.length !== 'number')
        throw new TypeError(
          `Embedding: option 'init' must be 'zeros', 'normal', 'uniform', a distribution or ${rows} * ${dim} numbers, got ${describe(init)}`,
        );
      if (values.length !== rows * dim)
        throw new RangeError(
          `Embedding: option 'init' holds ${values.length} values, the table needs rows * dim = ${rows * dim}`,
        );
    }
    const tables: EmbeddingShard[] = [];
    const engines: Engine[] = [];
    try {
      for (let i = 0; i < count; i++) {
        const start = i * shardRows;
        const n = Math.min(shardRows, rows - start);
        const shardInit = values ? slice(values, start * dim, (start + n) * dim) : init;
        const engine = parent.sibling();
        engines.push(engine);
        const shardOptions = { ...rest, engine, ...(shardInit !== undefined ? { init: shardInit } : {}) };
        tables.push(
          lean
            ? new LeanEmbedding(
                n,
                dim,
                { ...shardOptions, seed: seed as number },
                { rowOffset: start, initSeed: (seed as number) + i },
              )
            : new LocalEmbedding(n, dim, { ...shardOptions, ...(seed !== null ? { seed: seed + i } : {}) }),
        );
      }
    } catch (e) {
      for (const t of tables) t.dispose();
      throw e;
    }
    this.rows = rows;
    this.dim = dim;
    this.shardRows = shardRows;
    this.tables = tables;
    this.engines = engines;
    this.optimizer = tables[0].optimizer;
    this.mode = tables[0].mode;
    this.seed = seed;
  }

  /** The first shard's engine (see `engines`). */
  get engine(): Engine {
    return this.engines[0];
  }

  /** Number of shards. */
  get shardCount(): number {
    return this.tables.length;
  }

  /** Shard `i`: an ordinary `Embedding` holding rows `shardStart(i)` .. `shardStart(i) + shard(i).rows - 1`. */
  shard(i: number): EmbeddingShard {
    this.checkAlive('shard');
    checkInt('Embedding.shard', 'i', i, 0, this.tables.length - 1);
    return this.tables[i];
  }

  /** The first row of shard `i`. */
  shardStart(i: number): number {
    checkInt('Embedding.shardStart', 'i', i, 0, this.tables.length - 1);
    return i * this.shardRows;
  }

  /** The shard that holds row `r`. */
  shardOf(r: number): number {
    checkInt('Embedding.shardOf', 'row', r, 0, this.rows - 1);
    return Math.floor(r / this.shardRows);
  }

  /**
   * A live view of row `r` (dim floats) in its shard's memory; read it through this method each
   * time (memory growth detaches kept views). In exact mode the shard is flushed first.
   */
  row(r: number): Float32Array {
    this.checkAlive('row');
    const s = this.shardOf(r);
    const local = r - s * this.shardRows;
    return this.tables[s].weights.subarray(local * this.dim, (local + 1) * this.dim);
  }

  /** Number of updates applied (every shard takes every step, so: the first shard's count). */
  get stepCount(): number {
    return this.tables[0].stepCount;
  }

  /** Number of distinct rows the last update touched. */
  get lastUniqueRows(): number {
    return this.unique;
  }

  /** The resolved hyperparameters (a copy). */
  get options(): Readonly<Record<string, unknown>> {
    return this.tables[0].options;
  }

  /** The learning rate; settable between updates (every shard takes it). */
  get lr(): number {
    return this.tables[0].lr;
  }

  set lr(value: number) {
    this.checkAlive('lr');
    this.tables[0].lr = value; // validates
    for (const t of this.tables) t.lr = value;
  }

  /** Names of the optimizer state tensors. */
  get stateKeys(): readonly string[] {
    return this.tables[0].stateKeys;
  }

  /** How the weights are stored (every shard alike). */
  get weightType(): 'f32' | 'f16' | 'bf16' {
    return this.tables[0].weightType;
  }

  /** How the optimizer state is stored (every shard alike). */
  get stateType(): 'f32' | 'bf16' | 'int8' {
    return this.tables[0].stateType;
  }

  /** Bytes one row takes in engine memory: its weights and its optimizer state. */
  get bytesPerRow(): number {
    return this.tables[0].bytesPerRow;
  }

  /** The footprint of every shard's rows together (scratch buffers not counted). */
  memoryStats(): TableMemoryStats {
    const f = this.tables[0].memoryStats();
    return { ...f, rows: this.rows, tableBytes: this.rows * f.bytesPerRow };
  }

  /** Not available for a sharded table (no single view spans several memories): throws a RangeError saying what to use. */
  get weights(): Float32Array {
    this.checkAlive('weights');
    throw new RangeError(
      `Embedding.weights: this ${this.rows} x ${this.dim} table is split into ${this.tables.length} shards of ${this.shardRows} rows in separate engines, so its weights are not one view; use lookup(ids), row(r), or shard(i).weights (rows from shardStart(i))`,
    );
  }

  /** Not available for a sharded table: throws a RangeError; use `shard(i).state(name)`. */
  state(name: string): Float32Array {
    this.checkAlive('state');
    throw new RangeError(
      `Embedding.state('${String(name)}'): this table is split into ${this.tables.length} shards, so its state is not one view; use shard(i).state(name) (rows from shardStart(i))`,
    );
  }

  /** Exact mode: brings every row of every shard up to date. */
  flush(): void {
    this.checkAlive('flush');
    for (const t of this.tables) t.flush();
  }

  /** The rows of `ids` gathered into `out` (k * dim floats) or a new Float32Array. */
  lookup(ids: ArrayLike<number>, out?: Float32Array): Float32Array {
    this.checkAlive('lookup');
    const k = checkShardedIds('Embedding.lookup', ids, this.rows);
    const n = k * this.dim;
    checkLookupOut(k, this.dim, out);
    const result = out ?? new Float32Array(n);
    const dim = this.dim;
    this.partition(ids, k).forEach((part, s) => {
      if (part.positions.length === 0) return;
      const rowsOut = this.tables[s].lookupView(part.local);
      part.positions.forEach((pos, j) => result.set(rowsOut.subarray(j * dim, (j + 1) * dim), pos * dim));
    });
    return result;
  }

  /** For a sharded table the same as `lookup(ids)`: a new Float32Array (not an engine-owned view). */
  lookupView(ids: ArrayLike<number>): Float32Array {
    this.checkAlive('lookupView');
    return this.lookup(ids);
  }

  /** For a sharded table a new Float32Array of k * dim zeros to fill and pass to `update()`. */
  gradView(k: number): Float32Array {
    this.checkAlive('gradView');
    checkInt('Embedding.gradView', 'k', k, 0, 0x7fffffff);
    return new Float32Array(k * this.dim);
  }

  /**
   * One optimizer step on the rows of `ids` (see `Embedding.update`): every shard steps once,
   * the ones without any of the ids with an empty update. The ids, the gradients and the sums of
   * duplicate ids' gradients are all checked before any shard changes.
   */
  update(ids: ArrayLike<number>, grads: ArrayLike<number>): boolean {
    this.checkAlive('update');
    const k = checkShardedIds('Embedding.update', ids, this.rows);
    const dim = this.dim;
    const n = k * dim;
    if (grads === null || typeof grads !== 'object' || typeof (grads as ArrayLike<number>).length !== 'number') {
      throw new TypeError(
        `Embedding.update: 'grads' must be a Float32Array of ids.length * dim floats, got ${describe(grads)}`,
      );
    }
    if (grads.length !== n)
      throw new RangeError(
        `Embedding.update: 'grads' must hold ids.length * dim = ${k} * ${dim} = ${n} floats, got ${grads.length}`,
      );
    const g =
      grads instanceof Float32Array
        ? grads
        : Float32Array.from(grads, (x, i) => {
            if (typeof x !== 'number')
              throw new TypeError(
                `Embedding.update: grads[${i}] is ${describe(x)}; expected numbers (pass a Float32Array)`,
              );
            return x;
          });
    const policy = this.tables[0].options.nonFinite as string;
    const parts = this.partition(ids, k);
    if (policy !== 'ignore') {
      const bad = this.checkGradients(g, parts, ids);
      if (bad !== null) {
        if (policy === 'skip') return false;
        throw new NonFiniteGradientError(
          `Embedding.update: ${bad}; nothing was changed. Fix the gradients, or pass nonFinite: 'skip' to skip such updates.`,
        );
      }
    }
    // Everything checked: every shard takes step t. Only f16 weights can still refuse a step (a
    // weight past 65504, known once computed): the shards that stepped before it are undone.
    let unique = 0;
    const stepped: EmbeddingShard[] = [];
    const undo = (): void => {
      for (const t of stepped) (t as LeanEmbedding).undoUpdate();
    };
    for (const [s, table] of this.tables.entries()) {
      const part = parts[s];
      const view = table.gradView(part.positions.length);
      part.positions.forEach((pos, j) => view.set(g.subarray(pos * dim, (pos + 1) * dim), j * dim));
      let ok: boolean;
      try {
        ok = table.update(part.local, view);
      } catch (e) {
        undo();
        throw e;
      }
      if (!ok) {
        undo();
        return false;
      }
      stepped.push(table);
      unique += table.lastUniqueRows;
    }
    this.unique = unique;
    return true;
  }

  /**
   * The table's state as one `EmbeddingStateDict` (weights and each state tensor copied into one
   * Float32Array of rows * dim; exact mode: flushed first). Needs that much JavaScript memory.
   */
  stateDict(): EmbeddingStateDict {
    this.checkAlive('stateDict');
    const dicts = this.tables.map((t) => t.stateDict());
    // A tensor has `width` floats a row: dim, or 1 for a per-row accumulator (rowwiseAdagrad's sum).
    const join = (get: (d: EmbeddingStateDict) => Float32Array): Float32Array => {
      const width = get(dicts[0]).length / this.tables[0].rows;
      const out = new Float32Array(this.rows * width);
      dicts.forEach((d, i) => out.set(get(d), i * this.shardRows * width));
      return out;
    };
    const first = dicts[0];
    return {
      ...first,
      rows: this.rows,
      stepCount: this.stepCount,
      weights: join((d) => d.weights),
      state: Object.fromEntries(Object.keys(first.state).map((k) => [k, join((d) => d.state[k])])),
    };
  }

  /**
   * Restores a state saved by `stateDict()` (of a sharded or an unsharded table of the same shape
   * and optimizer): each shard loads its rows. The shape, optimizer and tensors are checked before
   * any shard changes; the options are checked by the first shard before it changes.
   */
  loadStateDict(dict: EmbeddingStateDict): void {
    this.checkAlive('loadStateDict');
    const what = 'Embedding.loadStateDict';
    checkStateDictShape(what, dict, this);
    // Each state tensor has dim floats a row, or 1 (a per-row accumulator): the first shard's say which.
    const decl = TABLE_OPTIMIZERS.get(this.optimizer);
    const slots = decl ? tableStateSlots(decl, resolveTableOptions(decl, this.tables[0].options, what), this.dim) : [];
    const widths = new Map(slots.map((sl) => [sl.name, sl.width]));
    checkTensors(what, [
      ['weights', dict.weights, this.rows * this.dim],
      ...Object.entries(dict.state ?? {}).map(([k, t]): [string, unknown, number] => [
        k,
        t,
        this.rows * (widths.get(k) ?? this.dim),
      ]),
    ]);
    // What a shard would refuse in its own rows is refused here, before any shard changes: non-finite
    // state (and, lean storage, weights).
    const lean = this.weightType !== 'f32' || this.stateType !== 'f32';
    const values: [string, Float32Array][] = [
      ...(lean ? [['weights', dict.weights] as [string, Float32Array]] : []),
      ...Object.entries(dict.state).map(([k, v]): [string, Float32Array] => [`state.${k}`, v]),
    ];
    for (const [name, t] of values) {
      const j = firstNonFinite(t);
      if (j >= 0)
        throw new RangeError(
          `${what}: '${name}'[${j}] is ${t[j]}; ${lean ? "a lean table's values" : 'optimizer state'} must be finite`,
        );
    }
    this.tables.forEach((table, i) => {
      const part = (v: Float32Array, w: number): Float32Array =>
        v.subarray(i * this.shardRows * w, (i * this.shardRows + table.rows) * w);
      table.loadStateDict({
        ...dict,
        rows: table.rows,
        weights: part(dict.weights, this.dim),
        state: Object.fromEntries(Object.entries(dict.state).map(([k, v]) => [k, part(v, widths.get(k) ?? this.dim)])),
      });
    });
  }

  /**
   * Not available for a sharded table (one checkpoint would hold every shard, past what one
   * Uint8Array holds for the tables that need sharding): throws a RangeError; save each shard with
   * `shard(i).save()` and restore it with `shard(i).load(bytes)`.
   */
  save(): Uint8Array {
    this.checkAlive('save');
    throw new RangeError(
      `Embedding.save: this table is split into ${this.tables.length} shards; save each with shard(i).save() and restore each with shard(i).load(bytes)`,
    );
  }

  /** Not available for a sharded table: throws a RangeError; use `shard(i).load(bytes)` for each shard. */
  load(_bytes: Uint8Array | ArrayBuffer): void {
    this.checkAlive('load');
    throw new RangeError(
      `Embedding.load: this table is split into ${this.tables.length} shards; load each shard's checkpoint with shard(i).load(bytes)`,
    );
  }

  /** @internal Frees every shard (and its engine's memory use). */
  protected freeMemory(): void {
    for (const t of this.tables) t.dispose();
  }

  /** Per shard: the positions in `ids` of its rows and their local ids. */
  private partition(ids: ArrayLike<number>, k: number): { positions: number[]; local: Int32Array }[] {
    const positions: number[][] = this.tables.map(() => []);
    for (let i = 0; i < k; i++) positions[Math.floor(ids[i] / this.shardRows)].push(i);
    return positions.map((p, s) => {
      const base = s * this.shardRows;
      return { positions: p, local: Int32Array.from(p, (i) => ids[i] - base) };
    });
  }

  /**
   * A description of why the update would not stay finite in float32, else null: the first
   * non-finite gradient, a duplicate id whose gradients sum to a non-finite float32 (summed in
   * position order, as the kernel does), and then, from max |g| over the rows applied, the checks
   * every shard's kernel needs (src/embedding/table-check.ts: squares, L2-decayed gradients), all
   * before any shard changes.
   */
  private checkGradients(g: Float32Array, parts: { positions: number[] }[], ids: ArrayLike<number>): string | null {
    const dim = this.dim;
    let maxG = 0;
    for (let i = 0; i < g.length; i++) {
      if (!Number.isFinite(g[i])) {
        const pos = Math.floor(i / dim);
        return `grads[${i}] is ${g[i]} (position ${pos}, id ${ids[pos]}, column ${i - pos * dim})`;
      }
    }
    // Each applied row: one gradient row, or the float32 sum of a duplicate id's rows.
    const rows = new Map<number, Float32Array>();
    for (const part of parts) {
      const byId = new Map<number, number[]>();
      for (const pos of part.positions) {
        const list = byId.get(ids[pos]);
        if (list) list.push(pos);
        else byId.set(ids[pos], [pos]);
      }
      for (const [id, list] of byId) {
        const sum = g.slice(list[0] * dim, (list[0] + 1) * dim);
        for (let j = 1; j < list.length; j++) {
          const o = list[j] * dim;
          for (let c = 0; c < dim; c++) sum[c] += g[o + c];
        }
        for (let c = 0; c < dim; c++) {
          if (!Number.isFinite(sum[c]))
            return `the gradients of id ${id}, which appears several times, sum to a non-finite value (float32 overflow)`;
          maxG = Math.max(maxG, Math.abs(sum[c]));
        }
        rows.set(id, sum);
      }
    }
    const decl = TABLE_OPTIMIZERS.get(this.optimizer)!;
    const opts = this.tables[0].options;
    const list = [...rows];
    return rangeCheck(
      {
        unique: list.length,
        maxG,
        id: (r) => list[r][0],
        maxAbs: (r) => list[r][1].reduce((m, x) => Math.max(m, Math.abs(x)), 0),
        grad: (r) => [list[r][1], 0],
        weights: () => (r) => [this.lookup([list[r][0]]), 0],
      },
      dim,
      decl.squaresGradient === true,
      l2Decay(decl, opts),
      opts.maximize ? -1 : 1,
    );
  }
}
