// The SIMD build split in two modules for init() in Node (scripts/split-wasm.mjs, src/core/cold.ts):
// the core module init() compiles, and the cold kernels compiled on the first use of one of them,
// on the engine's memory and globals. The whole builds stay as they were for every other path.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createEngine, createEngineSync } from '../src/index.js';
import { COLD_FUNCTIONS } from '../src/core/cold.js';
import { createEngine as createEngineFrom } from '../src/core/load.js';
import type { Engine } from '../src/core/engine.js';
import { scanAbi } from '../scripts/abi-scan.mjs';
import { readCold, splitWasm } from '../scripts/split-wasm.mjs';

const dist = new URL('../dist/', import.meta.url);
const file = (build: string) => readFileSync(new URL(`wasm-optim.${build}.wasm`, dist)) as Uint8Array<ArrayBuffer>;
const fs = createRequire(import.meta.url)('node:fs') as typeof import('node:fs');
const cold = new Set<string>(COLD_FUNCTIONS);

afterEach(() => {
  vi.restoreAllMocks();
});

/** The section ids of a wasm binary, in order. */
function sectionIds(bytes: Uint8Array): number[] {
  const ids = [];
  let p = 8;
  while (p < bytes.length) {
    ids.push(bytes[p++]);
    let len = 0,
      shift = 0,
      b;
    do {
      b = bytes[p++];
      len |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    p += len;
  }
  return ids;
}

/** Paths of the .wasm files opened through Node's fs while `fn` runs. */
async function filesOpened(fn: () => unknown): Promise<string[]> {
  const open = vi.spyOn(fs, 'openSync');
  try {
    await fn();
    return open.mock.calls.map((c) => String(c[0])).filter((p) => p.endsWith('.wasm'));
  } finally {
    open.mockRestore();
  }
}

/** Encodes `values` with leanEncodeTest (a cold function) and returns the codes. */
function encodeWith(engine: Engine, values: Float32Array): Uint8Array {
  const e = engine.exports;
  const maps = engine.alloc(2048);
  const src = engine.alloc(values.length * 4);
  const dst = engine.alloc(values.length);
  engine.heapF32.set(values, src >>> 2);
  e.leanEncodeTest(maps, dst, src, values.length, 1, 1);
  const out = new Uint8Array(engine.memory.buffer, dst, values.length).slice();
  for (const p of [maps, src, dst]) engine.free(p);
  return out;
}

describe('the split SIMD build', () => {
  const core = new WebAssembly.Module(file('simd-core'));
  const rest = new WebAssembly.Module(file('simd-cold'));
  const fns = (m: WebAssembly.Module) =>
    WebAssembly.Module.exports(m)
      .filter((e) => e.kind === 'function')
      .map((e) => e.name)
      .sort();

  it("the core exports the ABI's functions but the cold ones, its memory and its mutable globals (~g.*); the cold module the cold ones", () => {
    const abi = [...scanAbi().fns.keys()];
    expect(COLD_FUNCTIONS.filter((n) => !abi.includes(n))).toEqual([]);
    expect(fns(core)).toEqual(abi.filter((n) => !cold.has(n)).sort());
    expect(fns(rest)).toEqual([...COLD_FUNCTIONS].sort());
    const others = WebAssembly.Module.exports(core).filter((e) => e.kind !== 'function');
    expect(others.filter((e) => !(e.kind === 'global' && e.name.startsWith('~g.')))).toEqual([
      { name: 'memory', kind: 'memory' },
    ]);
    expect(readCold()).toEqual([...COLD_FUNCTIONS]);
  });

  it("the cold module imports only the core's memory and globals, and writes no data segment and has no start", () => {
    const coreExports = new Set(WebAssembly.Module.exports(core).map((e) => e.name));
    for (const i of WebAssembly.Module.imports(rest)) {
      if (i.kind === 'memory') expect(i).toEqual({ module: 'env', name: 'memory', kind: 'memory' });
      else expect(i.kind === 'global' && i.module === 'core' && coreExports.has(i.name)).toBe(true);
    }
    expect(sectionIds(file('simd-cold'))).not.toContain(11); // data
    expect(sectionIds(file('simd-cold'))).not.toContain(8); // start
    expect(WebAssembly.Module.imports(core)).toEqual([]);
  });

  it('is smaller by the cold functions: the core module is at most 2/3 of the whole build', () => {
    expect(file('simd-core').length).toBeLessThan((file('simd').length * 2) / 3);
  });

  it('the package ships both files (init() would otherwise fall back to the whole build unnoticed)', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { files: string[] };
    expect(pkg.files).toEqual(
      expect.arrayContaining(['dist/wasm-optim.simd-core.wasm', 'dist/wasm-optim.simd-cold.wasm']),
    );
  });

  it('the two files are the split of the SIMD build beside them (npm run asbuild:simd makes all three)', () => {
    const { core: c, cold: k } = splitWasm(file('simd'));
    expect(Buffer.from(c).equals(file('simd-core'))).toBe(true);
    expect(Buffer.from(k).equals(file('simd-cold'))).toBe(true);
  });

  it('splitWasm refuses a cold name the build does not export', () => {
    expect(() => splitWasm(file('simd'), ['adamStep', 'noSuchKernel'])).toThrow(
      /COLD_FUNCTIONS names functions the build does not export: noSuchKernel/,
    );
  });
});

describe('an engine of the split build (createEngine(), init() in Node)', () => {
  it('compiles the core only; the first use of a cold function reads and compiles the cold module, once per process', async () => {
    let a!: Engine;
    const opened = await filesOpened(async () => {
      a = await createEngine({ simd: true });
    });
    expect(opened.map((p) => p.slice(p.lastIndexOf('/') + 1))).toEqual(['wasm-optim.simd-core.wasm']);
    expect(WebAssembly.Module.exports(a.module as WebAssembly.Module).map((e) => e.name)).not.toContain('leanApply');
    expect(a.cold).not.toBeNull();
    const values = new Float32Array(300).map((_, i) => Math.sin(i) * 0.9);
    const first = await filesOpened(() => encodeWith(a, values));
    const b = await createEngine({ simd: true });
    const second = await filesOpened(() => encodeWith(b, values));
    // Read once: the module compiled for the first engine serves the next.
    expect(first.length + second.length).toBe(1);
    expect([...first, ...second][0]).toMatch(/wasm-optim\.simd-cold\.wasm$/);
    expect(typeof a.exports.leanApply).toBe('function');
  });

  it("a cold function gives the whole build's bits, on the engine's memory, after the allocator moved", async () => {
    const split = await createEngine({ simd: true });
    const whole = createEngineSync(file('simd'));
    expect(whole.cold).toBeNull();
    // Blocks allocated through the core before and after the cold module's first use do not overlap
    // what the cold function writes: both modules use one allocator state (the core's globals).
    const before = split.alloc(4096);
    const values = new Float32Array(1000).map((_, i) => Math.cos(i * 0.37) * (1 + (i % 7)));
    const codes = encodeWith(split, values);
    expect(codes).toEqual(encodeWith(whole, values));
    const after = split.alloc(4096);
    expect(after).not.toBe(before);
    expect(split.memoryStats().blocksInUse).toBe(2);
    // And a sibling (sharded tables) has its own cold instance on its own memory.
    const sib = split.sibling();
    expect(sib.cold).toBe(split.cold);
    expect(encodeWith(sib, values)).toEqual(codes);
  });

  it('a given source, { simd: false } and a locator without the split files load a whole build', async () => {
    expect((await createEngine(file('simd'))).cold).toBeNull();
    expect((await createEngine({ simd: false })).cold).toBeNull();
    const wholeOnly = (build: string) => {
      if (build === 'simd-core') throw new Error('no such file');
      return file(build);
    };
    const engine = await createEngineFrom({ simd: true }, wholeOnly as never);
    expect(engine.cold).toBeNull();
    expect(typeof engine.exports.leanApply).toBe('function');
    // A cold module that could not be read at once (here a URL to fetch): the whole build too.
    const fetched = (build: string) =>
      build === 'simd-cold' ? new URL('http://127.0.0.1:1/wasm-optim.simd-cold.wasm') : file(build);
    expect((await createEngineFrom({ simd: true }, fetched as never)).cold).toBeNull();
  });

  it('the inline entry has no split build: its engines carry every function in one module', async () => {
    const inline = await import('../src/inline.js');
    const engine = await inline.createEngine();
    expect([engine.simd, engine.cold]).toEqual([true, null]);
    const values = new Float32Array(500).map((_, i) => Math.sin(i * 0.61) * 2);
    expect(encodeWith(engine, values)).toEqual(encodeWith(createEngineSync(file('simd')), values));
  });

  it('a missing cold file fails at the first use of a cold function, naming the file', async () => {
    const noCold = (build: string) =>
      build === 'simd-cold' ? new URL('wasm-optim.simd-gone.wasm', dist) : file(build);
    const engine = await createEngineFrom({ simd: true }, noCold as never);
    expect(engine.cold).not.toBeNull();
    expect(typeof engine.exports.adamStep).toBe('function');
    expect(() => engine.exports.leanApply).toThrow(/could not read the engine's cold kernels at .*simd-gone\.wasm/);
  });
});
