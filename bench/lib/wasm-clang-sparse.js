// The wasm limit of a whole embedding-table update: bench/c/sparse.c's update methods (its coalescing
// and row loop, the same C source as the native contenders) compiled by clang to wasm32 SIMD at bench
// time and run in this process's V8, next to the engine. Where the native `prefetch` and `chains`
// loops prefetch their rows, the wasm build has no prefetch instruction (`__builtin_prefetch`
// compiles to nothing), and its gradients lie in its own memory, as the native loops read theirs in
// place: what a whole update in wasm SIMD comes to on this CPU. Skipped with a note when clang or
// wasm-ld is missing (Debian: `apt-get install clang lld`), as bench/lib/wasm-clang.js is.
import { fileURLToPath } from 'node:url';
import { CLANG_WASM_FLAGS, compileWasm } from './wasm-clang.js';
import { touchPages } from './pages.js';

const SRC = fileURLToPath(new URL('../c/sparse.c', import.meta.url));

/**
 * clang's flags for the wasm build of sparse.c: the wasm limit's (CLANG_WASM_FLAGS; dense.c's
 * unroll define aside) and bulk memory, so that the coalescing's memset of its hash is wasm's
 * memory.fill (there is no libc to call).
 */
export const SPARSE_CLANG_FLAGS = [...CLANG_WASM_FLAGS.filter((f) => !f.startsWith('-DUNROLL')), '-mbulk-memory'];

/** The methods of the wasm build: the export of each (bench/c/sparse.c's update_chains, update_prefetch). */
export const SPARSE_WASM_METHODS = { chains: 'sparse_chains', prefetch: 'sparse_prefetch' };

let compiled = null;

/**
 * Compiles bench/c/sparse.c to wasm once per process.
 * @returns {{ module?: WebAssembly.Module, skipped?: string, compiler?: string }}
 */
export function sparseWasm() {
  return (compiled ??= compileWasm(SRC, SPARSE_CLANG_FLAGS, 'the wasm (clang) table updates were'));
}

/**
 * An instance of the wasm build: its exports and memory, with Math.pow as sparse.c's pow (the bias
 * corrections' powers, twice an update).
 * @param {WebAssembly.Module} module
 */
export function sparseInstance(module) {
  const { exports } = new WebAssembly.Instance(module, { env: { pow: Math.pow } });
  return exports;
}

/**
 * One `method` update at a time (chains or prefetch) of a `rows` x `dim` table in a fresh instance,
 * set up as the native program sets up its own (bench/c/sparse.c main: weights from its xorshift
 * stream, moments zero, one batch of `k` x `dim` gradients from the same stream used for every
 * update), cycling through `batches` (Int32Arrays of `k` ids, staged in the instance's memory before
 * timing, as the native program reads its ids file) in the native program's order (the second batch
 * first). Every page of the memory is touched before timing (./pages.js). Returns `{ fn }`: one update.
 * @param {WebAssembly.Module} module
 * @param {'chains' | 'prefetch'} method
 * @param {{ rows: number, dim: number, k: number, batches: Int32Array[] }} o
 */
export function sparseUpdater(module, method, { rows, dim, k, batches }) {
  const x = sparseInstance(module);
  const update = x[SPARSE_WASM_METHODS[method]];
  if (typeof update !== 'function') throw new Error(`wasm (clang): bench/c/sparse.c has no ${method} method`);
  // Addresses come back as signed i32: >>> 0 reads those past 2 GiB right.
  const grads = x.sparse_alloc(k * dim * 4) >>> 0;
  const tb = x.sparse_new(rows, dim, k, grads) >>> 0;
  const ids = x.sparse_alloc(batches.length * k * 4) >>> 0;
  const all = new Int32Array(x.memory.buffer, ids, batches.length * k);
  batches.forEach((a, i) => all.set(a, i * k));
  touchPages(x.memory.buffer);
  let b = 0;
  return {
    fn: () => {
      b = (b + 1) % batches.length;
      update(tb, ids + b * k * 4, grads);
    },
  };
}
