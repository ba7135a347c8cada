// What every embedding table class shares, one engine or shards: disposal (the flag, the check
// that names the call, `dispose()` freeing once) and the safetensors files (./safetensors.ts),
// which read and write any table through its state dict. `EmbeddingTableBase` (the single-memory
// tables) and `ShardedEmbedding` extend it.

import { DisposedError } from '../core/errors.js';
import { loadEmbeddingSafetensors, saveEmbeddingSafetensors } from './safetensors.js';
import type { EmbeddingTable } from './table.js';

/** The part every embedding table class shares: disposal and the safetensors format. */
export abstract class EmbeddingTableCore {
  /** @internal True once disposed. */
  protected disposed = false;

  /** Number of updates applied (the `t` of bias corrections; skipped updates do not count). */
  abstract get stepCount(): number;

  /** @deprecated The same count as `stepCount` (one name per concept: use `stepCount`). */
  get updateCount(): number {
    return this.stepCount;
  }

  /** True once `dispose()` was called. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /**
   * The table in the safetensors format, named as PyTorch would hold an `nn.Embedding` and its
   * optimizer: `weight`, `state.0.<name>`, `state.0.step` (docs/safetensors.md; a sharded table
   * needs rows * dim floats of JavaScript memory per tensor).
   */
  saveSafetensors(): Uint8Array {
    this.checkAlive('saveSafetensors');
    return saveEmbeddingSafetensors(this.asTable());
  }

  /** Loads a table's safetensors file (same shape and optimizer); a refused file throws a CheckpointError and changes nothing. */
  loadSafetensors(bytes: Uint8Array | ArrayBuffer): void {
    this.checkAlive('loadSafetensors');
    loadEmbeddingSafetensors(this.asTable(), bytes);
  }

  /** Frees the table's engine memory; any later use throws a DisposedError. */
  dispose(): void {
    if (this.disposed) return;
    this.freeMemory();
    this.disposed = true;
  }

  /** @internal Frees what the table holds in engine memory (once: `dispose()` calls it). */
  protected abstract freeMemory(): void;

  /** @internal Throws a DisposedError once disposed. */
  protected checkAlive(what: string): void {
    if (this.disposed) throw new DisposedError(`Embedding.${what}: this table was disposed; create a new one`);
  }

  /** Every subclass implements `EmbeddingTable` (the safetensors functions read and restore it). */
  private asTable(): EmbeddingTable {
    return this as unknown as EmbeddingTable;
  }
}
