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
import type { WasmBytes, WasmModule } from './wasm-types.js';

/** The engine's four wasm builds, as a locator names them (see `WasmLocator`). */
export type WasmBuild = 'simd' | 'scalar' | 'threads' | 'threads-scalar';

/**
 * Internal: where an entry finds the build it needs when the caller gives no source: the main
 * entry's files next to the module (src/files.ts), the inline entry's base64 copies (src/inline.ts).
 */
export type WasmLocator = (build: WasmBuild) => WasmSource;

const NO_LOCATOR: WasmLocator = () => {
  throw new Error(
    "wasm-optim: no wasm source: import init from 'wasm-optim' (it finds its .wasm files) or 'wasm-optim/inline' (it carries them), or pass a source: init(url)",
  );
};

const WASM_MAGIC = 0x6d736100; // "\0asm"

// The functions `init()` runs keep their error paths in functions of their own (notWasm, readError,
// fetchUrl, ...): V8 compiles a function on its first call, the whole function, and `init()`
// calls each once: its hot path costs ~20-60 µs of compilation per function, its cold paths need not.

/** @internal the bytes must start with "\0asm"; else a CompileError that says what they look like. */
export function checkWasmBytes(bytes: Uint8Array, from: string): void {
  if (bytes.length < 4 || (bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (bytes[3] << 24)) !== WASM_MAGIC)
    notWasm(bytes, from);
}

function notWasm(bytes: Uint8Array, from: string): never {
  const head = Array.from(bytes.subarray(0, 16), (b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('');
  const page = /^\s*</.test(head) ? ' (a web page: a server that answers unknown paths with its index.html?)' : '';
  throw new WebAssembly.CompileError(
    `wasm-optim: ${from} is not a WebAssembly module: it starts with '${head}'${page}. ` +
      "Pass init() the URL of the package's .wasm file (export 'wasm-optim/wasm/simd'), or import from 'wasm-optim/inline', which carries the wasm inside the JavaScript",
  );
}

function bytesOf(src: BufferSource): Uint8Array {
  return ArrayBuffer.isView(src) ? new Uint8Array(src.buffer, src.byteOffset, src.byteLength) : new Uint8Array(src);
}

/** `Response`, checked without touching the global in Node until needed (its getter loads undici: ~30 ms). */
function isResponse(x: unknown): x is Response {
  if (x === null || typeof x !== 'object' || ArrayBuffer.isView(x) || x instanceof ArrayBuffer) return false;
  const proto = Object.getPrototypeOf(x);
  if (proto === Object.prototype || proto === null) return false;
  return typeof Response !== 'undefined' && x instanceof Response;
}

type NodeFs = {
  openSync(u: URL, flags: string): number;
  readSync(fd: number, into: Uint8Array, offset: number, length: number, position: null): number;
  closeSync(fd: number): void;
};

/** Node's `fs` without an import: `process.getBuiltinModule` (Node 20.16+), else null. */
function nodeFs(): NodeFs | null {
  const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return typeof p?.getBuiltinModule === 'function' ? (p.getBuiltinModule('node:fs') as NodeFs) : null;
}

const LOAD_FIX =
  "serve the file and pass its URL, init(url) (the package exports it as 'wasm-optim/wasm/simd'), " +
  "or import from 'wasm-optim/inline', which carries the wasm inside the JavaScript";

/** The first guess of a file's size: the largest build (197 KB) fits, so one read() gets it all. */
const FIRST_READ_BYTES = 1 << 18;

/**
 * @internal the whole file at `url`, read into one buffer that grows until the end of the file.
 * Not `readFileSync`: its first call in a process costs ~0.4 ms more than this (a `fstat`, a
 * `Buffer`, and Node's helpers around them compiled on first use), a tenth of `init()`.
 */
export function readWholeFile(fs: NodeFs, url: URL): Uint8Array<ArrayBuffer> {
  const fd = fs.openSync(url, 'r');
  try {
    let buf = new Uint8Array(FIRST_READ_BYTES);
    let n = 0;
    for (;;) {
      const got = fs.readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) return buf.subarray(0, n);
      n += got;
      if (n === buf.length) {
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf);
        buf = bigger;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * @internal the bytes at `url` (a file in Node, else fetched), or a `Response` to stream from. A
 * missing file, a failed fetch or an HTTP error throws an Error that names the URL and the fix.
 */
export async function loadUrl(url: URL, what = "the engine's wasm"): Promise<WasmBytes | Response> {
  if (url.protocol !== 'file:') return fetchUrl(url, what);
  try {
    const fs = nodeFs();
    return fs ? readWholeFile(fs, url) : await readFileAsync(url);
  } catch (e) {
    return readError(e, url, what);
  }
}

async function readFileAsync(url: URL): Promise<Uint8Array<ArrayBuffer>> {
  const specifier = 'node:fs/promises';
  const fsp = (await import(/* webpackIgnore: true */ /* @vite-ignore */ specifier)) as {
    readFile(u: URL): Promise<Uint8Array<ArrayBuffer>>;
  };
  return fsp.readFile(url);
}

function readError(e: unknown, url: URL, what: string): never {
  const code = (e as { code?: string }).code;
  throw new Error(
    `wasm-optim: could not read ${what} at ${url.href} (${code ?? (e as Error).message}): pass init() the path or URL of an existing .wasm file, or omit it to use the package's own; a bundle that moved this module can ${LOAD_FIX}`,
    { cause: e },
  );
}

/** The `Response` of a fetch of `url`; a failed fetch or an HTTP error throws an Error that names the fix. */
async function fetchUrl(url: URL, what: string): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new Error(`wasm-optim: could not fetch ${what} from ${url.href} (${(e as Error).message}): ${LOAD_FIX}`, {
      cause: e,
    });
  }
  if (!response.ok)
    throw new Error(
      `wasm-optim: could not load ${what}: HTTP ${response.status} ${response.url || url.href}; ${LOAD_FIX}`,
    );
  return response;
}

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

/** @internal Where a relative string source resolves: the page (or worker) in browsers, the package entry module in Node. */
export function baseUrl(): string {
  const g = globalThis as { document?: { baseURI?: string }; location?: { href?: string } };
  const here = (import.meta as { url?: string }).url;
  if (g.document?.baseURI ?? g.location?.href) return (g.document?.baseURI ?? g.location?.href) as string;
  if (typeof here !== 'string')
    throw new Error(
      `wasm-optim: a relative wasm path needs a base URL, and this bundle has no import.meta.url (an IIFE or CommonJS bundle?): pass an absolute URL, ${LOAD_FIX.slice(LOAD_FIX.indexOf('or import'))}`,
    );
  // Node: relative to the package's entry module (dist/index.js; src/index.ts in tests).
  return new URL('../index.js', here).href;
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
 * @internal true in Node, Deno and Bun, where `init()` compiles and instantiates the bytes
 * synchronously: there is no page to keep responsive, and V8 compiles lazily, so this only decodes
 * and validates the 200 KB SIMD build (~2.5 ms); the async compile's hand-offs to background
 * threads cost ~5% more on an idle machine and several ms more on a busy one. Browsers (a
 * `document`, or no `process`) keep the async compile: they refuse large synchronous compiles on
 * the main thread.
 */
export function compilesSynchronously(): boolean {
  const g = globalThis as { document?: unknown; process?: { versions?: { node?: unknown } } };
  return g.document === undefined && typeof g.process?.versions?.node === 'string';
}

/** @internal compiles wasm bytes: synchronously where `compilesSynchronously()`, else asynchronously. */
export async function compileModule(bytes: BufferSource): Promise<WebAssembly.Module> {
  return compilesSynchronously() ? new WebAssembly.Module(bytes) : WebAssembly.compile(bytes);
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
    const e = await (await import('../threads/setup.js')).createThreadedEngine(options, locate);
    e.poisonFreed = poison;
    return e;
  }
  const simd = options.simd ?? simdSupported();
  if (simd && !simdSupported())
    throw new Error('wasm-optim: this runtime does not support WebAssembly SIMD; use { simd: false }');
  const { instance, module } = await instantiate(options.source ?? locate(simd ? 'simd' : 'scalar'));
  const engine = new Engine(instance, module);
  engine.poisonFreed = poison;
  return engine;
}

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
