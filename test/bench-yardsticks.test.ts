// The benchmark's yardsticks compare like with like: the wasm limit (bench/c/dense.c compiled by
// clang to wasm SIMD) computes the engine's default-option steps bit for bit, the C embedding
// loops (radix-sort, slot-per-row and hybrid coalescing) leave the same tables, sparse.c's chains and
// prefetch updates compiled by clang to wasm leave the native chains' table, and the report helpers
// read the new targets (size ranges, upper bounds, ratio column names). No timing assertions.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as lib from '../src/index.js';
// @ts-expect-error: plain JS module without type declarations
import * as wasmClang from '../bench/lib/wasm-clang.js';
// @ts-expect-error: plain JS module without type declarations
import * as wasmClangSparse from '../bench/lib/wasm-clang-sparse.js';
// @ts-expect-error: plain JS module without type declarations
import * as data from '../bench/lib/data.js';
// @ts-expect-error: plain JS module without type declarations
import * as report from '../bench/lib/report.js';
// @ts-expect-error: plain JS module without type declarations
import * as dense from '../bench/groups/dense.js';

const {
  clangWasm,
  clangKernel,
  clangKernelOnParam,
  CLANG_WASM_FLAGS,
  IMPORT_MEMORY,
  RESET_EVERY,
  resetEvery,
  writesOutsideArrays,
} = wasmClang;
const { grads, params, HotIds } = data;
const { appliesAt, meets, evaluateTargets, groupTable } = report;

const root = new URL('..', import.meta.url).pathname;

/** The bench's options per kernel (bench/groups/dense.js, which bench/kernel-ab.js uses too), by engine class. */
const KERNELS: [string, string, Record<string, unknown>][] = dense.clangKernelSpecs();

const bits = (f: Float32Array) => Array.from(new Uint32Array(f.buffer, f.byteOffset, f.length));

describe('the wasm limit (bench/c/dense.c by clang, bench/lib/wasm-clang.js)', () => {
  const wasm = clangWasm();

  it('compiles with clang to wasm32 SIMD, or says why not and how to install it', () => {
    expect(CLANG_WASM_FLAGS).toEqual(expect.arrayContaining(['--target=wasm32', '-O3', '-msimd128']));
    const hasClang = spawnSync('clang', ['--version']).status === 0;
    // CI installs clang and lld (.ci/run): there the comparisons below must run, not skip.
    if (process.env.CI === 'true') expect(wasm.skipped, 'CI=true needs clang and lld').toBeFalsy();
    if (hasClang && !wasm.skipped) {
      expect(wasm.module).toBeInstanceOf(WebAssembly.Module);
      expect(wasm.compiler).toMatch(/clang/);
    } else expect(wasm.skipped).toMatch(/apt-get install/);
  });

  it("takes the dense groups' options for each of dense.c's 15 loops (10 optimizers, 5 variants)", () => {
    expect(KERNELS.map(([id]) => id)).toEqual([
      'adam',
      'adamw',
      'sgd-momentum',
      'adagrad',
      'rmsprop',
      'adamax',
      'adadelta',
      'nadam',
      'radam',
      'lion',
      'amsgrad',
      'adam-l2',
      'sgd',
      'sgd-nesterov',
      'rmsprop-centered',
    ]);
  });

  // n = 1000: blocks of 16 and a tail, on both sides; 7 steps cover RAdam's unrectified start.
  it.each(KERNELS)(
    '%s: the same bits as the engine with default options, step after step',
    async (id, cls, options) => {
      if (wasm.skipped) return expect(wasm.skipped).toMatch(/apt-get install/);
      const engine = await lib.createEngine({ simd: true });
      type Opt = {
        param(x: Float32Array): { grad: Float32Array; data: Float32Array };
        step(): boolean;
        dispose(): void;
      };
      const Ctor = (lib as unknown as Record<string, new (o: object) => Opt>)[cls];
      const opt = new Ctor({ ...options, engine });
      const n = 1000;
      const p = opt.param(params(n));
      p.grad.set(grads(n));
      const k = clangKernel(wasm.module, id, { n, fill: [params(n), grads(n)] });
      for (let s = 0; s < 7; s++) {
        opt.step();
        k.run();
        expect(bits(k.views[0])).toEqual(bits(p.data));
      }
      opt.dispose();
    },
  );

  // The bench's wasm limit runs on the engine column's own arrays: here on a second optimizer's
  // param in the same engine (never stepped by the engine), which must end with the first's bits.
  const onEngine = clangWasm(IMPORT_MEMORY);
  it.each(KERNELS)(
    "%s: on an engine param's own arrays (the engine's memory imported), the same bits as the engine",
    async (id, cls, options) => {
      if (onEngine.skipped) return expect(onEngine.skipped).toMatch(/apt-get install/);
      const engine = await lib.createEngine({ simd: true });
      type P = {
        grad: Float32Array;
        data: Float32Array;
        stateKeys: string[];
        state(k: string): Float32Array;
      };
      type Opt = { param(x: Float32Array): P; step(): boolean; dispose(): void };
      const Ctor = (lib as unknown as Record<string, new (o: object) => Opt>)[cls];
      const [stepped, hosted] = [new Ctor({ ...options, engine }), new Ctor({ ...options, engine })];
      const n = 1000;
      const [p, q] = [stepped.param(params(n)), hosted.param(params(n))];
      p.grad.set(grads(n));
      q.grad.set(grads(n));
      const k = clangKernelOnParam(onEngine.module!, id, { memory: engine.memory, param: q });
      for (let s = 0; s < 7; s++) {
        stepped.step();
        k.run();
        expect(bits(q.data)).toEqual(bits(p.data));
        for (const key of p.stateKeys) expect(bits(q.state(key))).toEqual(bits(p.state(key)));
      }
      stepped.dispose();
      hosted.dispose();
    },
  );

  it('the build on an imported memory writes nothing outside the arrays (no stack, no data); a loop that does is caught', () => {
    if (onEngine.skipped) return expect(onEngine.skipped).toMatch(/apt-get install/);
    expect(writesOutsideArrays(onEngine.module!)).toBeNull();
    // A hand-written module whose `sgd` stores an i32 at byte 100 of the imported memory, as a
    // loop spilling to clang's stack (in the memory's first page) would.
    const spill = new WebAssembly.Module(
      Buffer.from(
        [
          '0061736d01000000', // magic, version
          '010401600000', // type: () -> ()
          '020f0103656e76066d656d6f7279020001', // import env.memory
          '03020100', // one function
          '070701037367640000', // export "sgd"
          '0a0c010a0041e40041013602000b', // body: i32.store(100, 1)
        ].join(''),
        'hex',
      ),
    );
    expect(writesOutsideArrays(spill, ['sgd'])).toMatch(/sgd loop writes byte 100/);
  });
});

// A fixed gradient drives Adam with L2 decay to g + wd·p = 0 exactly for most elements, and m, then
// v, into float32 denormals (from ~800 steps), where every contender's step slows by how many steps
// it took. Every contender resets p and its state every RESET_EVERY steps.
describe('the dense contenders reset p and state every RESET_EVERY steps', () => {
  const wasm = clangWasm();
  const denormals = (views: Float32Array[]) =>
    views.reduce((c, v) => c + v.filter((x) => x !== 0 && Math.abs(x) < 2 ** -126).length, 0);

  it('the wasm limit: Adam with L2 decay keeps m and v normal over 1200 steps (not without the resets)', () => {
    if (wasm.skipped) return expect(wasm.skipped).toMatch(/apt-get install/);
    expect(RESET_EVERY).toBe(256);
    const n = 1000;
    const runs = [RESET_EVERY, 0].map((reset) => {
      const k = clangKernel(wasm.module, 'adam-l2', { n, fill: [params(n), grads(n)], reset });
      for (let s = 0; s < 1200; s++) k.run();
      return denormals(k.views.slice(2, 4));
    });
    expect(runs[0]).toBe(0);
    expect(runs[1]).toBeGreaterThan(0);
  });

  it('the engine with resetEvery and the wasm limit reset at the same steps: the same bits after 700', async () => {
    if (wasm.skipped) return expect(wasm.skipped).toMatch(/apt-get install/);
    const engine = await lib.createEngine({ simd: true });
    const opt = new lib.Adam({ lr: 1e-3, weightDecay: 0.01, engine });
    const n = 1000;
    const p = opt.param(params(n));
    p.grad.set(grads(n));
    const step = resetEvery(
      () => opt.step(),
      () => [p.data, ...p.stateKeys.map((k) => p.state(k))],
    );
    const k = clangKernel(wasm.module, 'adam-l2', { n, fill: [params(n), grads(n)] });
    for (let s = 0; s < 700; s++) {
      step();
      k.run();
    }
    expect(bits(k.views[0])).toEqual(bits(p.data));
    expect(bits(k.views[3])).toEqual(bits(p.state('exp_avg_sq')));
    opt.dispose();
  });

  it('the native loop (bench/c/dense.c) resets too: no denormal m or v over 1200 steps (without tick: some)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wasm-optim-dense-c-'));
    try {
      const harness = join(dir, 'harness.c');
      writeFileSync(
        harness,
        `#define main dense_main
#include "${join(root, 'bench', 'c', 'dense.c')}"
#undef main
static size_t denormals(const f32 *a, size_t n) {
  size_t c = 0;
  for (size_t i = 0; i < n; i++) c += a[i] != 0 && fabsf(a[i]) < 1.17549435e-38f;
  return c;
}
int main(void) {
  const size_t n = 1024;
  size_t out[2];
  for (int reset = 1; reset >= 0; reset--) {
    f32 *p = alloc_f32(n), *p0 = alloc_f32(n), *g = alloc_f32(n), *m = alloc_f32(n), *v = alloc_f32(n), *x = alloc_f32(n);
    rng = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < n; i++) { p[i] = p0[i] = randn(); g[i] = randn() * 1e-2f; m[i] = v[i] = x[i] = 0; }
    for (long t = 1; t <= 1200; t++) {
      if (reset) tick("adam-l2", t, states_of("adam-l2"), p, p0, g, m, v, x, n);
      else step("adam-l2", t, p, g, m, v, x, n);
    }
    out[reset] = denormals(m, n) + denormals(v, n);
  }
  printf("%zu %zu\\n", out[1], out[0]);
  return 0;
}
`,
      );
      const out = runHarness(dir, harness);
      if (out === null) return; // no gcc: the C contenders skip too
      const [withReset, without] = out.split(' ').map(Number);
      expect(withReset).toBe(0);
      expect(without).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the C embedding loops (bench/c/sparse.c)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wasm-optim-sparse-c-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('radix-sort, slot-per-row, hybrid, prefetching and chained loops leave the same table, coalescing alone leaves it as it was, and the slots are reset', () => {
    // A harness that includes sparse.c and runs both methods on the same ids (duplicates, hot rows).
    const harness = join(dir, 'harness.c');
    writeFileSync(
      harness,
      `#define main sparse_main
#include "${join(root, 'bench', 'c', 'sparse.c')}"
#undef main
static Table mk(size_t rows, size_t dim, size_t k) {
  Table t = {0}; t.rows = rows; t.dim = dim; t.k = k;
  t.w = xalloc(rows * dim * 4); t.m = xalloc(rows * dim * 4); t.v = xalloc(rows * dim * 4);
  for (size_t i = 0; i < rows * dim; i++) { t.w[i] = (f32)((i * 2654435761u) % 1000) / 1000.f; t.m[i] = 0; t.v[i] = 0; }
  t.acc = xalloc(k * dim * 4); t.keys = xalloc(k * 8); t.tmp = xalloc(k * 8);
  t.slot = xalloc(rows * 4); for (size_t r = 0; r < rows; r++) t.slot[r] = -1;
  t.list = xalloc(k * 4); t.src = xalloc(k * sizeof(f32 *));
  t.hash = xalloc(4 * k * 8); t.link = xalloc(k * 4); t.first = xalloc(k * 4);
  return t;
}
int main(void) {
  const size_t rows = 4096, dim = 20, k = 512;
  Table a = mk(rows, dim, k), b = mk(rows, dim, k), c = mk(rows, dim, k), e = mk(rows, dim, k), h = mk(rows, dim, k), h0 = mk(rows, dim, k), x = mk(rows, dim, k);
  int32_t *ids = xalloc(k * 4); f32 *g = xalloc(k * dim * 4);
  uint64_t s = 1;
  for (int step = 0; step < 12; step++) {
    for (size_t i = 0; i < k; i++) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; ids[i] = (int32_t)((s >> 20) % (step % 2 ? 64 : rows)); }
    for (size_t i = 0; i < k * dim; i++) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; g[i] = (f32)((double)(s >> 11) / 9007199254740992.0 - 0.5); }
    update(&a, ids, g);
    update_direct(&b, ids, g);
    update_hybrid(&c, ids, g);
    update_prefetch(&e, ids, g);
    update_coalesce(&h, ids, g);
    update_chains(&x, ids, g);
  }
  size_t diff = 0;
  for (size_t i = 0; i < rows * dim; i++)
    diff += memcmp(&a.w[i], &b.w[i], 4) != 0 || memcmp(&a.m[i], &b.m[i], 4) != 0 || memcmp(&a.v[i], &b.v[i], 4) != 0 ||
            memcmp(&a.w[i], &c.w[i], 4) != 0 || memcmp(&a.m[i], &c.m[i], 4) != 0 || memcmp(&a.v[i], &c.v[i], 4) != 0 ||
            memcmp(&a.w[i], &e.w[i], 4) != 0 || memcmp(&a.m[i], &e.m[i], 4) != 0 || memcmp(&a.v[i], &e.v[i], 4) != 0 ||
            memcmp(&a.w[i], &x.w[i], 4) != 0 || memcmp(&a.m[i], &x.m[i], 4) != 0 || memcmp(&a.v[i], &x.v[i], 4) != 0;
  size_t dirty = 0;
  for (size_t r = 0; r < rows; r++) dirty += (b.slot[r] != -1) + (c.slot[r] != -1) + (e.slot[r] != -1) + (h.slot[r] != -1);
  // coalesce steps no row: its table stays as made.
  diff += memcmp(h.w, h0.w, rows * dim * 4) != 0 || memcmp(h.m, h0.m, rows * dim * 4) != 0 || memcmp(h.v, h0.v, rows * dim * 4) != 0;
  printf("%zu %zu\\n", diff, dirty);
  return 0;
}
`,
    );
    const out = runHarness(dir, harness);
    if (out === null) return; // no gcc: the C contenders skip too
    expect(out).toBe('0 0');
  });

  it('refuses an unknown method with a message', () => {
    const exe = join(dir, 'sparse');
    const cc = spawnSync('gcc', ['-O2', '-o', exe, join(root, 'bench', 'c', 'sparse.c'), '-lm'], { encoding: 'utf8' });
    if (cc.error) return expect(String(cc.error.message)).toMatch(/ENOENT/);
    const ids = join(dir, 'ids.bin');
    writeFileSync(ids, new Uint8Array(new Int32Array([0, 1, 2, 3]).buffer));
    const r = spawnSync(exe, ['8', '4', '4', ids, '1', '1', 'bogus'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/unknown method bogus \(radix, direct, hybrid, prefetch, chains, coalesce or touch\)/);
    for (const m of ['radix', 'direct', 'hybrid', 'prefetch', 'chains', 'coalesce', 'touch']) {
      const ok = spawnSync(exe, ['8', '4', '4', ids, '1', '1', m], { encoding: 'utf8' });
      expect(ok.status, ok.stderr).toBe(0);
      expect(JSON.parse(ok.stdout).method).toBe(m);
    }
  });
});

describe('the wasm limit of a whole table update (bench/c/sparse.c by clang, bench/lib/wasm-clang-sparse.js)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wasm-optim-sparse-wasm-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const wasm = wasmClangSparse.sparseWasm();

  it('compiles with clang to wasm32 SIMD (bulk memory, no libc), or says why not and how to install it', () => {
    expect(wasmClangSparse.SPARSE_CLANG_FLAGS).toEqual(
      expect.arrayContaining(['--target=wasm32', '-O3', '-msimd128', '-mbulk-memory', '-nostdlib']),
    );
    if (process.env.CI === 'true') expect(wasm.skipped, 'CI=true needs clang and lld').toBeFalsy();
    if (spawnSync('clang', ['--version']).status === 0 && !wasm.skipped) {
      expect(wasm.module).toBeInstanceOf(WebAssembly.Module);
      // No libc: the only import is pow (Math.pow).
      expect(WebAssembly.Module.imports(wasm.module)).toEqual([{ module: 'env', name: 'pow', kind: 'function' }]);
    } else expect(wasm.skipped).toMatch(/apt-get install/);
  });

  // 12 updates (every other one with ids from 64 rows: long chains of duplicates) on a table filled
  // as sparse.c's main() fills its own; dim 19 leaves the vector loops a scalar tail, 64 is the bench's.
  it.each([19, 64])(
    'dim %i: chains and prefetch in wasm leave the table (w, m, v) of the native chains, bit for bit',
    (dim) => {
      const rows = 4096,
        k = 512,
        steps = 12;
      const ids = new Int32Array(steps * k);
      let s = 7;
      for (let i = 0; i < ids.length; i++) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        ids[i] = (s >>> 8) % (Math.floor(i / k) % 2 ? 64 : rows);
      }
      const g = grads(steps * k * dim, 11);
      // The native side: a harness that includes sparse.c, allocates the table as main() does (the
      // row-touch arrays aside), fills it with main()'s fill_table and runs update_chains.
      const input = join(dir, `in-${dim}.bin`),
        output = join(dir, `out-${dim}.bin`);
      const head = new Int32Array([rows, dim, k, steps]);
      writeFileSync(
        input,
        Buffer.concat([head, ids, g].map((a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength))),
      );
      const harness = join(dir, `harness-${dim}.c`);
      writeFileSync(
        harness,
        `#define main sparse_main
#include "${join(root, 'bench', 'c', 'sparse.c')}"
#undef main
int main(void) {
  FILE *f = fopen("${input}", "rb");
  int32_t head[4];
  if (!f || fread(head, 4, 4, f) != 4) return 1;
  Table t = {0}; t.rows = (size_t)head[0]; t.dim = (size_t)head[1]; t.k = (size_t)head[2];
  const size_t steps = (size_t)head[3], cells = t.rows * t.dim, k = t.k, dim = t.dim;
  int32_t *ids = xalloc(steps * k * 4); f32 *g = xalloc(steps * k * dim * 4);
  if (fread(ids, 4, steps * k, f) != steps * k || fread(g, 4, steps * k * dim, f) != steps * k * dim) return 1;
  fclose(f);
  t.w = xalloc(cells * 4); t.m = xalloc(cells * 4); t.v = xalloc(cells * 4);
  t.acc = xalloc(k * dim * 4); t.slot = xalloc(t.rows * 4); for (size_t r = 0; r < t.rows; r++) t.slot[r] = -1;
  t.list = xalloc(k * 4); t.src = xalloc(k * sizeof(f32 *));
  t.hash = xalloc(4 * k * 8); t.link = xalloc(k * 4); t.first = xalloc(k * 4);
  fill_table(&t);
  for (size_t i = 0; i < steps; i++) update_chains(&t, ids + i * k, g + i * k * dim);
  FILE *o = fopen("${output}", "wb");
  fwrite(t.w, 4, cells, o); fwrite(t.m, 4, cells, o); fwrite(t.v, 4, cells, o);
  fclose(o);
  return 0;
}
`,
      );
      if (runHarness(dir, harness) === null) return; // no gcc: the C contenders skip too
      const out = new Uint8Array(readFileSync(output));
      const cells = rows * dim;
      const native = [0, 1, 2].map((i) => new Float32Array(out.buffer, out.byteOffset + i * cells * 4, cells));
      expect(native[1].some((x) => x !== 0)).toBe(true); // the updates ran
      if (wasm.skipped) return expect(wasm.skipped).toMatch(/apt-get install/);
      const x = wasmClangSparse.sparseInstance(wasm.module);
      const tables = ['sparse_chains', 'sparse_prefetch'].map((fn) => [fn, x.sparse_new(rows, dim, k, 0) >>> 0]);
      const idsAt = x.sparse_alloc(k * 4) >>> 0,
        gAt = x.sparse_alloc(k * dim * 4) >>> 0;
      for (let i = 0; i < steps; i++) {
        new Int32Array(x.memory.buffer, idsAt, k).set(ids.subarray(i * k, (i + 1) * k));
        new Float32Array(x.memory.buffer, gAt, k * dim).set(g.subarray(i * k * dim, (i + 1) * k * dim));
        for (const [fn, tb] of tables) x[fn](tb, idsAt, gAt);
      }
      for (const [, tb] of tables) {
        const got = ['sparse_w', 'sparse_m', 'sparse_v'].map(
          (f) => new Float32Array(x.memory.buffer, x[f](tb) >>> 0, cells),
        );
        // The first element whose bits differ, per tensor (-1: none).
        const differ = got.map((a, i) => {
          const [u, v] = [a, native[i]].map((f) => new Uint32Array(f.buffer, f.byteOffset, f.length));
          return u.findIndex((b, j) => b !== v[j]);
        });
        expect(differ).toEqual([-1, -1, -1]);
      }
    },
  );
});

describe('hot ids', () => {
  it('draws about 90% of the ids from 256 rows, in range, with heavy duplication', () => {
    const rows = 262144;
    const src = new HotIds(rows);
    const hot = new Set(src.hot);
    expect(hot.size).toBe(256);
    const ids: Int32Array = src.draw(4096);
    let fromHot = 0;
    for (const id of ids) {
      expect(id >= 0 && id < rows).toBe(true);
      if (hot.has(id)) fromHot++;
    }
    expect(fromHot / ids.length).toBeGreaterThan(0.87);
    expect(fromHot / ids.length).toBeLessThan(0.93);
    const distinct = new Set(ids).size;
    expect(distinct).toBeGreaterThan(500);
    expect(distinct).toBeLessThan(800);
  });
});

describe('report helpers for the yardsticks', () => {
  const task = (contender: string, n: number, melems: number) => ({
    name: `x/${contender}/${n}`,
    contender,
    n,
    elems: n,
    melems,
    medianMs: n / melems / 1e3,
    spread: 0.01,
  });
  const group = {
    id: 'x',
    title: 'X',
    kind: 'dense',
    unit: 'Melem/s',
    xLabel: 'elements',
    baseline: 'engine',
    contenders: [
      { id: 'engine', label: 'wasm-optim' },
      { id: 'wasm-clang', label: 'wasm (clang)', ratioLabel: 'wasm limit' },
      { id: 'exact', label: 'exact' },
    ],
    targets: [
      { contender: 'wasm-clang', min: 0.9, at: 'every', upTo: 1024, label: 'small' },
      { contender: 'wasm-clang', min: 0.97, at: 'every', from: 4096, label: 'large' },
      { contender: 'exact', max: 1.3, at: 'every', label: 'exact' },
    ],
    notes: [],
    tasks: [
      task('engine', 1024, 920),
      task('wasm-clang', 1024, 1000),
      task('exact', 1024, 800),
      task('engine', 4096, 950),
      task('wasm-clang', 4096, 1000),
      task('exact', 4096, 600),
    ],
  };

  it('applies a target to the sizes of its range only, and checks upper bounds', () => {
    expect(appliesAt({ at: 'every', upTo: 1024 }, 1024)).toBe(true);
    expect(appliesAt({ at: 'every', upTo: 1024 }, 4096)).toBe(false);
    expect(appliesAt({ at: 'every', from: 4096 }, 1024)).toBe(false);
    expect(appliesAt({ at: 4096 }, 4096)).toBe(true);
    expect(meets({ max: 1.3 }, 1.31)).toBe(false);
    expect(meets({ min: 0.9 }, 0.9)).toBe(true);
    const [small, large, exact] = evaluateTargets(group);
    expect(small.checks.map((c: { n: number }) => c.n)).toEqual([1024]);
    expect(small.status).toBe('met'); // 0.92 >= 0.9
    expect(large.checks.map((c: { n: number }) => c.n)).toEqual([4096]);
    expect(large.status).toBe('missed'); // 0.95 < 0.97
    expect(exact.text).toBe('missed at 4K: 1.58×'); // 950 / 600: exact takes 1.58× the time
  });

  it('names the ratio column by ratioLabel and marks each size by the target that applies there', () => {
    const lines = groupTable(group).split('\n');
    expect(lines[0]).toContain('| × wasm limit | × exact |');
    expect(lines[2]).toContain('| 0.92× ✓ | 1.15× ✓ |');
    expect(lines[3]).toContain('| 0.95× ✗ | 1.58× ✗ |');
  });
});

/**
 * Compiles the C test harness `harness` (in `dir`) with gcc as the bench builds its C contenders
 * and returns what it prints, trimmed; null when there is no gcc (the C contenders skip too).
 */
function runHarness(dir: string, harness: string): string | null {
  const exe = join(dir, 'harness');
  const cc = spawnSync('gcc', ['-O2', '-msse4.2', '-fno-math-errno', '-o', exe, harness, '-lm'], {
    encoding: 'utf8',
  });
  if (cc.error) {
    expect(String(cc.error.message)).toMatch(/ENOENT/);
    return null;
  }
  expect(cc.status, cc.stderr).toBe(0);
  return spawnSync(exe, { encoding: 'utf8' }).stdout.trim();
}
