#!/usr/bin/env node
// A/B of dense kernels in one process: the engine built from this checkout's dist/ (B; --wasm file
// for another SIMD build of the same version, e.g. one written by `asc ... --target simd -o`), optionally
// the engine from another build's wasm (A: --base file.wasm, e.g. main's dist/wasm-optim.simd.wasm
// copied before a rebuild), and the wasm limit (bench/c/dense.c compiled by clang, see
// lib/wasm-clang.js), interleaved round by round, each round timing every contender for about
// --ms milliseconds. Prints Melem/s medians and ratios, with the load average and the CPU.
// Run it pinned: `taskset -c 0 node bench/kernel-ab.js --only adam --sizes 1024,4096`.
//
//   node bench/kernel-ab.js [--only adam,adamw] [--sizes 1024,4096] [--rounds 7] [--ms 150]
//                           [--base old.simd.wasm] [--clang -DUNROLL=2] [--alt '-DUNROLL=2']
//                           [--options '{"amsgrad":true}'] [--no-reset] [--range] [--own-memory]
// --clang adds flags to the wasm limit's build; --alt adds a second clang build with other flags
// (to compare clang's choices, e.g. unrolling: column "alt/limit"). Every contender's param and state
// go back to where they started every 256 steps (lib/wasm-clang.js: resetEvery); --no-reset lets
// them drift (Adam with L2 decay into float32 denormals) as the bench did before. --range prints
// each ratio's lowest and highest round beside the median. The wasm limit runs on engine B's own
// arrays (its memory imported: lib/wasm-clang.js clangKernelOnParam), so that the two differ only in
// code; --own-memory gives it a memory of its own as before (the 'alt' build always has one). A
// and B have a memory each: their ratio carries the pages' placement (a few % at 4M-16M).
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { grads, params } from './lib/data.js';
import {
  IMPORT_MEMORY,
  RESET_EVERY,
  clangKernel,
  clangKernelOnParam,
  clangWasm,
  hasClangKernel,
  resetEvery,
} from './lib/wasm-clang.js';
import { cpuNow } from './lib/clock.js';
import { cpuIdentity } from './lib/cpu.js';
import { clangKernelSpecs } from './groups/dense.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The engine's class and options per bench kernel id: the dense groups' (bench/groups/dense.js). */
const SPECS = Object.fromEntries(clangKernelSpecs().map(([id, cls, options]) => [id, [cls, options]]));

function parse(argv) {
  const o = { only: Object.keys(SPECS), sizes: [1024, 4096, 262144, 1048576], rounds: 7, ms: 150, base: null };
  o.clang = [];
  o.options = {};
  o.reset = RESET_EVERY;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i],
      v = () => argv[++i];
    if (a === '--only') o.only = v().split(',');
    else if (a === '--sizes') o.sizes = v().split(',').map(Number);
    else if (a === '--rounds') o.rounds = Number(v());
    else if (a === '--ms') o.ms = Number(v());
    else if (a === '--base') o.base = resolve(v());
    else if (a === '--wasm') o.wasm = resolve(v());
    else if (a === '--clang') o.clang.push(v());
    else if (a === '--alt') o.alt = v().split(' ');
    else if (a === '--options') o.options = JSON.parse(v());
    else if (a === '--no-reset') o.reset = 0;
    else if (a === '--range') o.range = true;
    else if (a === '--own-memory') o.ownMemory = true;
    else throw new TypeError(`kernel-ab: unknown option ${a}`);
  }
  return o;
}

/** Melem/s of `fn` over about `ms` of CPU time, after calibrating a batch of about 2 ms. */
function time(fn, n, ms) {
  let reps = 1;
  for (;;) {
    const t0 = cpuNow();
    for (let r = 0; r < reps; r++) fn();
    const dt = cpuNow() - t0;
    if (dt >= 2) break;
    reps *= 2;
  }
  const rates = [];
  const start = cpuNow();
  while (cpuNow() - start < ms || rates.length < 3) {
    const t0 = cpuNow();
    for (let r = 0; r < reps; r++) fn();
    rates.push((n * reps) / ((cpuNow() - t0) * 1e3));
  }
  return median(rates);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const o = parse(process.argv.slice(2));
  const lib = await import(pathToFileURL(join(ROOT, 'dist', 'index.js')).href);
  const engines = {
    B: await lib.createEngine({ simd: true, ...(o.wasm ? { source: readFileSync(o.wasm) } : {}) }),
  };
  if (o.base) engines.A = await lib.createEngine({ simd: true, source: readFileSync(o.base) });
  const wasm = clangWasm(o.ownMemory ? o.clang : [...o.clang, ...IMPORT_MEMORY]);
  if (wasm.skipped) console.log(`note: ${wasm.skipped}`);
  const alt = o.alt ? clangWasm([...o.clang, ...o.alt]) : null;
  const head = `${cpuIdentity().label}, Node ${process.version}, load ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')} at the start`;
  console.log(head);
  const names = Object.keys(engines).sort();
  const cols = [...names.map((x) => `engine ${x}`), 'wasm (clang)', ...names.map((x) => `${x}/limit`)];
  if (engines.A) cols.push('B/A');
  if (alt) cols.push('alt/limit');
  console.log(`| kernel | n | ${cols.join(' | ')} |`);
  console.log(`| --- | --- | ${cols.map(() => '---').join(' | ')} |`);
  for (const id of o.only) {
    const [cls, options] = SPECS[id];
    for (const n of o.sizes) {
      const runs = {};
      const disposers = [];
      const ps = {};
      for (const [name, engine] of Object.entries(engines)) {
        const opt = new lib[cls]({ ...options, ...o.options, engine, nonFinite: 'ignore' });
        const p = (ps[name] = opt.param(params(n)));
        p.grad.set(grads(n));
        // Reset every RESET_EVERY steps as every contender (lib/wasm-clang.js: resetEvery); --no-reset: never.
        const views = () => [p.data, ...p.stateKeys.map((k) => p.state(k))];
        runs[name] = resetEvery(() => opt.step(), views, o.reset);
        disposers.push(() => opt.dispose());
      }
      if (!wasm.skipped && hasClangKernel(id))
        runs.clang = o.ownMemory
          ? clangKernel(wasm.module, id, { n, fill: [params(n), grads(n)], reset: o.reset }).run
          : clangKernelOnParam(wasm.module, id, { memory: engines.B.memory, param: ps.B, reset: o.reset }).run;
      if (alt?.module && hasClangKernel(id))
        runs.alt = clangKernel(alt.module, id, { n, fill: [params(n), grads(n)], reset: o.reset }).run;
      const acc = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
      for (const fn of Object.values(runs)) time(fn, n, 30); // warm-up
      for (let r = 0; r < o.rounds; r++) for (const [k, fn] of Object.entries(runs)) acc[k].push(time(fn, n, o.ms));
      for (const d of disposers) d();
      const med = Object.fromEntries(Object.entries(acc).map(([k, xs]) => [k, median(xs)]));
      // Ratios per round (the contenders of one round share its load), then their median.
      // With the range over the rounds where asked (--range).
      const ratio = (a, b) => {
        const rs = acc[a].map((x, i) => x / acc[b][i]);
        const m = median(rs).toFixed(3);
        return o.range ? `${m} (${Math.min(...rs).toFixed(2)}–${Math.max(...rs).toFixed(2)})` : m;
      };
      const cells = [...names.map((x) => med[x].toFixed(0)), med.clang ? med.clang.toFixed(0) : '–'];
      for (const x of names) cells.push(med.clang ? ratio(x, 'clang') : '–');
      if (engines.A) cells.push(ratio('B', 'A'));
      if (runs.alt) cells.push(ratio('alt', 'clang'));
      console.log(`| ${id} | ${n} | ${cells.join(' | ')} |`);
    }
  }
  console.log(
    `load ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')} at the end`,
  );
}

main().catch((e) => {
  console.error(e?.stack ?? e);
  process.exit(1);
});
