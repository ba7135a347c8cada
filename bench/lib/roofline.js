// The roofline contender's kernel: the bench-only wasm built by bench/wasm/build.mjs (it is not in
// the package's wasm). Each set-up gets a fresh instance with a memory of its own, grown to hold
// the buffers, so that no memory outlives its task.
import { readFileSync } from 'node:fs';
import { BENCH_WASM } from '../wasm/build.mjs';

const modules = {};

function module(simd) {
  const target = simd ? 'simd' : 'scalar';
  if (!modules[target]) {
    let bytes;
    try {
      bytes = readFileSync(BENCH_WASM[target]);
    } catch (e) {
      throw new Error(`roofline: cannot read ${BENCH_WASM[target]} (${e.code ?? e.message}); run npm run bench:build`);
    }
    modules[target] = new WebAssembly.Module(bytes);
  }
  return modules[target];
}

/**
 * A roofline kernel over `buffers` float32 buffers of `n` elements each (p, g, then 0 to 2 state
 * buffers), filled with `fill[i]` where given. Returns `run()` (one pass of the kernel) and the
 * Float32Array views of the buffers.
 */
export function rooflineKernel({ simd, n, buffers, fill = [] }) {
  const { exports } = new WebAssembly.Instance(module(simd), {});
  const memory = exports.memory;
  // Buffers 16-byte aligned and 16 bytes apart, as the engine's allocator places them: buffers a
  // power of two apart would share cache sets and run slower than the engine's ever do.
  const stride = Math.ceil((n * 4) / 16) * 16 + 16;
  const base = Math.ceil(memory.buffer.byteLength / 16) * 16 + 16;
  const need = base + stride * buffers - memory.buffer.byteLength;
  if (need > 0) memory.grow(Math.ceil(need / 65536));
  const ptrs = Array.from({ length: 4 }, (_, i) => (i < buffers ? base + i * stride : 0));
  const views = ptrs.slice(0, buffers).map((p) => new Float32Array(memory.buffer, p, n));
  fill.forEach((values, i) => values && views[i].set(values));
  const [p, g, s0, s1] = ptrs;
  const roof = exports.roofline;
  return { run: () => roof(p, g, s0, s1, n), views };
}
