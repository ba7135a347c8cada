// How a table is cut into shards: the most rows one engine holds for these options (float32
// tables: each block within 1 GiB and 3.5 GiB in all; lean tables: their records within 3.5 GiB),
// the options a sharded table takes, and the small checks it makes itself. The sharded table is
// ./sharded.ts.

import type { AnyDeclaration } from '../core/declaration.js';
import { describe } from '../core/options.js';
import { TABLE_OPTIMIZERS, TABLE_OPTIMIZER_NAMES } from '../optimizers/registry.js';
import { rowFootprint, tableStateSlots } from './footprint.js';
import { leanTableLayout, resolveStorage } from './lean-layout.js';
import { resolveTableOptions, type EmbeddingOptions } from './options.js';

/** Floats one engine block holds (1 GiB), as `Embedding` allows per tensor. */
export const SHARD_MAX_FLOATS = (1 << 28) - 16;
/** Bytes of table tensors (weights and state) one shard's engine holds at most (3.5 GiB). */
export const SHARD_MAX_BYTES = 3.5 * 2 ** 30;

/** Options of a sharded table: an `Embedding`'s, plus the most rows one shard may hold. */
export interface ShardedEmbeddingOptions extends EmbeddingOptions {
  /**
   * The most rows one shard may hold (default: as many as fit one engine block and 3.5 GiB of
   * weights and state). Smaller shards are for tests and for spreading a table over engines.
   */
  maxShardRows?: number;
}

/** The most rows of `dim` values one engine holds under these options (before `maxShardRows`). */
function rowsPerEngine(o: ShardedEmbeddingOptions, dim: number): number {
  const name = o.optimizer ?? 'adam';
  const d = TABLE_OPTIMIZERS.get(name) as AnyDeclaration | undefined;
  if (d === undefined)
    throw new RangeError(
      `Embedding: option 'optimizer' must be one of ${TABLE_OPTIMIZER_NAMES.map((n) => `'${n}'`).join(', ')}, got ${describe(name)}`,
    );
  const {
    optimizer: _o,
    mode: _m,
    init: _i,
    seed: _s,
    engine: _e,
    maxShardRows: _r,
    weightType: _w,
    stateType: _t,
    ...own
  } = o;
  const opts = resolveTableOptions(d, own as Record<string, unknown>, `Embedding (optimizer '${name}')`);
  const { weightType, stateType } = resolveStorage(o);
  if (weightType !== 'f32' || stateType !== 'f32') {
    // A lean table's records sit in chunks of their own: only the engine's memory bounds them.
    return Math.floor(SHARD_MAX_BYTES / leanTableLayout(d, opts, dim, weightType, stateType).record);
  }
  const foot = rowFootprint(dim, tableStateSlots(d, opts, dim));
  // An Embedding keeps a row's optimizer state tensors side by side in one block: that block, like
  // the weights, must fit SHARD_MAX_FLOATS.
  return Math.min(
    Math.floor((SHARD_MAX_FLOATS * 4) / Math.max(foot.weightBytes, foot.stateBytes)),
    Math.floor(SHARD_MAX_BYTES / foot.bytesPerRow),
  );
}

/** Rows per shard for a `rows` x `dim` table with these options. */
export function shardRowsFor(rows: number, dim: number, options: ShardedEmbeddingOptions = {}): number {
  let max = rowsPerEngine(options, dim);
  if (options.maxShardRows !== undefined) max = Math.min(max, options.maxShardRows);
  if (max < 1)
    throw new RangeError(
      `Embedding: one row of ${dim} floats with its optimizer state does not fit one engine; use a smaller dim`,
    );
  const shards = Math.ceil(rows / max);
  return Math.ceil(rows / shards);
}

/** @internal An integer in [min, max], or a TypeError/RangeError naming `name`. */
export function checkInt(what: string, name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') throw new TypeError(`${what}: '${name}' must be an integer, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new RangeError(`${what}: '${name}' must be an integer in [${min}, ${max}], got ${value}`);
  return value;
}

/** @internal Elements [a, b) of `values` (a view when it is a typed array). */
export function slice(values: ArrayLike<number>, a: number, b: number): ArrayLike<number> {
  if (ArrayBuffer.isView(values)) return (values as unknown as Float32Array).subarray(a, b);
  if (Array.isArray(values)) return values.slice(a, b);
  return Array.from({ length: b - a }, (_, i) => values[a + i]);
}

/** @internal Checks the ids (integers in [0, rows)); returns their number. */
export function checkShardedIds(what: string, ids: unknown, rows: number): number {
  if (!(ids instanceof Int32Array || ids instanceof Uint32Array || Array.isArray(ids))) {
    throw new TypeError(
      `${what}: 'ids' must be row ids: an Int32Array, a Uint32Array or an array of integers, got ${describe(ids)}`,
    );
  }
  const a = ids as ArrayLike<number>;
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (typeof v !== 'number' || !Number.isInteger(v))
      throw new TypeError(`${what}: ids[${i}] is ${describe(v)}; ids must be integers (pass an Int32Array)`);
    if (v < 0 || v >= rows)
      throw new RangeError(`${what}: ids[${i}] = ${v} is outside [0, ${rows}); nothing was changed`);
  }
  return a.length;
}
