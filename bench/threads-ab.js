#!/usr/bin/env node
// Embedding-table updates on 2 threads against 1, in one process (issue 17: "with 2 threads,
// updates of ~2000 rows >= 1.3x one thread"). One engine with a pool of 2 threads, one lazy Adam
// table (rows x 64): the same updates run alternately with the pool's threshold out of reach
// (1 thread), with every update split (2 threads), and with the library's default threshold, each
// update timed on the wall clock after a short sleep (a training step's forward and backward pass
// lie between two updates: the worker has gone back to sleep, as it would have). Sizes are set by
// the distinct rows an update touches (the number of ids is chosen so that the batches average
// that many), in two id regimes: Zipf-like ids (about half of them distinct) and hot ids (90% from
// 256 rows: heavy duplication, coalescing dominates).
//
// It pins itself to cores 0 and 1 (taskset) and prints the CPU, the load average around every
// figure, a machine check (a plain JS loop on 2 threads against 1: 2.0x when two cores are free),
// per size the medians of both, the median of the per-update ratios with its quartiles, and
// where the default threshold switches. With --parts, also what a split update's parts cost:
// waking a worker, copying the gradients, coalescing and the row steps on 1 and 2 threads, with and
// without a worker's prefetch of the rows during the coalescing.
//
//   node bench/threads-ab.js [--sizes 500,1000,2000,4000,8000] [--regimes zipf,hot] [--rows 262144]
//                            [--updates 61] [--gap-ms 1] [--parts] [--no-pin] [--quiet] [--root DIR]
//   node bench/threads-ab.js --dense [--dense-sizes 1048576,4194304,16777216] [--rounds 5] [--burst-ms 150]
//
// --dense: dense Adam steps instead (the threads group's target: 2 threads >= 1.7x one thread from
// 1M elements) beside their native yardstick, bench/c/threads.c (the same loop as bench/c/dense.c
// on 1 and 2 pthreads with a spin barrier per step) and the memory bandwidth on 1 and 2 threads
// (threads.c's roofline: Adam's bytes without arithmetic; STREAM's triad). Per size, `--rounds`
// rounds of: the engine's 1-thread (the pool's threshold out of reach), 2-thread (every step split)
// and no-threads (an engine without threads) steps, alternated step by step for about --burst-ms,
// then the C program's own alternated bursts of Adam, roofline and triad (--burst-ms each). Per
// round the load, a short machine check (twoThreadScaling: 2.00x when both cores are free) and the
// medians of the per-pair ratios 1t/2t; a machine check before and after. --quiet applies per round.
//
// --root DIR: the build in DIR/dist instead of this tree's (e.g. an older tree, to compare two
// builds' figures; --parts needs this tree's internals).
//
// --quiet: before each interleaved round, samples /proc/stat over 50 ms and waits (up to 1 s) until
// both CPUs were at least 90% idle, so that the rounds are taken in the quiet moments of a shared
// machine; it prints how many rounds found the machine busy all along (taken anyway).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { grads as makeGrads, HotIds, params, ZipfIds } from './lib/data.js';
import { touchPages } from './lib/pages.js';
import { cpuIdentity } from './lib/cpu.js';
import { CPrograms, C_FLAGS } from './lib/c.js';
import { twoThreadScaling } from './groups/threads.js';
import { coreRoundTrip } from './lib/cores.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIM = 64;
const BATCHES = 16;

function parse(argv) {
  const o = {
    sizes: [500, 1000, 2000, 4000, 8000],
    regimes: ['zipf', 'hot'],
    rows: 262144,
    updates: 61,
    gapMs: 1,
    parts: false,
    pin: true,
    denseSizes: [1048576, 4194304, 16777216],
    rounds: 5,
    burstMs: 150,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i],
      v = () => argv[++i];
    if (a === '--sizes') o.sizes = v().split(',').map(Number);
    else if (a === '--regimes') o.regimes = v().split(',');
    else if (a === '--rows') o.rows = Number(v());
    else if (a === '--updates') o.updates = Number(v());
    else if (a === '--gap-ms') o.gapMs = Number(v());
    else if (a === '--parts') o.parts = true;
    else if (a === '--only-parts') o.parts = o.onlyParts = true;
    else if (a === '--no-pin') o.pin = false;
    else if (a === '--quiet') o.quiet = true;
    else if (a === '--root') o.root = resolve(v());
    else if (a === '--dense') o.dense = true;
    else if (a === '--dense-sizes') o.denseSizes = v().split(',').map(Number);
    else if (a === '--rounds') o.rounds = Number(v());
    else if (a === '--burst-ms') o.burstMs = Number(v());
    else throw new TypeError(`threads-ab: unknown option ${a} (see the comment at the top of bench/threads-ab.js)`);
  }
  return o;
}

/** Runs this script again under `taskset -c 0,1` (once), so that it has the same two cores every run. */
function pinned() {
  if (process.env.THREADS_AB_PINNED) return false;
  const t = spawnSync('taskset', ['-c', '0,1', process.execPath, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, THREADS_AB_PINNED: '1' },
  });
  if (t.error) return false; // no taskset: run unpinned
  process.exit(t.status ?? 1);
}

const sorted = (xs) => [...xs].sort((a, b) => a - b);
const median = (xs) => {
  const s = sorted(xs);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const quartiles = (xs) => {
  const s = sorted(xs);
  return [s[Math.floor((s.length - 1) / 4)], s[Math.ceil((3 * (s.length - 1)) / 4)]];
};
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

/** The CPU (model name, family and model: bench/lib/cpu.js), its count and Node's version. */
const cpuLine = () => `${cpuIdentity().label}, ${cpus().length} CPUs, Node ${process.version}`;

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Blocks the calling thread for `ms` (the worker, idle meanwhile, goes back to sleep). */
const sleep = (ms) => ms > 0 && Atomics.wait(sleeper, 0, 0, ms);

/** [idle, total] jiffies of all CPUs (Linux), or null. */
function cpuTimes() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return [f[3] + (f[4] || 0), f.reduce((a, b) => a + b, 0)];
  } catch {
    return null;
  }
}
const quiet = { rounds: 0, busy: 0 };
/** --quiet: waits until both CPUs were >= 90% idle over 50 ms (at most 1 s; then counts the round busy). */
function waitQuiet(o) {
  if (!o.quiet) return;
  quiet.rounds++;
  const end = performance.now() + 1000;
  while (performance.now() < end) {
    const a = cpuTimes();
    sleep(50);
    const b = cpuTimes();
    if (a === null || b === null) return;
    if (b[1] > a[1] && (b[0] - a[0]) / (b[1] - a[1]) >= 0.9) return;
  }
  quiet.busy++;
}
const quietLine = (o) =>
  o.quiet
    ? `; --quiet: ${quiet.rounds - quiet.busy} of ${quiet.rounds} rounds after 50 ms with both CPUs >= 90% idle`
    : '';

/** An id source of the regime, drawing the same batches every run. */
const source = (regime, rows) => (regime === 'hot' ? new HotIds(rows) : new ZipfIds(rows));

/** Batches of ids averaging about `target` distinct rows: k found by bisection on fresh draws. */
function batchesFor(regime, rows, target) {
  const distinct = (k) => {
    const s = source(regime, rows);
    let sum = 0;
    for (let b = 0; b < 4; b++) sum += new Set(s.draw(k)).size;
    return sum / 4;
  };
  let lo = 1,
    hi = 1;
  while (distinct(hi) < target) hi *= 2;
  while (hi - lo > Math.max(1, hi >> 6)) {
    const mid = (lo + hi) >> 1;
    if (distinct(mid) < target) lo = mid;
    else hi = mid;
  }
  const s = source(regime, rows);
  const ids = Array.from({ length: BATCHES }, () => s.draw(hi));
  const unique = ids.reduce((a, x) => a + new Set(x).size, 0) / BATCHES;
  return { k: hi, ids, unique };
}

async function main() {
  const o = parse(process.argv.slice(2));
  if (o.pin) pinned();
  const dist = join(o.root ?? ROOT, 'dist', 'index.js');
  if (!existsSync(dist)) throw new Error('threads-ab: dist/index.js is missing; run `npm run build` first');
  const lib = await import(pathToFileURL(dist).href);
  if (o.dense) return dense(lib, o, dist);
  console.log(
    `# threads-ab: lazy Adam embedding updates, ${o.rows} x ${DIM}, 2 threads vs 1 (one engine, one table); build ${dist}`,
  );
  console.log(`# ${cpuLine()}; ${new Date().toISOString()}; load ${load()}`);
  console.log(
    `# machine check: a plain JS loop on 2 threads ran ${(await twoThreadScaling()).toFixed(2)}x as fast as on 1 (2.00x when both cores are free); a cache line's round trip between two threads ${(await coreRoundTrip()).toFixed(0)} ns (of the order of 100 ns sharing an L3, several hundred across dies); load ${load()}`,
  );
  const engine = await lib.createEngine({ simd: true, threads: 2 });
  const pool = engine.parallel;
  if (!pool || engine.threads !== 2) throw new Error(`threads-ab: no thread pool (${engine.threadsFallbackReason})`);
  const defaultMin = pool.minParallelElements;
  const factor = lib.EMBEDDING_SPLIT_FACTOR ?? 4;
  const emb = new lib.Embedding(o.rows, DIM, { optimizer: 'adam', lr: 1e-3, init: params(o.rows * DIM, 5), engine });
  touchPages(engine.memory.buffer);
  // The same table on an engine without threads (its memory is not shared: copying into it is faster).
  const plainEngine = await lib.createEngine({ simd: true });
  const plain = new lib.Embedding(o.rows, DIM, {
    optimizer: 'adam',
    lr: 1e-3,
    init: params(o.rows * DIM, 5),
    engine: plainEngine,
  });
  touchPages(plainEngine.memory.buffer);
  console.log(
    `# '1 thread': the 2-thread engine with its threshold out of reach; 'no threads': the same table on an engine without threads (createEngine() without { threads }); 'x no thr.': its time over 2 threads'`,
  );
  console.log(
    `# each update after a ${o.gapMs} ms sleep, ${o.updates} updates per contender alternated; nonFinite 'throw' (the default: rows checked); default threshold: splits from ${factor} x minParallelElements (${defaultMin}) = ${factor * defaultMin} gradient floats (ids x dim)`,
  );
  const modes = {
    '1t': Infinity, // never split
    '2t': 0, // always split
    default: defaultMin,
    plain: null, // the engine without threads
  };
  const header = `${'regime'.padEnd(6)} ${'rows'.padStart(5)} ${'ids'.padStart(6)}  ${'1 thread'.padStart(9)} ${'2 threads'.padStart(9)} ${'default'.padStart(9)} ${'no threads'.padStart(10)}   2t speed-up: median [quartiles]  fastest  x no thr.  default splits?  load`;
  /** Per regime, [gradient floats, median speed-up] of each size. */
  const seen = new Map();
  for (const regime of o.onlyParts ? [] : o.regimes) {
    console.log(`\n${header}`);
    seen.set(regime, []);
    for (const target of o.sizes) {
      const { k, ids, unique } = batchesFor(regime, o.rows, target);
      const g = makeGrads(k * DIM, 3);
      let b = 0;
      const run = (mode) => {
        const table = mode === 'plain' ? plain : emb;
        if (mode !== 'plain') pool.minParallelElements = modes[mode];
        sleep(o.gapMs);
        const t0 = performance.now();
        table.update(ids[(b = (b + 1) % BATCHES)], g);
        return (performance.now() - t0) * 1e3;
      };
      for (let i = 0; i < BATCHES; i++) for (const m of Object.keys(modes)) run(m); // warm-up
      const t = { '1t': [], '2t': [], default: [], plain: [] };
      const ratios = [];
      const plainRatios = [];
      const order = Object.keys(modes);
      for (let i = 0; i < o.updates; i++) {
        // Rotate who goes first, so that neither always follows the other.
        const r = order.map((_, j) => order[(i + j) % order.length]);
        waitQuiet(o);
        const got = {};
        for (const m of r) got[m] = run(m);
        for (const m of order) t[m].push(got[m]);
        ratios.push(got['1t'] / got['2t']);
        plainRatios.push(got.plain / got['2t']);
      }
      const [q1, q3] = quartiles(ratios);
      const splits = k * DIM >= factor * defaultMin;
      seen.get(regime).push([k * DIM, median(ratios)]);
      console.log(
        `${regime.padEnd(6)} ${unique.toFixed(0).padStart(5)} ${String(k).padStart(6)}  ${median(t['1t']).toFixed(0).padStart(6)} us ${median(t['2t']).toFixed(0).padStart(6)} us ${median(t.default).toFixed(0).padStart(6)} us ${median(t.plain).toFixed(0).padStart(7)} us   ${median(ratios).toFixed(2).padStart(5)}x [${q1.toFixed(2)}-${q3.toFixed(2)}]  ${(Math.min(...t['1t']) / Math.min(...t['2t'])).toFixed(2).padStart(5)}x   ${median(plainRatios).toFixed(2).padStart(5)}x   ${(splits ? 'yes' : 'no').padEnd(3)}  ${load()}`,
      );
    }
  }
  pool.minParallelElements = defaultMin;
  if (seen.size > 0) suggest(seen, defaultMin, factor);
  if (o.parts) await parts(lib, engine, emb, o);
  console.log(`\n# ${new Date().toISOString()}; load ${load()}${quietLine(o)}`);
  process.exit(0);
}

/**
 * The threshold these figures call for: the fewest gradient floats (ids x dim) from which 2 threads
 * ran at least SPLIT_PAYS x one thread (median) at every larger size measured, in every regime.
 */
function suggest(seen, defaultMin, factor) {
  const SPLIT_PAYS = 1.1;
  let need = 0;
  for (const [regime, xs] of seen) {
    const sizes = [...xs].sort((a, b) => a[0] - b[0]);
    let from = Infinity;
    for (let i = sizes.length - 1; i >= 0 && sizes[i][1] >= SPLIT_PAYS; i--) from = sizes[i][0];
    console.log(
      `# ${regime}: 2 threads >= ${SPLIT_PAYS}x one thread ${from === Infinity ? 'at none of the sizes measured' : `from ${from} gradient floats (ids x dim) on`}`,
    );
    need = Math.max(need, from);
  }
  console.log(
    need === Infinity
      ? `# => splitting paid at no size in some regime (a loaded machine?): the default threshold (${factor} x ${defaultMin}) cannot be set from this run`
      : `# => default threshold from this run: ${need} gradient floats = ${(need / defaultMin).toFixed(2)} x minParallelElements (EMBEDDING_SPLIT_FACTOR, now ${factor})`,
  );
}

/**
 * What a split update's parts cost at ~2000 Zipf rows: a worker's hand-off (two empty chunks) when
 * it sleeps, when it was woken 100 us before, and when it spins; copying the gradients in and
 * coalescing them on one thread (timed apart, and together as the one-thread update does them), the
 * latter while a worker prefetches the rows (a split update's way); the row steps on 1 and 2 threads (the worker spinning), after a plain coalescing and after
 * one with the worker's prefetch. Medians of interleaved samples.
 */
async function parts(lib, engine, emb, o) {
  const pool = engine.parallel,
    x = engine.exports;
  const t = emb.table,
    sc = t.scratch;
  const { k, ids } = batchesFor('zipf', o.rows, 2000);
  const g = makeGrads(k * DIM, 3);
  sc.ensureIds(k);
  sc.ensureGrads(k);
  pool.minParallelElements = 0;
  const splitter = t.splitFor(k); // wakes the pool
  splitter.ensure();
  pool.rest();
  t.splitPool = null;
  const nop = [0, 1].map(() => ({ fn: 'embCheckIds', args: [sc.idsPtr, 0, 1] }));
  const spinUs = (us) => {
    const end = performance.now() + us / 1e3;
    while (performance.now() < end);
  };
  let b = 0;
  const nextIds = () => sc.copyIds(ids[(b = (b + 1) % BATCHES)], k);
  const time = (f) => {
    const t0 = performance.now();
    f();
    return (performance.now() - t0) * 1e3;
  };
  const step = t.stepCount + 1;
  const S = lib.SLOT;
  const apply1 = (u) => x.embApply(t.desc, step, u, 0, 0, 0, 0, 0);
  const apply2 = (u) =>
    pool.runList(
      'embApply',
      t.desc,
      S.EMB_DESC_BYTES,
      [S.EMB_UNIQ, S.EMB_GPTR],
      u,
      DIM,
      (c) => [step, c, 0, 0, 0, 0, 0],
      0,
      128,
    );
  const r = {
    'hand-off, worker asleep': [],
    'hand-off, woken 100 us before': [],
    'hand-off, worker spinning': [],
    'copy of the gradients': [],
    'coalescing after it, 1 thread': [],
    'copy + coalescing, 1t': [],
    'copy + coalescing, worker prefetching': [],
    'row steps, 1 thread': [],
    'row steps, 2 threads': [],
    'row steps, 1 thread, prefetched': [],
    'row steps, 2 threads, prefetched': [],
  };
  for (let i = 0; i < o.updates; i++) {
    waitQuiet(o);
    sleep(o.gapMs);
    r['hand-off, worker asleep'].push(time(() => pool.run(nop)));
    sleep(o.gapMs);
    pool.wake();
    spinUs(100);
    r['hand-off, woken 100 us before'].push(time(() => pool.run(nop)));
    r['hand-off, worker spinning'].push(time(() => pool.run(nop)));
    pool.rest();
    nextIds();
    r['copy of the gradients'].push(time(() => engine.heapF32.set(g, sc.gradPtr >>> 2)));
    r['coalescing after it, 1 thread'].push(time(() => x.embCoalesce(t.desc, sc.idsPtr, k, sc.gradPtr, 1)));
    nextIds();
    let u = 0;
    r['copy + coalescing, 1t'].push(time(() => (u = t.coalesceGrads(g, k, true))));
    r['row steps, 1 thread'].push(time(() => apply1(u)));
    nextIds();
    pool.wake();
    u = t.coalesceGrads(g, k, true);
    r['row steps, 2 threads'].push(time(() => apply2(u)));
    nextIds();
    const copied = () => t.coalesceGrads(g, k, true);
    const share = splitter.prefetchShare;
    splitter.prefetchShare = 1; // every row (the split's own reads the first 40% of the ids' rows)
    r['copy + coalescing, worker prefetching'].push(time(() => (u = splitter.coalesce(sc.idsPtr, k, copied))));
    r['row steps, 1 thread, prefetched'].push(time(() => apply1(u)));
    nextIds();
    u = splitter.coalesce(sc.idsPtr, k, copied);
    r['row steps, 2 threads, prefetched'].push(time(() => apply2(u)));
    splitter.prefetchShare = share;
    pool.rest();
  }
  console.log(
    `\n# parts of an update of ~2000 Zipf rows (${k} ids), medians of ${o.updates} interleaved samples; load ${load()}`,
  );
  for (const [name, xs] of Object.entries(r)) {
    const [q1, q3] = quartiles(xs);
    console.log(
      `${name.padEnd(32)} ${median(xs).toFixed(1).padStart(8)} us  [${q1.toFixed(1)}-${q3.toFixed(1)}]  fastest ${Math.min(...xs).toFixed(1)} us`,
    );
  }
}

/**
 * --dense: the engine's Adam steps on 2 threads against 1, and bench/c/threads.c's (Adam, roofline,
 * triad) in the same rounds: the C ratios say what 2 threads can give on this machine.
 */
async function dense(lib, o, dist) {
  console.log(`# threads-ab --dense: Adam steps, 2 threads vs 1, engine (${dist}) and native C (bench/c/threads.c)`);
  const check = async () => `${(await twoThreadScaling()).toFixed(2)}x (load ${load()})`;
  console.log(`# ${cpuLine()}; ${new Date().toISOString()}; load ${load()}`);
  console.log(`# machine check before: a plain JS loop on 2 threads ran ${await check()} as fast as on 1`);
  const c = new CPrograms().compile(['threads']);
  if (c.skipped) console.log(`# ${c.skipped}`);
  else console.log(`# ${c.compiler}: ${[...C_FLAGS, '-pthread'].join(' ')}`);
  const engine = await lib.createEngine({ simd: true, threads: 2 });
  const pool = engine.parallel;
  if (!pool || engine.threads !== 2) throw new Error(`threads-ab: no thread pool (${engine.threadsFallbackReason})`);
  const plainEngine = await lib.createEngine({ simd: true });
  const ms = (f) => {
    const t0 = performance.now();
    f();
    return performance.now() - t0;
  };
  const cRatio = (kernel, n) => {
    if (c.skipped) return null;
    const [r] = c.run('threads', [kernel, String(o.burstMs), 'ab', String(n)]);
    const mb = r.mbPerStep;
    return {
      ratio: r.ratio,
      q: [r.q1, r.q3],
      one: median(r.one),
      two: median(r.two),
      gbs: [mb / median(r.one), mb / median(r.two)],
    };
  };
  const fmt = (r) => (r ? `${r.ratio.toFixed(2)}x [${r.q[0].toFixed(2)}-${r.q[1].toFixed(2)}]` : 'skipped');
  console.log(
    `\n${'n'.padStart(9)} round  engine 1t   2t (ms)  no thr.   engine 2t/1t [quartiles]  C 1t   2t (ms)   C 2t/1t [quartiles]   roofline 1t/2t GB/s ratio   triad 1t/2t GB/s ratio   check  load`,
  );
  const summary = [];
  try {
    for (const n of o.denseSizes) {
      const opts = { lr: 1e-3, nonFinite: 'ignore' };
      const opt = new lib.Adam({ ...opts, engine });
      const optPlain = new lib.Adam({ ...opts, engine: plainEngine });
      const p = opt.param(params(n));
      p.grad.set(makeGrads(n));
      const q = optPlain.param(params(n));
      q.grad.set(makeGrads(n));
      touchPages(engine.memory.buffer);
      touchPages(plainEngine.memory.buffer);
      const modes = { '1t': Infinity, '2t': 0 };
      const step = (m) => {
        if (m === 'plain') return ms(() => optPlain.step());
        pool.minParallelElements = modes[m];
        return ms(() => opt.step());
      };
      for (let i = 0; i < 3; i++) for (const m of ['1t', '2t', 'plain']) step(m); // warm-up
      const all = { e: [], c: [], roof: [], triad: [] };
      for (let round = 0; round < o.rounds; round++) {
        waitQuiet(o);
        const machine = await twoThreadScaling(1e7);
        const t = { '1t': [], '2t': [], plain: [] };
        const ratios = [];
        const end = performance.now() + o.burstMs;
        for (let i = 0; performance.now() < end || i < 6; i++) {
          const order = i % 2 ? ['2t', '1t', 'plain'] : ['1t', '2t', 'plain'];
          const got = {};
          for (const m of order) {
            if (m === '2t') step('2t'); // the worker awake, as in back-to-back steps (untimed)
            got[m] = step(m);
          }
          for (const m of order) t[m].push(got[m]);
          ratios.push(got['1t'] / got['2t']);
        }
        const [q1, q3] = quartiles(ratios);
        const e = { ratio: median(ratios), q: [q1, q3] };
        const cr = cRatio('adam', n),
          roof = cRatio('roofline', n),
          tri = cRatio('triad', n);
        all.e.push(e.ratio);
        if (cr) {
          all.c.push(cr.ratio);
          all.roof.push(roof.ratio);
          all.triad.push(tri.ratio);
        }
        const gb = (r) => (r ? `${r.gbs[0].toFixed(1)}/${r.gbs[1].toFixed(1)} ${r.ratio.toFixed(2)}x` : 'skipped');
        console.log(
          `${String(n).padStart(9)} ${String(round + 1).padStart(5)}  ${median(t['1t']).toFixed(2).padStart(8)} ${median(t['2t']).toFixed(2).padStart(7)} ${median(t.plain).toFixed(2).padStart(8)}   ${fmt(e).padStart(20)}    ${cr ? `${cr.one.toFixed(2).padStart(6)} ${cr.two.toFixed(2).padStart(6)}` : ''}   ${fmt(cr).padStart(18)}   ${gb(roof).padStart(22)}   ${gb(tri).padStart(20)}   ${machine.toFixed(2)}x  ${load()}`,
        );
      }
      summary.push([n, all]);
      opt.dispose();
      optPlain.dispose();
    }
  } finally {
    c.cleanup();
  }
  console.log('\n# medians over the rounds: 2 threads / 1 thread');
  for (const [n, all] of summary)
    console.log(
      `# n=${n}: engine ${median(all.e).toFixed(2)}x; C Adam ${all.c.length ? median(all.c).toFixed(2) : '-'}x; roofline ${all.roof.length ? median(all.roof).toFixed(2) : '-'}x; triad ${all.triad.length ? median(all.triad).toFixed(2) : '-'}x`,
    );
  console.log(`# machine check after: ${await check()}; ${new Date().toISOString()}${quietLine(o)}`);
  process.exit(0);
}

main().catch((e) => {
  console.error(e?.stack ?? e);
  process.exit(1);
});
