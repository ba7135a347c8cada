// An embedding table's scratch buffers in engine memory: the ids of an update or lookup, the
// coalescing arrays (hash table, unique rows, gradient pointers, sums of duplicates), the
// gradients (or the coalesced rows of copied gradients), the buffer that copied gradients pass
// through piece by piece, and the gathered rows. Each grows to the next power of two when a larger batch
// comes, and is reused after that; the table's descriptor is pointed at the coalescing arrays.

import { SLOT as S } from '../core/abi.js';
import type { Engine } from '../core/engine.js';

/** The smallest power of two >= k (at least 64): batch sizes reuse a buffer until they double. */
function capacityFor(k: number): number {
  return Math.max(64, 2 ** Math.ceil(Math.log2(Math.max(1, k))));
}

/**
 * Bytes of the buffer that copied gradients pass through on their way to coalescing: small enough
 * to stay in L2 between the copy and the pass that reads it (16-256 KiB measured alike, 64 KiB best;
 * AMD EPYC family 23, 2026-12-05), large enough that the calls per piece cost little.
 */
const STAGE_BYTES = 65536;

function align16(n: number): number {
  return Math.ceil(n / 16) * 16;
}

/** @internal The scratch of one table (its blocks are the table's: `alloc`/`release` are its own). */
export class TableScratch {
  /** Ids the coalescing block has room for. */
  private cap = 0;
  private block = 0;
  /** Where the ids of the current batch go (int32). */
  idsPtr = 0;
  /** Rows the gradient buffer has room for. */
  gradCap = 0;
  /** The gradients of the current batch (k * dim floats). */
  gradPtr = 0;
  private outCap = 0;
  /** The rows a lookup gathers (k * dim floats). */
  outPtr = 0;
  /** The buffer copied gradients pass through (`stageRows` rows: 64 KiB, or one row if larger). */
  stagePtr = 0;
  /** Gradient rows the stage buffer holds. */
  readonly stageRows: number;

  constructor(
    private readonly engine: Engine,
    private readonly dim: number,
    private readonly desc: number,
    private readonly alloc: (bytes: number) => number,
    private readonly release: (ptr: number) => void,
  ) {
    this.stageRows = Math.max(1, Math.floor(STAGE_BYTES / (4 * dim)));
  }

  /** Room for the stage buffer. */
  ensureStage(): void {
    if (!this.stagePtr) this.stagePtr = this.alloc(this.stageRows * this.dim * 4);
  }

  /** Room for the ids of a batch of k, and for sorting and coalescing them. */
  ensureIds(k: number): void {
    if (k <= this.cap) return;
    const cap = capacityFor(k);
    const keys = 8 * cap,
      uniq = 4 * cap,
      // Sums of duplicates (gradients read in place), or the copied way's lists of ids (COALESCE_LIST
      // entries of 8 bytes: assembly/embedding/coalesce.ts).
      sums = Math.max(4 * this.dim * (cap / 2 + 1), 8 * S.COALESCE_LIST),
      ids = 4 * cap;
    const at = [0, keys, 2 * keys, 2 * keys + uniq, 2 * keys + 2 * uniq];
    const idsAt = align16(at[4] + sums);
    const block = this.alloc(idsAt + ids);
    this.release(this.block);
    this.block = block;
    this.cap = cap;
    this.idsPtr = block + idsAt;
    const u32 = this.engine.heapU32;
    const d = this.desc >>> 2;
    u32[d + S.EMB_KEYS] = block + at[0];
    u32[d + S.EMB_KEYS2] = block + at[1];
    u32[d + S.EMB_UNIQ] = block + at[2];
    u32[d + S.EMB_GPTR] = block + at[3];
    u32[d + S.EMB_SUM] = block + at[4];
  }

  /** Room for the gradients of k rows. */
  ensureGrads(k: number): void {
    if (k <= this.gradCap && this.gradPtr) return;
    const cap = capacityFor(k);
    const p = this.alloc(cap * this.dim * 4);
    this.release(this.gradPtr);
    this.gradPtr = p;
    this.gradCap = cap;
  }

  /** Room for k gathered rows. */
  ensureOut(k: number): void {
    if (k <= this.outCap && this.outPtr) return;
    const cap = capacityFor(k);
    const p = this.alloc(cap * this.dim * 4);
    this.release(this.outPtr);
    this.outPtr = p;
    this.outCap = cap;
  }

  /** Copies k ids into the ids buffer (after `ensureIds(k)`). */
  copyIds(ids: ArrayLike<number>, k: number): void {
    const i32 = this.engine.heapI32;
    const at = this.idsPtr >>> 2;
    if (ids instanceof Int32Array || ids instanceof Uint32Array || Array.isArray(ids)) {
      i32.set(ids as ArrayLike<number>, at);
    } else {
      for (let i = 0; i < k; i++) i32[at + i] = ids[i];
    }
  }

  /** True when `grads` is this scratch's own gradient buffer holding n floats (`gradView`): no copy needed. */
  holds(grads: ArrayLike<number>, n: number): boolean {
    return (
      grads instanceof Float32Array &&
      this.engine.isCurrent(grads) &&
      grads.byteOffset === this.gradPtr &&
      n <= this.gradCap * this.dim
    );
  }
}
