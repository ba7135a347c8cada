// Worker threads on shared memory. The threads build of the engine (dist/wasm-optim.threads.wasm,
// compiled with `--enable threads --importMemory --sharedMemory`) runs on a shared
// `WebAssembly.Memory`; every worker instantiates the same module over the same memory and only
// runs kernels (the allocator is not thread-safe: only the main thread allocates). A control
// block in that memory carries the jobs: the main thread writes each worker's job into its slot,
// bumps a sequence word and wakes the workers with `Atomics.notify`; each worker runs its job and
// stores the sequence number into its `done` word. No message is sent per step.
//
// Table kernels are split by elements: each tensor of the table is cut into per-thread ranges
// (multiples of 16 elements) and every thread walks a sub-table of descriptors that point into
// those ranges. Elementwise kernels give the same bits whichever thread computes an element, so
// the result is bit-identical to one thread. Reductions (the non-finite pre-pass, sums of squares)
// are split by whole tensors and combined on the main thread in tensor order, as the
// single-thread kernels combine them.

import { Engine, createEngine, simdSupported, type InitOptions, type ParallelRunner, type WasmSource } from './engine.js';

/** Thrown when a worker thread fails (throws, exits, or does not answer in time). */
export class ThreadPoolError extends Error {
  override name = 'ThreadPoolError';
}

/** The thread options of `init()` and `createEngine()` (documented on `InitOptions`). */
export type ThreadOptions = Pick<InitOptions, 'threads' | 'minParallelElements' | 'threadTimeoutMs'>;

/**
 * Below this many elements a step stays on the calling thread. Measured on the 2-core
 * development machine (see README, "Threads"): Adam with 2 threads breaks even near 32K
 * elements and gains from 64K on.
 */
export const DEFAULT_MIN_PARALLEL_ELEMENTS = 65536;
/** Most threads a pool may have. */
export const MAX_THREADS = 64;

const DEFAULT_TIMEOUT_MS = 60_000;

// Control block layout (bytes). Word 0 is the sequence number every worker waits on; slot k
// (k >= 1) belongs to worker k and sits on its own 256-byte line.
const SLOT_BYTES = 256;
const S_JOBSEQ = 0; // sequence number of the job assigned to this worker
const S_DONE = 4; // last sequence number this worker completed
const S_STATUS = 8; // ST_*
const S_FN = 12; // index of the export to call, or a negative command
const S_NARGS = 16;
const S_FAULT = 20; // test hook: F_*
const S_MSGLEN = 24;
const S_ARGS = 32; // 8 f64 arguments
const S_RESULT = 96; // f64 result
const S_MSG = 128; // UTF-8 error message, up to 128 bytes
const MAX_ARGS = 8;

const ST_STARTING = 0;
const ST_OK = 1;
const ST_ERROR = 2;
const ST_DEAD = 3;

const CMD_QUIT = -1;

/** @internal test hooks: what a worker does at its next job. */
export type FaultKind = 'throw' | 'exit' | 'hang';
const FAULTS: Record<FaultKind, number> = { throw: 1, exit: 2, hang: 3 };

// The worker's code, as a string so that the same source runs from `src/` (tests), from `dist/`
// (the package) and in browsers (as a Blob URL). Node runs it with `eval: true` and hands over
// the module and memory as workerData; a browser worker receives them in its first message.
const WORKER_SOURCE = `'use strict';
(function () {
  var SLOT = ${SLOT_BYTES}, JOBSEQ = ${S_JOBSEQ >> 2}, DONE = ${S_DONE >> 2}, STATUS = ${S_STATUS >> 2}, FN = ${S_FN >> 2},
      NARGS = ${S_NARGS >> 2}, FAULT = ${S_FAULT >> 2}, MSGLEN = ${S_MSGLEN >> 2}, ARGS = ${S_ARGS >> 3},
      RESULT = ${S_RESULT >> 3}, MSG = ${S_MSG}, OK = ${ST_OK}, ERROR = ${ST_ERROR}, DEAD = ${ST_DEAD}, QUIT = ${CMD_QUIT};
  function start(d, post, exit) {
    var memory = d.memory;
    var i32 = new Int32Array(memory.buffer), f64 = new Float64Array(memory.buffer), u8 = new Uint8Array(memory.buffer);
    var seqAt = d.ctrl >> 2, slot = d.ctrl + d.index * SLOT, s4 = slot >> 2, s8 = slot >> 3;
    function die() { Atomics.store(i32, s4 + STATUS, DEAD); Atomics.notify(i32, s4 + DONE); }
    if (typeof process !== 'undefined' && process && typeof process.on === 'function') process.on('exit', die);
    var instance = new WebAssembly.Instance(d.module, { env: { memory: memory,
      abort: function (m, f, l, c) { throw new Error('engine abort at ' + l + ':' + c); } } });
    var fns = d.names.map(function (n) { return instance.exports[n]; });
    var spin = d.spin, seen = Atomics.load(i32, seqAt);
    Atomics.store(i32, s4 + STATUS, OK);
    post('ready');
    for (;;) {
      var s = Atomics.load(i32, seqAt);
      if (s === seen) {
        for (var k = 0; k < spin && s === seen; k++) s = Atomics.load(i32, seqAt);
        if (s === seen) { Atomics.wait(i32, seqAt, seen); continue; }
      }
      seen = s;
      if (Atomics.load(i32, s4 + JOBSEQ) !== s) continue;
      var fn = i32[s4 + FN];
      if (fn === QUIT) { Atomics.store(i32, s4 + DONE, s); Atomics.notify(i32, s4 + DONE); exit(); return; }
      try {
        var fault = i32[s4 + FAULT];
        if (fault !== 0) {
          i32[s4 + FAULT] = 0;
          if (fault === 1) throw new Error('fault injected by a test hook');
          if (fault === 2) { die(); exit(7); return; }
          if (fault === 3) { for (;;) {} }
        }
        var n = i32[s4 + NARGS], a = s8 + ARGS, r;
        if (n <= 2) r = fns[fn](f64[a], f64[a + 1]);
        else if (n <= 4) r = fns[fn](f64[a], f64[a + 1], f64[a + 2], f64[a + 3]);
        else r = fns[fn](f64[a], f64[a + 1], f64[a + 2], f64[a + 3], f64[a + 4], f64[a + 5], f64[a + 6], f64[a + 7]);
        f64[s8 + RESULT] = typeof r === 'number' ? r : 0;
        Atomics.store(i32, s4 + STATUS, OK);
      } catch (e) {
        var text = String(e && e.message || e).slice(0, 120), len = 0;
        for (var j = 0; j < text.length; j++) { var c = text.charCodeAt(j); u8[slot + MSG + len++] = c < 128 ? c : 63; }
        i32[s4 + MSGLEN] = len;
        Atomics.store(i32, s4 + STATUS, ERROR);
      }
      Atomics.store(i32, s4 + DONE, s);
      Atomics.notify(i32, s4 + DONE);
    }
  }
  if (typeof require === 'function' && typeof process !== 'undefined' && process.versions && process.versions.node) {
    var wt = require('worker_threads');
    start(wt.workerData, function (m) { wt.parentPort.postMessage(m); }, function (code) { if (code) process.exit(code); });
  } else {
    self.onmessage = function (e) {
      self.onmessage = null;
      start(e.data, function (m) { self.postMessage(m); }, function () { self.close(); });
    };
  }
})();
`;

/** One job for one thread: the export to call and its numeric arguments. */
export interface ThreadJob {
  /** Name of an exported wasm function (a kernel taking byte offsets and counts). */
  fn: string;
  /** Up to 8 numeric arguments. */
  args: number[];
}

/**
 * @internal `ThreadPool.runList` on the engine's pool; false when the engine has no pool or the
 * work is too small (the caller then runs the kernel itself).
 */
export function runListParallel(engine: Engine, fn: string, desc: number, descBytes: number, listWords: readonly number[], n: number,
  work: number, args: (count: number) => number[]): boolean {
  const pool = engine.parallel;
  return pool instanceof ThreadPool && pool.runList(fn, desc, descBytes, listWords, n, work, args);
}

/** Why threads cannot run in this environment, or null when they can. */
export function threadsUnavailableReason(): string | null {
  if (typeof SharedArrayBuffer === 'undefined') {
    return 'SharedArrayBuffer is not available (in a browser page, serve it cross-origin isolated: ' +
      'Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
  }
  if (typeof Atomics === 'undefined' || typeof Atomics.wait !== 'function') return 'Atomics.wait is not available';
  const g = globalThis as { crossOriginIsolated?: boolean; process?: { versions?: { node?: string } }; Worker?: unknown };
  const isNode = !!g.process?.versions?.node;
  if (!isNode && g.crossOriginIsolated === false) return 'the page is not cross-origin isolated, so memory cannot be shared with workers';
  if (!isNode && typeof g.Worker !== 'function') return 'Web Workers are not available';
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true } as WebAssembly.MemoryDescriptor);
  } catch (e) {
    return `this runtime cannot create shared WebAssembly memory (${(e as Error).message})`;
  }
  return null;
}

function threadsUrl(simd: boolean): URL {
  return simd
    ? new URL('../dist/wasm-optim.threads.wasm', import.meta.url)
    : new URL('../dist/wasm-optim.threads-scalar.wasm', import.meta.url);
}

/** Where a relative string source resolves: the page (or worker) in browsers, this module in Node. */
function baseUrl(): string {
  const g = globalThis as { document?: { baseURI?: string }; location?: { href?: string } };
  return g.document?.baseURI ?? g.location?.href ?? import.meta.url;
}

/** The module and, when known, its bytes (to read the imported memory's limits). */
async function loadModule(source: WasmSource): Promise<{ module: WebAssembly.Module; bytes: Uint8Array | null }> {
  if (source instanceof WebAssembly.Module) return { module: source, bytes: null };
  let src: BufferSource | Response = source as BufferSource | Response;
  if (typeof source === 'string' || source instanceof URL) {
    const url = new URL(source, baseUrl());
    if (url.protocol === 'file:') {
      const specifier = 'node:fs/promises';
      const fs = (await import(/* @vite-ignore */ specifier)) as { readFile(u: URL): Promise<Uint8Array<ArrayBuffer>> };
      src = await fs.readFile(url);
    } else {
      src = await fetch(url);
    }
  }
  if (typeof Response !== 'undefined' && src instanceof Response) {
    if (!src.ok) throw new Error(`wasm-optim: could not load the threads engine: HTTP ${src.status} ${src.url}`);
    src = await src.arrayBuffer();
  }
  const bytes = ArrayBuffer.isView(src)
    ? new Uint8Array(src.buffer, src.byteOffset, src.byteLength)
    : new Uint8Array(src as ArrayBuffer);
  return { module: await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>), bytes };
}

/** @internal the memory limits the module imports (`env.memory`), read from its import section. */
export function importedMemoryLimits(bytes: Uint8Array): { initial: number; maximum: number | undefined; shared: boolean } | null {
  let p = 8;
  const u32 = (): number => {
    let r = 0, shift = 0, b: number;
    do { b = bytes[p++]; r += (b & 0x7f) * 2 ** shift; shift += 7; } while (b & 0x80);
    return r;
  };
  const skipName = (): void => { const n = u32(); p += n; };
  while (p < bytes.length) {
    const id = bytes[p++];
    const size = u32();
    const end = p + size;
    if (id === 2) {
      const count = u32();
      for (let i = 0; i < count; i++) {
        skipName();
        skipName();
        const kind = bytes[p++];
        if (kind === 0) u32();
        else if (kind === 1) { p++; const f = bytes[p++]; u32(); if (f & 1) u32(); }
        else if (kind === 3) { p += 2; }
        else if (kind === 2) {
          const flags = bytes[p++];
          const initial = u32();
          const maximum = flags & 1 ? u32() : undefined;
          return { initial, maximum, shared: (flags & 2) !== 0 };
        } else return null;
      }
      return null;
    }
    p = end;
  }
  return null;
}

/** The part of Node's `worker_threads.Worker` the pool uses (the package does not depend on @types/node). */
interface NodeWorker {
  postMessage(m: unknown): void;
  terminate(): Promise<number>;
  unref(): void;
  once(event: 'message', f: (m: unknown) => void): void;
  once(event: 'error', f: (e: Error) => void): void;
  once(event: 'exit', f: (code: number) => void): void;
}
type NodeWorkerClass = new (code: string, options: { eval: true; workerData: unknown }) => NodeWorker;

interface WorkerHandle {
  postMessage(m: unknown): void;
  terminate(): unknown;
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
  private seq = 0;
  private failure: string | null = null;
  private closed = false;
  private scratch = 0;
  private scratchBytes = 0;
  private descScratch = 0;
  private descScratchBytes = 0;
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
  async start(module: WebAssembly.Module, names: string[], spin: number): Promise<void> {
    const memory = this.engine.memory;
    const isNode = !!(globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node;
    const ready: Promise<void>[] = [];
    for (let k = 1; k < this.threads; k++) {
      const data = { module, memory, ctrl: this.ctrl, index: k, names, spin };
      if (isNode) {
        const specifier = 'node:worker_threads';
        const { Worker } = (await import(/* @vite-ignore */ specifier)) as { Worker: NodeWorkerClass };
        const w = new Worker(WORKER_SOURCE, { eval: true, workerData: data });
        this.workers.push(w);
        ready.push(new Promise<void>((resolve, reject) => {
          // Referenced until ready (the await below needs the event loop alive), then unref'd so
          // that an idle pool never keeps the process from exiting.
          w.once('message', () => { w.unref(); resolve(); });
          w.once('error', (e: Error) => { this.noteFailure(`worker ${k} failed: ${e.message}`); reject(e); });
          w.once('exit', (code: number) => { this.noteFailure(`worker ${k} exited (code ${code})`); reject(new Error(`worker ${k} exited (code ${code}) before it was ready`)); });
        }));
      } else {
        const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
        const w = new Worker(url);
        this.workers.push(w);
        ready.push(new Promise<void>((resolve, reject) => {
          w.onmessage = () => { URL.revokeObjectURL(url); resolve(); };
          w.onerror = (e: ErrorEvent) => { this.noteFailure(`worker ${k} failed: ${e.message}`); reject(new Error(e.message)); };
        }));
        w.postMessage(data);
      }
    }
    try {
      await Promise.all(ready);
    } catch (e) {
      this.terminateAll();
      throw new ThreadPoolError(`wasm-optim: could not start ${this.threads - 1} worker thread(s): ${(e as Error).message}`);
    }
    // Readiness is known; from now on a worker's exit is a failure the next step reports.
    this.failure = null;
  }

  private noteFailure(reason: string): void {
    if (!this.closed && this.failure === null) this.failure = reason;
  }

  /** True while the pool can run jobs. */
  get alive(): boolean {
    return !this.closed && this.failure === null;
  }

  private i32(): Int32Array {
    return this.engine.heapI32;
  }

  private checkAlive(): void {
    if (this.closed) throw new ThreadPoolError('wasm-optim: the thread pool was shut down');
    if (this.failure === null) {
      const i32 = this.i32();
      for (let k = 1; k < this.threads; k++) {
        if (Atomics.load(i32, (this.ctrl + k * SLOT_BYTES + S_STATUS) >> 2) === ST_DEAD) this.failure = `worker ${k} died`;
      }
    }
    if (this.failure !== null) this.fail(this.failure, 'before the step started; nothing was changed');
  }

  /** Shuts the pool down after a failure and throws; the engine continues on one thread. */
  private fail(reason: string, when: string): never {
    this.terminateAll();
    this.closed = true;
    this.engine.parallel = null;
    this.engine.threadsFallbackReason = `the thread pool failed: ${reason}`;
    throw new ThreadPoolError(
      `wasm-optim: a worker thread failed (${reason}) ${when}. The pool was shut down and this engine ` +
        `now runs on one thread; create a new engine with { threads } to use threads again.`);
  }

  private terminateAll(): void {
    for (const w of this.workers) void w.terminate();
    this.workers = [];
  }

  /**
   * Runs `jobs[0]` on the calling thread and `jobs[k]` on worker k, and returns each job's result
   * (a number; 0 for kernels that return nothing). Throws a ThreadPoolError when a worker fails.
   */
  run(jobs: readonly ThreadJob[]): number[] {
    if (jobs.length > this.threads) throw new RangeError(`ThreadPool.run: ${jobs.length} jobs for ${this.threads} threads`);
    const ids = jobs.map((j) => {
      const id = this.fnIds.get(j.fn);
      if (id === undefined) throw new RangeError(`ThreadPool.run: the engine has no function export '${j.fn}'`);
      if (j.args.length > MAX_ARGS) throw new RangeError(`ThreadPool.run: at most ${MAX_ARGS} arguments, got ${j.args.length}`);
      return id;
    });
    this.checkAlive();
    const seq = (this.seq = (this.seq + 1) | 0);
    const i32 = this.i32();
    const f64 = new Float64Array(i32.buffer);
    for (let k = 1; k < jobs.length; k++) {
      const slot = this.ctrl + k * SLOT_BYTES;
      i32[(slot + S_FN) >> 2] = ids[k];
      i32[(slot + S_NARGS) >> 2] = jobs[k].args.length;
      for (let a = 0; a < MAX_ARGS; a++) f64[((slot + S_ARGS) >> 3) + a] = jobs[k].args[a] ?? 0;
      Atomics.store(i32, (slot + S_JOBSEQ) >> 2, seq);
    }
    if (jobs.length > 1) {
      Atomics.store(i32, this.ctrl >> 2, seq);
      Atomics.notify(i32, this.ctrl >> 2);
    }
    const results = new Array<number>(jobs.length).fill(0);
    let mainError: unknown = null;
    try {
      const r = (this.engine.exports[jobs[0].fn] as (...a: number[]) => unknown)(...jobs[0].args);
      results[0] = typeof r === 'number' ? r : 0;
    } catch (e) {
      mainError = e;
    }
    for (let k = 1; k < jobs.length; k++) {
      results[k] = this.await(k, seq, i32, f64);
    }
    if (mainError !== null) throw mainError;
    return results;
  }

  private await(k: number, seq: number, i32: Int32Array, f64: Float64Array): number {
    const slot = this.ctrl + k * SLOT_BYTES;
    const doneAt = (slot + S_DONE) >> 2;
    const statusAt = (slot + S_STATUS) >> 2;
    let done = Atomics.load(i32, doneAt);
    if (done !== seq) {
      for (let s = 0; s < 2000 && done !== seq; s++) done = Atomics.load(i32, doneAt);
      const deadline = performance.now() + this.timeoutMs;
      while (done !== seq) {
        if (Atomics.load(i32, statusAt) === ST_DEAD) this.fail(`worker ${k} died during a step`, 'during a step; this step may be partly applied');
        if (performance.now() > deadline) this.fail(`worker ${k} did not finish within ${this.timeoutMs} ms`, 'during a step; this step may be partly applied');
        if (this.canBlock) Atomics.wait(i32, doneAt, done, 50);
        done = Atomics.load(i32, doneAt);
      }
    }
    if (Atomics.load(i32, statusAt) === ST_ERROR) {
      const len = i32[(slot + S_MSGLEN) >> 2];
      const msg = String.fromCharCode(...new Uint8Array(i32.buffer, slot + S_MSG, len));
      this.fail(`worker ${k} threw: ${msg}`, 'during a step; this step may be partly applied');
    }
    return f64[(slot + S_RESULT) >> 3];
  }

  /** Bytes of scratch for sub-tables of `descs` descriptors (grown on demand; main thread only). */
  private ensureScratch(bytes: number): number {
    if (bytes > this.scratchBytes) {
      const size = Math.max(bytes, this.scratchBytes * 2, 1024);
      const p = this.engine.alloc(size);
      if (this.scratch) this.engine.free(this.scratch);
      this.scratch = p;
      this.scratchBytes = size;
    }
    return this.scratch;
  }

  /** Total elements of a table (descriptor word 5). */
  private tableElements(table: number, count: number): number {
    const u32 = this.engine.heapU32;
    let total = 0;
    for (let t = 0; t < count; t++) total += u32[(table >>> 2) + t * 8 + 5];
    return total;
  }

  /**
   * Sub-tables that cut every tensor into per-thread element ranges. Returns, per thread, the
   * sub-table's offset, its descriptor count, and for each descriptor the index of its tensor.
   */
  private splitElements(table: number, count: number, total: number): { at: number; count: number; origin: number[] }[] {
    const threads = this.threads;
    const chunk = Math.ceil(total / threads / 16) * 16;
    const base = this.ensureScratch((count + threads) * 32);
    const u32 = this.engine.heapU32;
    const out: { at: number; count: number; origin: number[] }[] = [];
    let w = base >>> 2;
    let t = 0;
    let off = 0; // elements of tensor t already given out
    for (let k = 0; k < threads; k++) {
      const at = w << 2;
      const origin: number[] = [];
      let room = k === threads - 1 ? Infinity : chunk;
      while (room > 0 && t < count) {
        const d = (table >>> 2) + t * 8;
        const len = u32[d + 5];
        const take = Math.min(len - off, room);
        if (take > 0 || len === 0) {
          const bytes = off * 4;
          u32[w] = u32[d] + bytes;
          u32[w + 1] = u32[d + 1] + bytes;
          for (let s = 2; s < 5; s++) u32[w + s] = u32[d + s] === 0 ? 0 : u32[d + s] + bytes;
          u32[w + 5] = take;
          u32[w + 6] = u32[d + 6];
          u32[w + 7] = u32[d + 7];
          origin.push(t);
          w += 8;
        }
        off += take;
        room -= take;
        if (off >= len) { t++; off = 0; }
      }
      out.push({ at, count: origin.length, origin });
    }
    return out;
  }

  /** Contiguous runs of whole tensors, one per thread, balanced by element count. */
  private splitTensors(table: number, count: number, total: number): { at: number; count: number; first: number }[] {
    const u32 = this.engine.heapU32;
    const out: { at: number; count: number; first: number }[] = [];
    let t = 0;
    let acc = 0;
    for (let k = 0; k < this.threads; k++) {
      const first = t;
      const goal = (total * (k + 1)) / this.threads;
      if (k === this.threads - 1) t = count;
      else while (t < count && acc + u32[(table >>> 2) + t * 8 + 5] / 2 <= goal) acc += u32[(table >>> 2) + t++ * 8 + 5];
      out.push({ at: table + first * 32, count: t - first, first });
    }
    return out;
  }

  /** Runs a table kernel `fn(table, count)` on every thread. See `Engine.runTable`. */
  runTable(fn: string, table: number, count: number, elementwise: boolean): void {
    const total = this.tableElements(table, count);
    if (total < this.minParallelElements || count === 0) {
      this.checkAlive();
      (this.engine.exports[fn] as (t: number, c: number) => void)(table, count);
      return;
    }
    const parts = elementwise ? this.splitElements(table, count, total) : this.splitTensors(table, count, total);
    this.run(parts.filter((p, k) => k === 0 || p.count > 0).map((p) => ({ fn, args: [p.at, p.count] })));
  }

  /** Index + 1 of the first tensor whose gradient is not all finite, else 0 (as the export). */
  firstNonFiniteGrad(table: number, count: number): number {
    const total = this.tableElements(table, count);
    if (total < this.minParallelElements || count === 0) {
      this.checkAlive();
      return this.engine.exports.firstNonFiniteGrad(table, count);
    }
    const parts = this.splitElements(table, count, total);
    const results = this.run(parts.map((p) => ({ fn: 'firstNonFiniteGrad', args: [p.at, p.count] })));
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

  /**
   * Sum of squares of every gradient of the table in f64, bit-identical to the export
   * `gradSumSquares`: threads compute whole tensors' sums, the calling thread adds them in order.
   */
  gradSumSquares(table: number, count: number): number {
    const total = this.tableElements(table, count);
    if (total < this.minParallelElements || count < 2) {
      this.checkAlive();
      return this.engine.exports.gradSumSquares(table, count);
    }
    const sums = this.engine.alloc(count * 8);
    try {
      const parts = this.splitTensors(table, count, total);
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
   * sit in the u32 words `listWords` of a `descBytes`-byte descriptor, split into contiguous item
   * ranges across the threads: thread k gets a copy of the descriptor with those offsets advanced
   * to its range and the arguments `args(count)` for its count. The kernel must touch only what
   * its items own (an embedding update's unique rows, sorted ascending, are disjoint row ranges).
   * Returns false, doing nothing, when `n * work` is below `minParallelElements` (the caller then
   * runs the kernel itself).
   */
  runList(fn: string, desc: number, descBytes: number, listWords: readonly number[], n: number, work: number,
    args: (count: number) => number[]): boolean {
    if (n * work < this.minParallelElements || n < this.threads) {
      this.checkAlive();
      return false;
    }
    if (descBytes % 16 !== 0 || descBytes <= 0) throw new RangeError(`ThreadPool.runList: descBytes must be a positive multiple of 16, got ${descBytes}`);
    if (this.descScratchBytes < this.threads * descBytes) {
      const p = this.engine.alloc(this.threads * descBytes);
      if (this.descScratch) this.engine.free(this.descScratch);
      this.descScratch = p;
      this.descScratchBytes = this.threads * descBytes;
    }
    const u8 = new Uint8Array(this.engine.heapU32.buffer);
    const u32 = this.engine.heapU32;
    const jobs: ThreadJob[] = [];
    for (let k = 0; k < this.threads; k++) {
      const from = Math.floor((n * k) / this.threads);
      const to = Math.floor((n * (k + 1)) / this.threads);
      const copy = this.descScratch + k * descBytes;
      u8.copyWithin(copy, desc, desc + descBytes);
      for (const w of listWords) u32[(copy >>> 2) + w] = u32[(desc >>> 2) + w] + from * 4;
      jobs.push({ fn, args: [copy, ...args(to - from)] });
    }
    this.run(jobs);
    return true;
  }

  /** @internal test hook: worker `k` fails at its next job (throws, exits, or hangs). */
  injectFault(k: number, kind: FaultKind): void {
    if (!Number.isInteger(k) || k < 1 || k >= this.threads) throw new RangeError(`injectFault: worker index must be in [1, ${this.threads - 1}], got ${k}`);
    this.i32()[(this.ctrl + k * SLOT_BYTES + S_FAULT) >> 2] = FAULTS[kind];
  }

  /** @internal test hook: terminates worker `k` from outside, as a crash would end it. */
  async terminateWorker(k: number): Promise<void> {
    if (!Number.isInteger(k) || k < 1 || k >= this.threads) throw new RangeError(`terminateWorker: worker index must be in [1, ${this.threads - 1}], got ${k}`);
    const w = this.workers[k - 1];
    await w?.terminate();
    // Let the worker's 'exit' event reach its listener before the caller goes on.
    await new Promise((resolve) => setTimeout(resolve, 0));
  }

  /** Stops every worker (each finishes its current job first). Idempotent. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.engine.parallel === this) this.engine.parallel = null;
    const workers = this.workers;
    this.workers = [];
    if (this.failure === null && workers.length > 0) {
      const i32 = this.i32();
      const seq = (this.seq = (this.seq + 1) | 0);
      for (let k = 1; k < this.threads; k++) {
        const slot = this.ctrl + k * SLOT_BYTES;
        i32[(slot + S_FN) >> 2] = CMD_QUIT;
        Atomics.store(i32, (slot + S_JOBSEQ) >> 2, seq);
      }
      Atomics.store(i32, this.ctrl >> 2, seq);
      Atomics.notify(i32, this.ctrl >> 2);
    }
    await Promise.all(workers.map((w) => w.terminate()));
    if (this.scratch) this.engine.free(this.scratch);
    if (this.descScratch) this.engine.free(this.descScratch);
    this.scratch = this.scratchBytes = this.descScratch = this.descScratchBytes = 0;
  }
}

function mainCanBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false; // a browser page's main thread: spin instead
  }
}

/**
 * Creates an engine that runs on `threads` threads (see `createEngine`). With `threads: 1`, or
 * where threads are unavailable (after a console warning; `engine.threadsFallbackReason` says
 * why), it returns an ordinary single-thread engine.
 * @internal called by `createEngine()`.
 */
export async function createThreadedEngine(options: InitOptions): Promise<Engine> {
  const threads = options.threads ?? 1;
  if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new RangeError(`createEngine: option 'threads' must be an integer in [1, ${MAX_THREADS}], got ${String(threads)}`);
  }
  const min = options.minParallelElements;
  if (min !== undefined && (typeof min !== 'number' || !Number.isInteger(min) || min < 0)) {
    throw new RangeError(`createEngine: option 'minParallelElements' must be a non-negative integer, got ${String(min)}`);
  }
  const timeout = options.threadTimeoutMs;
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout > 0) || !Number.isFinite(timeout))) {
    throw new RangeError(`createEngine: option 'threadTimeoutMs' must be a positive number of milliseconds, got ${String(timeout)}`);
  }
  const { threads: _t, minParallelElements: _m, threadTimeoutMs: _o, ...rest } = options;
  if (threads === 1) return createEngine(rest);
  const reason = threadsUnavailableReason();
  if (reason !== null) {
    console.warn(`wasm-optim: running on one thread: ${reason}`);
    const engine = await createEngine(rest);
    engine.threadsFallbackReason = reason;
    return engine;
  }
  const simd = options.simd ?? simdSupported();
  if (simd && !simdSupported()) throw new Error('wasm-optim: this runtime does not support WebAssembly SIMD; use { simd: false }');
  const { module, bytes } = await loadModule(options.source ?? threadsUrl(simd));
  // The memory the module imports: its declared limits when the bytes are at hand.
  let initial = MODULE_SOURCE_INITIAL_PAGES;
  let maximum = WASM_MAX_PAGES;
  const limits = bytes ? importedMemoryLimits(bytes) : null;
  if (bytes) {
    if (!limits || !limits.shared) throw new Error('wasm-optim: the threads engine must import a shared memory (build it with --importMemory --sharedMemory)');
    initial = limits.initial;
    maximum = limits.maximum ?? WASM_MAX_PAGES;
  }
  // An engine of this build over a fresh shared memory (synchronous: siblings use it too).
  const make = (): Engine => {
    const memory = new WebAssembly.Memory({ initial, maximum, shared: true } as WebAssembly.MemoryDescriptor);
    const instance = new WebAssembly.Instance(module, {
      env: {
        memory,
        abort(_msg: number, _file: number, line: number, col: number): never {
          throw new Error(`wasm-optim: engine abort at ${line}:${col}`);
        },
      },
    });
    const e = new Engine(instance, module);
    e.createSibling = make;
    return e;
  };
  const engine = make();
  const names = WebAssembly.Module.exports(module).filter((e) => e.kind === 'function').map((e) => e.name);
  const fnIds = new Map(names.map((n, i) => [n, i]));
  const ctrl = engine.alloc(threads * SLOT_BYTES);
  const pool = new ThreadPool(engine, threads, ctrl, fnIds, options);
  await pool.start(module, names, WORKER_SPIN);
  engine.parallel = pool;
  return engine;
}

const WASM_MAX_PAGES = 65536;
/** Initial pages when the module is given compiled (its limits cannot be read); 1 MiB. */
const MODULE_SOURCE_INITIAL_PAGES = 16;
/** Atomics.load polls a worker makes before it sleeps in Atomics.wait (keeps back-to-back steps fast). */
const WORKER_SPIN = 20000;
