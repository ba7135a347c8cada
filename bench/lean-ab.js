#!/usr/bin/env node
// A/B of lean-table updates in one process (issue 18's speed targets): fp32 Adam, row-wise Adagrad
// and bf16 weights + int8 (and bf16) Adam state (and, named in --only, partial row-wise Adam: pradam, FTRL: ftrl) on a rows x 64 table with 4096 Zipf ids per update,
// the lean and lean-storage groups' data (bench/groups/lean.js), each on this checkout's SIMD build
// (B; --wasm file for another) and optionally on other builds' wasm (A, A2, ..: --base file, repeatable), interleaved
// round by round; with --phases, B's coalescing alone (the checks, the copy of the gradients
// and the coalescing pass: everything an update does before its row loop) and so the row loop
// (update - coalescing). Prints microseconds per update (medians of the rounds, CPU time) and each
// one's speed-up over B's fp32 Adam, with the CPU and the load. With --c, the C yardsticks' row loops
// too (bench/c/lean.c: fp32 Adam, bf16 + int8 Adam, row-wise Adagrad on the same ids, coalesced before
// timing), compiled by clang to wasm (in this process, interleaved) and by gcc (a child process per
// round), each with its ratio to the C fp32 Adam of its own build. Run it pinned:
//
//   taskset -c 0 node bench/lean-ab.js [--rows 262144] [--rounds 7] [--ms 200] [--base old.simd.wasm]
//                                      [--wasm new.simd.wasm] [--only adagrad,int8] [--phases] [--c]
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cpuNow } from './lib/clock.js';
import { touchPages } from './lib/pages.js';
import { DIM, K, makeData } from './groups/lean.js';
import { params } from './lib/data.js';
import { cpuIdentity } from './lib/cpu.js';
import { coalesced, engineMaps, leanWasm, runNative, wasmRunner } from './groups/lean-c.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// The contenders: the lean group's (params init) and the lean-storage group's (zeros, seed 1) options.
const KINDS = [
  { id: 'adam', opts: { optimizer: 'adam', lr: 1e-3 }, init: 'params' },
  { id: 'adagrad', opts: { optimizer: 'rowwiseAdagrad', lr: 1e-2 }, init: 'params' },
  { id: 'pradam', opts: { optimizer: 'partialRowwiseAdam', lr: 1e-3 }, init: 'params', optIn: true },
  { id: 'ftrl', opts: { optimizer: 'ftrl', lr: 1e-2 }, init: 'params', optIn: true },
  { id: 'int8', opts: { optimizer: 'adam', lr: 1e-3, weightType: 'bf16', stateType: 'int8', seed: 1 }, init: 'zeros' },
  { id: 'bf16', opts: { optimizer: 'adam', lr: 1e-3, weightType: 'bf16', stateType: 'bf16', seed: 1 }, init: 'zeros' },
];

function parse(argv) {
  const o = { rows: 262144, rounds: 7, ms: 200, base: [], wasm: null, only: null, phases: false, c: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i],
      v = () => argv[++i];
    if (a === '--rows') o.rows = Number(v());
    else if (a === '--rounds') o.rounds = Number(v());
    else if (a === '--ms') o.ms = Number(v());
    else if (a === '--base') o.base.push(resolve(v()));
    else if (a === '--wasm') o.wasm = resolve(v());
    else if (a === '--only') o.only = v().split(',');
    else if (a === '--phases') o.phases = true;
    else if (a === '--c') o.c = true;
    else throw new TypeError(`lean-ab: unknown option ${a}`);
  }
  return o;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Microseconds per call of `fn` over about `ms` of CPU time, in batches of at least 5 ms. */
function time(fn, ms) {
  let reps = 1;
  for (;;) {
    const t0 = cpuNow();
    for (let r = 0; r < reps; r++) fn();
    if (cpuNow() - t0 >= 5) break;
    reps *= 2;
  }
  const per = [];
  const start = cpuNow();
  while (cpuNow() - start < ms || per.length < 3) {
    const t0 = cpuNow();
    for (let r = 0; r < reps; r++) fn();
    per.push(((cpuNow() - t0) * 1e3) / reps);
  }
  return median(per);
}

async function main() {
  const o = parse(process.argv.slice(2));
  const lib = await import(pathToFileURL(join(ROOT, 'dist', 'index.js')).href);
  const data = makeData(o.rows);
  const kinds = KINDS.filter((k) => k.id === 'adam' || (o.only ? o.only.includes(k.id) : !k.optIn));
  const builds = [...o.base.map((f, i) => [i ? `A${i + 1}` : 'A', f]), ['B', o.wasm]];
  const contenders = [];
  for (const kind of kinds) {
    for (const [tag, file] of builds) {
      // fp32 Adam only on B: it is the yardstick (A's would time the same kernel unless A changed it).
      if (kind.id === 'adam' && tag !== 'B') continue;
      const engine = await lib.createEngine({ simd: true, ...(file ? { source: readFileSync(file) } : {}) });
      const init = kind.init === 'params' ? params(o.rows * DIM, 5) : 'zeros';
      const emb = new lib.Embedding(o.rows, DIM, { ...kind.opts, nonFinite: 'ignore', init, engine });
      touchPages(engine.memory.buffer);
      let b = 0;
      const next = () => data.ids[(b = (b + 1) % data.ids.length)];
      for (let i = 0; i < 2 * data.ids.length; i++) emb.update(next(), data.grads);
      contenders.push({ name: `${tag} ${kind.id}`, fn: () => emb.update(next(), data.grads) });
      if (o.phases && tag === 'B') {
        const t = emb.table;
        contenders.push({ name: `B ${kind.id} coalesce`, fn: () => t.coalesce(next(), data.grads) });
      }
    }
  }
  // The C yardsticks: the same ids, the rows coalesced before timing (row loops only).
  const C_KINDS = [
    ['adam', 'adam32'],
    ['adam-record', 'adam32r'],
    ['adagrad', 'adagrad'],
    ['int8', 'adam8'],
  ].filter(([id]) => id.startsWith('adam') || !o.only || o.only.includes(id));
  if (o.c) {
    const maps = engineMaps(lib);
    const w = leanWasm();
    if (w.module) {
      const batches = coalesced(data, DIM);
      const init = params(o.rows * DIM, 5);
      for (const [id, method] of C_KINDS) {
        const run = wasmRunner(w.module, method, o.rows, DIM, batches, maps, init);
        for (let i = 0; i < 2 * batches.length; i++) run.fn();
        contenders.push({ name: `C wasm ${id} rows`, fn: run.fn });
      }
    } else console.log(`# ${w.skipped}`);
    for (const [id, method] of C_KINDS) {
      contenders.push({
        name: `C native ${id} rows`,
        ext: () => {
          const out = runNative(method, o.rows, DIM, data, maps, o.ms, 'cpu');
          return out.skipped ? NaN : median(out.samples) * 1e3;
        },
      });
    }
  }
  const res = new Map(contenders.map((c) => [c.name, []]));
  for (let r = 0; r < o.rounds; r++)
    for (const c of contenders) res.get(c.name).push(c.ext ? c.ext() : time(c.fn, o.ms));
  const med = new Map([...res].map(([n, xs]) => [n, median(xs)]));
  for (const kind of kinds) {
    const c = med.get(`B ${kind.id} coalesce`);
    if (c !== undefined) med.set(`B ${kind.id} row loop`, med.get(`B ${kind.id}`) - c);
  }
  const uniq = data.ids.reduce((s, a) => s + new Set(a).size, 0) / data.ids.length;
  console.log(
    `# lean-ab ${o.rows} x ${DIM}, ${K} Zipf ids (${uniq.toFixed(0)} distinct), ${o.rounds} rounds; ${cpuIdentity().label}, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const adam = med.get('B adam');
  for (const [n, v] of med) {
    const xs = res.get(n);
    const spread = xs ? ` [${Math.min(...xs).toFixed(1)}..${Math.max(...xs).toFixed(1)}]` : '';
    // C rows: the ratio to the same build's C fp32 Adam rows; the engine's row loops: to B's.
    const c = n.match(/^C (wasm|native) /);
    const yard = c ? med.get(`C ${c[1]} adam rows`) : n.endsWith('row loop') ? med.get('B adam row loop') : adam;
    const against = c ? `C ${c[1]} adam rows` : n.endsWith('row loop') ? 'B adam row loop' : 'B adam';
    console.log(
      `${n.padEnd(24)} ${v.toFixed(1).padStart(8)} us${spread.padEnd(18)}  ${against} / this: ${(yard / v).toFixed(3)}`,
    );
  }
  process.exit(0);
}

main().catch((e) => {
  console.error(e?.stack ?? e);
  process.exit(1);
});
