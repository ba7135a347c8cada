// Worker threads on shared memory. The threads build of the engine (dist/wasm-optim.threads.wasm,
// compiled with `--enable threads --importMemory --sharedMemory`) runs on a shared
// `WebAssembly.Memory`; every worker instantiates the same module over the same memory and only
// runs kernels (the allocator is not thread-safe: only the main thread allocates). A control
// block in that memory carries the work: the calling thread writes a list of chunks (a kernel and
// its arguments each), publishes their count in a claim word, bumps a sequence word and wakes the
// workers with `Atomics.notify`. Every thread, the calling one included, then claims chunks one
// at a time with a compare-and-swap on the claim word (the workers from the first chunk up, the
// calling thread from the last one down: a split embedding update's rows of the batch's first ids,
// its recurring ones, then stay with the worker that stepped them before, docs/threads.md), runs
// them and counts them done; the calling thread waits until all are done. No message is sent per step, and a worker that the
// operating system wakes late simply finds fewer chunks left (the calling thread ran them).
//
// Table kernels are split by elements: each tensor of the table is cut into ranges (multiples of
// 16 elements) and every chunk walks a sub-table of descriptors that point into those ranges.
// Elementwise kernels give the same bits whichever thread computes an element, so the result is
// bit-identical to one thread. Reductions (the non-finite pre-pass, sums of squares) are split by
// whole tensors and combined on the calling thread in tensor order, as the single-thread kernels
// combine them. Starting the pool (environment checks, the module, createThreadedEngine) is ./setup.ts.

import type { ExportName, TableKernelName } from '../core/abi.js';
import {
  CHUNKS_AT,
  CS_DONE,
  CS_ERROR,
  CS_PENDING,
  C_ARGS,
  C_BYTES,
  C_FN,
  C_NARGS,
  C_OWNER,
  C_RESULT,
  C_STATE,
  FAULTS,
  H_CLAIM,
  H_DONE,
  H_ERR,
  H_ERRLEN,
  H_HOT,
  H_ERRMSG,
  H_QUIT,
  H_SEQ,
  MAX_ARGS,
  MAX_CHUNKS,
  ST_DEAD,
  WORKERS_AT,
  W_BYTES,
  W_FAULT,
  W_STATUS,
  type FaultKind,
} from './control.js';
import { workerSource } from './worker.js';
import { callExport, mainCanBlock, type NodeWorkerClass, type WorkerHandle } from './host.js';
import { listJobs, SplitMemo, splitTensors, tableElements, type ElementPart, type ListJob } from './split.js';
import type { WasmModule } from '../core/wasm-types.js';

export { MAX_CHUNKS, MAX_THREADS, type FaultKind } from './control.js';
export type { ListJob } from './split.js';
import { Engine, type InitOptions, type ParallelRunner } from '../core/engine.js';

/** Thrown when a worker thread fails (throws, exits, or does not answer in time). */
export class ThreadPoolError extends Error {
  override name = 'ThreadPoolError';
}

/** The thread options of `init()` and `createEngine()` (documented on `InitOptions`). */
export type ThreadOptions = Pick<InitOptions, 'threads' | 'minParallelElements' | 'threadTimeoutMs'>;

/**
 * Below this many elements a step stays on the calling thread (waking a worker costs more than
 * it saves). Measured on the 2-core development machine; see README, "Threads".
 */
export const DEFAULT_MIN_PARALLEL_ELEMENTS = 131072;
/** Chunks per thread a split aims at (finer chunks balance threads that start late). */
const CHUNKS_PER_THREAD = 4;
/** Elements a chunk should hold at least (a chunk costs a wasm call and a claim). */
const CHUNK_ELEMENTS = 65536;

const DEFAULT_TIMEOUT_MS = 60_000;

const WORKER_SOURCE = workerSource();

/** One chunk of work: the export to call and its numeric arguments. */
export interface ThreadJob {
  /** Name of an exported wasm function (a kernel taking byte offsets and counts). */
  fn: ExportName;
  /** Up to 8 numeric arguments. */
  args: number[];
}

/**
 * @internal `ThreadPool.runList` on the engine's pool; false when the engine has no pool or the
 * work is too small (the caller then runs the kernel itself).
 */
export function runListParallel(engine: Engine, job: ListJob): boolean {
  const pool = engine.parallel;
  if (!(pool instanceof ThreadPool)) return false;
  const { fn, desc, descBytes, listWords, n, work, args, minFactor, minItems } = job;
  return pool.runList(fn, desc, descBytes, listWords, n, work, args, minFactor, minItems);
}

/**
 * @internal The engine's pool when it has more than one thread and `work` elements reach its
 * minParallelElements times `minFactor`, else null (the caller then runs its kernels itself).
 */
export function poolFor(engine: Engine, work: number, minFactor = 1): ThreadPool | null {
  const pool = engine.parallel;
  if (!(pool instanceof ThreadPool) || pool.threads < 2) return null;
  return work >= pool.minParallelElements * minFactor ? pool : null;
}

/** The pool of worker threads of one engine. Created by `createEngine({ threads })`. */
export class ThreadPool implements ParallelRunner {
  /** Threads that run each step, the calling thread included. */
  readonly threads: number;
  /** Steps touching fewer elements than this run on the calling thread alone. */
  minParallelElements: number;
  /** How long a step waits for a worker before throwing (ms). */
  timeoutMs: number;
  private readonly engine: Engine;
  private readonly ctrl: number;
  private readonly fnIds: Map<string, number>;
  private workers: WorkerHandle[] = [];
  private failure: string | null = null;
  private closed = false;
  private leaveToWorkers = false;
  /** @internal test knob: the calling thread claims no chunks (every chunk runs in a worker). */
  workersOnly = false;
  /** Chunks run so far, and how many of them a worker ran (the calling thread ran the rest). */
  readonly stats = { calls: 0, chunks: 0, chunksByWorkers: 0 };
  /** @internal The last run's times (ms): the calling thread's own part (`during`, its chunks), then its wait for workers. */
  readonly lastRun = { ownMs: 0, waitMs: 0 };
  private scratch = 0;
  private scratchBytes = 0;
  private descScratch = 0;
  private descScratchBytes = 0;
  private readonly memo = new SplitMemo();
  /** The memo's jobs whose chunks the control block holds (run() then rewrites only their state). */
  private published: readonly ThreadJob[] | null = null;
  private readonly canBlock: boolean;

  /** @internal use `createEngine({ threads })`. */
  constructor(engine: Engine, threads: number, ctrl: number, fnIds: Map<string, number>, options: ThreadOptions) {
    this.engine = engine;
    this.threads = threads;
    this.ctrl = ctrl;
    this.fnIds = fnIds;
    this.minParallelElements = options.minParallelElements ?? DEFAULT_MIN_PARALLEL_ELEMENTS;
    this.timeoutMs = options.threadTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.canBlock = mainCanBlock();
  }

  /** @internal starts the workers and waits until each has instantiated the module. */
  async start(module: WasmModule, names: string[], spin: number): Promise<void> {
    const memory = this.engine.memory;
    const isNode = !!(globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node;
    const ready: Promise<void>[] = [];
    for (let k = 1; k < this.threads; k++) {
      const data = { module, memory, ctrl: this.ctrl, index: k, names, spin };
      if (isNode) {
        const specifier = 'node:worker_threads';
        const { Worker } = (await import(/* webpackIgnore: true */ /* @vite-ignore */ specifier)) as {
          Worker: NodeWorkerClass;
        };
        const w = new Worker(WORKER_SOURCE, { eval: true, workerData: data });
        this.workers.push(w);
        ready.push(
          new Promise<void>((resolve, reject) => {
            // Referenced until ready (the await below needs the event loop alive), then unref'd so
            // that an idle pool never keeps the process from exiting.
            w.once('message', () => {
              w.unref();
              resolve();
            });
            w.once('error', (e: Error) => {
              this.noteFailure(`worker ${k} failed: ${e.message}`);
              reject(e);
            });
            w.once('exit', (code: number) => {
              this.noteFailure(`worker ${k} exited (code ${code})`);
              reject(new Error(`worker ${k} exited (code ${code}) before it was ready`));
            });
          }),
        );
      } else {
        const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
        const w = new Worker(url);
        this.workers.push(w);
        ready.push(
          new Promise<void>((resolve, reject) => {
            w.onmessage = () => {
              URL.revokeObjectURL(url);
              resolve();
            };
            w.onerror = (e: ErrorEvent) => {
              this.noteFailure(`worker ${k} failed: ${e.message}`);
              reject(new Error(e.message));
            };
          }),
        );
        w.postMessage(data);
      }
    }
    try {
      await Promise.all(ready);
    } catch (e) {
      this.terminateAll();
      throw new ThreadPoolError(
        `wasm-optim: could not start ${this.threads - 1} worker thread(s): ${(e as Error).message}`,
      );
    }
    // Readiness is known; from now on a worker's exit is a failure the next step reports.
    this.failure = null;
  }

  private noteFailure(reason: string): void {
    if (!this.closed && this.failure === null) this.failure = reason;
  }

  /** True while the pool can run work. */
  get alive(): boolean {
    return !this.closed && this.failure === null;
  }

  private i32(): Int32Array {
    return this.engine.heapI32;
  }

  private statusOf(i32: Int32Array, k: number): number {
    return Atomics.load(i32, (this.ctrl + WORKERS_AT + k * W_BYTES + W_STATUS) >> 2);
  }

  /** Throws (after shutting the pool down) when a worker has died since the last call. */
  private checkAlive(): void {
    if (this.closed) throw new ThreadPoolError('wasm-optim: the thread pool was shut down');
    if (this.failure === null) {
      const i32 = this.i32();
      for (let k = 1; k < this.threads; k++) if (this.statusOf(i32, k) === ST_DEAD) this.failure = `worker ${k} died`;
    }
    if (this.failure !== null) this.fail(this.failure, 'before the step started; nothing was changed');
  }

  /** Shuts the pool down after a failure and throws; the engine continues on one thread. */
  private fail(reason: string, when: string): never {
    this.terminateAll();
    this.releaseScratch();
    this.closed = true;
    this.engine.parallel = null;
    this.engine.threadsFallbackReason = `the thread pool failed: ${reason}`;
    throw new ThreadPoolError(
      `wasm-optim: a worker thread failed (${reason}) ${when}. The pool was shut down and this engine ` +
        `now runs on one thread; create a new engine with { threads } to use threads again.`,
    );
  }

  private terminateAll(): void {
    for (const w of this.workers) void w.terminate();
    this.workers = [];
  }

  /** How many chunks `total` elements of work are cut into (at least one per thread). */
  chunksFor(total: number): number {
    return Math.min(
      MAX_CHUNKS,
      this.threads * CHUNKS_PER_THREAD,
      Math.max(this.threads, Math.ceil(total / CHUNK_ELEMENTS)),
    );
  }

  /**
   * Runs every job (a kernel call) on whichever thread claims it first, the calling thread
   * included, and returns each job's result (0 for kernels that return nothing). The jobs must
   * touch disjoint memory. Throws a ThreadPoolError when a worker fails. `during` (internal): work
   * of the calling thread's own that the jobs may wait for (e.g. copying their input in), run once
   * the jobs are published and before it claims any; it must not throw.
   */
  run(jobs: readonly ThreadJob[], during?: () => void): number[] {
    if (jobs.length > MAX_CHUNKS)
      throw new RangeError(`ThreadPool.run: at most ${MAX_CHUNKS} jobs per call, got ${jobs.length}`);
    const again = jobs === this.published;
    const ids = again
      ? []
      : jobs.map((j) => {
          const id = this.fnIds.get(j.fn);
          if (id === undefined) throw new RangeError(`ThreadPool.run: the engine has no function export '${j.fn}'`);
          if (j.args.length > MAX_ARGS)
            throw new RangeError(`ThreadPool.run: at most ${MAX_ARGS} arguments, got ${j.args.length}`);
          return id;
        });
    this.checkAlive();
    const n = jobs.length;
    if (n === 0) return [];
    const leave = this.leaveToWorkers || this.workersOnly;
    this.leaveToWorkers = false;
    this.stats.calls++;
    this.stats.chunks += n;
    if (n === 1 && !leave && !during) {
      this.lastRun.waitMs = 0;
      return [callExport(this.engine, jobs[0].fn, jobs[0].args)];
    }
    const i32 = this.i32();
    const f64 = new Float64Array(i32.buffer);
    const h = this.ctrl >> 2;
    for (let c = 0; c < n; c++) {
      const b = this.ctrl + CHUNKS_AT + c * C_BYTES;
      i32[(b + C_OWNER) >> 2] = -1;
      i32[(b + C_STATE) >> 2] = CS_PENDING;
      if (again) continue; // the same chunks as the last run (workers write only owner, state, result)
      i32[(b + C_FN) >> 2] = ids[c];
      i32[(b + C_NARGS) >> 2] = jobs[c].args.length;
      for (let a = 0; a < MAX_ARGS; a++) f64[((b + C_ARGS) >> 3) + a] = jobs[c].args[a] ?? 0;
    }
    this.published = this.memo.owns(jobs) ? jobs : null;
    Atomics.store(i32, h + (H_DONE >> 2), 0);
    Atomics.store(i32, h + (H_ERR >> 2), 0);
    Atomics.store(i32, h + (H_CLAIM >> 2), n << 16); // publish
    Atomics.add(i32, h + (H_SEQ >> 2), 1);
    Atomics.notify(i32, h + (H_SEQ >> 2));
    let mainError: unknown = null;
    const t0 = performance.now();
    during?.();
    if (!leave) {
      // The calling thread claims chunks too.
      for (;;) {
        const v = Atomics.load(i32, h + (H_CLAIM >> 2));
        const top = v >>> 16;
        if ((v & 0xffff) >= top) break;
        const next = top - 1; // from the last chunk down (the workers claim from the first up)
        if (Atomics.compareExchange(i32, h + (H_CLAIM >> 2), v, v - 0x10000) !== v) continue;
        const b = this.ctrl + CHUNKS_AT + next * C_BYTES;
        i32[(b + C_OWNER) >> 2] = 0;
        try {
          f64[(b + C_RESULT) >> 3] = callExport(this.engine, jobs[next].fn, jobs[next].args);
          Atomics.store(i32, (b + C_STATE) >> 2, CS_DONE);
        } catch (e) {
          mainError ??= e;
          Atomics.store(i32, (b + C_STATE) >> 2, CS_ERROR);
        }
        Atomics.add(i32, h + (H_DONE >> 2), 1);
      }
    }
    const t1 = performance.now();
    this.waitAll(i32, n);
    this.lastRun.ownMs = leave ? Infinity : t1 - t0;
    this.lastRun.waitMs = performance.now() - t1;
    for (let c = 0; c < n; c++)
      if (i32[(this.ctrl + CHUNKS_AT + c * C_BYTES + C_OWNER) >> 2] > 0) this.stats.chunksByWorkers++;
    const err = Atomics.load(i32, h + (H_ERR >> 2));
    if (err !== 0) {
      const len = Atomics.load(i32, h + (H_ERRLEN >> 2));
      this.fail(
        String.fromCharCode(...new Uint8Array(i32.buffer, this.ctrl + H_ERRMSG, len)),
        'during a step; this step may be partly applied',
      );
    }
    if (mainError !== null) throw mainError;
    const results = new Array<number>(n);
    for (let c = 0; c < n; c++) results[c] = f64[(this.ctrl + CHUNKS_AT + c * C_BYTES + C_RESULT) >> 3];
    return results;
  }

  /**
   * @internal Announces work that follows shortly (a split embedding update): wakes the workers
   * now, so that their wake-up overlaps the calling thread's serial part (copying the gradients),
   * and keeps idle workers spinning instead of sleeping until `rest()` (at most HOT_SPIN_MS).
   */
  wake(): void {
    if (this.closed || this.workers.length === 0) return;
    const i32 = this.i32();
    const h = this.ctrl >> 2;
    Atomics.store(i32, h + (H_HOT >> 2), 1);
    Atomics.add(i32, h + (H_SEQ >> 2), 1);
    Atomics.notify(i32, h + (H_SEQ >> 2));
  }

  /** @internal Ends what `wake()` announced: idle workers go back to sleeping after their usual spin. */
  rest(): void {
    if (this.closed) return;
    Atomics.store(this.i32(), (this.ctrl + H_HOT) >> 2, 0);
  }

  /** Waits until `n` chunks are done; a worker that died holding one, or a timeout, fails the pool. */
  private waitAll(i32: Int32Array, n: number): void {
    const doneAt = (this.ctrl + H_DONE) >> 2;
    let done = Atomics.load(i32, doneAt);
    for (let s = 0; s < 4000 && done < n; s++) done = Atomics.load(i32, doneAt);
    if (done >= n) return;
    const deadline = performance.now() + this.timeoutMs;
    const holder = (): number => {
      for (let c = 0; c < n; c++) {
        const b = this.ctrl + CHUNKS_AT + c * C_BYTES;
        if (Atomics.load(i32, (b + C_STATE) >> 2) === CS_PENDING && Atomics.load(i32, (b + C_OWNER) >> 2) > 0)
          return Atomics.load(i32, (b + C_OWNER) >> 2);
      }
      return 0;
    };
    while (done < n) {
      for (let k = 1; k < this.threads; k++) {
        if (this.statusOf(i32, k) === ST_DEAD) {
          for (let c = 0; c < n; c++) {
            const b = this.ctrl + CHUNKS_AT + c * C_BYTES;
            if (Atomics.load(i32, (b + C_OWNER) >> 2) === k && Atomics.load(i32, (b + C_STATE) >> 2) === CS_PENDING) {
              this.fail(`worker ${k} died during a step`, 'during a step; this step may be partly applied');
            }
          }
        }
      }
      if (performance.now() > deadline) {
        const k = holder();
        this.fail(
          k > 0
            ? `worker ${k} did not finish within ${this.timeoutMs} ms`
            : `no worker took the work within ${this.timeoutMs} ms`,
          'during a step; this step may be partly applied',
        );
      }
      if (this.canBlock) Atomics.wait(i32, doneAt, done, 20);
      done = Atomics.load(i32, doneAt);
    }
  }

  /** Bytes of scratch for sub-tables (grown on demand; calling thread only). */
  private ensureScratch(bytes: number): number {
    if (bytes > this.scratchBytes) {
      const size = Math.max(bytes, this.scratchBytes * 2, 1024);
      const p = this.engine.alloc(size);
      if (this.scratch) this.engine.free(this.scratch);
      this.memo.clear();
      this.scratch = p;
      this.scratchBytes = size;
    }
    return this.scratch;
  }

  /** Sub-tables that cut every tensor into element ranges, one per chunk (./split.ts). */
  private splitByElements(table: number, count: number, total: number): ElementPart[] {
    const parts = this.chunksFor(total);
    const base = this.ensureScratch((count + parts) * 32);
    return this.memo.split(this.engine.heapU32, table, count, total, parts, base);
  }

  /** Runs a table kernel `fn(table, count)` across the threads. See `Engine.runTable`. */
  runTable(fn: TableKernelName, table: number, count: number, elementwise: boolean): void {
    const total = tableElements(this.engine.heapU32, table, count);
    if (total < this.minParallelElements || count === 0) {
      this.checkAlive();
      this.engine.exports[fn](table, count);
      return;
    }
    const parts = this.chunksFor(total);
    const split = elementwise
      ? this.splitByElements(table, count, total)
      : splitTensors(this.engine.heapU32, table, count, total, parts);
    this.run(this.memo.jobsFor(fn, split));
  }

  /** Index + 1 of the first tensor whose gradient is not all finite, else 0 (as the export). */
  firstNonFiniteGrad(table: number, count: number): number {
    const total = tableElements(this.engine.heapU32, table, count);
    if (total < this.minParallelElements || count === 0) {
      this.checkAlive();
      return this.engine.exports.firstNonFiniteGrad(table, count);
    }
    const parts = this.splitByElements(table, count, total);
    const results = this.run(this.memo.jobsFor('firstNonFiniteGrad', parts));
    let first = 0;
    parts.forEach((p, k) => {
      const r = results[k];
      if (r !== 0) {
        const t = p.origin[r - 1] + 1;
        if (first === 0 || t < first) first = t;
      }
    });
    return first;
  }

  /** max |g| over the table's gradients (NaN/Infinity when one is not finite), as the export `gradMaxAbs`. */
  gradMaxAbs(table: number, count: number): number {
    const total = tableElements(this.engine.heapU32, table, count);
    const f = this.engine.exports.gradMaxAbs;
    if (total < this.minParallelElements || count === 0) {
      this.checkAlive();
      return f(table, count);
    }
    const parts = this.splitByElements(table, count, total);
    let m = 0;
    // NaN beats Infinity beats any finite value (Math.max gives NaN when one is NaN).
    for (const r of this.run(this.memo.jobsFor('gradMaxAbs', parts))) m = Math.max(m, r);
    return m;
  }

  /**
   * Sum of squares of every gradient of the table in f64, bit-identical to the export
   * `gradSumSquares`: threads compute whole tensors' sums, the calling thread adds them in order.
   */
  gradSumSquares(table: number, count: number): number {
    const total = tableElements(this.engine.heapU32, table, count);
    if (total < this.minParallelElements || count < 2) {
      this.checkAlive();
      return this.engine.exports.gradSumSquares(table, count);
    }
    const sums = this.engine.alloc(count * 8);
    try {
      const parts = splitTensors(this.engine.heapU32, table, count, total, this.chunksFor(total));
      this.run(parts.map((p) => ({ fn: 'gradSumSquaresEach', args: [p.at, p.count, sums + p.first * 8] })));
      const f64 = new Float64Array(this.engine.heapU32.buffer, sums, count);
      let s = 0;
      for (let t = 0; t < count; t++) s += f64[t];
      return s;
    } finally {
      this.engine.free(sums);
    }
  }

  /**
   * Runs a kernel `fn(desc, ...args)` that walks `n` items listed in arrays whose byte offsets
   * sit in the u32 words `listWords` of a `descBytes`-byte descriptor (a `ListJob`), split into
   * contiguous item ranges across the threads: each chunk gets a copy of the descriptor with those
   * offsets advanced to its range and the arguments `args(count)` for its count. Returns false,
   * doing nothing, when `n * work` is below `minParallelElements` times `minFactor` (the caller
   * then runs the kernel itself). `minItems` > 0: chunks of at least that many items, up to
   * CHUNKS_PER_THREAD per thread (for workers that are awake: finer chunks balance better).
   */
  runList(
    fn: ExportName,
    desc: number,
    descBytes: number,
    listWords: readonly number[],
    n: number,
    work: number,
    args: (count: number) => number[],
    minFactor = 1,
    minItems = 0,
  ): boolean {
    if (n * work < this.minParallelElements * minFactor || n < this.threads) {
      this.checkAlive();
      return false;
    }
    if (descBytes % 16 !== 0 || descBytes <= 0)
      throw new RangeError(`ThreadPool.runList: descBytes must be a positive multiple of 16, got ${descBytes}`);
    const parts =
      minItems > 0
        ? Math.max(this.threads, Math.min(this.threads * CHUNKS_PER_THREAD, MAX_CHUNKS, Math.floor(n / minItems)))
        : Math.min(this.chunksFor(n * work), n);
    if (this.descScratchBytes < parts * descBytes) {
      const p = this.engine.alloc(parts * descBytes);
      if (this.descScratch) this.engine.free(this.descScratch);
      this.descScratch = p;
      this.descScratchBytes = parts * descBytes;
    }
    this.run(listJobs(this.engine.heapU32, { fn, desc, descBytes, listWords, n, args }, parts, this.descScratch));
    return true;
  }

  /**
   * @internal test hook: worker `k` fails in the next chunk it runs (throws, exits, or hangs),
   * and the next call leaves every chunk to the workers so that it does run one.
   */
  injectFault(k: number, kind: FaultKind): void {
    if (!Number.isInteger(k) || k < 1 || k >= this.threads)
      throw new RangeError(`injectFault: worker index must be in [1, ${this.threads - 1}], got ${k}`);
    this.i32()[(this.ctrl + WORKERS_AT + k * W_BYTES + W_FAULT) >> 2] = FAULTS[kind];
    this.leaveToWorkers = true;
  }

  /** @internal test hook: terminates worker `k` from outside, as a crash would end it. */
  async terminateWorker(k: number): Promise<void> {
    if (!Number.isInteger(k) || k < 1 || k >= this.threads)
      throw new RangeError(`terminateWorker: worker index must be in [1, ${this.threads - 1}], got ${k}`);
    const w = this.workers[k - 1];
    await w?.terminate();
    // Let the worker's 'exit' event reach its listener before the caller goes on.
    await new Promise((resolve) => setTimeout(resolve, 0));
  }

  /** Stops every worker (each finishes its current chunk first). Idempotent. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.engine.parallel === this) this.engine.parallel = null;
    const workers = this.workers;
    this.workers = [];
    if (workers.length > 0) {
      const i32 = this.i32();
      const h = this.ctrl >> 2;
      Atomics.store(i32, h + (H_QUIT >> 2), 1);
      Atomics.add(i32, h + (H_SEQ >> 2), 1);
      Atomics.notify(i32, h + (H_SEQ >> 2));
    }
    await Promise.all(workers.map((w) => w.terminate()));
    this.releaseScratch();
  }

  /** Gives the sub-table scratch back to the engine (the pool is done with it). */
  private releaseScratch(): void {
    if (this.scratch) this.engine.free(this.scratch);
    if (this.descScratch) this.engine.free(this.descScratch);
    this.memo.clear();
    this.published = null;
    this.scratch = this.scratchBytes = this.descScratch = this.descScratchBytes = 0;
  }
}
