// What `init()` does in Node on its way to an engine, pinned where each step was made cheaper
// (docs/browser-and-bundlers.md, "Start-up time in Node"):
// - the shipped builds import no JavaScript function: a function import costs a wasm-to-JS
//   wrapper compiled at the module's first instantiation (~0.2 ms); asc's `use: ["abort="]`
//   (asconfig.json) turns the one `abort()` call (an allocation over 1 GiB, which the engine
//   refuses before it calls the allocator) into a trap;
// - the file is read with one open() and read()s into a buffer that grows, not `readFileSync`
//   (a fstat, a Buffer and its helpers compiled on first use: ~0.4 ms more), and opened by its
//   path where the URL's pathname is the path (Node's fileURLToPath compiled on first use: ~0.15 ms);
// - the builds export only the functions JavaScript calls (scripts/wasm-exports.mjs): V8 wraps every
//   export at each instantiation, and Binaryen can inline or drop the helpers that only
//   AssemblyScript calls.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { createEngine, createEngineSync } from '../src/index.js';
import { loadUrl, openablePath, readWholeFile } from '../src/core/wasm-fetch.js';
import { scanAbi } from '../scripts/abi-scan.mjs';
import { functionExports, keepExports, type BinaryenLike } from '../scripts/wasm-exports.mjs';

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

describe("the builds' function exports", () => {
  const abi = scanAbi();

  it.each(BUILDS)(
    "%s exports exactly the ABI's functions (EngineFunctions), and the threads builds their start",
    (build) => {
      const module = new WebAssembly.Module(readFileSync(new URL(`wasm-optim.${build}.wasm`, dist)));
      const fns = WebAssembly.Module.exports(module).filter((e) => e.kind === 'function');
      // One-thread builds run their start code (none) as the module's start: no _initialize() to call.
      const start = build.startsWith('threads') ? ['_initialize'] : [];
      expect(fns.map((e) => e.name).sort()).toEqual([...abi.fns.keys(), ...start].sort());
      // The helpers that only AssemblyScript calls are gone: @inline accessors and @internal functions.
      for (const name of ['descParam', 'embU32', 'metaTangents', 'catchUpRow', 'sumSquares'])
        expect(fns.map((e) => e.name)).not.toContain(name);
    },
  );

  it('every function of the ABI is called by JavaScript: src/ (or test/ for test hooks) names it', () => {
    const words = new Set<string>();
    for (const top of ['src', 'test']) {
      const base = fileURLToPath(new URL(`../${top}/`, import.meta.url));
      for (const f of readdirSync(base, { recursive: true }) as string[]) {
        if (!f.endsWith('.ts') || (f === join('core', 'abi.ts') && top === 'src')) continue;
        for (const w of readFileSync(join(base, f), 'utf8').match(/\w+/g) ?? []) words.add(w);
      }
    }
    // A function no JavaScript calls belongs to the AssemblyScript side: mark it @internal.
    expect([...abi.fns.keys()].filter((n) => !words.has(n))).toEqual([]);
    expect([...abi.internal.keys()].sort()).toEqual(['catchUpRow', 'clampedSumSquares', 'exactAdvance', 'sumSquares']);
  });

  it("the scan leaves out @inline and @internal functions and keeps the others' JavaScript types", () => {
    const src = join(dir, 'abi-src');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'index.ts'), 'export * from "./a";\n');
    writeFileSync(
      join(src, 'a.ts'),
      [
        'export const A_SLOT = 2 << 1;',
        '@inline export function helper(d: usize): usize { return d; }',
        '/** Called by b.ts. @internal */',
        'export function inner(x: u32): void {}',
        '/** A kernel. */',
        'export function kernel(table: usize, n: i32, seed: u64): f64 { return 0; }',
        'export function plain(): void {}',
        '',
      ].join('\n'),
    );
    const { consts, fns, internal } = scanAbi(join(src, 'index.ts'), join(src, 'none.ts'));
    expect([...consts]).toEqual([['A_SLOT', 4]]);
    expect([...fns.keys()]).toEqual(['kernel', 'plain']);
    expect(fns.get('kernel')).toMatchObject({ params: ['table: number', 'n: number', 'seed: bigint'], ret: 'number' });
    expect([...internal.keys()]).toEqual(['inner']);
  });

  it('the transform drops the other function exports, keeps the start function and memory, and refuses a missing one', () => {
    const FN = 0,
      MEMORY = 2;
    const exports = [
      { kind: FN, name: 'kernel' },
      { kind: FN, name: 'helper' },
      { kind: MEMORY, name: 'memory' },
      { kind: FN, name: '_initialize' },
      { kind: FN, name: 'inner' },
    ];
    const binaryen: BinaryenLike = { ExternalFunction: FN, getExportInfo: (ref) => exports[ref] };
    const module = {
      getNumExports: () => exports.length,
      getExportByIndex: (i: number) => i,
      removeExport: (name: string) =>
        exports.splice(
          exports.findIndex((e) => e.name === name),
          1,
        ),
    };
    expect(keepExports(binaryen, module, new Set(['kernel']))).toEqual(['helper', 'inner']);
    expect(exports.map((e) => e.name)).toEqual(['kernel', 'memory', '_initialize']);
    expect(functionExports(binaryen, module)).toEqual(['kernel', '_initialize']);
    expect(() => keepExports(binaryen, module, new Set(['kernel', 'gone']))).toThrow(
      /the ABI's functions gone are not exported by the module \(run node scripts\/gen-abi\.mjs\)/,
    );
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

  it('opens a plain file: URL by its pathname, and an escaped one (or one with a host) by the URL', () => {
    expect(openablePath(new URL('file:///opt/pkg/dist/wasm-optim.simd.wasm'))).toBe(
      '/opt/pkg/dist/wasm-optim.simd.wasm',
    );
    const spaced = new URL('file:///opt/my%20pkg/x.wasm');
    expect(openablePath(spaced)).toBe(spaced);
    const unc = new URL('file://server/share/x.wasm');
    expect(openablePath(unc)).toBe(unc);
    // Either way the same file is read, byte for byte.
    const sub = join(dir, 'a b%c');
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, 'x.bin'), new Uint8Array([1, 2, 3]));
    expect([...readWholeFile(fs, pathToFileURL(join(sub, 'x.bin')))]).toEqual([1, 2, 3]);
  });

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
    expect(open.mock.calls[0][0]).toEqual(openablePath(url)); // the path itself where it is plain (a checkout without escapes)
    vi.restoreAllMocks();
    const bytes = (await loadUrl(url)) as Uint8Array;
    expect(Buffer.from(bytes).equals(readFileSync(url))).toBe(true);
  });
});
