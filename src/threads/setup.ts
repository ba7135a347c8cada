// Starting an engine on worker threads: whether this environment can (SharedArrayBuffer,
// Atomics.wait, shared WebAssembly memory), the threads build's module and the memory it imports,
// and `createThreadedEngine`, which `createEngine({ threads })` loads on demand. The pool itself
// (running kernels across the workers) is ./pool.ts.

import { CTRL_BYTES, MAX_THREADS } from './control.js';
import { ThreadPool } from './pool.js';
import { Engine, simdSupported, type InitOptions, type WasmSource } from '../core/engine.js';
import { baseUrl, checkWasmBytes, compileModule, loadUrl, type WasmLocator } from '../core/wasm-fetch.js';

/** Why threads cannot run in this environment, or null when they can. */
export function threadsUnavailableReason(): string | null {
  if (typeof SharedArrayBuffer === 'undefined') {
    return (
      'SharedArrayBuffer is not available (in a browser page, serve it cross-origin isolated: ' +
      'Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)'
    );
  }
  if (typeof Atomics === 'undefined' || typeof Atomics.wait !== 'function') return 'Atomics.wait is not available';
  const g = globalThis as {
    crossOriginIsolated?: boolean;
    process?: { versions?: { node?: string } };
    Worker?: unknown;
  };
  const isNode = !!g.process?.versions?.node;
  if (!isNode && g.crossOriginIsolated === false)
    return 'the page is not cross-origin isolated, so memory cannot be shared with workers';
  if (!isNode && typeof g.Worker !== 'function') return 'Web Workers are not available';
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true } as WebAssembly.MemoryDescriptor);
  } catch (e) {
    return `this runtime cannot create shared WebAssembly memory (${(e as Error).message})`;
  }
  return null;
}

/** The module and, when known, its bytes (to read the imported memory's limits). */
async function loadModule(source: WasmSource): Promise<{ module: WebAssembly.Module; bytes: Uint8Array | null }> {
  if (source instanceof WebAssembly.Module) return { module: source, bytes: null };
  let src: BufferSource | Response = source as BufferSource | Response;
  let from = 'the threads build';
  if (typeof source === 'string' || source instanceof URL) {
    const url = source instanceof URL ? source : new URL(source, baseUrl());
    from = url.href;
    src = (await loadUrl(url, 'the threads engine')) as BufferSource | Response;
  }
  if (!(src instanceof ArrayBuffer || ArrayBuffer.isView(src))) {
    if (!src.ok) throw new Error(`wasm-optim: could not load the threads engine: HTTP ${src.status} ${src.url}`);
    from = src.url || 'the Response';
    src = await src.arrayBuffer();
  }
  const bytes = ArrayBuffer.isView(src)
    ? new Uint8Array(src.buffer, src.byteOffset, src.byteLength)
    : new Uint8Array(src as ArrayBuffer);
  checkWasmBytes(bytes, from);
  return { module: await compileModule(bytes as Uint8Array<ArrayBuffer>), bytes };
}

/** @internal the memory limits the module imports (`env.memory`), read from its import section. */
export function importedMemoryLimits(
  bytes: Uint8Array,
): { initial: number; maximum: number | undefined; shared: boolean } | null {
  let p = 8;
  const u32 = (): number => {
    let r = 0,
      shift = 0,
      b: number;
    do {
      b = bytes[p++];
      r += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return r;
  };
  const skipName = (): void => {
    const n = u32();
    p += n;
  };
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
        else if (kind === 1) {
          p++;
          const f = bytes[p++];
          u32();
          if (f & 1) u32();
        } else if (kind === 3) {
          p += 2;
        } else if (kind === 2) {
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

/**
 * Creates an engine that runs on `threads` threads (see `createEngine`). With `threads: 1`, or
 * where threads are unavailable (after a console warning; `engine.threadsFallbackReason` says
 * why), it returns an ordinary single-thread engine.
 * @internal called by `createEngine()`, which passes itself as `createEngine` (for the single-thread
 * engines), so that this module does not import ../core/load.ts: that one imports this module on demand.
 */
export async function createThreadedEngine(
  options: InitOptions,
  locate: WasmLocator,
  createEngine: (options: InitOptions, locate: WasmLocator) => Promise<Engine>,
): Promise<Engine> {
  const threads = options.threads ?? 1;
  if (typeof threads !== 'number') {
    throw new TypeError(
      `createEngine: option 'threads' must be an integer in [1, ${MAX_THREADS}], got ${threads === null ? 'null' : typeof threads}`,
    );
  }
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new RangeError(
      `createEngine: option 'threads' must be an integer in [1, ${MAX_THREADS}], got ${String(threads)}`,
    );
  }
  const min = options.minParallelElements;
  if (min !== undefined && typeof min !== 'number')
    throw new TypeError(`createEngine: option 'minParallelElements' must be a non-negative integer, got ${typeof min}`);
  if (min !== undefined && (!Number.isInteger(min) || min < 0)) {
    throw new RangeError(
      `createEngine: option 'minParallelElements' must be a non-negative integer, got ${String(min)}`,
    );
  }
  const timeout = options.threadTimeoutMs;
  if (timeout !== undefined && typeof timeout !== 'number')
    throw new TypeError(
      `createEngine: option 'threadTimeoutMs' must be a positive number of milliseconds, got ${typeof timeout}`,
    );
  if (timeout !== undefined && (!(timeout > 0) || !Number.isFinite(timeout))) {
    throw new RangeError(
      `createEngine: option 'threadTimeoutMs' must be a positive number of milliseconds, got ${String(timeout)}`,
    );
  }
  const { threads: _t, minParallelElements: _m, threadTimeoutMs: _o, ...rest } = options;
  if (threads === 1) return createEngine(rest, locate);
  const reason = threadsUnavailableReason();
  if (reason !== null) {
    console.warn(`wasm-optim: running on one thread: ${reason}`);
    const engine = await createEngine(rest, locate);
    engine.threadsFallbackReason = reason;
    return engine;
  }
  const simd = options.simd ?? simdSupported();
  if (simd && !simdSupported())
    throw new Error('wasm-optim: this runtime does not support WebAssembly SIMD; use { simd: false }');
  const { module, bytes } = await loadModule(options.source ?? locate(simd ? 'threads' : 'threads-scalar'));
  // The memory the module imports: its declared limits when the bytes are at hand.
  let initial = MODULE_SOURCE_INITIAL_PAGES;
  let maximum = WASM_MAX_PAGES;
  const limits = bytes ? importedMemoryLimits(bytes) : null;
  if (bytes) {
    if (!limits || !limits.shared)
      throw new Error(
        'wasm-optim: the threads engine must import a shared memory (build it with --importMemory --sharedMemory)',
      );
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
  const names = WebAssembly.Module.exports(module)
    .filter((e) => e.kind === 'function')
    .map((e) => e.name);
  const fnIds = new Map(names.map((n, i) => [n, i]));
  const ctrl = engine.alloc(CTRL_BYTES);
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
