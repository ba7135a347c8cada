// A float32 table's lazy update split across the engine's worker threads (issue 17), coalescing
// included. On one thread an update copies the caller's gradients into engine memory, coalesces the
// duplicate ids, then steps the distinct rows. Split:
// - the calling thread copies the gradients in pieces of 64 KiB and publishes after each how many
//   rows are in (an i32 in engine memory, Atomics.store), while a worker runs the one-thread
//   coalescing pass right behind it (assembly/embedding/coalesce.ts, embCoalesceStream): the copy
//   and the coalescing, about equally long, overlap instead of following each other;
// - the distinct rows are then stepped in ranges by every thread (LocalEmbedding.applyUpdate).
// The coalescing is the one-thread pass over the same ids in the same order, so the sums, the list
// of rows, max |g| and the id an error names are the bits of one thread. If no worker has taken
// the coalescing by the time the copy is done, the calling thread runs it itself.
//
// The hand-off: a worker asleep in Atomics.wait takes tens of microseconds to wake (a futex, and on
// a VM an idle vCPU to schedule). The table wakes the pool (ThreadPool.wake) as soon as it knows the
// update will be split, before it copies the ids, and the workers spin (H_HOT) rather than sleep
// until the update is done, so the row steps start on every thread at once.

import type { Engine } from '../core/engine.js';
import type { ThreadPool } from '../threads/pool.js';

/** Bytes of gradients the calling thread copies between two announcements of its progress. */
const PIECE_BYTES = 65536;

/** @internal What the table needs from a split: room, then the coalescing. */
export interface UpdateSplit {
  /** Room for what the split needs (allocates: call before taking views of engine memory). */
  ensure(): void;
  /**
   * Coalesces the `k` checked ids at `idsPtr` with their gradients (k * dim floats at `gradPtr`;
   * `grads`: the caller's array to copy there first, or null when they are there already) into the
   * table's descriptor, as embCoalesce: the unique rows (-1 with EMB_BAD when `check` finds a row
   * that is not finite), EMB_UNIQ, EMB_GPTR and EMB_GMAX.
   */
  coalesce(idsPtr: number, k: number, gradPtr: number, check: boolean, grads: ArrayLike<number> | null): number;
}

/** @internal The coalescing of a table's split updates: a worker coalesces while this thread copies. */
export class SplitCoalescing implements UpdateSplit {
  private pool: ThreadPool | null = null;
  /** The i32 where the copy's progress (rows in) is published: a cache line of its own. */
  private progress = 0;

  /** `alloc`: the table's own block allocator (the block is freed with the table). */
  constructor(
    private readonly engine: Engine,
    private readonly dim: number,
    private readonly desc: number,
    private readonly alloc: (bytes: number) => number,
  ) {}

  /** This update's pool. */
  use(pool: ThreadPool): this {
    this.pool = pool;
    return this;
  }

  ensure(): void {
    if (!this.progress) this.progress = Math.ceil(this.alloc(128) / 64) * 64;
  }

  coalesce(idsPtr: number, k: number, gradPtr: number, check: boolean, grads: ArrayLike<number> | null): number {
    const pool = this.pool as ThreadPool;
    const e = this.engine;
    const at = this.progress >>> 2;
    const job = {
      fn: 'embCoalesceStream' as const,
      args: [this.desc, idsPtr, k, gradPtr, check ? 1 : 0, this.progress],
    };
    if (grads === null) {
      e.heapI32[at] = k;
      return pool.run([job])[0];
    }
    e.heapI32[at] = 0; // published with the job
    const dim = this.dim;
    const copy = (): void => {
      const heap = e.heapF32,
        i32 = e.heapI32,
        base = gradPtr >>> 2;
      try {
        if (grads instanceof Float32Array || grads instanceof Float64Array) {
          const per = Math.max(1, Math.floor(PIECE_BYTES / (4 * dim)));
          for (let a = 0; a < k; a += per) {
            const b = Math.min(k, a + per);
            heap.set(grads.subarray(a * dim, b * dim), base + a * dim);
            Atomics.store(i32, at, b);
          }
        } else heap.set(grads, base);
      } finally {
        // Whatever happened, the coalescing must not wait for rows that will not come.
        Atomics.store(i32, at, k);
      }
    };
    return pool.run([job], copy)[0];
  }
}
