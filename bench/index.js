#!/usr/bin/env node
// `npm run bench`: every optimizer of the package against its peers in one run (tinybench), as
// ../shared/BENCHMARKS.md describes. Prints a markdown table per group, writes latest.json
// (machine, date, samples), latest.md and one SVG chart per group, and regenerates
// docs/benchmarks.md from latest.json (with the `init()` line: bench/lib/init.js). Only a full run
// writes the committed bench/results/ and docs/benchmarks.md; a trial run (--quick, --only, --sizes,
// --time, --rounds, --tfjs-cpu-max) writes to a folder in the OS temp dir (TRIAL_OUT) unless --out
// names one.
//
//   node bench/index.js [--quick] [--only adam,sparse] [--sizes 1024,65536] [--time ms]
//                       [--out dir] [--docs | --no-docs] [--report] [--quiet]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, platform, arch, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CPrograms } from './lib/c.js';
import { measure } from './lib/measure.js';
import { Progress } from './lib/progress.js';
import { cpuIdentity } from './lib/cpu.js';
import { groupSvg, markdownReport, benchmarksPage, groupMarkdown, machineLine, runKind } from './lib/report.js';
import { initLine, measureInit } from './lib/init.js';
import { melemPerSec, sig, summarize } from './lib/stats.js';
import { loadTfjs } from './lib/tfjs.js';
import { denseGroup, denseSpecs } from './groups/dense.js';
import { manyGroup } from './groups/many.js';
import { clipGroup } from './groups/clip.js';
import { metaGroup } from './groups/meta.js';
import { sparseGroup } from './groups/sparse.js';
import { leanGroup } from './groups/lean.js';
import { leanStorageGroup } from './groups/lean-storage.js';
import { threadsEmbeddingGroup, threadsGroup } from './groups/threads.js';
import { tfjsGroups } from './groups/tfjs.js';
import { ensureBenchWasm } from './wasm/build.mjs';
import { clangVersion } from './lib/wasm-clang.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Where a full run writes: the committed results docs/benchmarks.md quotes. */
export const DEFAULT_OUT = join(ROOT, 'bench', 'results');
/** Where a trial run (quick, filtered or resized) writes unless --out says otherwise. */
export const TRIAL_OUT = join(tmpdir(), 'wasm-optim-bench');

const HELP = `usage: npm run bench -- [options]   (or: node bench/index.js [options])
  --quick            small sizes and short times (finishes in under a minute)
  --only a,b         run only these groups or task-name prefixes: adam, adamw, sgd-momentum, adagrad,
                     rmsprop, (other optimizers by lower-case name), dense (all optimizers), many, clip, meta,
                     sparse (Zipf ids), sparse-hot (hot ids), lean, lean-storage, threads, threads-embedding, tfjs (tfjs-cpu and tfjs-wasm: the
                     TensorFlow.js bridge), init (import + init() in fresh processes); or prefixes
                     such as adam/engine, adam/c-sse/4096
  --sizes a,b        dense sizes instead of the defaults
  --time ms          time budget per task, shared by its rounds (default 600, quick 40)
  --tfjs-cpu-max n   measure tfjs's cpu backend up to n elements (default 1048576)
  --clock cpu|wall   time with the process's CPU time (default: it ignores time spent waiting for a
                     core on a busy machine) or the wall clock (threads groups always use the wall clock)
  --rounds r         run the contenders of each size in r interleaved rounds (default 3, quick 1)
  --out dir          where to write latest.json, latest.md and the SVG charts (default: bench/results
                     for a full run; for a trial run, one with --quick, --only, --sizes, --time,
                     --rounds or --tfjs-cpu-max, ${TRIAL_OUT}, so that it never
                     overwrites the committed results; --out bench/results merges it into them)
  --docs             write docs/benchmarks.md even for a trial run (alias: --readme)
  --no-docs          do not touch docs/benchmarks.md (alias: --no-readme)
  --report           run nothing: regenerate the tables, charts and docs/benchmarks.md from <out>/latest.json
  --in-process       run every group in this process (default: one child process per group, so that
                     one optimizer's JIT state does not slow the next one down)
  --cpu n|auto|none  the core every single-threaded group runs on (taskset), with all its contenders,
                     the C programs included (default auto: the faster core of a short probe; none:
                     wherever the OS puts them). On a VM whose cores differ in speed, a group whose
                     contenders land on different cores compares the cores, not the code
  --quiet            no progress output (the report is still printed)`;

/** Parses the command line; throws a TypeError naming a bad option. */
export function parseArgs(argv) {
  const o = {
    quick: false,
    only: null,
    sizes: null,
    timeMs: null,
    rounds: null,
    tfjsCpuMax: null,
    clock: 'cpu',
    group: null,
    inProcess: false,
    cpu: 'auto',
    out: null,
    readme: null,
    report: false,
    quiet: false,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new TypeError(`bench: ${a} needs a value`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--only')
      o.only = value()
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    else if (a === '--sizes') {
      o.sizes = value()
        .split(',')
        .map((s) => Number(s));
      if (o.sizes.some((n) => !Number.isInteger(n) || n < 1))
        throw new TypeError(`bench: --sizes takes positive integers, got ${argv[i]}`);
    } else if (a === '--time') {
      o.timeMs = Number(value());
      if (!(o.timeMs > 0)) throw new TypeError(`bench: --time takes a positive number of milliseconds, got ${argv[i]}`);
    } else if (a === '--group') o.group = value();
    else if (a === '--in-process') o.inProcess = true;
    else if (a === '--cpu') {
      const v = value();
      o.cpu = v === 'auto' || v === 'none' ? v : Number(v);
      if (typeof o.cpu === 'number' && !(Number.isInteger(o.cpu) && o.cpu >= 0))
        throw new TypeError(`bench: --cpu takes a core number, auto or none, got ${v}`);
    } else if (a === '--clock') {
      o.clock = value();
      if (o.clock !== 'cpu' && o.clock !== 'wall')
        throw new TypeError(`bench: --clock takes cpu or wall, got ${o.clock}`);
    } else if (a === '--tfjs-cpu-max') {
      o.tfjsCpuMax = Number(value());
      if (!Number.isInteger(o.tfjsCpuMax) || o.tfjsCpuMax < 0)
        throw new TypeError(`bench: --tfjs-cpu-max takes a non-negative integer, got ${argv[i]}`);
    } else if (a === '--rounds') {
      o.rounds = Number(value());
      if (!Number.isInteger(o.rounds) || o.rounds < 1)
        throw new TypeError(`bench: --rounds takes a positive integer, got ${argv[i]}`);
    } else if (a === '--out') o.out = resolve(value());
    else if (a === '--docs' || a === '--readme') o.readme = true;
    else if (a === '--no-docs' || a === '--no-readme') o.readme = false;
    else if (a === '--report') o.report = true;
    else if (a === '--quiet') o.quiet = true;
    else if (a === '--help' || a === '-h') o.help = true;
    else throw new TypeError(`bench: unknown option ${a}\n${HELP}`);
  }
  o.trial = isTrial(o);
  // --report redraws the committed results unless told otherwise.
  o.out ??= o.trial && !o.report ? TRIAL_OUT : DEFAULT_OUT;
  return o;
}

/**
 * Whether a run measures less than the full benchmark (fewer groups or sizes, shorter or fewer
 * rounds): its figures must not replace the committed full-run results.
 */
export function isTrial(o) {
  return (
    o.quick ||
    o.only !== null ||
    o.sizes !== null ||
    o.timeMs !== null ||
    o.rounds !== null ||
    o.tfjsCpuMax !== null ||
    o.group !== null
  );
}

function selected(only, group, taskName) {
  if (!only) return true;
  return only.some(
    (t) =>
      t === group.id ||
      (t === 'dense' && group.kind === 'dense') ||
      (t === 'tfjs' && group.kind === 'tfjs') ||
      taskName === t ||
      taskName.startsWith(`${t}/`),
  );
}

function machine(extra) {
  const cpu = cpus();
  const id = cpuIdentity();
  return {
    cpu: id.model,
    cpuFamily: id.family,
    cpuModel: id.modelNumber,
    cores: cpu.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    platform: platform(),
    arch: arch(),
    node: process.version,
    v8: process.versions.v8,
    loadavg: loadavg(),
    ...extra,
  };
}

/**
 * The core to pin single-threaded groups to (see --cpu), or null: none asked, one core only, or no
 * taskset. `auto` times the same short loop on each core, twice in turn, and takes the faster.
 */
function pinnedCpu(choice) {
  if (choice === 'none' || cpus().length < 2) return null;
  if (spawnSync('taskset', ['-c', '0', 'true']).status !== 0) return null;
  if (typeof choice === 'number') return choice < cpus().length ? choice : null;
  const probe =
    'let s=0,k=0;const t=performance.now();while(performance.now()-t<150){for(let i=0;i<1e5;i++)s+=Math.sqrt(i);k++}console.log(k)';
  const best = new Array(Math.min(cpus().length, 8)).fill(0);
  for (let r = 0; r < 2; r++) {
    best.forEach((_, c) => {
      const out = spawnSync('taskset', ['-c', String(c), process.execPath, '-e', probe], { encoding: 'utf8' });
      best[c] = Math.max(best[c], Number(out.stdout) || 0);
    });
  }
  return best.indexOf(Math.max(...best));
}

function readJson(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Merges a new run into the previous results of the same mode: groups and tasks that ran now
 * replace their old versions, the others are kept (each group keeps the date it was measured).
 */
function merge(previous, current) {
  if (!previous || previous.mode !== current.mode || !Array.isArray(previous.groups)) return current;
  const groups = previous.groups.map((old) => {
    const now = current.groups.find((g) => g.id === old.id);
    if (!now) return old;
    const names = new Set(now.tasks.map((t) => t.name));
    const order = now.contenders.map((c) => c.id);
    const tasks = [...old.tasks.filter((t) => !names.has(t.name) && order.includes(t.contender)), ...now.tasks];
    tasks.sort((a, b) => a.n - b.n || order.indexOf(a.contender) - order.indexOf(b.contender));
    return { ...now, tasks };
  });
  for (const g of current.groups) if (!groups.some((x) => x.id === g.id)) groups.push(g);
  return { ...current, groups };
}

/** Writes latest.json, latest.md and the charts into `out`; returns the markdown report. */
function writeOutputs(results, out) {
  mkdirSync(out, { recursive: true });
  // Indented, but arrays of numbers (the samples) on one line each.
  const json = JSON.stringify(results, null, 1).replace(
    /\[\s*(-?[\d.e+-]+(?:,\s*-?[\d.e+-]+)*)\s*\]/g,
    (_, xs) => `[${xs.split(/,\s*/).join(',')}]`,
  );
  writeFileSync(join(out, 'latest.json'), json + '\n');
  for (const g of results.groups) writeFileSync(join(out, `${g.id}.svg`), groupSvg(g));
  const md = markdownReport(results);
  writeFileSync(join(out, 'latest.md'), md + '\n');
  return md;
}

/** Writes docs/benchmarks.md, the page generated from the results (never edited by hand). */
function writeDocs(results) {
  mkdirSync(join(ROOT, 'docs'), { recursive: true });
  writeFileSync(join(ROOT, 'docs', 'benchmarks.md'), benchmarksPage(results));
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(e.message);
    process.exit(2);
  }
  if (opts.help) {
    console.log(HELP);
    return;
  }
  if (opts.report) {
    const results = readJson(join(opts.out, 'latest.json'));
    if (!results) throw new Error(`bench --report: no readable latest.json in ${opts.out}; run the benchmark first`);
    console.log(writeOutputs(results, opts.out));
    if (opts.readme !== false && opts.out === DEFAULT_OUT) writeDocs(results);
    return;
  }
  // The roofline kernel is a bench-only wasm (bench/wasm/): build it if it is missing or stale.
  await ensureBenchWasm({ log: opts.quiet ? () => {} : (m) => console.error(m) });
  const distIndex = join(ROOT, 'dist', 'index.js');
  if (!existsSync(distIndex))
    throw new Error('bench: dist/index.js is missing; run `npm run build` first (`npm run bench` does)');
  const lib = await import(pathToFileURL(distIndex).href);
  const simd = lib.simdSupported();
  const engine = await lib.createEngine({ simd });
  const scalarEngine = await lib.createEngine({ simd: false });
  const timeMs = opts.timeMs ?? (opts.quick ? 40 : 600);
  const rounds = opts.rounds ?? (opts.quick ? 1 : 3);
  const roundMs = timeMs / rounds;
  // A size's tasks may ask for more, shorter rounds (`task.rounds`, the dense groups' small sizes)
  // unless --rounds or --quick set them: the same budget, finer interleaving.
  let sizeRoundMs = roundMs;

  const notes = [];
  let tfjsVersion = null;
  /** The clang of the wasm (clang) contender, as a child process reported it. */
  let clangSeen = null;
  if (!simd) notes.push('this runtime has no WebAssembly SIMD: the engine column is the scalar build');
  let currentTask = '';
  let currentClock = opts.clock;
  let currentWarmup = 0;
  let progress;
  const ctx = {
    lib,
    engine,
    scalarEngine,
    quick: opts.quick,
    sizes: opts.sizes,
    get timeMs() {
      return sizeRoundMs;
    },
    tfjsCpuMax: opts.tfjsCpuMax,
    sparseEngine: engine, // replaced by an engine of its own when the sparse group runs
    c: new CPrograms(),
    tfjs: async () => {
      const r = await loadTfjs();
      tfjsVersion = r.version;
      return r;
    },
    measure: (fn) => measure(currentTask, fn, { timeMs: sizeRoundMs, clock: currentClock, warmupMs: currentWarmup }),
    note: (text) => progress?.note(text),
  };

  // Plan every group, then keep the tasks the filter selects.
  const groups = [];
  for (const spec of denseSpecs(lib)) groups.push(denseGroup(ctx, spec));
  groups.push(manyGroup(ctx));
  const clip = clipGroup(ctx);
  if (clip) groups.push(clip);
  else notes.push('clip: the optimizers have no clipGradNorm option yet; the clipping group was not run');
  const meta = metaGroup(ctx);
  if (meta) groups.push(meta);
  for (const g of [threadsGroup(ctx), threadsEmbeddingGroup(ctx)]) if (g) groups.push(g);
  const sparse = sparseGroup(ctx);
  if (sparse) groups.push(sparse, sparseGroup(ctx, 'hot'));
  else notes.push('sparse: the package does not export Embedding yet; the embedding group was not run');
  const lean = leanGroup(ctx);
  const leanStorage = leanStorageGroup(ctx);
  if (lean) groups.push(lean);
  if (leanStorage) groups.push(leanStorage);
  groups.push(...tfjsGroups(ctx));
  for (const g of groups)
    g.tasks = g.tasks.filter((t) => selected(opts.only, g, t.name) && (!opts.group || g.id === opts.group));
  const planned = groups.filter((g) => g.tasks.length > 0);
  const wantInit = !opts.group && (!opts.only || opts.only.includes('init'));
  if (planned.length === 0 && !wantInit) {
    console.error(
      `bench: --only ${opts.only?.join(',')} selects no task; groups are ${groups.map((g) => g.id).join(', ')}`,
    );
    process.exit(2);
  }

  const date = new Date().toISOString();
  const startLoad = loadavg();
  const tinybench = readJson(join(ROOT, 'node_modules', 'tinybench', 'package.json'))?.version;
  const previousFile = join(opts.out, 'latest.json');
  const previous = readJson(previousFile);
  /**
   * Writes the results of the groups measured so far (after each group, so that a crash late in a
   * long run keeps what was measured). Partial and filtered runs are merged into the previous
   * results of the same mode; a complete unfiltered run replaces them.
   */
  let initResult = null;
  const snapshot = (done, complete) => {
    const current = {
      schema: 1,
      mode: opts.quick ? 'quick' : 'full',
      // A run with fewer groups, sizes or rounds than the full benchmark (--only, --sizes, ...).
      trial: opts.trial,
      date,
      command: `node bench/index.js ${process.argv.slice(2).join(' ')}`.trim(),
      machine: machine({
        loadavg: startLoad,
        loadavgEnd: loadavg(),
        gcc: ctx.c.compiler,
        clang: clangVersion() ?? clangSeen,
        tinybench,
        tfjs: tfjsVersion,
        simd,
      }),
      settings: {
        timeMs,
        rounds,
        clock: opts.clock,
        samplesAre: 'milliseconds per operation; a sample times a batch of `batch` operations',
      },
      notes,
      groups: done,
      ...(initResult ? { init: initResult } : {}),
    };
    const results = complete ? current : merge(previous, current);
    if (!results.init && previous?.init && previous.mode === current.mode) results.init = previous.init;
    writeOutputs(results, opts.out);
    return results;
  };

  // By default every group runs in a child process of its own: the optimizers share the base
  // class's step(), and after a dozen optimizer classes its call sites are megamorphic, which
  // would slow the small-tensor steps of the groups measured last (not a cost a program that uses
  // one or two optimizers pays).
  // Single-threaded groups run pinned to one core (--cpu): every contender of a group, the C
  // programs (children of the group's process) included, then runs on the same core.
  const pin = !opts.group && !opts.inProcess ? pinnedCpu(opts.cpu) : null;
  if (pin !== null)
    notes.push(
      `single-threaded groups ran pinned to core ${pin} (taskset), every contender on the same core; the threads groups ran on all cores`,
    );
  const isolated = !opts.group && !opts.inProcess && (planned.length > 1 || pin !== null);
  let measured = planned;
  if (isolated) {
    measured = [];
    const tmp = mkdtempSync(join(tmpdir(), 'wasm-optim-bench-groups-'));
    try {
      const passOn = process.argv
        .slice(2)
        .filter((x) => !['--readme', '--no-readme', '--docs', '--no-docs'].includes(x));
      for (const g of planned) {
        const out = join(tmp, g.id);
        const args = [fileURLToPath(import.meta.url), ...passOn, '--group', g.id, '--out', out, '--no-readme'];
        const pinned = pin !== null && g.kind !== 'threads';
        const child = spawnSync(
          pinned ? 'taskset' : process.execPath,
          pinned ? ['-c', String(pin), process.execPath, ...args] : args,
          {
            stdio: ['ignore', 'ignore', opts.quiet ? 'ignore' : 'inherit'],
          },
        );
        const got = readJson(join(out, 'latest.json'));
        const result = got?.groups?.find((x) => x.id === g.id);
        if (child.status === 0 && result) {
          measured.push(result);
          for (const n of got.notes ?? []) if (!notes.includes(n)) notes.push(n);
          ctx.c.compiler ??= got.machine?.gcc ?? null;
          clangSeen ??= got.machine?.clang ?? null;
          tfjsVersion ??= got.machine?.tfjs ?? null;
        } else {
          for (const t of g.tasks) {
            delete t.run;
            delete t.setup;
            t.error = `the group's child process failed (${child.status ?? child.signal})`;
          }
          measured.push(g);
        }
        if (measured.length < planned.length) snapshot(measured, false);
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  } else {
    const needsC = planned.flatMap((g) => g.tasks).filter((t) => t.contender.startsWith('c-'));
    if (needsC.length) {
      const programs = [
        ...new Set(
          planned
            .filter((g) => g.tasks.some((t) => t.contender.startsWith('c-')))
            .flatMap((g) => g.cPrograms ?? [g.kind === 'sparse' ? 'sparse' : 'dense']),
        ),
      ];
      ctx.c.compile(programs);
      if (ctx.c.skipped) notes.push(ctx.c.skipped);
    }
    if (planned.some((g) => g.kind === 'sparse')) {
      // Embedding tables get an engine of their own so that their memory does not add to the dense one.
      ctx.sparseEngine = await lib.createEngine({ simd });
    }

    const total = planned.reduce((s, g) => s + g.tasks.length, 0);
    progress = new Progress(total, { quiet: opts.quiet });
    for (const n of notes) progress.note(`note: ${n}`);
    try {
      for (const g of planned) {
        g.date = new Date().toISOString();
        // Speed-ups from threads are wall-clock speed-ups: CPU time would add the threads up.
        g.clock = g.clock ?? (g.kind === 'threads' ? 'wall' : opts.clock);
        currentClock = g.clock;
        ctx.c.clock = g.clock;
        for (const n of [...new Set(g.tasks.map((t) => t.n))]) {
          // The contenders of one size run in rounds (A B C, A B C, ...) so that a burst of load from
          // elsewhere on the machine falls on all of them rather than on one.
          const batch = g.tasks.filter((t) => t.n === n);
          const acc = new Map(batch.map((t) => [t, { samples: [], reps: 0, rounds: 0, roundMs: [] }]));
          const sizeRounds =
            opts.rounds ?? (opts.quick ? rounds : Math.max(rounds, ...batch.map((t) => t.rounds ?? 0)));
          sizeRoundMs = timeMs / sizeRounds;
          // Each contender is set up once (its tensors stay alive through the rounds) and torn down
          // after the last round. Tasks with a plain `run()` are run whole in every round.
          for (const t of batch) {
            const a = acc.get(t);
            if (!t.setup) continue;
            currentTask = t.name;
            progress.running(`${t.name} (setting up)`);
            try {
              const st = await t.setup();
              if (st.skipped) a.skipped = st.skipped;
              else if (st.error) a.error = st.error;
              else a.state = st;
            } catch (e) {
              a.error = String(e?.message ?? e).split('\n')[0];
            }
          }
          try {
            for (let round = 0; round < sizeRounds; round++) {
              for (const t of batch) {
                const a = acc.get(t);
                if (a.skipped || a.error || (round > 0 && a.slow)) continue;
                currentTask = t.name;
                // The first round warms each contender up as long as it is measured; later rounds
                // warm up briefly.
                currentWarmup = round === 0 ? roundMs : Math.min(sizeRoundMs / 4, 20);
                progress.running(sizeRounds > 1 ? `${t.name} (round ${round + 1}/${sizeRounds})` : t.name);
                let r;
                try {
                  if (!t.setup) r = await t.run();
                  else if (a.state.external) r = a.state.external();
                  else {
                    if (a.state.before) await a.state.before();
                    r = ctx.measure(a.state.fn);
                  }
                } catch (e) {
                  r = { error: String(e?.message ?? e).split('\n')[0] };
                }
                if (r.samples?.length) {
                  a.samples.push(...r.samples);
                  a.reps = Math.max(a.reps, r.reps ?? 1);
                  a.rounds++;
                  // Each round's median, by round (ratios pair the contenders' rounds: report.js ratioAt).
                  const roundMedian = summarize(r.samples).medianMs;
                  a.roundMs[round] = roundMedian;
                  // Operations over a quarter second get one round: their few samples take long enough.
                  a.slow = roundMedian > 250;
                } else if (r.skipped) a.skipped = r.skipped;
                else a.error = r.error ?? 'no samples';
              }
            }
          } finally {
            for (const a of acc.values()) {
              try {
                a.state?.dispose?.();
              } catch (e) {
                progress.note(`note: dispose failed: ${e?.message ?? e}`);
              }
              delete a.state;
            }
          }
          for (const t of batch) {
            const a = acc.get(t);
            delete t.run;
            delete t.setup;
            if (a.samples.length) {
              const s = summarize(a.samples);
              Object.assign(t, {
                medianMs: sig(s.medianMs, 6),
                p25Ms: sig(s.p25Ms, 6),
                p75Ms: sig(s.p75Ms, 6),
                minMs: sig(s.minMs, 6),
                spread: sig(s.spread, 3),
                melems: sig(melemPerSec(t.elems, s.medianMs), 5),
                batch: a.reps,
                rounds: a.rounds,
                count: s.count,
                samples: a.samples.map((x) => sig(x, 4)),
                roundMs: Array.from({ length: a.roundMs.length }, (_x, i) =>
                  a.roundMs[i] === undefined ? null : sig(a.roundMs[i], 5),
                ),
              });
              progress.finished(
                `${t.name}: ${t.melems.toFixed(t.melems >= 100 ? 0 : 2)} ${g.unit} ±${(t.spread * 100).toFixed(1)}% (${s.count} samples)`,
              );
            } else if (a.skipped) {
              t.skipped = a.skipped;
              progress.finished(`${t.name}: skipped (${a.skipped})`);
            } else {
              t.error = a.error;
              progress.finished(`${t.name}: ${t.error}`);
            }
          }
        }
        const done = planned.slice(0, planned.indexOf(g) + 1);
        if (done.length < planned.length) snapshot(done, false);
      }
    } finally {
      progress.close();
      ctx.c.cleanup();
    }
  }

  if (wantInit) {
    initResult = measureInit({ runs: opts.quick ? 5 : 21, cpu: pin });
    if (!opts.quiet) console.error(`init: ${initResult.initMs} ms median (import ${initResult.importMs} ms)`);
  }
  const results = snapshot(measured, !opts.only);
  // docs/benchmarks.md quotes full runs into the default results folder (or any run with --docs).
  const readme = opts.readme ?? (!opts.trial && opts.out === DEFAULT_OUT);
  if (readme && opts.readme !== false) writeDocs(results);

  // Print this run's tables.
  const lines = [`# wasm-optim benchmark (${runKind(results)})`, '', machineLine(results), ''];
  for (const n of notes) lines.push(`- note: ${n}`);
  if (initResult) lines.push(initLine(initResult), '');
  for (const g of measured) lines.push(groupMarkdown(g));
  lines.push(
    `Wrote ${join(opts.out, 'latest.json')}, latest.md and ${measured.map((g) => `${g.id}.svg`).join(', ')}${readme ? '; updated docs/benchmarks.md' : ''}.`,
  );
  console.log(lines.join('\n'));
}

// Run only as a program (the tests import parseArgs).
if (process.argv[1] && realpathSync(resolve(process.argv[1])) === realpathSync(fileURLToPath(import.meta.url))) {
  main().catch((e) => {
    console.error(e?.stack ?? e);
    process.exit(1);
  });
}
