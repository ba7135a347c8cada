// In Node (and Deno, Bun) createEngine()/init() compile and instantiate the wasm bytes
// synchronously (src/core/wasm-fetch.ts compilesSynchronously): no async compile's hand-offs to
// background threads on the way to a ready engine. Where a `document` exists they stay async.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createEngine } from '../src/index.js';
import { compileModule, compilesSynchronously } from '../src/core/wasm-fetch.js';

const bytes = readFileSync(new URL('../dist/wasm-optim.scalar.wasm', import.meta.url));

afterEach(() => {
  vi.restoreAllMocks();
  delete (globalThis as { document?: unknown }).document;
});

describe('how the engine compiles its wasm', () => {
  it('synchronously in Node: no WebAssembly.instantiate or compile, the same engine', async () => {
    expect(compilesSynchronously()).toBe(true);
    const instantiate = vi.spyOn(WebAssembly, 'instantiate');
    const compile = vi.spyOn(WebAssembly, 'compile');
    const engine = await createEngine({ source: bytes, simd: false });
    expect(engine.simd).toBe(false);
    expect(engine.module).toBeInstanceOf(WebAssembly.Module);
    expect(instantiate).not.toHaveBeenCalled();
    await compileModule(bytes);
    expect(compile).not.toHaveBeenCalled();
  });

  it('asynchronously where there is a document (a browser page)', async () => {
    (globalThis as { document?: unknown }).document = {};
    expect(compilesSynchronously()).toBe(false);
    const instantiate = vi.spyOn(WebAssembly, 'instantiate');
    const compile = vi.spyOn(WebAssembly, 'compile');
    const engine = await createEngine({ source: bytes, simd: false });
    expect(engine.simd).toBe(false);
    expect(instantiate).toHaveBeenCalledTimes(1);
    await compileModule(bytes);
    expect(compile).toHaveBeenCalledTimes(1);
  });

  it('bad bytes still reject with a CompileError, synchronously compiled or not', async () => {
    const bad = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 99]);
    await expect(createEngine({ source: bad, simd: false })).rejects.toBeInstanceOf(WebAssembly.CompileError);
    await expect(compileModule(bad)).rejects.toBeInstanceOf(WebAssembly.CompileError);
  });
});
