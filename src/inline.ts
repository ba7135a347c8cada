// The `wasm-optim/inline` entry: the same API as the main entry, with the wasm builds (SIMD,
// scalar, and the threads builds) carried inside the JavaScript as base64, for bundlers and hosts
// that cannot serve a `.wasm` asset.

import { simdSupported, type Engine, type InitOptions, type WasmSource } from './core/engine.js';
import {
  createEngine as createEngineFrom,
  createEngineSync as createEngineSyncFrom,
  init as initFrom,
  initSync as initSyncFrom,
  type WasmBuild,
} from './core/load.js';
// Written by scripts/inline-wasm.mjs in `npm run asbuild`; `../dist/` is dist/ from src/ and dist/.
import { scalarBase64, simdBase64, threadsBase64, threadsScalarBase64 } from '../dist/inline-wasm.js';
import type { SplitBuild } from './core/wasm-fetch.js';
import type { WasmBytes, WasmModule } from './core/wasm-types.js';

// api.js, not index.js: the main entry's init() (src/files.ts) names the separate .wasm files,
// which bundlers would copy next to a bundle of this entry too.
export * from './api.js';

function decode(base64: string): Uint8Array<ArrayBuffer> {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/**
 * The bytes of an inlined build: SIMD (`simd: true`) or scalar, single-thread or the threads build
 * (shared memory); by default the single-thread SIMD build where this runtime supports SIMD.
 */
export function wasmBytes(simd: boolean = simdSupported(), threads = false): Uint8Array<ArrayBuffer> {
  return decode(threads ? (simd ? threadsBase64 : threadsScalarBase64) : simd ? simdBase64 : scalarBase64);
}

/** The inlined build a locator asks for; none of the split SIMD build (null: `init()` loads the whole one). */
function inlined(build: WasmBuild): Uint8Array<ArrayBuffer>;
function inlined(build: SplitBuild): null;
function inlined(build: WasmBuild | SplitBuild): Uint8Array<ArrayBuffer> | null {
  if (build === 'simd-core' || build === 'simd-cold') return null;
  return wasmBytes(build === 'simd' || build === 'threads', build === 'threads' || build === 'threads-scalar');
}

/**
 * `init()` of the main entry, loading the inlined wasm (no fetch, no file read) unless a source
 * is given. Later calls are no-ops that return the same engine.
 */
export function init(arg?: WasmSource | InitOptions): Promise<Engine> {
  return initFrom(arg, inlined);
}

/** Synchronous `init()`: compiles the inlined wasm (or the given bytes or module) at once. */
export function initSync(bytes?: WasmBytes | WasmModule): Engine {
  return initSyncFrom(bytes ?? wasmBytes());
}

/** `createEngine()` of the main entry, defaulting to the inlined wasm. */
export function createEngine(arg?: WasmSource | InitOptions): Promise<Engine> {
  return createEngineFrom(arg, inlined);
}

/** `createEngineSync()` of the main entry, defaulting to the inlined wasm. */
export function createEngineSync(bytes?: WasmBytes | WasmModule): Engine {
  return createEngineSyncFrom(bytes ?? wasmBytes());
}
