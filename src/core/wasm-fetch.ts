// Where the engine's wasm bytes come from, below any engine: the checks that name the fix when a
// source is not wasm or cannot be read, reading a file (Node) or fetching a URL, the base URL of a
// relative path, and compiling. ./load.ts (init, createEngine) and ../threads/setup.ts (the threads
// build) both use these; neither imports the other's module for them.

import type { WasmSource } from './engine.js';
import type { WasmBytes } from './wasm-types.js';

/** The engine's four wasm builds, as a locator names them (see `WasmLocator`). */
export type WasmBuild = 'simd' | 'scalar' | 'threads' | 'threads-scalar';

/**
 * Internal: the SIMD build split in two modules (scripts/split-wasm.mjs, ./cold.ts), which `init()`
 * loads where it compiles synchronously: the core module, and the cold one compiled on first use.
 */
export type SplitBuild = 'simd-core' | 'simd-cold';

/**
 * Internal: where an entry finds the build it needs when the caller gives no source: the main
 * entry's files next to the module (src/files.ts), the inline entry's base64 copies (src/inline.ts,
 * which has no split build: null).
 */
export interface WasmLocator {
  (build: WasmBuild): WasmSource;
  (build: SplitBuild): WasmSource | null;
}

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

/** @internal the bytes of a buffer source, as a Uint8Array view. */
export function bytesOf(src: BufferSource): Uint8Array {
  return ArrayBuffer.isView(src) ? new Uint8Array(src.buffer, src.byteOffset, src.byteLength) : new Uint8Array(src);
}

/** @internal `Response`, checked without touching the global in Node until needed (its getter loads undici: ~30 ms). */
export function isResponse(x: unknown): x is Response {
  if (x === null || typeof x !== 'object' || ArrayBuffer.isView(x) || x instanceof ArrayBuffer) return false;
  const proto = Object.getPrototypeOf(x);
  if (proto === Object.prototype || proto === null) return false;
  return typeof Response !== 'undefined' && x instanceof Response;
}

type NodeFs = {
  openSync(u: URL | string, flags: string): number;
  readSync(fd: number, into: Uint8Array, offset: number, length: number, position: null): number;
  closeSync(fd: number): void;
};

/** Node's `fs` without an import: `process.getBuiltinModule` (Node 20.16+), else null. */
function nodeFs(): NodeFs | null {
  const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return typeof p?.getBuiltinModule === 'function' ? (p.getBuiltinModule('node:fs') as NodeFs) : null;
}

/** @internal how to load the wasm when a source fails (ends every load error). */
export const LOAD_FIX =
  "serve the file and pass its URL, init(url) (the package exports it as 'wasm-optim/wasm/simd'), " +
  "or import from 'wasm-optim/inline', which carries the wasm inside the JavaScript";

/** The first guess of a file's size: the largest build (197 KB) fits, so one read() gets it all. */
const FIRST_READ_BYTES = 1 << 18;

/**
 * @internal what `openSync` gets for a file: URL: its pathname when that is the path (POSIX, no
 * host, no percent-escape), else the URL. Node turns a URL into a path with `fileURLToPath`, whose
 * JavaScript it compiles on first use: ~0.15 ms of `init()` (AMD EPYC family 23, Node 20).
 */
export function openablePath(url: URL): URL | string {
  const path = url.pathname;
  const platform = (globalThis as { process?: { platform?: string } }).process?.platform;
  return url.host === '' && platform !== 'win32' && !path.includes('%') ? path : url;
}

/**
 * @internal the whole file at `url`, read into one buffer that grows until the end of the file.
 * Not `readFileSync`: its first call in a process costs ~0.4 ms more than this (a `fstat`, a
 * `Buffer`, and Node's helpers around them compiled on first use), a tenth of `init()`.
 */
export function readWholeFile(fs: NodeFs, url: URL): Uint8Array<ArrayBuffer> {
  const fd = fs.openSync(openablePath(url), 'r');
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

/**
 * @internal the bytes of `source` at once: bytes as they are, a file: URL read where Node's `fs`
 * is at hand; anything else throws an Error that names `what`.
 */
export function bytesNow(source: WasmSource, what: string): BufferSource {
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return source as BufferSource;
  const fs = nodeFs();
  if (!readableNow(source) || !fs)
    throw new Error(`wasm-optim: cannot read ${what} synchronously from ${String(source)}`);
  try {
    return readWholeFile(fs, source as URL);
  } catch (e) {
    return readError(e, source as URL, what);
  }
}

/** @internal true when `bytesNow()` can get the bytes of `source` (bytes, or a file: URL where Node's `fs` is at hand). */
export function readableNow(source: WasmSource): boolean {
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return true;
  return source instanceof URL && source.protocol === 'file:' && nodeFs() !== null;
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
