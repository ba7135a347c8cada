// A float32 table's lazy update split across the engine's worker threads (issue 17), coalescing
// included. The gradients are copied into engine memory whole (the workers read them there), then
// the batch's ids are dealt out to P parts by a hash of their row (assembly/embedding/coalesce.ts,
// embCoalescePart): part q sums the gradients of its rows in batch order into scratch of its own and
// checks them, on whichever thread claims it. Every row belongs to one part, and each part sums and
// lists its rows as the one-thread pass does, so the sums are the same bits. The parts' lists of
// distinct rows are then appended to the table's (part 0 fills it in place), so the checks and
// errors that follow see one list as after embCoalesce, and the row steps are split as before.
//
// What made the earlier split (reverted in b946e3f) slower than coalescing on the calling thread
// was the hand-off: a worker that sleeps in Atomics.wait takes tens of microseconds to wake (a
// futex and, on a VM, an idle vCPU to schedule), twice per update. Here the table wakes the pool
// (ThreadPool.wake) before it copies the gradients, so the worker's wake-up overlaps that copy, and
// the workers spin between the coalescing and the row steps instead of sleeping.

import { SLOT as S } from '../core/abi.js';
import type { Engine } from '../core/engine.js';
import type { ThreadJob, ThreadPool } from '../threads/pool.js';
import { TableScratch } from './scratch.js';

/**
 * Internal: coalescing parts per thread. More parts than threads let a thread that starts late
 * take fewer of them; each part reads all the ids (a few microseconds per 4096).
 */
export const SPLIT_PARTS_PER_THREAD = 2;

/** @internal What the table needs from a split: room for a batch, then the coalescing. */
export interface UpdateSplit {
  /** Room for `k` ids in every part (allocates: call before taking views of engine memory). */
  ensure(k: number): void;
  /**
   * Coalesces the `k` checked ids at `idsPtr` with their gradients at `gradPtr` (k * dim floats)
   * into the table's descriptor, as embCoalesce does: the unique rows (or -1 with EMB_BAD, when
   * `check` finds a row that is not finite), EMB_UNIQ, EMB_GPTR and EMB_GMAX.
   */
  coalesce(idsPtr: number, k: number, gradPtr: number, check: boolean): number;
}

/** @internal The coalescing parts of a table (part 0 is the table's own descriptor and scratch). */
export class SplitCoalescing implements UpdateSplit {
  private readonly extra: { desc: number; scratch: TableScratch }[] = [];
  private pool: ThreadPool | null = null;

  /** `alloc`/`release`: the table's own block allocator (the blocks are freed with the table). */
  constructor(
    private readonly engine: Engine,
    private readonly dim: number,
    private readonly desc: number,
    private readonly alloc: (bytes: number) => number,
    private readonly release: (ptr: number) => void,
  ) {}

  /** This update's pool (the parts: SPLIT_PARTS_PER_THREAD per thread). */
  use(pool: ThreadPool): this {
    this.pool = pool;
    return this;
  }

  private get parts(): number {
    return Math.max(2, (this.pool?.threads ?? 1) * SPLIT_PARTS_PER_THREAD);
  }

  ensure(k: number): void {
    while (this.extra.length < this.parts - 1) {
      const desc = this.alloc(S.EMB_DESC_BYTES);
      const u32 = this.engine.heapU32;
      u32.copyWithin(desc >>> 2, this.desc >>> 2, (this.desc + S.EMB_DESC_BYTES) >>> 2);
      const scratch = new TableScratch(this.engine, this.dim, desc, this.alloc, this.release);
      this.extra.push({ desc, scratch });
    }
    for (const p of this.extra) p.scratch.ensureIds(k);
  }

  coalesce(idsPtr: number, k: number, gradPtr: number, check: boolean): number {
    const pool = this.pool as ThreadPool;
    const n = this.parts;
    const descs = [this.desc, ...this.extra.slice(0, n - 1).map((p) => p.desc)];
    const span = Math.floor(2 ** 32 / n);
    const jobs: ThreadJob[] = descs.map((d, q) => ({
      fn: 'embCoalescePart',
      args: [d, idsPtr, k, gradPtr, check ? 1 : 0, q * span, q === n - 1 ? 2 ** 32 - q * span : span],
    }));
    const counts = pool.run(jobs);
    const u32 = this.engine.heapU32;
    const d0 = this.desc >>> 2;
    let bad = -1;
    let gmax = 0;
    let unique = 0;
    descs.forEach((d, q) => {
      const c = counts[q];
      const dq = d >>> 2;
      if (c < 0) {
        // The smallest id whose row is not finite, over the parts (the one-thread EMB_BAD).
        const b = u32[dq + S.EMB_BAD];
        if (bad < 0 || b < bad) bad = b;
        return;
      }
      gmax = Math.max(gmax, u32[dq + S.EMB_GMAX]);
      if (q > 0) {
        for (const w of [S.EMB_UNIQ, S.EMB_GPTR]) {
          const from = u32[dq + w] >>> 2;
          u32.copyWithin((u32[d0 + w] >>> 2) + unique, from, from + c);
        }
      }
      unique += c;
    });
    if (bad >= 0) {
      u32[d0 + S.EMB_BAD] = bad;
      return -1;
    }
    // max |g| as float32 bits: the bits of non-negative floats order as the values do.
    u32[d0 + S.EMB_GMAX] = gmax;
    u32[d0 + S.EMB_CU] = unique;
    return unique;
  }
}
