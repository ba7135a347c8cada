// A float32 table's lazy update split across the engine's worker threads (issue 17). On one thread
// an update copies the caller's gradients into engine memory (unless they are gradView's buffer),
// coalesces the duplicate ids there (assembly/embedding/coalesce.ts: a pass over the ids that lists
// the distinct rows and chains each row's positions, then a pass over the distinct rows that sums
// the repeated ones' gradients along their chains), checks the rows, then steps the distinct rows.
// Split (assembly/embedding/split-prefetch.ts):
// - while the calling thread copies the gradients in (only it can: they are in its own memory), a
//   worker runs the first pass, which reads only the ids (embSplitList), then reads the listed
//   rows' weights and state into the cache until the copy is done;
// - every thread then sums and checks ranges of the distinct rows (embSplitSums: the same sums in
//   the same order as one thread, each range's sums in a buffer of its own), and the calling
//   thread combines the ranges' checks (the smallest bad id, the largest |g|) as one pass would;
// - once every row is checked (an update refused changes nothing), the distinct rows are stepped
//   in ranges by every thread (LocalEmbedding.applyUpdate).
// Same bits as one thread, the same errors naming the same id.
//
// The hand-off: a worker asleep in Atomics.wait takes tens of microseconds to wake (a futex, and on
// a VM an idle vCPU to schedule). The table wakes the pool (ThreadPool.wake) as soon as it knows the
// update will be split, before it copies the ids, and the workers spin (H_HOT) rather than sleep
// until the update is done. A worker that has not taken the first pass by the end of the copy (the
// machine is busy, the worker got no core) is not waited for: the calling thread runs that pass and
// the rest of the update alone and the pool rests at once (`answered`). Such a late split, or one
// whose parts waited for a worker longer than the calling thread worked, makes the next 1, 2, 4,
// ... 64 updates run on one thread (`wanted`, `settle`): on a busy machine a split that waits for a
// worker without a core, or whose spinning worker takes the calling thread's core, cost several
// times one thread (docs/threads.md). An engine with minParallelElements 0 (every update split)
// does not back off.
//
// History (docs/threads.md): the coalescing stayed whole on the calling thread while a worker read
// the rows ahead (embPrefetchRows, 2026-12-05); once the coalescing along chains made it short
// (2026-12-06), that worker's reads competed with it instead of hiding behind it.

import { SLOT as S } from '../core/abi.js';
import type { Engine } from '../core/engine.js';
import type { ThreadPool } from '../threads/pool.js';

/** Most updates a late split makes run on one thread before the next try. */
const MAX_BACKOFF = 64;

/** Ranges of distinct rows the second pass is cut into per thread (each a wasm call and a claim). */
const SUM_PARTS_PER_THREAD = 2;
/** Ids (positions on the rows' chains) a range of the second pass holds about at least. */
const SUM_MIN_IDS = 512;
/** Most ranges of the second pass (their ends: 4 bytes each, their checks: 8 bytes each). */
const MAX_SUM_PARTS = 16;
/** The split's own block: the stop word's cache line, the ranges' checks, then their ends. */
const OUT_AT = 64;
const CUTS_AT = OUT_AT + MAX_SUM_PARTS * 8;
const BLOCK_BYTES = 64 + CUTS_AT + (MAX_SUM_PARTS + 1) * 4;

/** @internal What the table needs from a split: room, then its coalescing (the same result as embCoalesce's). */
export interface UpdateSplit {
  /** Room for an update of `k` ids (allocates: call before taking views of engine memory). */
  ensure(k: number): void;
  /**
   * Coalesces the `k` (> 0) checked ids at `idsPtr` with their gradients at `grads` (k * dim floats
   * once `copy` has run: the calling thread's copy of the caller's array, or nothing for gradView's
   * buffer), as embCoalesce does (the same result, EMB_UNIQ, EMB_GPTR, EMB_BAD and EMB_GMAX).
   */
  coalesce(idsPtr: number, k: number, grads: number, copy: () => void, check: boolean): number;
}

/** @internal A table's split updates: the coalescing's passes beside the copy and across the threads. */
export class SplitUpdate implements UpdateSplit {
  private pool: ThreadPool | null = null;
  /** The i32 that stops the worker's prefetch (set when the copy is done): a cache line of its own, then the ranges' checks. */
  private stop = 0;
  /** The ranges' sums of repeated rows: room for `cap` rows. */
  private sums = 0;
  private cap = 0;
  /** Whether a worker took the last first pass before the copy was done (else the machine is busy). */
  answered = false;
  /** Updates left to run on one thread, and how many the next late split skips (doubling). */
  private skip = 0;
  private backoff = 0;
  /** @internal (bench/threads-ab.js --parts) whether the worker reads the rows after the first pass. */
  prefetch = true;

  /** `alloc`/`release`: the table's own block allocator (the blocks are freed with the table). */
  constructor(
    private readonly engine: Engine,
    private readonly desc: number,
    private readonly dim: number,
    private readonly alloc: (bytes: number) => number,
    private readonly release: (ptr: number) => void,
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

  ensure(k: number): void {
    if (!this.stop) this.stop = Math.ceil(this.alloc(BLOCK_BYTES) / 64) * 64;
    if (k > this.cap) {
      const cap = 2 ** Math.ceil(Math.log2(Math.max(64, k)));
      const p = this.alloc(cap * this.dim * 4);
      this.release(this.sums);
      this.sums = p;
      this.cap = cap;
    }
  }

  coalesce(idsPtr: number, k: number, grads: number, copy: () => void, check: boolean): number {
    const pool = this.pool as ThreadPool;
    const x = this.engine.exports;
    const desc = this.desc;
    const i32 = this.engine.heapI32,
      at = this.stop >>> 2;
    i32[at] = 0; // published with the job
    let error: { e: unknown } | null = null;
    const byWorkers = pool.stats.chunksByWorkers;
    const out = this.stop + OUT_AT,
      cuts = this.stop + CUTS_AT;
    const parts = Math.max(
      1,
      Math.min(pool.threads * SUM_PARTS_PER_THREAD, MAX_SUM_PARTS, Math.floor(k / SUM_MIN_IDS)),
    );
    const list = [desc, idsPtr, k, this.stop, this.prefetch ? 1 : 0, parts, cuts];
    const [u] = pool.run([{ fn: 'embSplitList', args: list }], () => {
      try {
        copy();
      } catch (e) {
        error = { e };
      } finally {
        // Whatever happened, the prefetch ends now (and does nothing if no worker has begun it).
        Atomics.store(i32, at, 1);
      }
    });
    this.answered = pool.stats.chunksByWorkers > byWorkers && !SplitUpdate.waited(pool);
    if (!this.answered) this.settle(true);
    if (error !== null) throw (error as { e: unknown }).e;
    // The second pass and the check, in the ranges of the distinct rows the first pass cut (all on
    // this thread when the worker did not answer); each range's repeated rows summed into its own
    // part of `sums`.
    const rowBytes = this.dim * 4;
    const u32 = this.engine.heapU32;
    const c = check ? 1 : 0;
    const jobs = [];
    if (this.answered)
      for (let p = 0, at = cuts >>> 2; p < parts; p++) {
        const from = u32[at + p],
          to = u32[at + p + 1];
        if (to > from)
          jobs.push({
            fn: 'embSplitSums' as const,
            args: [desc, grads, from, to - from, this.sums + from * rowBytes, c, out + jobs.length * 8],
          });
      }
    const ranges = Math.max(1, jobs.length);
    if (ranges === 1) x.embSplitSums(desc, grads, 0, u, this.sums, c, out);
    else {
      pool.run(jobs);
      if (SplitUpdate.waited(pool)) {
        this.answered = false;
        this.settle(true);
      }
    }
    const d = desc >>> 2;
    u32[d + S.EMB_GMAX] = 0;
    if (!check) return u;
    // The ranges' checks combined as one pass over all the rows: the smallest bad id, the largest |g|.
    let gmax = 0,
      bad = 0xffffffff;
    for (let p = 0; p < ranges; p++) {
      gmax = Math.max(gmax, u32[(out >>> 2) + 2 * p]);
      bad = Math.min(bad, u32[(out >>> 2) + 2 * p + 1]);
    }
    if (bad !== 0xffffffff) {
      u32[d + S.EMB_BAD] = bad;
      return -1;
    }
    u32[d + S.EMB_GMAX] = gmax;
    return u;
  }
}
