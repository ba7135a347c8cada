#!/usr/bin/env node
// A/B of embedding-table updates in one process (issue 17): the engine built from this checkout's
// dist/ (B; --wasm file for another SIMD build), optionally another build's wasm (A: --base file),
// the phases of B's update timed apart (the JS side, the copy of the gradients, coalescing, the row
// loop), and the C loops of bench/c/sparse.c (gcc, child processes on the same core), interleaved
// round by round. Adam on a rows x 64 table, 4096 ids per update, the bench's id regimes
// (bench/groups/sparse.js). Prints microseconds per update (medians) and ratios, with the CPU.
// Run it pinned: `taskset -c 0 node bench/sparse-ab.js --regime hot`.
//
//   node bench/sparse-ab.js [--rows 262144] [--regime zipf|hot] [--mode lazy|exact] [--rounds 5]
//                           [--ms 200] [--base old.simd.wasm] [--wasm new.simd.wasm] [--no-c]
//                           [--threads 2]   (B on an engine with 2 threads, A on one thread)
//                           [--pairs 31]    (only A's and B's updates, alternated in short turns:
//                                            the median of the per-turn ratios)
//                           [--amode lazy]  (with --pairs: A's table in this mode, e.g. exact vs lazy)
//                           [--adist ../lead/dist] (A: another checkout's whole build, its JS and
//                                            wasm, in this process: an A/B across ABI changes)
//                           [--clang]       (also bench/c/lean.c's fp32 Adam rows compiled by clang to
//                                            wasm, in this process, on the same coalesced rows: the
//                                            yardstick of B's row loop, bench/groups/lean-c.js; and
//                                            the wasm limit of a whole update: bench/c/sparse.c's
//                                            chains and prefetch compiled by clang to wasm, on the
//                                            same ids, bench/lib/wasm-clang-sparse.js)
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CPrograms } from './lib/c.js';
import { grads as makeGrads, HotIds, params, ZipfIds } from './lib/data.js';
import { cpuNow, wallNow } from './lib/clock.js';
import { touchPages } from './lib/pages.js';
import { cpuIdentity } from './lib/cpu.js';
import { coalesced, engineMaps, leanWasm, wasmRunner } from './groups/lean-c.js';
import { sparseUpdater, sparseWasm } from './lib/wasm-clang-sparse.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIM = 64,
  K = 4096,
  BATCHES = 64;

function parse(argv) {
  const o = { rows: 262144, regime: 'zipf', mode: 'lazy', rounds: 5, ms: 200, base: null, wasm: null, c: true };
  o.threads = 0;
  o.k = K;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i],
      v = () => argv[++i];
    if (a === '--rows') o.rows = Number(v());
    else if (a === '--regime') o.regime = v();
    else if (a === '--mode') o.mode = v();
    else if (a === '--rounds') o.rounds = Number(v());
    else if (a === '--ms') o.ms = Number(v());
    else if (a === '--base') o.base = resolve(v());
    else if (a === '--wasm') o.wasm = resolve(v());
    else if (a === '--no-c') o.c = false;
    else if (a === '--threads') o.threads = Number(v());
    else if (a === '--k') o.k = Number(v());
    else if (a === '--pairs') o.pairs = Number(v());
    else if (a === '--amode') o.amode = v();
    else if (a === '--clang') o.clang = true;
    else if (a === '--adist') o.adist = resolve(v());
    else throw new TypeError(`sparse-ab: unknown option ${a}`);
  }
  return o;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Microseconds per call of `fn` over about `ms` of the clock, after calibrating ~2 ms batches. */
function time(fn, ms, now) {
  let reps = 1;
  for (;;) {
    const t0 = now();
    for (let r = 0; r < reps; r++) fn();
    if (now() - t0 >= 2) break;
    reps *= 2;
  }
  const per = [];
  const start = now();
  while (now() - start < ms || per.length < 3) {
    const t0 = now();
    for (let r = 0; r < reps; r++) fn();
    per.push(((now() - t0) * 1e3) / reps);
  }
  return median(per);
}

async function main() {
  const o = parse(process.argv.slice(2));
  const k = o.k;
  const lib = await import(pathToFileURL(join(ROOT, 'dist', 'index.js')).href);
  const source = (file) => (file ? { source: readFileSync(file) } : {});
  const src = o.regime === 'hot' ? new HotIds(o.rows) : new ZipfIds(o.rows);
  const ids = Array.from({ length: BATCHES }, () => src.draw(k));
  const g = makeGrads(k * DIM, 3);
  const unique = ids.reduce((s, a) => s + new Set(a).size, 0) / BATCHES;
  const now = o.threads ? wallNow : cpuNow;
  const libA = o.adist ? await import(pathToFileURL(join(o.adist, 'index.js')).href) : lib;
  const table = async (file, threads, mode = o.mode, L = lib) => {
    const engine = await L.createEngine({ simd: true, ...source(file), ...(threads ? { threads } : {}) });
    if (threads && engine.parallel) engine.parallel.minParallelElements = 1;
    const emb = new L.Embedding(o.rows, DIM, {
      optimizer: 'adam',
      lr: 1e-3,
      mode,
      nonFinite: 'ignore',
      init: params(o.rows * DIM, 5),
      engine,
    });
    // Resident before timing, as the C program's memset table is (./lib/pages.js).
    touchPages(engine.memory.buffer);
    return { emb, engine };
  };
  const contenders = [];
  let b = 0;
  if (o.pairs) {
    const A = o.adist
      ? await table(o.base, 0, o.amode, libA)
      : o.base
        ? await table(o.base, 0, o.amode)
        : await table(o.wasm, o.threads ? 1 : 0, o.amode);
    const B = await table(o.wasm, o.threads);
    let ia = 0,
      ib = 0;
    const fa = () => A.emb.update(ids[(ia = (ia + 1) % BATCHES)], g);
    const fb = () => B.emb.update(ids[(ib = (ib + 1) % BATCHES)], g);
    // Warm up: every batch's rows faulted in on both tables.
    for (let i = 0; i < 2 * BATCHES; i++) {
      fa();
      fb();
    }
    const ta = [],
      tb = [],
      ratio = [];
    for (let r = 0; r < o.pairs; r++) {
      const x = time(fa, o.ms, now),
        y = time(fb, o.ms, now);
      ta.push(x);
      tb.push(y);
      ratio.push(x / y);
    }
    const lo = [...ratio].sort((p, q) => p - q);
    console.log(
      `# sparse-ab pairs ${o.rows} x ${DIM} Adam ${o.mode}, ${k} ${o.regime} ids (${unique.toFixed(0)} distinct); ${cpuIdentity().label}, load ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    console.log(
      `A ${median(ta).toFixed(1)} us, B ${median(tb).toFixed(1)} us; A/B (B's speed-up) median ${median(ratio).toFixed(3)}, quartiles ${lo[Math.floor(lo.length / 4)].toFixed(3)}..${lo[Math.floor((3 * lo.length) / 4)].toFixed(3)} over ${o.pairs} turns; fastest turns A ${Math.min(...ta).toFixed(1)} us, B ${Math.min(...tb).toFixed(1)} us (${(Math.min(...ta) / Math.min(...tb)).toFixed(3)})`,
    );
    process.exit(0);
  }
  const next = () => ids[(b = (b + 1) % BATCHES)];
  let A = null;
  if (o.base || o.adist) {
    A = await table(o.base, 0, o.mode, libA);
    contenders.push(['A update', () => A.emb.update(next(), g)]);
  }
  const B = await table(o.wasm, o.threads ? 1 : 0);
  contenders.push(['B update', () => B.emb.update(next(), g)]);
  if (o.threads) {
    const T = await table(o.wasm, o.threads);
    contenders.push([`B ${o.threads} threads`, () => T.emb.update(next(), g)]);
  }
  // B's phases, on its own table: gradView (no copy), the copy alone, coalescing alone (gradients
  // in place, as gradView's), the row loop alone (over the rows the last coalescing listed), and the
  // same for update()'s way with a Float32Array (copied whole into the gradient buffer first).
  const lt = B.emb.table;
  const view = lt.gradView(k);
  view.set(g);
  contenders.push(['B update (gradView)', () => B.emb.update(next(), lt.gradView(k))]);
  const sc = lt.scratch,
    x = lt.engine.exports;
  contenders.push(['B copy grads', () => lt.engine.heapF32.set(g, sc.gradPtr >>> 2)]);
  // Coalescing alone and coalescing + the row loop, on B's table and (with --base/--adist) on A's.
  const phases = (name, T) => {
    const t = T.emb.table,
      c = t.scratch,
      e = t.engine.exports;
    t.gradView(k).set(g);
    contenders.push([
      `${name} coalesce`,
      () => {
        c.copyIds(next(), k);
        return e.embCoalesce(t.desc, c.idsPtr, k, c.gradPtr, 0);
      },
    ]);
    contenders.push([
      `${name} apply`,
      () => {
        c.copyIds(next(), k);
        const u = e.embCoalesce(t.desc, c.idsPtr, k, c.gradPtr, 0);
        e.embApply(t.desc, t.steps + 1, u, 0, 0, 0, 0, 0);
      },
    ]);
  };
  if (A) phases('A', A);
  phases('B', B);
  // The way update() takes a Float32Array (table-base.ts coalesceGrads): the gradients copied whole
  // into the gradient buffer, then coalesced there.
  const heap = lt.engine.heapF32;
  const copied = () => {
    heap.set(g, sc.gradPtr >>> 2);
    return x.embCoalesce(lt.desc, sc.idsPtr, k, sc.gradPtr, 0);
  };
  contenders.push([
    'B copy + coalesce',
    () => {
      sc.copyIds(next(), k);
      return copied();
    },
  ]);
  contenders.push([
    'B copy + apply',
    () => {
      sc.copyIds(next(), k);
      x.embApply(lt.desc, lt.steps + 1, copied(), 0, 0, 0, 0, 0);
    },
  ]);
  if (o.clang) {
    // The same ids' rows coalesced as the engine lists them (first appearance, float32 sums in batch
    // order), stepped by clang's wasm build of lean.c's fp32 Adam rows (three tables, as PyTorch).
    const w = leanWasm();
    if (w.skipped) console.error(w.skipped);
    else {
      const run = wasmRunner(
        w.module,
        'adam32',
        o.rows,
        DIM,
        coalesced({ ids, grads: g }, DIM),
        engineMaps(lib),
        params(o.rows * DIM, 5),
      );
      contenders.push(['C wasm adam32 rows', run.fn]);
    }
    // Whole updates: sparse.c's chains and prefetch in wasm, with their own table and gradients (as
    // the native program's), on the same id batches.
    const s = sparseWasm();
    if (s.skipped) console.error(s.skipped);
    else
      for (const m of ['chains', 'prefetch'])
        contenders.push([`C wasm ${m}`, sparseUpdater(s.module, m, { rows: o.rows, dim: DIM, k, batches: ids }).fn]);
  }
  let cp = null,
    idsFile = null;
  if (o.c) {
    cp = new CPrograms().compile(['sparse']);
    cp.clock = o.threads ? 'wall' : 'cpu';
    if (cp.skipped) console.error(cp.skipped);
    else {
      idsFile = join(cp.dir, 'ids.bin');
      const all = new Int32Array(BATCHES * k);
      ids.forEach((a, i) => all.set(a, i * k));
      writeFileSync(idsFile, new Uint8Array(all.buffer));
      for (const m of ['radix', 'direct', 'hybrid', 'prefetch', 'chains', 'touch', 'coalesce'])
        contenders.push([
          `C ${m}`,
          () => {
            const [out] = cp.run('sparse', [o.rows, DIM, k, idsFile, BATCHES, o.ms, m].map(String));
            return median(out.samples) * 1e3;
          },
          true,
        ]);
    }
  }
  const res = new Map(contenders.map(([n]) => [n, []]));
  for (let r = 0; r < o.rounds; r++) {
    for (const [name, fn, external] of contenders) res.get(name).push(external ? fn() : time(fn, o.ms, now));
  }
  // The coalesce-only and apply rows also run the id copy; "apply" is coalesce + the row loop.
  const med = new Map([...res].map(([n, xs]) => [n, median(xs)]));
  if (med.has('A apply')) med.set('A row loop (apply - coalesce)', med.get('A apply') - med.get('A coalesce'));
  if (med.has('B apply')) med.set('B row loop (apply - coalesce)', med.get('B apply') - med.get('B coalesce'));
  if (med.has('B copy + apply'))
    med.set('B row loop, copied grads', med.get('B copy + apply') - med.get('B copy + coalesce'));
  if (med.has('C wasm adam32 rows'))
    for (const n of ['A row loop (apply - coalesce)', 'B row loop (apply - coalesce)', 'B row loop, copied grads'])
      if (med.has(n))
        console.log(`# ${n} / C wasm adam32 rows: ${(med.get(n) / med.get('C wasm adam32 rows')).toFixed(3)}`);
  const cpu = cpuIdentity().label;
  console.log(
    `# sparse-ab ${o.rows} x ${DIM} Adam ${o.mode}, ${k} ${o.regime} ids (${unique.toFixed(0)} distinct), ${o.rounds} rounds; ${cpu}, load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  const bu = med.get('B update');
  for (const [n, v] of med) {
    const spread = res.get(n) ? ` [${Math.min(...res.get(n)).toFixed(1)}..${Math.max(...res.get(n)).toFixed(1)}]` : '';
    console.log(`${n.padEnd(32)} ${v.toFixed(1).padStart(8)} us${spread}   B update / this: ${(v / bu).toFixed(3)}`);
  }
  cp?.cleanup();
  for (const e of [B]) e.emb.dispose();
  process.exit(0);
}

main().catch((e) => {
  console.error(e?.stack ?? e);
  process.exit(1);
});
