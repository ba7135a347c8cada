// Errors a new user meets first, each naming the fix (issue 16, item 4): init and initSync without
// a usable source, init({ threads }) after a plain init(), a schedule missing a required option,
// ids of the wrong type, zeroGrad options, and option names from other libraries.
import { readFileSync } from 'node:fs';
import { beforeEach, describe, expect, it, vi } from 'vitest';

type Pkg = typeof import('../src/index.js');
const scalarBytes = readFileSync(new URL('../dist/wasm-optim.scalar.wasm', import.meta.url));

async function fresh(): Promise<Pkg> {
  vi.resetModules();
  return import('../src/index.js');
}

describe('init errors name the fix and leave the engine uninitialized', () => {
  beforeEach(() => vi.resetModules());

  it('initSync() without bytes', async () => {
    const pkg = await fresh();
    expect(() => (pkg.initSync as () => unknown)()).toThrow(TypeError);
    expect(() => (pkg.initSync as () => unknown)()).toThrow(
      /initSync\(\) needs the engine's wasm bytes .*got undefined.*await init\(\).*'wasm-optim\/inline'/,
    );
    expect(() => pkg.getEngine()).toThrow(/call `await init\(\)`/);
  });

  it('initSync() of bytes that are not wasm says what they look like', async () => {
    const pkg = await fresh();
    expect(() => pkg.initSync(new TextEncoder().encode('<!doctype html><html>'))).toThrow(
      /not a WebAssembly module: it starts with '<!doctype html>.*a web page/,
    );
    expect(() => pkg.getEngine()).toThrow();
  });

  it("init('nope.wasm') names the file it could not read, not a raw ENOENT", async () => {
    const pkg = await fresh();
    const err = (await pkg.init('nope.wasm').catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(
      /^wasm-optim: could not read the engine's wasm at file:\/\/.*\/nope\.wasm \(ENOENT\): pass init\(\) the path or URL of an existing \.wasm file/,
    );
    expect(err.message).toMatch(/'wasm-optim\/inline'/);
    expect(() => pkg.getEngine()).toThrow();
  });

  it('an HTTP error names init(url) and wasm-optim/inline', async () => {
    const pkg = await fresh();
    await expect(pkg.init(new Response('gone', { status: 404 }))).rejects.toThrow(
      /HTTP 404.*init\(url\).*'wasm-optim\/inline'/,
    );
  });

  it('a fetch that fails names the URL and the fix', async () => {
    const pkg = await fresh();
    await expect(pkg.init('http://127.0.0.1:1/wasm-optim.simd.wasm')).rejects.toThrow(
      /could not fetch the engine's wasm from http:\/\/127\.0\.0\.1:1\/.*init\(url\).*'wasm-optim\/inline'/,
    );
    expect(() => pkg.getEngine()).toThrow();
  });

  it('init({ threads: 2 }) after a plain init() throws instead of keeping 1 thread', async () => {
    const pkg = await fresh();
    const engine = await pkg.init(scalarBytes);
    await expect(pkg.init({ threads: 2 })).rejects.toThrow(
      /init\(\{ threads: 2 \}\) after init\(\) already set up the engine with 1 thread\(s\).*Call init\(\{ threads: 2 \}\) first/,
    );
    expect(engine.threads).toBe(1);
    // Asking for what it has, or for nothing in particular, stays a no-op.
    expect(await pkg.init({ threads: 1 })).toBe(engine);
    expect(await pkg.init()).toBe(engine);
    await expect(pkg.init({ simd: true })).rejects.toThrow(/already loaded the scalar build/);
  });

  it('a second init({ threads }) while the first is loading is checked too', async () => {
    const pkg = await fresh();
    const first = pkg.init(scalarBytes);
    await expect(pkg.init({ threads: 3 })).rejects.toThrow(/with 1 thread/);
    expect((await first).threads).toBe(1);
  });

  it('a failed init() does not hold on to its request', async () => {
    const pkg = await fresh();
    await expect(pkg.init({ source: 'nope.wasm', threads: 1 })).rejects.toThrow(/nope\.wasm/);
    const engine = await pkg.init({ source: scalarBytes, simd: false });
    expect(engine.simd).toBe(false);
  });
});

describe('option errors', () => {
  let pkg: Pkg;
  beforeEach(async () => {
    pkg = await fresh();
    await pkg.init(scalarBytes);
  });

  it("cosineLR without 'peak' says it is required (not 'got undefined undefined')", () => {
    expect(() => pkg.cosineLR({ decaySteps: 10 } as never)).toThrow(TypeError);
    expect(() => pkg.cosineLR({ decaySteps: 10 } as never)).toThrow("cosineLR: option 'peak' is required (a number)");
    expect(() => pkg.cosineLR({ peek: 1, decaySteps: 10 } as never)).toThrow(
      /unknown option 'peek' \(did you mean 'peak'\?\)/,
    );
  });

  it.each([
    ['learningRate', 'lr'],
    ['learning_rate', 'lr'],
    ['epsilon', 'eps'],
    ['beta1', 'betas'],
    ['weightDecy', 'weightDecay'],
    ['amsGrad', 'amsgrad'],
  ])("new Adam({ %s }) suggests '%s'", (key, guess) => {
    expect(() => new pkg.Adam({ [key]: 0.1 } as never)).toThrow(
      new RegExp(`unknown option '${key}' \\(did you mean '${guess}'\\?\\)`),
    );
  });

  it('an unrelated name gets no guess', () => {
    expect(() => new pkg.Adam({ foo: 1 } as never)).toThrow(/unknown option 'foo'; known options/);
    expect(() => new pkg.SGD({ lr: 0.1, nesterovv: true } as never)).toThrow(/did you mean 'nesterov'/);
  });

  it('Embedding ids of the wrong type: the message lists what is accepted', () => {
    const emb = new pkg.Embedding(4, 2, { optimizer: 'sgd', lr: 0.1 });
    expect(() => emb.update('0' as never, new Float32Array(2))).toThrow(
      /'ids' must be row ids: an Int32Array, a Uint32Array or an array of integers, got '0'/,
    );
    emb.update([1], new Float32Array([1, 1])); // plain arrays are accepted, as the message says
    emb.dispose();
  });

  it('zeroGrad({ setToNone: true }) is refused, not ignored, and clears nothing', () => {
    const opt = new pkg.SGD({ lr: 0.1 });
    const w = opt.param(new Float32Array([1, 2]));
    w.grad.set([3, 4]);
    expect(() => (opt.zeroGrad as (a: unknown) => void)({ setToNone: true })).toThrow(TypeError);
    expect(() => (opt.zeroGrad as (a: unknown) => void)({ setToNone: true })).toThrow(
      /zeroGrad\(\) takes no arguments.*'setToNone'.*always zeroed in place.*call zeroGrad\(\)/,
    );
    expect(Array.from(w.grad)).toEqual([3, 4]);
    opt.zeroGrad();
    expect(Array.from(w.grad)).toEqual([0, 0]);
    opt.dispose();
  });
});
