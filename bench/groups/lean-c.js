// The lean tables' C yardsticks (bench/c/lean.c): the row loops of fp32 Adam, bf16 weights + int8
// Adam state in the engine's format, and row-wise Adagrad in plain C, natively (gcc, a child process
// that times itself) and compiled by clang to wasm32 SIMD and run in this process. They take the
// distinct rows of each update already coalesced (as the engine's row phase starts from them), so
// they time row loops only, never a whole update. Used by the lean group (bench/groups/lean.js) and
// by bench/lean-ab.js --c.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CPrograms } from '../lib/c.js';
import { compileWasm } from '../lib/wasm-clang.js';
import { touchPages } from '../lib/pages.js';

const SRC = fileURLToPath(new URL('../c/lean.c', import.meta.url));

/** The C methods: the loops of bench/c/lean.c (see its header). */
export const LEAN_C_METHODS = {
  adam32: 'fp32 Adam, w/m/v tables',
  adam32r: 'fp32 Adam, one record a row',
  adam8: 'bf16 + int8 Adam (direct-table encoder)',
  adam8b: 'bf16 + int8 Adam (binary-search encoder)',
  adagrad: 'row-wise Adagrad',
};

/** clang's flags for the wasm build of lean.c (as bench/lib/wasm-clang.js builds dense.c). */
export const LEAN_CLANG_FLAGS = [
  '--target=wasm32',
  '-O3',
  '-msimd128',
  '-nostdlib',
  '-fno-builtin',
  '-Wl,--no-entry',
  '-Wl,--export=__heap_base',
  '-Wl,--export-dynamic',
];

let native = null;

/** The native program, compiled once per process (gcc as bench/lib/c.js builds the C contenders), or its skip note. */
export function leanNative() {
  if (!native) {
    native = new CPrograms().compile(['lean']);
    process.once('exit', () => native.cleanup());
  }
  return native;
}

let wasm = null;

/** The wasm build of lean.c (clang), once per process: `{ module, compiler }` or `{ skipped }`. */
export function leanWasm() {
  return (wasm ??= compileWasm(SRC, LEAN_CLANG_FLAGS, 'the wasm C yardsticks were'));
}

/**
 * The batches of `data` ({ ids, grads }: the lean group's) coalesced as the engine does: each
 * batch's distinct rows in order of first appearance, each with the float32 sum of its gradient
 * rows in batch order, front to back.
 * @param {{ ids: Int32Array[], grads: Float32Array }} data
 * @param {number} dim
 */
export function coalesced(data, dim) {
  return data.ids.map((ids) => {
    const slot = new Map();
    const rows = [];
    const g = new Float32Array(ids.length * dim);
    for (let i = 0; i < ids.length; i++) {
      let s = slot.get(ids[i]);
      if (s === undefined) {
        s = rows.length;
        slot.set(ids[i], s);
        rows.push(ids[i]);
        g.set(data.grads.subarray(i * dim, (i + 1) * dim), s * dim);
      } else {
        for (let d = 0; d < dim; d++) g[s * dim + d] += data.grads[i * dim + d];
      }
    }
    return { rows: Uint32Array.from(rows), grads: g.slice(0, rows.length * dim) };
  });
}

/** The two dynamic maps (signed, unsigned; 256 float32 each) the engine's int8 state uses. */
export function engineMaps(lib) {
  const out = new Float32Array(512);
  out.set(lib.dynamicMap(true), 0);
  out.set(lib.dynamicMap(false), 256);
  return out;
}

/**
 * Times method `method` of the native program on the ids of `data` over a `rows` x `dim` table: the
 * program's samples (ms per update's row loop), or `{ skipped }`.
 */
export function runNative(method, rows, dim, data, maps, minMs, clock = 'wall') {
  const c = leanNative();
  if (c.skipped) return { skipped: c.skipped };
  c.clock = clock;
  const k = data.ids[0].length;
  const idsFile = join(c.dir, `lean-ids-${rows}-${k}.bin`);
  const all = new Int32Array(data.ids.length * k);
  data.ids.forEach((a, i) => all.set(a, i * k));
  writeFileSync(idsFile, new Uint8Array(all.buffer));
  const mapsFile = join(c.dir, 'lean-maps.bin');
  writeFileSync(mapsFile, new Uint8Array(maps.buffer, maps.byteOffset, 2048));
  const [out] = c.run('lean', [
    String(rows),
    String(dim),
    String(k),
    idsFile,
    mapsFile,
    String(data.ids.length),
    String(minMs),
    method,
  ]);
  return out;
}

/**
 * A wasm instance of lean.c set up for `method` on a `rows` x `dim` table (every page touched),
 * cycling through the coalesced `batches`: `{ fn }` runs one update's row loop. Weights from
 * `init` (float32 values, rows * dim), state zero (int8: code 127 for m, 0 for v, absmax 0).
 */
export function wasmRunner(module, method, rows, dim, batches, maps, init) {
  const { exports: x } = new WebAssembly.Instance(module, {});
  const mem = x.memory;
  let top = Math.ceil(x.__heap_base.value / 64) * 64;
  const alloc = (bytes) => {
    const at = top;
    top = Math.ceil((top + bytes) / 64) * 64;
    if (top > mem.buffer.byteLength) mem.grow(Math.ceil((top - mem.buffer.byteLength) / 65536));
    return at;
  };
  // Every batch's rows and gradients staged in the instance's memory before timing (as the native program has them).
  const staged = batches.map(({ rows: ur, grads: ug }) => {
    const at = [alloc(ur.length * 4), alloc(ug.length * 4)];
    new Uint32Array(mem.buffer, at[0], ur.length).set(ur);
    new Float32Array(mem.buffer, at[1], ug.length).set(ug);
    return [at[0], at[1], ur.length];
  });
  const sAt = alloc(32);
  const mapsAt = alloc(x.lean_maps_bytes()),
    rawAt = alloc(2048);
  new Float32Array(mem.buffer, rawAt, 512).set(maps);
  if (!x.lean_maps(mapsAt, rawAt, rawAt + 1024)) throw new Error('lean.c: a bucket of the encoder holds two midpoints');
  let tables;
  const f32 = (at, n) => new Float32Array(mem.buffer, at, n);
  if (method === 'adam32') {
    tables = [alloc(rows * dim * 4), alloc(rows * dim * 4), alloc(rows * dim * 4)];
    f32(tables[0], rows * dim).set(init);
  } else if (method === 'adam32r' || method === 'adagrad') {
    const rf = method === 'adagrad' ? dim + 1 : 3 * dim;
    tables = [alloc(rows * rf * 4)];
    const t = f32(tables[0], rows * rf);
    for (let r = 0; r < rows; r++) t.set(init.subarray(r * dim, (r + 1) * dim), r * rf);
  } else {
    const rb = 4 * dim + 8;
    tables = [alloc(rows * rb)];
    const u8 = new Uint8Array(mem.buffer, tables[0], rows * rb);
    const w = new Uint32Array(init.buffer, init.byteOffset, rows * dim);
    const dv = new DataView(mem.buffer, tables[0], rows * rb);
    for (let r = 0; r < rows; r++) {
      for (let d = 0; d < dim; d++) dv.setUint16(r * rb + 2 * d, w[r * dim + d] >>> 16, true);
      u8.fill(127, r * rb + 2 * dim, r * rb + 3 * dim);
    }
  }
  touchPages(mem.buffer);
  const fn = x[`${method}_rows`];
  let b = 0,
    t = 0;
  const s = f32(sAt, 8);
  return {
    fn: () => {
      b = (b + 1) % batches.length;
      t = (t % 1000) + 1;
      const [rowsAt, gAt, n] = staged[b];
      if (method === 'adagrad') return fn(tables[0], rowsAt, gAt, n, dim, 1e-2, 1e-8);
      s[0] = 1e-3 / (1 - 0.9 ** t);
      s[1] = 1 / Math.sqrt(1 - 0.999 ** t);
      s[2] = 0.9;
      s[3] = 1 - 0.9;
      s[4] = 0.999;
      s[5] = 1 - 0.999;
      s[6] = 1e-8;
      if (method === 'adam32') return fn(tables[0], tables[1], tables[2], rowsAt, gAt, n, dim, sAt);
      if (method === 'adam32r') return fn(tables[0], rowsAt, gAt, n, dim, sAt);
      return fn(tables[0], rowsAt, gAt, n, dim, sAt, x.lean_step_key(1, 0, t), 0, mapsAt);
    },
  };
}
