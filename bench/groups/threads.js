// Worker threads: the same dense Adam step, and the same lazy embedding update, on an engine with
// 2 threads (the calling thread and one worker on shared memory) against the single-thread
// engine. Target (BENCHMARKS.md): 2 threads >= 1.7x one thread for n >= 1M. Both contenders of a
// size run in interleaved rounds, so load from elsewhere on the machine falls on both.
// The yardstick (the best known way on this machine): bench/c/threads.c, the same Adam loop as
// bench/c/dense.c natively on 1 and 2 pthreads with a spin barrier per step ("C SSE" columns, its
// own 2t/1t ratio in a note), and the memory bandwidth on 1 and 2 threads (a note), which bounds
// what a second thread can add once the tensors leave the caches.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { C_FLAGS } from '../lib/c.js';
import { coreRoundTrip } from '../lib/cores.js';
import { grads, params, ZipfIds } from '../lib/data.js';

export const THREAD_SIZES = [65536, 262144, 1048576, 4194304, 16777216];
export const THREAD_SIZES_QUICK = [65536, 1048576];
const THREADS = 2;
/** The C contenders' thread counts. */
const THREAD_COUNTS = [THREADS, 1];
const LR = 1e-3;
const DIM = 64;
const K = 4096;
const BATCHES = 32;
export const THREAD_ROWS = [262144];

/** The engine with a pool of `THREADS` threads, created once (every step splits, however small). */
async function poolEngine(ctx) {
  ctx.threadsEngine ??= ctx.lib.createEngine({ simd: ctx.engine.simd, threads: THREADS, minParallelElements: 0 });
  const engine = await ctx.threadsEngine;
  if (engine.threads !== THREADS) throw new Error(`threads unavailable: ${engine.threadsFallbackReason}`);
  return engine;
}

/**
 * What the machine gives two threads right now: the same plain JS loop run twice on this thread,
 * then once here and once in a worker at the same time. Returns the speed-up (2 when two cores
 * are free; near 1 when other processes hold them).
 */
export async function twoThreadScaling(units = 3e7) {
  const { Worker } = await import('node:worker_threads');
  const code = `const { parentPort } = require('worker_threads');
    parentPort.on('message', (n) => { let x = 0; for (let i = 0; i < n; i++) x += Math.sqrt(i); parentPort.postMessage(x); });`;
  const w = new Worker(code, { eval: true });
  const remote = (n) =>
    new Promise((resolve) => {
      w.once('message', resolve);
      w.postMessage(n);
    });
  const local = (n) => {
    let x = 0;
    for (let i = 0; i < n; i++) x += Math.sqrt(i);
    return x;
  };
  try {
    await remote(1e6);
    local(1e6);
    const ratios = [];
    for (let r = 0; r < 3; r++) {
      let t0 = performance.now();
      local(units);
      local(units);
      const one = performance.now() - t0;
      t0 = performance.now();
      const p = remote(units);
      local(units);
      await p;
      ratios.push(one / (performance.now() - t0));
    }
    return ratios.sort((a, b) => a - b)[1];
  } finally {
    await w.terminate();
  }
}

/**
 * The first task of a threads group notes the machine check (twoThreadScaling), and what `extra()`
 * returns when it is not null; later calls do nothing.
 */
function probeOnce(group, extra) {
  let probed = false;
  return async () => {
    if (probed) return;
    probed = true;
    const s = await twoThreadScaling();
    const rt = await coreRoundTrip();
    group().notes.push(
      `machine check: a plain JS loop on 2 threads ran ${s.toFixed(2)}× as fast as on 1 thread at the start of this group (2× when two cores are free); a cache line's round trip between the two threads took ${rt.toFixed(0)} ns (bench/lib/cores.js: of the order of 100 ns between cores that share an L3, several hundred across dies, where a worker's reads warm no cache the calling thread uses)`,
    );
    const more = extra?.();
    if (more) group().notes.push(more);
  };
}

const medianOf = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const sizeLabel = (n) => (n >= 1048576 ? `${n / 1048576}M` : `${n / 1024}K`);

/**
 * The memory bandwidth on 1 and 2 threads (bench/c/threads.c, bursts alternated in one process):
 * Adam's bytes with no arithmetic (reads p, g, m, v, writes p, m, v) and STREAM's triad, at the
 * group's largest size (the tensors far out of the caches).
 */
function bandwidthNote(ctx, sizes) {
  const n = Math.max(...sizes);
  const read = (kernel) => {
    const [r] = ctx.c.run('threads', [kernel, '300', 'ab', String(n)]);
    const gbs = (xs) => r.mbPerStep / medianOf(xs);
    return `${gbs(r.one).toFixed(1)} GB/s on 1 thread, ${gbs(r.two).toFixed(1)} on 2 (${r.ratio.toFixed(2)}×)`;
  };
  return `memory bandwidth (bench/c/threads.c at ${sizeLabel(n)} floats per array, bytes read + written, no write-allocate): Adam's traffic without arithmetic ${read('roofline')}; STREAM triad ${read('triad')}; no step on 2 threads moves its bytes faster than the 2-thread figure (Adam at 1M-16M: 28 bytes per element)`;
}

/** @param {any} ctx */
export function threadsGroup(ctx) {
  if (typeof ctx.lib.ThreadPool !== 'function') return null;
  const sizes = ctx.sizes ?? (ctx.quick ? THREAD_SIZES_QUICK : THREAD_SIZES);
  const contenders = [
    { id: `engine-${THREADS}t`, label: `${THREADS} threads` },
    { id: 'engine-1t', label: '1 thread' },
    { id: `c-${THREADS}t`, label: `C SSE, ${THREADS} pthreads` },
    { id: 'c-1t', label: 'C SSE, 1 thread' },
  ];
  // The bandwidth note once the C programs are compiled (after the groups are planned).
  const probe = probeOnce(
    () => group,
    () => (!ctx.c.skipped && ctx.c.bins.has('threads') ? bandwidthNote(ctx, sizes) : null),
  );
  const run = (n, threaded) => async () => {
    await probe();
    const engine = threaded ? await poolEngine(ctx) : ctx.engine;
    const opt = new ctx.lib.Adam({ lr: LR, engine, nonFinite: 'ignore' });
    try {
      const p = opt.param(params(n));
      p.grad.set(grads(n));
      return ctx.measure(() => opt.step());
    } finally {
      opt.dispose();
    }
  };
  const tasks = [];
  for (const n of sizes) {
    tasks.push({
      name: `threads/${contenders[0].id}/${n}`,
      contender: contenders[0].id,
      n,
      elems: n,
      run: run(n, true),
    });
    tasks.push({ name: `threads/engine-1t/${n}`, contender: 'engine-1t', n, elems: n, run: run(n, false) });
    for (const t of THREAD_COUNTS)
      tasks.push({ name: `threads/c-${t}t/${n}`, contender: `c-${t}t`, n, elems: n, run: runC(n, t) });
  }
  // The C contenders of a size share one run of bench/c/threads.c per round: its 1- and 2-thread
  // bursts alternate in that process (the 2-thread task runs it, the 1-thread task of the same
  // round takes the other half of the samples), and the median of its per-burst ratios is noted.
  const cRuns = new Map();
  const cRatios = new Map();
  function runC(n, t) {
    return async () => {
      await probe();
      if (ctx.c.skipped) return { skipped: ctx.c.skipped };
      let r = cRuns.get(n);
      if (t === THREADS || !r) {
        [r] = ctx.c.run('threads', ['adam', String(ctx.timeMs), 'ab', String(n)]);
        cRuns.set(n, r);
        if (!cRatios.has(n)) cRatios.set(n, []);
        cRatios.get(n).push(r.ratio);
        cNote();
      }
      if (t !== THREADS) cRuns.delete(n);
      return { samples: t === THREADS ? r.two : r.one, reps: r.reps };
    };
  }
  const C_NOTE = 'C SSE (bench/c/threads.c';
  function cNote() {
    const text = `${C_NOTE}: the same Adam loop as bench/c/dense.c, gcc ${[...C_FLAGS, '-pthread'].join(' ')}, 2 pthreads splitting each step's range in halves with a spin barrier per step) ran ${[
      ...cRatios,
    ]
      .sort((a, b) => a[0] - b[0])
      .map(([n, rs]) => `${medianOf(rs).toFixed(2)}× its 1 thread at ${sizeLabel(n)}`)
      .join(
        ', ',
      )} (median over the rounds of the median per-burst ratio, 1- and 2-thread bursts alternated in one process): what a second thread gives the best known loop on this machine`;
    const i = group.notes.findIndex((x) => x.startsWith(C_NOTE));
    if (i >= 0) group.notes[i] = text;
    else group.notes.push(text);
  }
  const targetSizes = sizes.filter((n) => n >= 1048576);
  const group = {
    id: 'threads',
    title: `Adam step on ${THREADS} threads (worker + calling thread, shared memory) vs 1 thread`,
    kind: 'threads',
    unit: 'Melem/s',
    xLabel: 'n',
    baseline: contenders[0].id,
    contenders,
    cPrograms: ['threads'],
    targets: targetSizes.map((n) => ({
      contender: 'engine-1t',
      min: 1.7,
      at: n,
      label: `${THREADS} threads ≥ 1.7× one thread at n = ${n}`,
    })),
    notes: [
      `the ${THREADS}-thread engine splits every step (minParallelElements: 0); by default steps under 128K elements stay on the calling thread`,
      "results are bit-identical to one thread (test/threads.test.ts); so are bench/c/threads.c's 2 pthreads to its 1 (test/bench-threads-c.test.ts)",
    ],
    tasks,
  };
  return group;
}

/** Lazy Adam embedding updates (262144 x 64, 4096 Zipf ids) on 2 threads vs 1. @param {any} ctx */
export function threadsEmbeddingGroup(ctx) {
  if (typeof ctx.lib.ThreadPool !== 'function' || typeof ctx.lib.Embedding !== 'function') return null;
  const rowsList = ctx.quick ? [16384] : THREAD_ROWS;
  const contenders = [
    { id: `emb-${THREADS}t`, label: `${THREADS} threads` },
    { id: 'emb-1t', label: '1 thread' },
    { id: `c-${THREADS}t`, label: `C lazy, ${THREADS} pthreads` },
    { id: 'c-1t', label: 'C lazy, 1 thread' },
  ];
  const tasks = [];
  const probe = probeOnce(() => group, null);
  const group = {
    id: 'threads-embedding',
    title: `Embedding update (lazy Adam, rows × ${DIM}, ${K} Zipf ids) on ${THREADS} threads vs 1 thread`,
    kind: 'threads',
    unit: 'Melem/s',
    xLabel: 'table rows',
    baseline: contenders[0].id,
    showMs: true,
    contenders,
    cPrograms: ['threads-sparse'],
    targets: rowsList.map((rows) => ({
      contender: 'emb-1t',
      min: 1.3,
      at: rows,
      label: `${THREADS} threads ≥ 1.3× one thread on updates of ~2000 rows`,
    })),
    notes: [
      `the 2-thread engine splits every update (minParallelElements: 0): the calling thread copies the gradients in and coalesces them as on one thread while a worker reads the rows ahead, then every thread steps a range of the distinct rows when the worker answered in time (src/embedding/split-update.ts); updates run back to back here, so the worker is awake: bench/threads-ab.js sleeps 1 ms between updates (a training step between them), measures more sizes and where the default threshold splits`,
    ],
    tasks,
  };
  // The yardstick: bench/c/threads-sparse.c (sparse.c's lazy update with prefetching, its coalescing
  // on the calling thread, then half the distinct rows on each of 2 pthreads; and the row-touch
  // limit split the same way), 1- and 2-thread bursts alternated in one process per round.
  const cSamples = new Map();
  const cRatios = { lazy: new Map(), touch: new Map() };
  const runC = (rows, file, t) => async () => {
    await probe();
    if (ctx.c.skipped) return { skipped: ctx.c.skipped };
    let r = cSamples.get(rows);
    if (t === THREADS || !r) {
      const path = file();
      const args = (m) => [String(rows), String(DIM), String(K), path, String(BATCHES), String(ctx.timeMs), m, 'ab'];
      [r] = ctx.c.run('threads-sparse', args('prefetch'));
      cSamples.set(rows, r);
      const [touch] = ctx.c.run('threads-sparse', args('touch'));
      for (const [m, x] of [
        ['lazy', r],
        ['touch', touch],
      ]) {
        if (!cRatios[m].has(rows)) cRatios[m].set(rows, []);
        cRatios[m].get(rows).push(x.ratio);
      }
      const NOTE = 'C lazy (bench/c/threads-sparse.c';
      const text = `${NOTE}: sparse.c's lazy Adam with direct-mapped coalescing and prefetching; the calling thread coalesces, then each of 2 pthreads steps half of the ~${Math.round(r.distinct)} distinct rows, a spin barrier per update) ran ${[...cRatios.lazy].map(([n, rs]) => `${medianOf(rs).toFixed(2)}× its 1 thread at ${n} rows`).join(', ')}; the row-touch limit (only the rows' bytes moved) split the same way ${[...cRatios.touch].map(([, rs]) => `${medianOf(rs).toFixed(2)}×`).join(', ')} (medians over the rounds of the median per-burst ratio, bursts alternated in one process)`;
      const i = group.notes.findIndex((x) => x.startsWith(NOTE));
      if (i >= 0) group.notes[i] = text;
      else group.notes.push(text);
    }
    if (t !== THREADS) cSamples.delete(rows);
    return { samples: t === THREADS ? r.two : r.one, reps: r.reps };
  };
  for (const rows of rowsList) {
    let ids;
    const data = () => {
      if (!ids) {
        const zipf = new ZipfIds(rows);
        ids = Array.from({ length: BATCHES }, () => zipf.draw(K));
      }
      return ids;
    };
    const g = grads(K * DIM, 3);
    const run = (threaded) => async () => {
      await probe();
      const engine = threaded ? await poolEngine(ctx) : ctx.engine;
      const emb = new ctx.lib.Embedding(rows, DIM, {
        optimizer: 'adam',
        lr: LR,
        nonFinite: 'ignore',
        init: 'zeros',
        engine,
      });
      const batches = data();
      let b = 0;
      try {
        return ctx.measure(() => emb.update(batches[(b = (b + 1) % BATCHES)], g));
      } finally {
        emb.dispose();
      }
    };
    tasks.push({
      name: `threads-embedding/${contenders[0].id}/${rows}`,
      contender: contenders[0].id,
      n: rows,
      elems: K * DIM,
      run: run(true),
    });
    tasks.push({
      name: `threads-embedding/emb-1t/${rows}`,
      contender: 'emb-1t',
      n: rows,
      elems: K * DIM,
      run: run(false),
    });
    let idsFile = null;
    const file = () => {
      if (!idsFile) {
        idsFile = join(ctx.c.dir, `ids-threads-zipf-${rows}.bin`);
        const all = new Int32Array(BATCHES * K);
        data().forEach((a, i) => all.set(a, i * K));
        writeFileSync(idsFile, new Uint8Array(all.buffer));
      }
      return idsFile;
    };
    for (const t of THREAD_COUNTS)
      tasks.push({
        name: `threads-embedding/c-${t}t/${rows}`,
        contender: `c-${t}t`,
        n: rows,
        elems: K * DIM,
        run: runC(rows, file, t),
      });
  }
  return group;
}
