// The main entry's `init()` and `createEngine()`: the engine's wasm comes from the package's own
// `.wasm` files, found next to this module through `new URL('…', import.meta.url)`. Bundlers
// (Vite, webpack, Parcel, Rollup with a plugin) recognize that literal form and copy the files.
// Only the main entry imports this module, so the `wasm-optim/inline` entry never pulls the
// separate `.wasm` files into a bundle.

import type { Engine, InitOptions, WasmSource } from './core/engine.js';
import { createEngine as createEngineWith, init as initWith, type WasmBuild } from './core/load.js';
import type { SplitBuild } from './core/wasm-fetch.js';

/** The URL of one of the package's wasm builds (`../dist/` is dist/ from src/ and from dist/). */
function packageWasm(build: WasmBuild | SplitBuild): URL {
  // esbuild's IIFE and CommonJS bundles (and some test transforms) leave `import.meta` empty: say
  // what to do instead of `new URL()`'s "Invalid URL".
  if (typeof (import.meta as { url?: unknown }).url !== 'string') {
    throw new Error(
      "wasm-optim: cannot locate the engine's .wasm: this bundle has no import.meta.url (an IIFE or CommonJS bundle?). " +
        "Import from 'wasm-optim/inline' instead (the wasm is inside the JavaScript), or copy the package's file " +
        `'wasm-optim/wasm/${build}' next to your page and pass its URL: init(url)`,
    );
  }
  // One literal `new URL(…, import.meta.url)` per file: the form bundlers look for. The split SIMD
  // build (Node only: src/core/cold.ts) is named through a variable, a form they leave alone, so
  // that bundles for browsers do not carry its two files.
  const here: string = import.meta.url;
  switch (build) {
    case 'simd-core':
      return new URL('../dist/wasm-optim.simd-core.wasm', here);
    case 'simd-cold':
      return new URL('../dist/wasm-optim.simd-cold.wasm', here);
    case 'simd':
      return new URL('../dist/wasm-optim.simd.wasm', import.meta.url);
    case 'scalar':
      return new URL('../dist/wasm-optim.scalar.wasm', import.meta.url);
    case 'threads':
      return new URL('../dist/wasm-optim.threads.wasm', import.meta.url);
    case 'threads-scalar':
      return new URL('../dist/wasm-optim.threads-scalar.wasm', import.meta.url);
  }
}

/**
 * Compiles and instantiates the engine once; later calls are no-ops that return the same engine
 * (a later call that asks for a different number of threads, or the other build, throws).
 * In Node it reads the `.wasm` file next to the module; in browsers (and Web Workers) it fetches
 * it from `new URL('./wasm-optim.simd.wasm', import.meta.url)`, compiling while it downloads when
 * the server sends `application/wasm`. To load it from elsewhere pass a source, directly or as
 * `{ source }`: a URL or string (relative strings resolve against the page in browsers), a fetch
 * `Response`, the wasm bytes, or a compiled `WebAssembly.Module`. Bundles without
 * `import.meta.url` (IIFE, CommonJS) use `wasm-optim/inline` or pass a source.
 * @example await init(new URL('/assets/wasm-optim.simd.wasm', location.href));
 */
export function init(arg?: WasmSource | InitOptions): Promise<Engine> {
  return initWith(arg, packageWasm);
}

/**
 * Creates a new, independent engine (its own memory), loading the wasm as `init()` does. Tests and
 * sharded tables use several. Accepts the same argument as `init()`.
 */
export function createEngine(arg?: WasmSource | InitOptions): Promise<Engine> {
  return createEngineWith(arg, packageWasm);
}
