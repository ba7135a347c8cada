// An embedding table's scratch buffers in engine memory: the ids of an update or lookup, the
// coalescing arrays (hash table, unique rows, gradient pointers, chains of positions, sums of
// duplicates), the gradients (gradView's buffer, where update() also copies a caller's array), and
// the gathered rows. Each grows to the next power of two when a larger batch comes, and is reused
// after that; the table's descriptor is pointed at the coalescing arrays.

import { SLOT as S } from '../core/abi.js';
import type { Engine } from '../core/engine.js';

/** The smallest power of two >= k (at least 64): batch sizes reuse a buffer until they double. */
function capacityFor(k: number): number {
  return Math.max(64, 2 ** Math.ceil(Math.log2(Math.max(1, k))));
}

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

  constructor(
    private readonly engine: Engine,
    private readonly dim: number,
    private readonly desc: number,
    private readonly alloc: (bytes: number) => number,
    private readonly release: (ptr: number) => void,
  ) {}

  /** Room for the ids of a batch of k, and for sorting and coalescing them. */
  ensureIds(k: number): void {
    if (k <= this.cap) return;
    const cap = capacityFor(k);
    const keys = 8 * cap,
      uniq = 4 * cap,
      // Sums of duplicates: at most one row per two ids.
      sums = 4 * this.dim * (cap / 2 + 1),
      ids = 4 * cap,
      // The chains of positions: a link per id.
      links = 4 * cap;
    const at = [0, keys, 2 * keys, 2 * keys + uniq, 2 * keys + 2 * uniq, 2 * keys + 2 * uniq + links];
    const idsAt = align16(at[5] + sums);
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
    u32[d + S.EMB_LINK] = block + at[4];
    u32[d + S.EMB_SUM] = block + at[5];
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
