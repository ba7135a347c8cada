// init(source) in Node: a URL, a path string, a Response (streamed or not), bytes, a compiled
// module, or { source }; bad arguments throw TypeErrors and leave the engine uninitialized; the
// wasm-optim/inline entry needs no file at all. Each case imports a fresh copy of the modules
// (vi.resetModules) so that every init() meets an uninitialized singleton.
import { readFileSync } from 'node:fs';
import { beforeEach, describe, expect, it, vi } from 'vitest';

type Pkg = typeof import('../src/index.js');
type InlinePkg = typeof import('../src/inline.js');

const SCALAR_URL = new URL('../dist/wasm-optim.scalar.wasm', import.meta.url);
const SIMD_URL = new URL('../dist/wasm-optim.simd.wasm', import.meta.url);
const scalarBytes = readFileSync(SCALAR_URL);
const simdBytes = readFileSync(SIMD_URL);

async function fresh(): Promise<Pkg> {
  vi.resetModules();
  return import('../src/index.js');
}

/** One Adam step whose result is known: the first step moves each element by lr * sign(g). */
function adamStep(pkg: Pkg | InlinePkg, engine?: InstanceType<Pkg['Engine']>): number[] {
  const opt = new pkg.Adam({ lr: 0.1, engine });
  const w = opt.param(new Float32Array([1, 2, 3]));
  w.grad.set([0.5, -2, 0]);
  opt.step();
  const out = Array.from(w.data);
  opt.dispose();
  return out;
}
const AFTER_STEP = [0.9, 2.1, 3].map(Math.fround);

describe('init(source) in Node', () => {
  beforeEach(() => vi.resetModules());

  it.each([
    ['a file URL', (): unknown => SCALAR_URL],
    ['a path string (relative to the module)', (): unknown => '../dist/wasm-optim.scalar.wasm'],
    ['the bytes (Buffer)', () => scalarBytes],
    [
      'the bytes (ArrayBuffer)',
      () => scalarBytes.buffer.slice(scalarBytes.byteOffset, scalarBytes.byteOffset + scalarBytes.length),
    ],
    [
      'a Response served as application/wasm',
      () => new Response(scalarBytes, { headers: { 'content-type': 'application/wasm' } }),
    ],
    ['a Response of another type (compiled from its bytes)', () => new Response(scalarBytes)],
    ['a WebAssembly.Module', () => new WebAssembly.Module(scalarBytes)],
    ['{ source }', () => ({ source: SCALAR_URL })],
  ] as const)('accepts %s', async (_name, make) => {
    const pkg = await fresh();
    const engine = await pkg.init(make() as Parameters<Pkg['init']>[0]);
    expect(engine.simd).toBe(false); // the scalar build was loaded, not the default SIMD one
    expect(pkg.getEngine()).toBe(engine);
    expect(await pkg.init()).toBe(engine); // later calls are no-ops
    expect(adamStep(pkg)).toEqual(AFTER_STEP);
  });

  it('loads the SIMD build next to the module by default', async () => {
    const pkg = await fresh();
    const engine = await pkg.init();
    expect(engine.simd).toBe(pkg.simdSupported());
  });

  it.each([
    [42, /init\(\) expects a URL, a Response, the wasm bytes, a WebAssembly.Module or an options object, got number/],
    [null, /got null/],
    [[1, 2, 3], /got an array/],
    [true, /got boolean/],
    [{ source: 42 }, /option 'source' must be a URL, a string, a Response.*got number/],
    [{ source: null }, /option 'source' must be .*got null/],
    [{ simd: 'yes' }, /option 'simd' must be a boolean, got string/],
  ])('throws a TypeError for %j and stays uninitialized', async (bad, message) => {
    const pkg = await fresh();
    await expect(pkg.init(bad as never)).rejects.toThrow(TypeError);
    await expect(pkg.init(bad as never)).rejects.toThrow(message);
    expect(() => pkg.getEngine()).toThrow(/call `await init\(\)`/);
  });

  it('validates the argument even after init (a typo does not pass silently)', async () => {
    const pkg = await fresh();
    await pkg.init(scalarBytes);
    await expect(pkg.init(42 as never)).rejects.toThrow(TypeError);
  });

  it('a failed load (HTTP 404, bad bytes) leaves init() free to be retried', async () => {
    const pkg = await fresh();
    await expect(pkg.init(new Response('not here', { status: 404 }))).rejects.toThrow(/HTTP 404/);
    await expect(pkg.init(new Uint8Array([1, 2, 3, 4]))).rejects.toThrow(WebAssembly.CompileError);
    expect(() => pkg.getEngine()).toThrow();
    const engine = await pkg.init(scalarBytes);
    expect(engine.simd).toBe(false);
  });

  it('createEngine takes the same argument and gives an independent engine', async () => {
    const pkg = await fresh();
    const a = await pkg.createEngine(scalarBytes);
    const b = await pkg.createEngine({ source: simdBytes });
    expect(a).not.toBe(b);
    expect(a.simd).toBe(false);
    expect(b.simd).toBe(true);
    expect(adamStep(pkg, a)).toEqual(adamStep(pkg, b));
    await expect(pkg.createEngine(7 as never)).rejects.toThrow(/createEngine\(\) expects/);
  });
});

describe('wasm-optim/inline', () => {
  async function inline(): Promise<InlinePkg> {
    vi.resetModules();
    return import('../src/inline.js');
  }

  it('exports everything the main entry does', async () => {
    const pkg = await inline();
    const main = await import('../src/index.js');
    for (const name of Object.keys(main)) expect(pkg, name).toHaveProperty(name);
  });

  it('carries every build byte for byte (the copies are made by npm run asbuild)', async () => {
    const pkg = await inline();
    expect(Buffer.from(pkg.wasmBytes(true))).toEqual(simdBytes);
    expect(Buffer.from(pkg.wasmBytes(false))).toEqual(scalarBytes);
    expect(Buffer.from(pkg.wasmBytes(true, true))).toEqual(
      readFileSync(new URL('../dist/wasm-optim.threads.wasm', import.meta.url)),
    );
    expect(Buffer.from(pkg.wasmBytes(false, true))).toEqual(
      readFileSync(new URL('../dist/wasm-optim.threads-scalar.wasm', import.meta.url)),
    );
  });

  it('createEngine({ threads: 2 }) runs the inlined threads build', async () => {
    const pkg = await inline();
    const engine = await pkg.createEngine({ threads: 2 });
    try {
      expect(engine.threads).toBe(2);
      expect(engine.threadsFallbackReason).toBeNull();
      expect(engine.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(adamStep(pkg, engine)).toEqual(AFTER_STEP);
    } finally {
      await engine.shutdownThreads();
    }
  });

  it('initSync() with no argument compiles the inlined build at once', async () => {
    const pkg = await inline();
    const engine = pkg.initSync();
    expect(engine.simd).toBe(pkg.simdSupported());
    expect(pkg.getEngine()).toBe(engine);
    expect(await pkg.init()).toBe(engine);
    expect(adamStep(pkg)).toEqual(AFTER_STEP);
  });

  it('init() and createEngine() use the inlined builds; { simd: false } picks the scalar one; a given source still wins', async () => {
    const pkg = await inline();
    const engine = await pkg.init({ simd: false });
    expect(engine.simd).toBe(false);
    expect((await pkg.createEngine()).simd).toBe(pkg.simdSupported());
    expect((await pkg.createEngine({ simd: false })).simd).toBe(false);
    expect(pkg.createEngineSync().simd).toBe(pkg.simdSupported());
    expect((await pkg.createEngine(scalarBytes)).simd).toBe(false);
    await expect(pkg.init(42 as never)).rejects.toThrow(TypeError);
  });
});
