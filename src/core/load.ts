// Loading the engine's wasm and making engines: where a build comes from (a locator, a URL, a
// Response, bytes, a compiled module), the checks that name the fix when loading fails,
// `createEngine()` / `createEngineSync()`, and `init()` / `initSync()`, which make the default
// engine that `getEngine()` (./engine.ts) returns.

import {
  Engine,
  defaultEngineIfAny,
  imports,
  setDefaultEngine,
  simdSupported,
  type InitOptions,
  type WasmSource,
} from './engine.js';
import { coldModule, type ColdModule } from './cold.js';
import {
  LOAD_FIX,
  baseUrl,
  bytesNow,
  bytesOf,
  checkWasmBytes,
  compilesSynchronously,
  readableNow,
  isResponse,
  loadUrl,
  type WasmLocator,
} from './wasm-fetch.js';
import type { WasmBytes, WasmModule } from './wasm-types.js';

export type { WasmBuild, WasmLocator } from './wasm-fetch.js';

const NO_LOCATOR: WasmLocator = () => {
  throw new Error(
    "wasm-optim: no wasm source: import init from 'wasm-optim' (it finds its .wasm files) or 'wasm-optim/inline' (it carries them), or pass a source: init(url)",
  );
};

/** True when `x` is something `init()` can load the wasm from (rather than an options object). */
function isWasmSource(x: unknown): x is WasmSource {
  return (
    typeof x === 'string' ||
    x instanceof URL ||
    x instanceof WebAssembly.Module ||
    x instanceof ArrayBuffer ||
    ArrayBuffer.isView(x) ||
    isResponse(x)
  );
}

/**
 * @internal `init(source)` and `init({ source, ... })` both mean the options object; checks the
 * argument's type and returns the options.
 */
export function toOptions(arg: WasmSource | InitOptions | undefined, what: string): InitOptions {
  if (arg === undefined) return {};
  if (isWasmSource(arg)) return { source: arg };
  if (arg === null || typeof arg !== 'object' || Array.isArray(arg)) {
    throw new TypeError(
      `wasm-optim: ${what}() expects a URL, a Response, the wasm bytes, a WebAssembly.Module or an options object, got ${arg === null ? 'null' : Array.isArray(arg) ? 'an array' : typeof arg}`,
    );
  }
  const o = arg as InitOptions;
  if (o.source !== undefined && !isWasmSource(o.source)) {
    throw new TypeError(
      `wasm-optim: ${what}(): option 'source' must be a URL, a string, a Response, an ArrayBuffer or typed array of the wasm bytes, or a WebAssembly.Module, got ${o.source === null ? 'null' : typeof o.source}`,
    );
  }
  if (o.simd !== undefined && typeof o.simd !== 'boolean')
    throw new TypeError(`wasm-optim: ${what}(): option 'simd' must be a boolean, got ${typeof o.simd}`);
  if (o.debug !== undefined) {
    if (o.debug === null || typeof o.debug !== 'object')
      throw new TypeError(
        `wasm-optim: ${what}(): option 'debug' must be an object such as { poisonFreed: true }, got ${o.debug === null ? 'null' : typeof o.debug}`,
      );
    for (const k of Object.keys(o.debug))
      if (k !== 'poisonFreed')
        throw new TypeError(`wasm-optim: ${what}(): unknown debug option '${k}'; known: poisonFreed`);
    if (o.debug.poisonFreed !== undefined && typeof o.debug.poisonFreed !== 'boolean')
      throw new TypeError(
        `wasm-optim: ${what}(): option 'debug.poisonFreed' must be a boolean, got ${typeof o.debug.poisonFreed}`,
      );
  }
  return o;
}

async function instantiate(source: WasmSource): Promise<WebAssembly.WebAssemblyInstantiatedSource> {
  if (source instanceof WebAssembly.Module)
    return { module: source, instance: await WebAssembly.instantiate(source, imports()) };
  let src: BufferSource | Response = source as BufferSource | Response;
  let from = 'the wasm source';
  if (typeof source === 'string' || source instanceof URL) {
    const url = source instanceof URL ? source : new URL(source, baseUrl());
    from = url.href;
    src = (await loadUrl(url)) as BufferSource | Response;
  }
  if (!ArrayBuffer.isView(src) && isResponse(src)) {
    if (canStream(src)) return WebAssembly.instantiateStreaming(src, imports());
    from = src.url || 'the Response';
    src = await src.arrayBuffer();
  }
  checkWasmBytes(bytesOf(src), from);
  if (!compilesSynchronously()) return WebAssembly.instantiate(src, imports());
  const module = new WebAssembly.Module(src);
  return { module, instance: new WebAssembly.Instance(module, imports()) };
}

/** True when `instantiateStreaming` can take the response (its type is application/wasm); throws on an HTTP error. */
function canStream(src: Response): boolean {
  if (!src.ok)
    throw new Error(`wasm-optim: could not load the engine's wasm: HTTP ${src.status} ${src.url}; ${LOAD_FIX}`);
  return (
    typeof WebAssembly.instantiateStreaming === 'function' &&
    (src.headers.get('content-type') ?? '').startsWith('application/wasm')
  );
}

/**
 * Creates a new, independent engine (its own memory). Tests and sharded tables use several.
 * Accepts the same argument as `init()`: options, or directly a source to load the wasm from.
 * `locate` (internal) finds the build when no source is given.
 */
export async function createEngine(arg?: WasmSource | InitOptions, locate: WasmLocator = NO_LOCATOR): Promise<Engine> {
  return engineFrom(toOptions(arg, 'createEngine'), locate);
}

/** `createEngine()` of options `toOptions()` has checked. */
async function engineFrom(options: InitOptions, locate: WasmLocator): Promise<Engine> {
  const poison = options.debug?.poisonFreed ?? false;
  if (options.threads !== undefined) {
    const e = await (await import('../threads/setup.js')).createThreadedEngine(options, locate, createEngine);
    e.poisonFreed = poison;
    return e;
  }
  const simd = options.simd ?? simdSupported();
  if (simd && !simdSupported())
    throw new Error('wasm-optim: this runtime does not support WebAssembly SIMD; use { simd: false }');
  const engine =
    options.source === undefined
      ? await locatedEngine(simd, locate)
      : new Engine(...(await instantiateWhole(options.source)));
  engine.poisonFreed = poison;
  return engine;
}

/**
 * The engine of the build `locate` finds: the scalar one, or the SIMD one (split where
 * `splitEngine` can). (Loading SIMD without the probe first, and probing only on a CompileError,
 * measured 0.3 ms faster under real-time priority but no faster in plain pinned processes: not kept.)
 */
async function locatedEngine(simd: boolean, locate: WasmLocator): Promise<Engine> {
  if (!simd) return new Engine(...(await instantiateWhole(locate('scalar'))));
  return (
    (compilesSynchronously() ? await splitEngine(locate) : null) ??
    new Engine(...(await instantiateWhole(locate('simd'))))
  );
}

async function instantiateWhole(source: WasmSource): Promise<[WebAssembly.Instance, WebAssembly.Module]> {
  const { instance, module } = await instantiate(source);
  return [instance, module];
}

/**
 * The SIMD build in two modules (./cold.ts), where `init()` compiles synchronously (Node, Deno,
 * Bun): the core module now, the cold one on the first use of one of its functions. Null when the
 * core cannot be loaded (a bundle that moved the package's files) or the cold one could not be read
 * at once: the whole build is then loaded.
 */
async function splitEngine(locate: WasmLocator): Promise<Engine | null> {
  let core: WebAssembly.WebAssemblyInstantiatedSource;
  let coldSource: WasmSource | null;
  try {
    const coreSource = locate('simd-core');
    coldSource = locate('simd-cold');
    // The cold module must load synchronously, on a kernel's call.
    if (coreSource === null || coldSource === null || !readableNow(coldSource)) return null;
    core = await instantiate(coreSource);
  } catch {
    return null;
  }
  const from = coldSource;
  let cold = colds.get(locate);
  if (!cold) colds.set(locate, (cold = coldModule(() => bytesNow(from, "the engine's cold kernels"))));
  return new Engine(core.instance, core.module, cold);
}

/** The cold module of each locator's split build: compiled once per process, for every engine. */
const colds = new WeakMap<WasmLocator, ColdModule>();

/** Creates a new engine synchronously from the wasm bytes (or a compiled module). */
export function createEngineSync(bytes: WasmBytes | WasmModule): Engine {
  return new Engine(...compileSync(bytes, 'createEngineSync'));
}

function checkSyncSource(bytes: unknown, what: string): void {
  if (!(bytes instanceof WebAssembly.Module || bytes instanceof ArrayBuffer || ArrayBuffer.isView(bytes))) {
    throw new TypeError(
      `wasm-optim: ${what}() needs the engine's wasm bytes (an ArrayBuffer or typed array) or a compiled WebAssembly.Module, got ${bytes === null ? 'null' : typeof bytes}. ` +
        "Use `await init()`, which finds the .wasm itself; or import { initSync } from 'wasm-optim/inline', which carries the bytes; " +
        "or read the file the package exports as 'wasm-optim/wasm/simd' and pass its bytes",
    );
  }
}

function compileSync(
  bytes: BufferSource | WebAssembly.Module,
  what: string,
): [WebAssembly.Instance, WebAssembly.Module] {
  checkSyncSource(bytes, what);
  if (!(bytes instanceof WebAssembly.Module)) checkWasmBytes(bytesOf(bytes), `the bytes given to ${what}()`);
  const module = bytes instanceof WebAssembly.Module ? bytes : new WebAssembly.Module(bytes);
  return [new WebAssembly.Instance(module, imports()), module];
}

let pending: Promise<Engine> | undefined;
/** What the first `init()` asked for: a later call that asks for something else throws. */
let requested: { threads: number; simd: boolean | undefined; how: string } | undefined;

/** A later `init()` that asks for other threads or another build than the first cannot be honoured. */
function checkSameRequest(options: InitOptions, what: string): void {
  if (!requested) return;
  const threads = options.threads;
  if (threads !== undefined && threads !== requested.threads) {
    throw new Error(
      `wasm-optim: ${what}({ threads: ${String(threads)} }) after ${requested.how} already set up the engine with ${requested.threads} thread(s); ` +
        `the engine cannot change its threads once optimizers may hold its memory. Call ${what}({ threads: ${String(threads)} }) first, before anything else calls init(), ` +
        'or make a separate engine: createEngine({ threads }) and pass it as { engine } to optimizers and tables',
    );
  }
  if (options.simd !== undefined && requested.simd !== undefined && options.simd !== requested.simd) {
    throw new Error(
      `wasm-optim: ${what}({ simd: ${options.simd} }) after ${requested.how} already loaded the ${requested.simd ? 'SIMD' : 'scalar'} build; ask for the build in the first init() call`,
    );
  }
}

/**
 * Compiles and instantiates the engine once; later calls are no-ops that return the same engine
 * (a later call that asks for a different number of threads, or the other build, throws).
 * In Node it reads the `.wasm` file next to the module; in browsers (and Web Workers) it fetches
 * it from `new URL('./wasm-optim.simd.wasm', import.meta.url)`, compiling while it downloads when
 * the server sends `application/wasm`. To load it from elsewhere pass a source, directly or as
 * `{ source }`: a URL or string (relative strings resolve against the page in browsers), a fetch
 * `Response`, the wasm bytes, or a compiled `WebAssembly.Module`.
 * @example await init(new URL('/assets/wasm-optim.simd.wasm', location.href));
 */
export async function init(arg?: WasmSource | InitOptions, locate: WasmLocator = NO_LOCATOR): Promise<Engine> {
  // A plain `init()` calls as few functions as it can: each costs its compilation on first use.
  const options = arg === undefined ? {} : toOptions(arg, 'init');
  if (requested) checkSameRequest(options, 'init');
  const ready = defaultEngineIfAny();
  if (ready) return ready;
  if (!pending) {
    const how = options.threads === undefined ? 'init()' : `init({ threads: ${options.threads} })`;
    requested = { threads: options.threads ?? 1, simd: options.simd, how };
    pending = engineFrom(options, locate)
      .then(
        (e) => {
          if (requested) requested.simd = e.simd;
          setDefaultEngine(e);
          return e;
        },
        (e: unknown) => {
          requested = undefined;
          throw e;
        },
      )
      .finally(() => {
        pending = undefined;
      });
  }
  return pending;
}

/**
 * The synchronous form of `init()` for callers that already hold the wasm bytes (or a compiled
 * module); no-op if initialized. The `wasm-optim/inline` entry's `initSync()` needs no argument.
 */
export function initSync(bytes: WasmBytes | WasmModule): Engine {
  checkSyncSource(bytes, 'initSync');
  const ready = defaultEngineIfAny();
  if (ready) return ready;
  const engine = new Engine(...compileSync(bytes, 'initSync'));
  setDefaultEngine(engine);
  requested = { threads: 1, simd: engine.simd, how: 'initSync()' };
  return engine;
}
