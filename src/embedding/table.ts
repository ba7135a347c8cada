// What every embedding table does, whichever memory holds it: `LocalEmbedding` (one engine) and
// `ShardedEmbedding` (row ranges in several engines) implement it, and `Embedding` delegates to the
// one `createEmbeddingTable` chose.

import type { Engine } from '../core/engine.js';
import type { EmbeddingMode, EmbeddingOptimizer, EmbeddingStateDict } from './options.js';
import type { TableMemoryStats } from './footprint.js';
import { CheckpointError } from '../core/checkpoint.js';

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
 * @internal `fromCheckpoint`'s second half for every kind of table: creates the table the
 * checkpoint describes (a construction the options refuse is a malformed checkpoint) and loads the
 * checkpoint into it, freeing the table when the load is refused.
 */
export function restoreTable<T extends { load(bytes: Uint8Array | ArrayBuffer): void; dispose(): void }>(
  create: () => T,
  bytes: Uint8Array | ArrayBuffer,
): T {
  let table: T;
  try {
    table = create();
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
