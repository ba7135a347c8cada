// The `wasm-optim/inline` entry: the same API as the main entry, with both wasm builds carried
// inside the JavaScript (base64), for bundlers and hosts that cannot serve a `.wasm` asset.

import {
  createEngine as createEngineFrom,
  createEngineSync as createEngineSyncFrom,
  init as initFrom,
  initSync as initSyncFrom,
  simdSupported,
  toOptions,
  type Engine,
  type InitOptions,
  type WasmSource,
} from './engine.js';
// Written by scripts/inline-wasm.mjs during `npm run build`; `../dist/` is dist/ from src/ and dist/.
import { scalarBase64, simdBase64 } from '../dist/inline-wasm.js';

export * from './index.js';

function decode(base64: string): Uint8Array<ArrayBuffer> {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/**
 * The bytes of the inlined engine: the SIMD build (`simd: true`) or the scalar one; by default
 * the SIMD build where this runtime supports WebAssembly SIMD.
 */
export function wasmBytes(simd: boolean = simdSupported()): Uint8Array<ArrayBuffer> {
  return decode(simd ? simdBase64 : scalarBase64);
}

function withInlined(options: InitOptions): InitOptions {
  return options.source !== undefined ? options : { ...options, source: wasmBytes(options.simd ?? simdSupported()) };
}

/**
 * `init()` of the main entry, loading the inlined wasm (no fetch, no file read) unless a source
 * is given. Later calls are no-ops that return the same engine.
 */
export function init(arg?: WasmSource | InitOptions): Promise<Engine> {
  return initFrom(withInlined(toOptions(arg, 'init')));
}

/** Synchronous `init()`: compiles the inlined wasm (or the given bytes or module) at once. */
export function initSync(bytes?: BufferSource | WebAssembly.Module): Engine {
  return initSyncFrom(bytes ?? wasmBytes());
}

/** `createEngine()` of the main entry, defaulting to the inlined wasm. */
export function createEngine(arg?: WasmSource | InitOptions): Promise<Engine> {
  return createEngineFrom(withInlined(toOptions(arg, 'createEngine')));
}

/** `createEngineSync()` of the main entry, defaulting to the inlined wasm. */
export function createEngineSync(bytes?: BufferSource | WebAssembly.Module): Engine {
  return createEngineSyncFrom(bytes ?? wasmBytes());
}
