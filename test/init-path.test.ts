// What `init()` does in Node on its way to an engine, pinned where each step was made cheaper
// (docs/browser-and-bundlers.md, "Start-up time in Node"):
// - the shipped builds import no JavaScript function: a function import costs a wasm-to-JS
//   wrapper compiled at the module's first instantiation (~0.2 ms); asc's `use: ["abort="]`
//   (asconfig.json) turns the one `abort()` call (an allocation over 1 GiB, which the engine
//   refuses before it calls the allocator) into a trap;
// - the file is read with one open() and read()s into a buffer that grows, not `readFileSync`
//   (a fstat, a Buffer and its helpers compiled on first use: ~0.4 ms more).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { createEngine, createEngineSync } from '../src/index.js';
import { loadUrl, readWholeFile } from '../src/core/wasm-fetch.js';

const dist = new URL('../dist/', import.meta.url);
const BUILDS = ['simd', 'scalar', 'threads', 'threads-scalar'] as const;
const fs = createRequire(import.meta.url)('node:fs') as typeof import('node:fs');
const dir = mkdtempSync(join(tmpdir(), 'wasm-optim-init-path-'));

afterEach(() => {
  vi.restoreAllMocks();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the shipped builds', () => {
  it.each(BUILDS)('%s imports no JavaScript function (the threads builds only their memory)', (build) => {
    const module = new WebAssembly.Module(readFileSync(new URL(`wasm-optim.${build}.wasm`, dist)));
    const imports = WebAssembly.Module.imports(module);
    expect(imports.filter((i) => i.kind === 'function')).toEqual([]);
    expect(imports).toEqual(build.startsWith('threads') ? [{ module: 'env', name: 'memory', kind: 'memory' }] : []);
  });

  it('instantiate without an imports object, and an allocation over 1 GiB traps in the module', () => {
    const bytes = readFileSync(new URL('wasm-optim.simd.wasm', dist));
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
    const alloc = instance.exports.alloc as (n: number) => number;
    expect(() => alloc(0x7ffffff0)).toThrow(WebAssembly.RuntimeError);
    // The engine refuses such a block before it calls the allocator, with an error that says why.
    const engine = createEngineSync(bytes);
    expect(() => engine.alloc(2 ** 30 + 16)).toThrow(/exceeds the engine's 1 GiB block limit/);
    expect(engine.memoryStats().blocksInUse).toBe(0);
  });
});

describe('readWholeFile', () => {
  it.each([0, 1, 4096, 2 ** 18 - 1, 2 ** 18, 2 ** 18 + 1, 3 * 2 ** 18 + 5])(
    'reads a file of %i bytes whole, byte for byte',
    (size) => {
      const bytes = new Uint8Array(size).map((_, i) => (i * 131 + (i >> 8)) & 0xff);
      const file = join(dir, `f${size}.bin`);
      writeFileSync(file, bytes);
      const got = readWholeFile(fs, pathToFileURL(file));
      expect(got.length).toBe(size);
      expect(Buffer.from(got).equals(Buffer.from(bytes))).toBe(true);
    },
  );

  it('closes the file when a read fails, and the error keeps its code', () => {
    const close = vi.spyOn(fs, 'closeSync');
    expect(() => readWholeFile(fs, pathToFileURL(dir))).toThrow(expect.objectContaining({ code: 'EISDIR' }));
    expect(close).toHaveBeenCalledTimes(1);
  });
});

describe('init() in Node', () => {
  it("reads the package's file with openSync/readSync, not readFileSync, and gets the same bytes", async () => {
    const url = new URL('wasm-optim.scalar.wasm', dist);
    const readFile = vi.spyOn(fs, 'readFileSync');
    const open = vi.spyOn(fs, 'openSync');
    const engine = await createEngine({ simd: false });
    expect(engine.simd).toBe(false);
    expect(readFile).not.toHaveBeenCalled();
    expect(open).toHaveBeenCalledTimes(1);
    expect(String(open.mock.calls[0][0])).toBe(url.href);
    vi.restoreAllMocks();
    const bytes = (await loadUrl(url)) as Uint8Array;
    expect(Buffer.from(bytes).equals(readFileSync(url))).toBe(true);
  });
});
