// The lean tables' C yardsticks (bench/c/lean.c, bench/groups/lean-c.js) do the engine's work: the
// bf16 + int8 Adam rows give the engine's stored bits (weights, codes, absmax) after an update, in
// the native build (gcc, as the bench compiles it) and in the wasm build (clang), by the direct-table
// encoder and by the binary search alike; fp32 Adam (three tables or one record a row) and row-wise
// Adagrad match a float64 reference of their formulas. Without gcc (or clang for the wasm build)
// the part that needs it returns early, as the bench skips those contenders. No timing assertions.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dynamicMap, Embedding } from '../src/index.js';
import { SLOT as S } from '../src/core/abi.js';
import { engineFor } from './engines.js';
import { rng } from './rng.js';
// @ts-expect-error: plain JS module without type declarations
import * as leanC from '../bench/groups/lean-c.js';

const root = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'wasm-optim-lean-c-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const METHOD = { adam8: 0, adam32: 1, adam32r: 2, adagrad: 3 } as const;

let exe: string | null | undefined;
/** bench/c/lean.c compiled with gcc as the bench's C contenders are (bench/lib/c.js), or null without gcc. */
function native(): string | null {
  if (exe !== undefined) return exe;
  const out = join(dir, 'lean');
  const cc = spawnSync(
    'gcc',
    ['-O3', '-msse4.2', '-fno-math-errno', '-o', out, join(root, 'bench', 'c', 'lean.c'), '-lm'],
    {
      encoding: 'utf8',
    },
  );
  if (cc.error) {
    expect(String(cc.error.message)).toMatch(/ENOENT/);
    return (exe = null);
  }
  expect(cc.status, cc.stderr).toBe(0);
  return (exe = out);
}

interface Case {
  rows: number;
  dim: number;
  method: keyof typeof METHOD;
  seed?: number;
  t?: number;
  scalars: number[]; // AdamS: ss, ib, b1, b1c, b2, b2c, eps (adagrad: lr, -, -, -, -, -, eps)
  ids: Uint32Array; // the distinct rows, in order
  grads: Float32Array; // their gradient rows
  records: Uint8Array;
}

/** check mode's input file (bench/c/lean.c check_main). */
function checkInput(c: Case): Uint8Array {
  const head = new Uint32Array([
    c.rows,
    c.dim,
    c.ids.length,
    (c.seed ?? 0) >>> 0,
    Math.floor((c.seed ?? 0) / 2 ** 32),
    c.t ?? 0,
    0,
    METHOD[c.method],
  ]);
  const maps = new Float32Array(512);
  maps.set(dynamicMap(true), 0);
  maps.set(dynamicMap(false), 256);
  const parts = [head, new Float32Array(c.scalars), maps, c.ids, c.grads, c.records].map(
    (a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
  );
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The records after the native program's check mode, or null without gcc. */
function runNative(c: Case): Uint8Array | null {
  const bin = native();
  if (bin === null) return null;
  const input = join(dir, 'in.bin'),
    output = join(dir, 'out.bin');
  writeFileSync(input, checkInput(c));
  const r = spawnSync(bin, ['check', input, output], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return new Uint8Array(readFileSync(output));
}

/** The records after adam8_rows (or `fn`) of the wasm build, or null without clang. */
function runWasm(c: Case, fn = 'adam8_rows'): Uint8Array | null {
  const w = leanC.leanWasm();
  if (!w.module) {
    expect(w.skipped).toMatch(/clang/);
    return null;
  }
  const { exports: x } = new WebAssembly.Instance(w.module, {}) as unknown as {
    exports: Record<string, (...a: number[]) => number> & {
      memory: WebAssembly.Memory;
      __heap_base: { value: number };
    };
  };
  const mem: WebAssembly.Memory = x.memory;
  let top = Math.ceil(x.__heap_base.value / 16) * 16;
  const put = (a: ArrayBufferView): number => {
    const at = top;
    top = Math.ceil((top + a.byteLength) / 16) * 16;
    if (top > mem.buffer.byteLength) mem.grow(Math.ceil((top - mem.buffer.byteLength) / 65536));
    new Uint8Array(mem.buffer, at, a.byteLength).set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    return at;
  };
  const maps = new Float32Array(512);
  maps.set(dynamicMap(true), 0);
  maps.set(dynamicMap(false), 256);
  const rawAt = put(maps);
  const mapsAt = put(new Uint8Array(x.lean_maps_bytes()));
  expect(x.lean_maps(mapsAt, rawAt, rawAt + 1024)).toBe(1);
  const recAt = put(c.records),
    idsAt = put(c.ids),
    gAt = put(c.grads),
    sAt = put(new Float32Array(c.scalars));
  const seed = c.seed ?? 0;
  const key = x.lean_step_key(seed >>> 0, Math.floor(seed / 2 ** 32), c.t ?? 0);
  x[fn](recAt, idsAt, gAt, c.ids.length, c.dim, sAt, key, 0, mapsAt);
  return new Uint8Array(mem.buffer, recAt, c.records.length).slice();
}

/** An update's distinct rows in order of first appearance, with float32 sums of their gradient rows in batch order. */
function coalesce(ids: Int32Array, grads: Float32Array, dim: number): { ids: Uint32Array; grads: Float32Array } {
  const slot = new Map<number, number>();
  const rows: number[] = [];
  const g = new Float32Array(ids.length * dim);
  ids.forEach((id, i) => {
    let s = slot.get(id);
    if (s === undefined) {
      s = rows.length;
      slot.set(id, s);
      rows.push(id);
      g.set(grads.subarray(i * dim, (i + 1) * dim), s * dim);
    } else for (let d = 0; d < dim; d++) g[s * dim + d] += grads[i * dim + d];
  });
  return { ids: Uint32Array.from(rows), grads: g.slice(0, rows.length * dim) };
}

interface Raw {
  weights: Uint8Array;
  state: Record<string, Uint8Array>;
  absmax: Record<string, Float32Array>;
}

/** The lean table's stored rows packed as lean.c's adam8 records: bf16 weights, codes of m, codes of v, absmax of m and v. */
function records(emb: Embedding, rows: number, dim: number): Uint8Array {
  const raw = (emb.table as unknown as { rawTensors(): Raw }).rawTensors();
  const [m, v] = Object.keys(raw.state);
  const rb = 4 * dim + 8;
  const out = new Uint8Array(rows * rb);
  const dv = new DataView(out.buffer);
  for (let r = 0; r < rows; r++) {
    out.set(raw.weights.subarray(r * 2 * dim, (r + 1) * 2 * dim), r * rb);
    out.set(raw.state[m].subarray(r * dim, (r + 1) * dim), r * rb + 2 * dim);
    out.set(raw.state[v].subarray(r * dim, (r + 1) * dim), r * rb + 3 * dim);
    dv.setFloat32(r * rb + 4 * dim, raw.absmax[m][r], true);
    dv.setFloat32(r * rb + 4 * dim + 4, raw.absmax[v][r], true);
  }
  return out;
}

/** Gradients of mixed scales: most ordinary, some tiny, a few large (codes near 0 and near the absmax). */
function gradients(n: number, r: () => number): Float32Array {
  const g = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = r();
    g[i] = (r() * 2 - 1) * (u < 0.1 ? 1e-6 : u > 0.95 ? 3 : 1e-2);
  }
  return g;
}

describe('bench/c/lean.c: bf16 weights + int8 Adam state', () => {
  it.each([64, 32, 24, 8])('gives the engine stored bits after an update (dim %i), native and wasm', async (dim) => {
    const rows = 48,
      seed = 2 ** 33 + 12345;
    const r = rng(dim);
    const emb = new Embedding(rows, dim, {
      optimizer: 'adam',
      lr: 0.05,
      weightType: 'bf16',
      stateType: 'int8',
      seed,
      nonFinite: 'ignore',
      init: 'normal',
      engine: await engineFor('simd'),
    });
    const batch = (): [Int32Array, Float32Array] => {
      const ids = Int32Array.from({ length: 64 }, () => Math.floor(r() ** 2 * rows));
      return [ids, gradients(ids.length * dim, r)];
    };
    for (let s = 0; s < 6; s++) emb.update(...batch());
    const before = records(emb, rows, dim);
    const [ids, grads] = batch();
    emb.update(ids, grads);
    const after = records(emb, rows, dim);
    const table = emb.table as unknown as { ld: number; steps: number };
    const h = emb.engine.heapU32[(table.ld + S.LEAN_SHADOW_AT + 4 * S.EMB_HYPER) >>> 2];
    const hyper = new Float32Array(emb.engine.memory.buffer, h, 8);
    expect(hyper[S.ADAM_GSCALE]).toBe(1);
    const scalars = [
      S.ADAM_STEP_SIZE,
      S.ADAM_INV_BC2_SQRT,
      S.ADAM_BETA1,
      S.ADAM_OMB1,
      S.ADAM_BETA2,
      S.ADAM_OMB2,
      S.ADAM_EPS,
    ].map((k) => hyper[k]);
    const co = coalesce(ids, grads, dim);
    const c: Case = { rows, dim, method: 'adam8', seed, t: table.steps, scalars, ...co, records: before };
    expect(Buffer.from(after).equals(Buffer.from(before))).toBe(false);
    const n = runNative(c);
    if (n !== null) expect(Buffer.from(n).equals(Buffer.from(after))).toBe(true);
    for (const fn of ['adam8_rows', 'adam8b_rows']) {
      const w = runWasm(c, fn);
      if (w !== null) expect(Buffer.from(w).equals(Buffer.from(after)), fn).toBe(true);
    }
    // A wrong step (other random bits) changes the weights: the comparison can fail.
    const other = runWasm({ ...c, t: c.t! + 1 }) ?? runNative({ ...c, t: c.t! + 1 });
    if (other !== null) expect(Buffer.from(other).equals(Buffer.from(after))).toBe(false);
  });
});

describe('bench/c/lean.c: fp32 Adam and row-wise Adagrad', () => {
  const rows = 20,
    dim = 12;
  const r = rng(99);
  const ids = Uint32Array.from([7, 3, 19, 0, 11]);
  const grads = gradients(ids.length * dim, r);

  it('fp32 Adam (three tables and one record a row) matches a float64 reference', () => {
    const rec = new Float32Array(rows * dim * 3);
    for (let i = 0; i < rec.length; i++) rec[i] = i % (3 * dim) < 2 * dim ? r() * 2 - 1 : r() * 1e-3;
    const [lr, b1, b2, eps, t] = [1e-2, 0.9, 0.999, 1e-8, 3];
    const scalars = [lr / (1 - b1 ** t), 1 / Math.sqrt(1 - b2 ** t), b1, 1 - b1, b2, 1 - b2, eps];
    const want = Float64Array.from(rec);
    ids.forEach((row, j) => {
      for (let d = 0; d < dim; d++) {
        const o = row * dim * 3,
          g = grads[j * dim + d];
        const m = (want[o + dim + d] = b1 * want[o + dim + d] + (1 - b1) * g);
        const v = (want[o + 2 * dim + d] = b2 * want[o + 2 * dim + d] + (1 - b2) * g * g);
        want[o + d] -= (scalars[0] * m) / (Math.sqrt(v) * scalars[1] + eps);
      }
    });
    for (const method of ['adam32', 'adam32r'] as const) {
      const out = runNative({ rows, dim, method, scalars, ids, grads, records: new Uint8Array(rec.slice().buffer) });
      if (out === null) return;
      const got = new Float32Array(out.buffer, out.byteOffset, rec.length);
      for (let i = 0; i < rec.length; i++) expect(got[i]).toBeCloseTo(want[i], 6);
      expect(got.some((x, i) => x !== rec[i])).toBe(true);
    }
  });

  it('row-wise Adagrad matches a float64 reference of FBGEMM formula', () => {
    const rec = new Float32Array(rows * (dim + 1));
    for (let i = 0; i < rec.length; i++) rec[i] = i % (dim + 1) < dim ? r() * 2 - 1 : r();
    const [lr, eps] = [0.05, 1e-8];
    const want = Float64Array.from(rec);
    ids.forEach((row, j) => {
      const o = row * (dim + 1);
      let s = 0;
      for (let d = 0; d < dim; d++) s += grads[j * dim + d] ** 2;
      want[o + dim] += s / dim;
      const mult = lr / (Math.sqrt(want[o + dim]) + eps);
      for (let d = 0; d < dim; d++) want[o + d] -= mult * grads[j * dim + d];
    });
    const out = runNative({
      rows,
      dim,
      method: 'adagrad',
      scalars: [lr, 0, 0, 0, 0, 0, eps],
      ids,
      grads,
      records: new Uint8Array(rec.slice().buffer),
    });
    if (out === null) return;
    const got = new Float32Array(out.buffer, out.byteOffset, rec.length);
    for (let i = 0; i < rec.length; i++) expect(got[i]).toBeCloseTo(want[i], 6);
  });

  it('refuses an unknown method with a message', () => {
    const bin = native();
    if (bin === null) return;
    const r2 = spawnSync(bin, ['8', '8', '4', join(dir, 'none.bin'), join(dir, 'none.bin'), '1', '1', 'bogus'], {
      encoding: 'utf8',
    });
    expect(r2.status).toBe(1);
    expect(r2.stderr).toMatch(/unknown method bogus \(adam32, adam32r, adam8, adam8b or adagrad\)/);
  });
});
