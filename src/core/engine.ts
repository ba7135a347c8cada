// The engine: one instantiated wasm module, its linear memory and its allocator. Optimizers and
// tables keep byte offsets into this memory, never views; views are rebuilt from the current
// buffer whenever memory growth has detached the old one.

import { ABI_HASH, SLOT, type EngineFunctions, type SlotName, type TableKernelName } from './abi.js';
import { withColdExports } from './cold.js';
import type { WasmBytes, WasmInstance, WasmMemory, WasmModule } from './wasm-types.js';

/** The raw exports of the wasm module (kernels take byte offsets and counts; see ./abi.ts). */
export type EngineExports = EngineFunctions & { memory: WasmMemory };

/** Where the engine's wasm comes from: a URL, a fetch `Response`, or the module's bytes. */
export type WasmSource = URL | string | Response | WasmBytes | WasmModule;

/** Options for `init()`. */
export interface InitOptions {
  /** Override where the wasm is loaded from (default: the file next to this module). */
  source?: WasmSource;
  /** Force the SIMD (`true`) or the scalar (`false`) build; default: SIMD when supported. */
  simd?: boolean;
  /**
   * Threads that run each step, the calling thread included (default 1: no workers). More than 1
   * loads the threads build on a shared memory and starts a pool of workers (see src/threads.ts);
   * where that is impossible it warns and runs on one thread (`engine.threadsFallbackReason`).
   */
  threads?: number;
  /**
   * With threads: steps touching fewer elements stay on the calling thread. Default 131072. An
   * embedding table's update splits from 4 times this (its rows lie scattered: see `Embedding.update`).
   */
  minParallelElements?: number;
  /** With threads: how long a step waits for a worker before it throws (ms). Default 60000. */
  threadTimeoutMs?: number;
  /** Debugging aids, off by default (they cost time outside the step path only). */
  debug?: DebugOptions;
}

/** Debugging aids of an engine (`init({ debug })`, `createEngine({ debug })`, or `engine.poisonFreed`). */
export interface DebugOptions {
  /**
   * Fill every block the engine frees (a disposed optimizer's params and state, a disposed table,
   * the tail a trim gives back) with NaN before the allocator reuses it, so that a `p.data` or
   * `emb.weights` view kept across `dispose()` reads NaN instead of another tensor's values, and
   * a test catches it. Writes through such a view still land in whatever reuses the memory: see
   * docs/guarantees.md ("Views and dispose"). Default false.
   */
  poisonFreed?: boolean;
}

/** Internal: what an engine with worker threads runs its kernels through (src/threads.ts). */
export interface ParallelRunner {
  readonly threads: number;
  runTable(fn: TableKernelName, table: number, count: number, elementwise: boolean): void;
  firstNonFiniteGrad(table: number, count: number): number;
  gradSumSquares(table: number, count: number): number;
  gradMaxAbs(table: number, count: number): number;
  shutdown(): Promise<void>;
}

const WASM_MAX_BYTES = 65536 * 65536; // wasm32: 4 GiB
const BLOCK_MAX_BYTES = (1 << 30) - 64; // the allocator's largest block (TLSF), with margin

/** One instance of the engine. Most code uses the default one that `init()` creates. */
export class Engine {
  /**
   * The module's exports. An engine of the split SIMD build (`init()` in Node) inherits its core
   * module's and gets each cold function on first read (src/core/cold.ts): `Object.keys()` lists none.
   */
  readonly exports: EngineExports;
  /** True when this instance runs the SIMD kernels. */
  readonly simd: boolean;
  private f32Cache: Float32Array;
  private i32Cache: Int32Array;
  private u32Cache: Uint32Array;
  private f64Cache: Float64Array;
  private readonly sharedMemory: boolean;
  /** The exports every dense step calls, read once: the exports object holds hundreds of names. */
  private readonly maxAbsFn: (table: number, count: number) => number;
  private readonly sumSqFn: (table: number, count: number) => number;
  private liveBytes = 0;
  private liveBlocks = new Map<number, number>();
  /**
   * The module's exported integer constants (hyper-block slots, descriptor layout): `SLOT` of
   * ./abi.ts, generated from assembly/ and checked against this module when it is instantiated.
   */
  readonly slots: typeof SLOT = SLOT;
  /** The compiled module this engine was instantiated from (null when not known). */
  readonly module: WasmModule | null;
  /**
   * @internal the cold module of a split build (./cold.ts), whose functions `exports` loads on first
   * use; else null. Typed by its shape, not as cold.ts's ColdModule: the constructor is public, and
   * TypeDoc (`npm run docs:check`) fails on an internal type in a public signature.
   */
  readonly cold: { module(): WasmModule } | null;
  /** @internal how `sibling()` makes an engine when the module needs more than `imports()` (threads). */
  createSibling: (() => Engine) | null = null;
  /** @internal the worker pool when this engine runs on several threads, else null. */
  parallel: ParallelRunner | null = null;
  /** Why this engine runs on one thread although threads were asked for (else null). */
  threadsFallbackReason: string | null = null;
  /** Debug: fill freed blocks with NaN (see `DebugOptions.poisonFreed`). Default false. */
  poisonFreed = false;

  /**
   * @param instance an instance of one of the package's builds.
   * @param module the module it was instantiated from (for `sibling()`).
   * @param cold internal: the cold module of a split build's core instance (src/core/cold.ts).
   */
  constructor(instance: WasmInstance, module?: WasmModule, cold?: { module(): WasmModule } | null) {
    this.module = module ?? null;
    this.cold = cold ?? null;
    this.exports = (cold ? withColdExports(instance, cold) : instance.exports) as unknown as EngineExports;
    // The threads builds export their start code (each worker instantiates them on the same
    // memory); the one-thread builds run it as the module's start, so they export none.
    const start = (this.exports as { _initialize?: () => void })._initialize;
    if (typeof start === 'function') start();
    this.simd = this.exports.simdEnabled() === 1;
    const buf = this.exports.memory.buffer;
    this.sharedMemory = typeof SharedArrayBuffer !== 'undefined' && buf instanceof SharedArrayBuffer;
    this.f32Cache = new Float32Array(buf);
    this.i32Cache = new Int32Array(buf);
    this.u32Cache = new Uint32Array(buf);
    this.f64Cache = new Float64Array(buf);
    this.maxAbsFn = this.exports.gradMaxAbs;
    this.sumSqFn = this.exports.gradSumSquares;
    checkAbi(this.exports as unknown as Record<string, unknown>);
  }

  /** The engine's `WebAssembly.Memory`. */
  get memory(): WasmMemory {
    return this.exports.memory;
  }

  /** Threads that run each step (1 without a pool of workers). */
  get threads(): number {
    return this.parallel?.threads ?? 1;
  }

  /**
   * Runs the table kernel `fn(table, count)`: on the calling thread, or split across the pool's
   * threads (by element ranges when the kernel is `elementwise`, else by whole tensors). A caller
   * that steps often passes `kernel`, the function `kernel(fn)` gave it, to skip the lookup.
   */
  runTable(
    fn: TableKernelName,
    table: number,
    count: number,
    elementwise = true,
    kernel?: (table: number, count: number) => void,
  ): void {
    if (this.parallel) this.parallel.runTable(fn, table, count, elementwise);
    else (kernel ?? this.kernel(fn))(table, count);
  }

  /** @internal the table kernel `fn(table, count)` of this instance (on the calling thread). */
  kernel(fn: TableKernelName): (table: number, count: number) => void {
    return this.exports[fn];
  }

  /** Index + 1 of the first tensor of the table whose gradient holds NaN/±Infinity, else 0. */
  firstNonFiniteGrad(table: number, count: number): number {
    return this.parallel
      ? this.parallel.firstNonFiniteGrad(table, count)
      : this.exports.firstNonFiniteGrad(table, count);
  }

  /** Sum of squares of every gradient of the table (f64), the same bits on any number of threads. */
  gradSumSquares(table: number, count: number): number {
    return this.parallel ? this.parallel.gradSumSquares(table, count) : this.sumSqFn(table, count);
  }

  /** The largest |g| of the table's gradients: NaN/Infinity when one is not finite (split across threads). */
  gradMaxAbs(table: number, count: number): number {
    return this.parallel ? this.parallel.gradMaxAbs(table, count) : this.maxAbsFn(table, count);
  }

  /**
   * A new, independent engine of the same build with its own memory (and no worker threads),
   * created synchronously. Sharded embedding tables put each shard in one.
   */
  sibling(): Engine {
    if (this.createSibling) return this.createSibling();
    if (!this.module)
      throw new Error(
        'wasm-optim: this engine was built from an instance alone; create engines with createEngine() or createEngineSync() to get siblings',
      );
    return new Engine(new WebAssembly.Instance(this.module, imports()), this.module, this.cold);
  }

  /** Stops this engine's worker threads; it then runs on one thread. No-op without a pool. */
  async shutdownThreads(): Promise<void> {
    const p = this.parallel;
    this.parallel = null;
    await p?.shutdown();
  }

  /** A Float32Array over the whole memory, current after any growth. */
  get heapF32(): Float32Array {
    if (this.stale()) this.refresh();
    return this.f32Cache;
  }

  /** An Int32Array over the whole memory, current after any growth. */
  get heapI32(): Int32Array {
    if (this.stale()) this.refresh();
    return this.i32Cache;
  }

  /** A Uint32Array over the whole memory, current after any growth. */
  get heapU32(): Uint32Array {
    if (this.stale()) this.refresh();
    return this.u32Cache;
  }

  /** A Float64Array over the whole memory, current after any growth (8-byte aligned data only). */
  get heapF64(): Float64Array {
    if (this.stale()) this.refresh();
    return this.f64Cache;
  }

  // Reading `memory.buffer` costs tens of nanoseconds, which shows on every step of small tensors.
  // A non-shared memory detaches its old buffer when it grows, and views of a detached buffer have
  // length 0: checking that is enough. A shared memory's old buffer stays valid (only shorter), so
  // it is compared with the current one.
  private stale(): boolean {
    return this.f32Cache.length === 0 || (this.sharedMemory && this.f32Cache.buffer !== this.exports.memory.buffer);
  }

  private refresh(): void {
    const buf = this.exports.memory.buffer;
    this.f32Cache = new Float32Array(buf);
    this.i32Cache = new Int32Array(buf);
    this.u32Cache = new Uint32Array(buf);
    this.f64Cache = new Float64Array(buf);
  }

  /** A new Float32Array view of `length` floats at byte offset `ptr` (valid until memory grows). */
  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.exports.memory.buffer, ptr, length);
  }

  /** True while `view` still looks at the engine's current buffer. */
  isCurrent(view: ArrayBufferView): boolean {
    if (this.stale()) this.refresh();
    return view.buffer === this.f32Cache.buffer;
  }

  /**
   * Allocates `bytes` bytes (16-byte aligned), zero-filled. Throws a RangeError, allocating
   * nothing, when the block is larger than one allocation can be or memory cannot grow.
   */
  alloc(bytes: number): number {
    if (!Number.isInteger(bytes) || bytes < 0)
      throw new RangeError(`alloc: bytes must be a non-negative integer, got ${bytes}`);
    const size = Math.max(16, bytes);
    if (size > BLOCK_MAX_BYTES) {
      throw new RangeError(
        `wasm-optim: a single tensor of ${bytes} bytes exceeds the engine's 1 GiB block limit; split it into several params (or shard the table)`,
      );
    }
    if (this.liveBytes + size > WASM_MAX_BYTES - (64 << 20)) {
      throw new RangeError(
        `wasm-optim: out of engine memory: ${this.liveBytes} bytes in use, ${size} more requested, wasm32 memory holds at most 4 GiB; dispose unused optimizers or use smaller tensors`,
      );
    }
    let ptr: number;
    // Pages that this allocation's memory.grow adds are fresh zeros: only the part of the block
    // below the old end needs clearing (touching gigabytes of fresh pages costs seconds).
    const oldEnd = this.exports.memory.buffer.byteLength;
    try {
      ptr = this.exports.alloc(size) >>> 0;
    } catch {
      // The allocator traps ('unreachable') when memory.grow fails: say what that means.
      throw new RangeError(
        `wasm-optim: out of engine memory: ${size} more bytes could not be allocated (the WebAssembly memory could not grow past ${this.exports.memory.buffer.byteLength} bytes; ${this.liveBytes} bytes in use); dispose unused optimizers or tables, or use smaller tensors`,
      );
    }
    const f32 = this.heapF32;
    const end = ptr + Math.ceil(size / 4) * 4; // whole words (a block's payload is a multiple of 4 bytes)
    if (end <= oldEnd) f32.fill(0, ptr >>> 2, end >>> 2);
    else {
      // The allocator keeps free-list links at the start and a back link at the end of a free
      // block, also in fresh pages: clear those ends too.
      f32.fill(0, ptr >>> 2, Math.min(end, Math.max(oldEnd, ptr + 64)) >>> 2);
      f32.fill(0, Math.max(ptr, end - 64) >>> 2, end >>> 2);
    }
    this.liveBytes += size;
    this.liveBlocks.set(ptr, size);
    return ptr;
  }

  /**
   * Shrinks a block returned by `alloc` to `bytes` (at most its size), in place: the allocator
   * takes back the rest. The block's first `bytes` bytes keep their values.
   */
  shrink(ptr: number, bytes: number): void {
    const size = this.liveBlocks.get(ptr);
    if (size === undefined) throw new Error(`wasm-optim: shrink of unknown block ${ptr}`);
    const want = Math.max(16, bytes);
    if (!Number.isInteger(bytes) || bytes < 0 || want > size)
      throw new RangeError(`shrink: bytes must be an integer in [0, ${size}], got ${bytes}`);
    if (want === size) return;
    if (this.poisonFreed) this.heapF32.fill(NaN, (ptr + want) >>> 2, (ptr + size) >>> 2);
    if (this.exports.shrink(ptr, want) >>> 0 !== ptr)
      throw new Error(`wasm-optim: the allocator moved block ${ptr} while shrinking it`);
    this.liveBlocks.set(ptr, want);
    this.liveBytes -= size - want;
  }

  /** Frees a block returned by `alloc`. */
  free(ptr: number): void {
    const size = this.liveBlocks.get(ptr);
    if (size === undefined) throw new Error(`wasm-optim: free of unknown block ${ptr}`);
    this.liveBlocks.delete(ptr);
    this.liveBytes -= size;
    if (this.poisonFreed) this.heapF32.fill(NaN, ptr >>> 2, (ptr + size) >>> 2);
    this.exports.free(ptr);
  }

  /** Bytes currently allocated and the size of the engine's memory. */
  memoryStats(): { bytesInUse: number; blocksInUse: number; memoryBytes: number } {
    return {
      bytesInUse: this.liveBytes,
      blocksInUse: this.liveBlocks.size,
      memoryBytes: this.exports.memory.buffer.byteLength,
    };
  }

  /** The value of one of the module's exported constants (`SLOT[name]` of ./abi.ts). */
  slot(name: SlotName): number {
    return SLOT[name];
  }
}

/**
 * Throws when the module's constants differ from ./abi.ts (a wasm build of another version of this
 * package): a slot written to the wrong place would corrupt silently. The shipped builds answer
 * with one call, `abiHash()` (the hash of all their constants, scripts/abi-hash.mjs); a build that
 * still exports the constants as globals (asc's own output, an older version) is checked one
 * constant at a time, naming the first that differs.
 */
function checkAbi(exports: Record<string, unknown>): void {
  const abiHash = exports.abiHash;
  // The usual case first, small: V8 compiles each function whole on its first call (ABI mismatches
  // and the constants one by one are in functions of their own).
  if (typeof abiHash !== 'function') checkAbiGlobals(exports);
  else if ((abiHash as () => number)() !== ABI_HASH) wrongAbiHash((abiHash as () => number)());
}

function wrongAbiHash(got: number): never {
  throw new Error(
    `wasm-optim: the wasm module does not match this package (its ABI hash is ${hex(got)}, expected ${hex(ABI_HASH)}); load the .wasm file shipped with this version of wasm-optim`,
  );
}

function checkAbiGlobals(exports: Record<string, unknown>): void {
  for (const name in SLOT) {
    const g = exports[name];
    const want = SLOT[name as SlotName];
    if (!(g instanceof WebAssembly.Global) || g.value !== want) {
      throw new Error(
        `wasm-optim: the wasm module does not match this package (its ${name} is ${g instanceof WebAssembly.Global ? g.value : 'missing'}, expected ${want}); load the .wasm file shipped with this version of wasm-optim`,
      );
    }
  }
}

function hex(x: number): string {
  return `0x${(x >>> 0).toString(16).padStart(8, '0')}`;
}

/** @internal the imports of the single-thread builds. */
export function imports(): WebAssembly.Imports {
  return {
    env: {
      abort(_msg: number, _file: number, line: number, col: number): never {
        throw new Error(`wasm-optim: engine abort at ${line}:${col}`);
      },
    },
  };
}

// The smallest module that uses a v128 instruction: validates only where SIMD is supported.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

let simdProbe: boolean | undefined;

/** True when this runtime supports WebAssembly 128-bit SIMD (probed once). */
export function simdSupported(): boolean {
  if (simdProbe !== undefined) return simdProbe;
  try {
    simdProbe = WebAssembly.validate(SIMD_PROBE);
  } catch {
    simdProbe = false;
  }
  return simdProbe;
}

let defaultEngine: Engine | undefined;

/** @internal sets the engine `getEngine()` returns (by `init()` and `initSync()`, ./load.ts). */
export function setDefaultEngine(engine: Engine): void {
  defaultEngine = engine;
}

/** @internal the engine `init()` created, or undefined. */
export function defaultEngineIfAny(): Engine | undefined {
  return defaultEngine;
}

/** Stops the worker threads of the engine `init({ threads })` started (no-op without them). */
export async function shutdownThreads(): Promise<void> {
  await defaultEngine?.shutdownThreads();
}

/** The engine `init()` created; throws a clear error if `init()` has not completed. */
export function getEngine(): Engine {
  if (!defaultEngine)
    throw new Error('wasm-optim: call `await init()` (or `initSync(bytes)`) before creating optimizers or tables');
  return defaultEngine;
}
