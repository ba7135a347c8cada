// A float32 table's lazy update split across the engine's worker threads (issue 17). On one thread
// an update copies the caller's gradients into engine memory (unless they are gradView's buffer),
// coalesces the duplicate ids there (assembly/embedding/coalesce.ts), checks the rows, then steps the
// distinct rows. Split:
// - the calling thread copies and coalesces exactly as on one thread (the same pass: the same
//   sums, the same list of rows, max |g| and the id an error names), while a worker takes a job
//   that shows it is awake and reads the rows of the batch's first ids, until the calling thread is
//   done (embPrefetchRows, assembly/embedding/split-prefetch.ts; `prefetchShare`): the rows it
//   will step itself, as the list of distinct rows starts with them and the worker claims the
//   row chunks from its start (the calling thread from its end). On AMD family 26 the cores share
//   no cache, so a prefetch of every row (until 2026-12-06) could not warm the calling thread's
//   and slowed its coalescing (docs/threads.md);
// - the distinct rows are then stepped in ranges by every thread (LocalEmbedding.applyUpdate).
// The row steps cannot start earlier: every row is checked before any changes (an update refused
// changes nothing). Only the calling thread can copy the gradients (they are in its own memory),
// and measured, a worker coalescing behind that copy gained nothing: the copy into shared memory
// costs as much as the coalescing it hid, and the worker read every row the other core had just
// written (bench/threads-ab.js --parts; docs/threads.md).
//
// The hand-off: a worker asleep in Atomics.wait takes tens of microseconds to wake (a futex, and on
// a VM an idle vCPU to schedule). The table wakes the pool (ThreadPool.wake) as soon as it knows the
// update will be split, before it copies the ids, and the workers spin (H_HOT) rather than sleep
// until the update is done. A worker that has not taken that job by the end of the coalescing
// (hundreds of microseconds: the machine is busy, the worker got no core) is not waited for: the
// row steps stay on the calling thread and the pool rests at once (`answered`). Such a late split,
// or one whose row steps waited for a worker longer than the calling thread worked, makes the
// next 1, 2, 4, ... 64 updates run on one thread (`wanted`, `settle`): on a busy machine a split
// that waits for a worker without a core, or whose spinning worker takes the calling thread's
// core, cost several times one thread (docs/threads.md). An engine with minParallelElements 0
// (every update split) does not back off.

import type { Engine } from '../core/engine.js';
import type { ThreadPool } from '../threads/pool.js';

/** Most updates a late split makes run on one thread before the next try. */
const MAX_BACKOFF = 64;

/** The share of an update's ids whose rows a worker prefetches (its part of the row steps; see prefetchShare). */
const PREFETCH_SHARE = 0.4;

/** @internal What the table needs from a split: room, then its coalescing run beside the workers' prefetch. */
export interface UpdateSplit {
  /** Room for what the split needs (allocates: call before taking views of engine memory). */
  ensure(): void;
  /**
   * Runs `coalesce` (the calling thread's coalescing of the `k` checked ids at `idsPtr`, as on one
   * thread) while the workers read the rows of those ids into the cache; returns its result.
   */
  coalesce(idsPtr: number, k: number, coalesce: () => number): number;
}

/** @internal A table's split updates: the workers prefetch the rows while this thread coalesces. */
export class SplitPrefetch implements UpdateSplit {
  private pool: ThreadPool | null = null;
  /** The i32 that stops the prefetch (set when the coalescing is done): a cache line of its own. */
  private stop = 0;
  /** Whether a worker took the last prefetch before the coalescing was done (else the machine is busy). */
  answered = false;
  /**
   * The share of the ids (from the batch's first) whose rows the worker reads while this thread
   * coalesces: the rows of the first chunks of the row steps, which the worker claims (the calling
   * thread claims from the end). On AMD family 26 (Zen 5) the vCPUs share no cache, so reading
   * every row (1) cannot warm this thread's rows and slows its coalescing (docs/threads.md, "Where
   * a split update's time goes on Zen 5"). `@internal` bench/threads-ab.js --parts sets 1 to time that.
   */
  prefetchShare = PREFETCH_SHARE;
  /** Updates left to run on one thread, and how many the next late split skips (doubling). */
  private skip = 0;
  private backoff = 0;

  /** `alloc`: the table's own block allocator (the block is freed with the table). */
  constructor(
    private readonly engine: Engine,
    private readonly desc: number,
    private readonly alloc: (bytes: number) => number,
  ) {}

  /** This update's pool. */
  use(pool: ThreadPool): this {
    this.pool = pool;
    return this;
  }

  /**
   * Whether this update may split: false for the updates that follow a late split (a worker that
   * did not answer, or that the calling thread waited for longer than it worked itself: a worker
   * without a core), 1, 2, 4, ... up to MAX_BACKOFF updates as long as splits stay late.
   */
  wanted(): boolean {
    if (this.skip === 0) return true;
    this.skip--;
    return false;
  }

  /** After a split update: `late` if a worker did not answer or was waited for (see wanted()). */
  settle(late: boolean): void {
    if (late) {
      this.backoff = Math.min(MAX_BACKOFF, this.backoff * 2 || 1);
      this.skip = this.backoff;
    } else this.backoff = 0;
  }

  /** Whether the pool's last run waited for its workers longer than the calling thread worked (and over 0.1 ms). */
  static waited(pool: ThreadPool): boolean {
    const { ownMs, waitMs } = pool.lastRun;
    return waitMs > 0.1 && waitMs > ownMs;
  }

  ensure(): void {
    if (!this.stop) this.stop = Math.ceil(this.alloc(128) / 64) * 64;
  }

  coalesce(idsPtr: number, k: number, coalesce: () => number): number {
    const pool = this.pool as ThreadPool;
    const i32 = this.engine.heapI32,
      at = this.stop >>> 2;
    i32[at] = 0; // published with the job
    let result = 0;
    let error: { e: unknown } | null = null;
    const byWorkers = pool.stats.chunksByWorkers;
    pool.run(
      [{ fn: 'embPrefetchRows', args: [this.desc, idsPtr, Math.floor(k * this.prefetchShare), this.stop] }],
      () => {
        try {
          result = coalesce();
        } catch (e) {
          error = { e };
        } finally {
          // Whatever happened, the prefetch ends now (and does nothing if no worker has begun it).
          Atomics.store(i32, at, 1);
        }
      },
    );
    this.answered = pool.stats.chunksByWorkers > byWorkers && !SplitPrefetch.waited(pool);
    if (!this.answered) this.settle(true);
    if (error !== null) throw (error as { e: unknown }).e;
    return result;
  }
}
