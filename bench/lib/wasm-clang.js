// The "wasm (clang)" contender, the wasm limit: the loops of bench/c/dense.c compiled by clang to
// wasm32 SIMD at bench time and run in this process's V8, next to the engine. What WebAssembly SIMD
// can do on this CPU with the same float32 arithmetic (no gradient clamp or scale: the C loops are
// the default options' formulas). Skipped with a note when clang or wasm-ld is missing (Debian:
// `apt-get install clang lld`).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../c/dense.c', import.meta.url));

/**
 * The clang flags of the contender. Left to itself, clang does not unroll these loops for wasm32
 * (one f32x4 per iteration); `-DUNROLL=4` interleaves four (`#pragma clang loop
 * interleave_count(4)`), the fastest of 1, 2 and 4 measured on AMD EPYC family 23 (Node 20, each
 * pair in one pinned process): 4× over 1× was 1.34-1.5× for SGD with momentum at 1K-256K and
 * 1.05-1.17× for the Adam family; 4× over 2×: SGD 1.1-1.15×, Adam 1.09-1.11×, AdamW, Adamax, NAdam,
 * RAdam 1.01-1.09×, Adagrad, RMSprop and Lion within ±3%, Adadelta 0.96-0.98×.
 */
export const CLANG_WASM_FLAGS = [
  '--target=wasm32',
  '-O3',
  '-msimd128',
  '-nostdlib',
  '-Wl,--no-entry',
  '-Wl,--export=__heap_base',
  '-DUNROLL=4',
];

/** Compiled modules by their extra flags (one compile per process and flag set). */
const compiled = new Map();

/** The `--version` line of the clang that compiled any wasm C yardstick in this process (compileWasm). */
let compilerSeen = null;

/**
 * Compiles the C file `src` with clang and `flags` to a wasm module, or says why not: the note names
 * what was skipped (`what`, e.g. "the wasm (clang) contender was") and the Debian packages to install.
 * The one compile of every wasm C yardstick (dense.c here, lean.c in ../groups/lean-c.js, sparse.c
 * in wasm-clang-sparse.js).
 * @returns {{ module?: WebAssembly.Module, skipped?: string, compiler?: string }}
 */
export function compileWasm(src, flags, what) {
  const version = spawnSync('clang', ['--version'], { encoding: 'utf8' });
  if (version.status !== 0) return { skipped: `clang not found: ${what} skipped (apt-get install clang lld)` };
  const dir = mkdtempSync(join(tmpdir(), 'wasm-optim-clang-'));
  try {
    const out = join(dir, 'out.wasm');
    const r = spawnSync('clang', [...flags, '-o', out, src], { encoding: 'utf8' });
    if (r.status !== 0) {
      const why = (r.stderr || r.error?.message || '').trim().split('\n').slice(0, 2).join(' ');
      return {
        skipped: /wasm-ld|lld/.test(why)
          ? `wasm-ld not found: ${what} skipped (apt-get install lld): ${why}`
          : `clang failed on bench/c/${basename(src)} for wasm32: ${why}`,
      };
    }
    compilerSeen = version.stdout.split('\n')[0].trim();
    return { module: new WebAssembly.Module(readFileSync(out)), compiler: compilerSeen };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Compiles bench/c/dense.c to wasm once per process (extra `-D` flags allowed for experiments).
 * @returns {{ module?: WebAssembly.Module, skipped?: string, compiler?: string }}
 */
export function clangWasm(extra = []) {
  const key = extra.join(' ');
  if (compiled.has(key)) return compiled.get(key);
  let result = compileWasm(SRC, [...CLANG_WASM_FLAGS, ...extra], 'the wasm (clang) contender was');
  const writes = result.module && extra.includes(IMPORT_MEMORY[0]) ? writesOutsideArrays(result.module) : null;
  if (writes) result = { skipped: `wasm (clang): ${writes}, so it cannot run on the engine's memory (skipped)` };
  compiled.set(key, result);
  return result;
}

/**
 * Steps between resets of a dense contender's param and state buffers to their values at set-up.
 * The bench's gradient is fixed, so a long run drifts into states no training reaches: with L2
 * decay (Adam's `weightDecay`) `g + wd·p` reaches exactly 0 for ~90% of the elements and m, then v,
 * decay into float32 denormals and stay there (m·0.9 rounds back to the smallest denormal); from
 * ~800 steps on, and the step slows by how many steps were taken. Centered RMSprop's s − a² turns
 * negative (NaN params) from ~1100 steps. Every contender (engine, plain JS, tfjs, the wasm limit,
 * the roofline, and the native loop in bench/c/dense.c) resets every RESET_EVERY steps, so they all
 * run the same first 256 steps over and over; the copy costs about 3/(7·256) of a step's traffic.
 */
export const RESET_EVERY = 256;

/**
 * Wraps one step `step` so that before every (RESET_EVERY + 1)-th call the buffers `views` (the
 * Float32Arrays, or a function returning them where views into a wasm memory may be replaced) are
 * set back to their contents when `resetEvery` was called. The step count of the optimizer (its
 * bias corrections) goes on. `every` 0 or less: no resets.
 * @param {() => unknown} step
 * @param {Float32Array[] | (() => Float32Array[])} views
 * @param {number} [every]
 * @returns {() => void}
 */
export function resetEvery(step, views, every = RESET_EVERY) {
  if (!(every > 0)) return step;
  const get = typeof views === 'function' ? views : () => views;
  const initial = get().map((v) => v.slice());
  let k = 0;
  return () => {
    if (k === every) {
      const now = get();
      for (let i = 0; i < now.length; i++) now[i].set(initial[i]);
      k = 0;
    }
    k++;
    step();
  };
}

const B1 = 0.9;
const B2 = 0.999;

/** b1^t and b2^t, both 1 at t = 0. */
const pow2 = () => new Float64Array([1, 1]);

/**
 * Per bench kernel id: one step of dense.c's loop as a closure over the export `k`, the buffers
 * and the step count, its per-step scalars computed in double as dense.c's step() and the
 * TypeScript side do (no array is allocated per step: at 1K a step takes under a microsecond).
 * The bias corrections' powers b^t are running products (one multiply a step, as the engine's
 * src/core/powers.ts between its anchors), and NAdam's mu_t is the mu_{t+1} of the step before:
 * a `B ** t` per step cost the contender 40-110 ns (a third of a 16-float Adam step, 5-15% at 1K),
 * which the best known way does not pay.
 * @type {Record<string, (k: Function, p: number, g: number, m: number, v: number, n: number, x: number) => () => void>}
 */
const KERNELS = {
  adam: (k, p, g, m, v, n) => {
    const b = pow2();
    return () => {
      const b1t = (b[0] *= B1),
        b2t = (b[1] *= B2);
      k(p, g, m, v, n, B1, 1 - B1, B2, 1 - B2, 1e-3 / (1 - b1t), 1 / Math.sqrt(1 - b2t), 1e-8);
    };
  },
  adamw: (k, p, g, m, v, n) => {
    const b = pow2();
    const decay = 1 - 1e-3 * 0.01;
    return () => {
      const b1t = (b[0] *= B1),
        b2t = (b[1] *= B2);
      k(p, g, m, v, n, B1, 1 - B1, B2, 1 - B2, 1e-3 / (1 - b1t), 1 / Math.sqrt(1 - b2t), 1e-8, decay);
    };
  },
  'sgd-momentum': (k, p, g, m, v, n) => () => k(p, g, m, n, 1e-3, 0.9, 1),
  amsgrad: (k, p, g, m, v, n, x) => {
    const b = pow2();
    return () => {
      const b1t = (b[0] *= B1),
        b2t = (b[1] *= B2);
      k(p, g, m, v, x, n, B1, 1 - B1, B2, 1 - B2, 1e-3 / (1 - b1t), 1 / Math.sqrt(1 - b2t), 1e-8);
    };
  },
  'adam-l2': (k, p, g, m, v, n) => {
    const b = pow2();
    return () => {
      const b1t = (b[0] *= B1),
        b2t = (b[1] *= B2);
      k(p, g, m, v, n, B1, 1 - B1, B2, 1 - B2, 1e-3 / (1 - b1t), 1 / Math.sqrt(1 - b2t), 1e-8, 0.01);
    };
  },
  sgd: (k, p, g, m, v, n) => () => k(p, g, n, 1e-3),
  'sgd-nesterov': (k, p, g, m, v, n) => () => k(p, g, m, n, 1e-3, 0.9, 1),
  'rmsprop-centered': (k, p, g, m, v, n) => () => k(p, g, m, v, n, 0.01, 0.99, 1 - 0.99, 1e-8),
  adagrad: (k, p, g, m, v, n) => () => k(p, g, m, n, 0.01, 1e-10),
  rmsprop: (k, p, g, m, v, n) => () => k(p, g, m, n, 0.01, 0.99, 1 - 0.99, 1e-8),
  adamax: (k, p, g, m, v, n) => {
    const b = pow2();
    return () => {
      const b1t = (b[0] *= B1);
      k(p, g, m, v, n, 1 - B1, B2, 2e-3 / (1 - b1t), 1e-8);
    };
  },
  adadelta: (k, p, g, m, v, n) => () => k(p, g, m, v, n, 1, 0.9, 1 - 0.9, 1e-6),
  nadam: (k, p, g, m, v, n) => {
    let t = 0;
    const lr = 2e-3;
    // [mu_1 ... mu_t, B2^t, mu_{t+1}]: mu_t is the mu_{t+1} of the step before (one Math.pow a
    // step, as the engine's MuProducts).
    const s = new Float64Array([1, 1, B1 * (1 - 0.5 * 0.96 ** 0.004)]);
    return () => {
      t++;
      const mu = s[2];
      const mu1 = (s[2] = B1 * (1 - 0.5 * 0.96 ** ((t + 1) * 0.004)));
      const prod = (s[0] *= mu),
        b2t = (s[1] *= B2);
      const cg = (lr * (1 - mu)) / (1 - prod),
        cm = (lr * mu1) / (1 - prod * mu1);
      k(p, g, m, v, n, 1 - B1, B2, 1 - B2, 1 / (1 - b2t), 1e-8, cg, cm);
    };
  },
  radam: (k, p, g, m, v, n) => {
    let t = 0;
    const b = pow2();
    const lr = 1e-3,
      rhoInf = 2 / (1 - B2) - 1;
    return () => {
      t++;
      const b1t = (b[0] *= B1),
        b2t = (b[1] *= B2);
      const bc1 = 1 - b1t,
        bc2 = 1 - b2t;
      const rho = rhoInf - (2 * t * b2t) / bc2;
      if (rho > 5) {
        const rect = Math.sqrt(((rho - 4) * (rho - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rho));
        k(p, g, m, v, n, 1 - B1, B2, 1 - B2, 1e-8, (lr / bc1) * rect * Math.sqrt(bc2), 1);
      } else k(p, g, m, v, n, 1 - B1, B2, 1 - B2, 1e-8, lr / bc1, 0);
    };
  },
  lion: (k, p, g, m, v, n) => () => k(p, g, m, n, 1e-4, 0.9, 1 - 0.9, 0.99, 1 - 0.99, 1e-3),
};

/** The number of state buffers of each bench kernel's loop (m, v, x after p and g). */
const STATES = {
  adam: 2,
  adamw: 2,
  'sgd-momentum': 1,
  amsgrad: 3,
  'adam-l2': 2,
  sgd: 0,
  'sgd-nesterov': 1,
  'rmsprop-centered': 2,
  adagrad: 1,
  rmsprop: 1,
  adamax: 2,
  adadelta: 2,
  nadam: 2,
  radam: 2,
  lion: 1,
};

/** The export of dense.c's loop for each bench kernel id (C names have no '-'). */
const EXPORT = (id) => id.replaceAll('-', '_');

/** The clang that compiled a wasm C yardstick in this process (its `--version` line), or null. */
export function clangVersion() {
  return compilerSeen;
}

/** Whether dense.c has a loop for this bench kernel id. */
export function hasClangKernel(id) {
  return id in KERNELS;
}

/**
 * The extra clang flags of the build that runs on another module's memory (`clangWasm(IMPORT_MEMORY)`,
 * imported as env.memory, one page at least; see clangKernelOnParam). dense.c's loops use no stack
 * and no data, so that build writes nothing in the memory but the arrays it is given.
 */
export const IMPORT_MEMORY = ['-Wl,--import-memory', '-Wl,-z,stack-size=1024', '-Wl,--initial-memory=65536'];

/**
 * Why a build of dense.c on an imported memory (IMPORT_MEMORY) would write into that memory outside
 * the arrays it is given, or null when it does not. The build's stack and data would sit in the
 * first page of the memory it is instantiated on (the engine's own low memory): an instance on a
 * scratch memory whose first page holds a pattern runs every kernel's loop for three steps (13
 * floats: the SIMD body and the scalar tail) on arrays above that page, and the page must come
 * out unchanged. dense.c's loops use no stack and no data today; a loop that spilled would fail
 * here instead of corrupting the engine it is measured against.
 * @param {WebAssembly.Module} module
 * @param {string[]} [ids] the kernels to run (all of dense.c's by default)
 */
export function writesOutsideArrays(module, ids = Object.keys(KERNELS)) {
  const PAGE = 65536;
  const memory = new WebAssembly.Memory({ initial: 2 });
  const low = new Uint8Array(memory.buffer, 0, PAGE);
  low.fill(0xa5);
  const { exports } = new WebAssembly.Instance(module, { env: { memory } });
  const n = 13;
  const ptrs = [0, 1, 2, 3, 4].map((i) => PAGE + i * 64);
  new Float32Array(memory.buffer, PAGE, 5 * 16).fill(0.5);
  const changed = () => low.findIndex((b) => b !== 0xa5);
  if (changed() >= 0) return `its data lands at byte ${changed()} of the memory`;
  for (const id of ids) {
    const step = KERNELS[id](exports[EXPORT(id)], ptrs[0], ptrs[1], ptrs[2], ptrs[3], n, ptrs[4]);
    for (let s = 0; s < 3; s++) step();
    if (changed() >= 0) return `dense.c's ${id} loop writes byte ${changed()} of the memory (its stack)`;
  }
  return null;
}

/**
 * One dense step of kernel `id` by the wasm limit on the arrays of an engine's param: the module
 * (`clangWasm(IMPORT_MEMORY)`) instantiated on the engine's memory, its loop reading and writing
 * the param's own data, grad and state buffers, so that the engine and the wasm limit differ in
 * nothing but their code. In separate memories the two run on different physical pages: measured on
 * AMD EPYC family 26 (2026-12-06, load 2-3), the same clang loop (SGD) in three instances of one
 * module read 0.96-1.10x of each other at 4M elements, stable through the rounds of one process (the
 * pages' placement in the caches), which is larger than the 3% the targets resolve. The engine's
 * step and this one share the buffers; each resets them to their contents at set-up every `reset`
 * steps (resetEvery), so both run the first 256 steps from the same start, as in separate memories.
 * `param` is the engine's (data, grad, stateKeys, state(key): the keys in dense.c's order m, v, x).
 * Returns `run()`.
 * @param {WebAssembly.Module} module
 * @param {string} id
 * @param {{ memory: WebAssembly.Memory, param: { data: Float32Array, grad: Float32Array, stateKeys: string[], state(k: string): Float32Array }, reset?: number }} o
 */
export function clangKernelOnParam(module, id, { memory, param, reset = RESET_EVERY }) {
  if (!KERNELS[id]) throw new Error(`wasm (clang): bench/c/dense.c has no loop for ${id}`);
  const keys = param.stateKeys.slice(0, STATES[id]);
  if (keys.length !== STATES[id]) throw new Error(`wasm (clang): ${id} needs ${STATES[id]} state buffers`);
  const { exports } = new WebAssembly.Instance(module, { env: { memory } });
  const n = param.data.length;
  const [m, v, x] = keys.map((k) => param.state(k).byteOffset);
  const step = KERNELS[id](exports[EXPORT(id)], param.data.byteOffset, param.grad.byteOffset, m, v, n, x);
  // Views, not copies: the engine's memory may grow and replace them.
  return { run: resetEvery(step, () => [param.data, ...keys.map((k) => param.state(k))], reset) };
}

/**
 * One dense step of kernel `id` over `n` floats in a fresh instance (a memory of its own, grown to
 * hold p, g and three state buffers, 16-byte aligned and 16 bytes apart as the engine's allocator
 * places them). Returns `run()` (one step; p and the loop's state buffers are reset to their
 * values here every `reset` steps, RESET_EVERY by default, 0 for never: see resetEvery) and the
 * Float32Array views [p, g, m, v, x].
 */
export function clangKernel(module, id, { n, fill = [], reset = RESET_EVERY }) {
  if (!KERNELS[id]) throw new Error(`wasm (clang): bench/c/dense.c has no loop for ${id}`);
  const { exports } = new WebAssembly.Instance(module, {});
  const memory = exports.memory;
  const stride = Math.ceil((n * 4) / 16) * 16 + 16;
  const base = Math.ceil(exports.__heap_base.value / 16) * 16 + 16;
  const need = base + stride * 5 - memory.buffer.byteLength;
  if (need > 0) memory.grow(Math.ceil(need / 65536));
  const ptrs = [0, 1, 2, 3, 4].map((i) => base + i * stride);
  const views = ptrs.map((p) => new Float32Array(memory.buffer, p, n));
  fill.forEach((values, i) => values && views[i].set(values));
  const [p, g, m, v, x] = ptrs;
  const step = KERNELS[id](exports[EXPORT(id)], p, g, m, v, n, x);
  return { run: resetEvery(step, [views[0], ...views.slice(2, 2 + STATES[id])], reset), views };
}
