// What every embedding table does, whichever memory holds it: `LocalEmbedding` (one engine) and
// `ShardedEmbedding` (row ranges in several engines) implement it, and `Embedding` delegates to the
// one `createEmbeddingTable` chose.

import type { Engine } from '../core/engine.js';
import type { EmbeddingMode, EmbeddingOptimizer, EmbeddingOptions, EmbeddingStateDict } from './options.js';
import type { TableMemoryStats } from './footprint.js';
import { CheckpointError, decodeCheckpoint } from '../core/checkpoint.js';

/** An embedding table trained with sparse updates (see `Embedding` for the semantics). */
export interface EmbeddingTable {
  /** The engine the table lives in (a sharded table: its first shard's). */
  readonly engine: Engine;
  /** Number of rows. */
  readonly rows: number;
  /** Floats per row. */
  readonly dim: number;
  /** The optimizer. */
  readonly optimizer: EmbeddingOptimizer;
  /** `'lazy'` or `'exact'`. */
  readonly mode: EmbeddingMode;
  /** The seed of the random initialisation (null for zeros or given values). */
  readonly seed: number | null;
  /** Number of updates applied (the `t` of bias corrections; skipped updates do not count). */
  readonly stepCount: number;
  /** @deprecated The same count as `stepCount` (one name per concept: use `stepCount`). */
  readonly updateCount: number;
  /** Number of distinct rows the last update touched. */
  readonly lastUniqueRows: number;
  /** The resolved hyperparameters (a copy). */
  readonly options: Readonly<Record<string, unknown>>;
  /** The learning rate; settable between updates. */
  lr: number;
  /** How the weights are stored (`'f32'` unless the table is a `LeanEmbedding`). */
  readonly weightType: 'f32' | 'f16' | 'bf16';
  /** How the optimizer state is stored (`'f32'` unless the table is a `LeanEmbedding`). */
  readonly stateType: 'f32' | 'bf16' | 'int8';
  /** Names of the optimizer state tensors (PyTorch's names). */
  readonly stateKeys: readonly string[];
  /** Bytes one row takes in engine memory: weights and optimizer state as stored (Adam, 64-dim float32: 768; docs/lean-storage.md). */
  readonly bytesPerRow: number;
  /** The table's footprint: bytes per row of weights and of state, and in all. */
  memoryStats(): TableMemoryStats;
  /** True once `dispose()` was called. */
  readonly isDisposed: boolean;
  /** The weights, `rows * dim` floats: a live view (a sharded table throws and says what to use). */
  readonly weights: Float32Array;
  /** A copy of optimizer state tensor `name`, `rows * dim` floats (`rows` for a per-row accumulator). */
  state(name: string): Float32Array;
  /** Exact mode: brings every row up to date. */
  flush(): void;
  /** The rows of `ids`, gathered into `out` or a new Float32Array. */
  lookup(ids: ArrayLike<number>, out?: Float32Array): Float32Array;
  /** Like `lookup`, into a buffer the table owns (no allocation; overwritten by the next lookup). */
  lookupView(ids: ArrayLike<number>): Float32Array;
  /** A buffer for the gradients of `k` ids, to pass to `update` without a copy. */
  gradView(k: number): Float32Array;
  /** One optimizer step on the rows of `ids`; duplicate ids are summed. False when skipped. */
  update(ids: ArrayLike<number>, grads: ArrayLike<number>): boolean;
  /** Hyperparameters, step count, and copies of the weights and optimizer state. */
  stateDict(): EmbeddingStateDict;
  /** Restores a `stateDict()`; everything is checked before anything changes. */
  loadStateDict(dict: EmbeddingStateDict): void;
  /** A binary checkpoint of the table. */
  save(): Uint8Array;
  /** Restores a checkpoint from `save()`. */
  load(bytes: Uint8Array | ArrayBuffer): void;
  /** The table in the safetensors format in PyTorch's names (`weight`, `state.0.*`; docs/safetensors.md). */
  saveSafetensors(): Uint8Array;
  /** Restores a safetensors file from `saveSafetensors()` or PyTorch; everything is checked before anything changes. */
  loadSafetensors(bytes: Uint8Array | ArrayBuffer): void;
  /** Frees the table's engine memory; any later use throws a DisposedError. */
  dispose(): void;
}

/**
 * @internal `fromCheckpoint` for every kind of table: decodes the checkpoint, checks that the
 * weights it holds match the shape it claims (`elementBytes` per stored weight: 4 for float32, 2
 * for 16-bit) before any engine memory is taken, creates the table it describes with `create(p,
 * options)` (options: the checkpoint's, its optimizer and mode, zero initial values; a construction
 * the options refuse is a malformed checkpoint) and loads the checkpoint into it, freeing the
 * table when the load is refused.
 */
export function restoreTable<T extends { load(bytes: Uint8Array | ArrayBuffer): void; dispose(): void }>(
  bytes: Uint8Array | ArrayBuffer,
  elementBytes: number | ((p: Record<string, unknown>) => number),
  create: (p: Record<string, unknown>, options: EmbeddingOptions) => T,
): T {
  const p = decodeCheckpoint(bytes, 'Embedding', 'Embedding.fromCheckpoint').payload as Record<string, unknown>;
  // The shape must match the weights the checkpoint holds before any engine memory is taken: a
  // few hundred bytes claiming a 2e9 x 64 table built hundreds of shard engines before refusing.
  const rows = p.rows,
    dim = p.dim,
    w = p.weights;
  const size = typeof elementBytes === 'number' ? elementBytes : elementBytes(p);
  const held = w instanceof Float32Array || w instanceof Uint8Array;
  if (
    !Number.isSafeInteger(rows) ||
    !Number.isSafeInteger(dim) ||
    (rows as number) < 0 ||
    (dim as number) < 0 ||
    !held ||
    w.byteLength !== (rows as number) * (dim as number) * size
  ) {
    const holds = held ? `${w.byteLength / size}` : 'no';
    throw new CheckpointError(
      'malformed',
      `Embedding.fromCheckpoint: the checkpoint is malformed (it claims a ${String(rows)} x ${String(dim)} table but holds ${holds} ${size === 4 ? 'float32' : `${8 * size}-bit`} weights) although its checksum holds`,
    );
  }
  const options: EmbeddingOptions = {
    ...((p.options ?? {}) as Record<string, unknown>),
    optimizer: p.optimizer as EmbeddingOptimizer,
    mode: p.mode as EmbeddingMode,
    init: 'zeros',
  };
  let table: T;
  try {
    table = create(p, options);
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError)
      throw new CheckpointError(
        'malformed',
        `Embedding.fromCheckpoint: the checkpoint's table cannot be created: ${e.message}`,
      );
    throw e;
  }
  try {
    table.load(bytes);
  } catch (e) {
    table.dispose();
    throw e;
  }
  return table;
}

/** @internal Runs a checkpoint's restore step `fn`: a RangeError or TypeError it throws becomes a CheckpointError ('layout'). */
export function checkpointTable(what: string, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError) throw new CheckpointError('layout', `${what}: ${e.message}`);
    throw e;
  }
}
