// The benchmark suite as a product: its quick mode runs on a tiny filter into a temp dir and
// produces the JSON, the markdown tables and the SVG charts; the report helpers compute ratios
// and targets correctly. No timing assertions: the machines are shared and noisy.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain JS module without type declarations
import * as report from '../bench/lib/report.js';
// @ts-expect-error: plain JS module without type declarations
import * as initReport from '../bench/lib/init.js';
// @ts-expect-error: plain JS module without type declarations
import { zipfSizes, ZipfIds } from '../bench/lib/data.js';
// @ts-expect-error: plain JS module without type declarations
import { summarize } from '../bench/lib/stats.js';
// @ts-expect-error: plain JS module without type declarations
import { parseArgs, DEFAULT_OUT, TRIAL_OUT } from '../bench/index.js';
// @ts-expect-error: plain JS module without type declarations
import { ensureBenchWasm } from '../bench/wasm/build.mjs';
// @ts-expect-error: plain JS module without type declarations
import { rooflineKernel } from '../bench/lib/roofline.js';

// Imported whole, then destructured: a formatter may break a long import over lines, and the
// expect-error directive above an import covers only its first line.
const { evaluateTargets, groupSvg, groupTable, benchmarksPage, ratioAt } = report;
const { initLine } = initReport;

const root = new URL('..', import.meta.url).pathname;

function bench(args: string[], env: NodeJS.ProcessEnv = process.env) {
  return spawnSync(process.execPath, ['bench/index.js', ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 170_000,
    env,
  });
}

/** A digest of every file the benchmark may write into the repository: bench/results/ and docs/benchmarks.md. */
function committedOutputs(): string {
  const h = createHash('sha256');
  const dir = join(root, 'bench', 'results');
  for (const f of readdirSync(dir).sort()) h.update(f).update(readFileSync(join(dir, f)));
  h.update(readFileSync(join(root, 'docs', 'benchmarks.md')));
  return h.digest('hex');
}

describe('npm run bench --quick (tiny filter)', () => {
  let out: string;
  let run: ReturnType<typeof bench>;
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'wasm-optim-bench-smoke-'));
    run = bench(['--quick', '--only', 'adam,many', '--sizes', '1024', '--time', '10', '--out', out, '--quiet']);
  }, 180_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('exits 0 and prints the tables', () => {
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('### Adam: one dense step');
    expect(run.stdout).not.toContain('updated docs/benchmarks.md');
  });

  it("writes latest.json with the machine, the date and every task's samples", () => {
    const r = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8'));
    expect(r.mode).toBe('quick');
    expect(r.trial).toBe(true);
    expect(r.machine.node).toBe(process.version);
    expect(typeof r.machine.cpu).toBe('string');
    // The CPU family and model numbers where /proc/cpuinfo has them (ratios differ between families).
    const info = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
    const family = /^cpu family\s*:\s*(\d+)/m.exec(info);
    expect(r.machine.cpuFamily).toBe(family ? Number(family[1]) : null);
    expect(r.machine.cores).toBeGreaterThan(0);
    expect(Number.isNaN(Date.parse(r.date))).toBe(false);
    expect(r.groups.map((g: { id: string }) => g.id)).toEqual(['adam', 'many']);
    const adam = r.groups[0];
    const contenders = adam.tasks.map((t: { contender: string }) => t.contender);
    for (const c of [
      'engine',
      'engine-scalar',
      'engine-checked',
      'js',
      'tfjs-cpu',
      'tfjs-wasm',
      'c-sse',
      'wasm-clang',
      'roofline',
    ])
      expect(contenders).toContain(c);
    for (const t of [...adam.tasks, ...r.groups[1].tasks]) {
      expect(t.name).toMatch(/^(adam|many)\/[a-z0-9-]+\/\d+$/);
      expect(t.error).toBeUndefined();
      if (t.skipped) {
        expect(['c-sse', 'wasm-clang']).toContain(t.contender); // only when gcc (clang, wasm-ld) is missing
        continue;
      }
      expect(t.samples.length).toBe(t.count);
      expect(t.count).toBeGreaterThanOrEqual(3);
      for (const s of t.samples) expect(s).toBeGreaterThan(0);
      expect(t.melems).toBeCloseTo(t.elems / t.medianMs / 1e3, 0);
      // One median per round it ran (the ratios pair the contenders' rounds).
      expect(t.roundMs.filter((x: number | null) => x !== null)).toHaveLength(t.rounds);
      for (const x of t.roundMs) if (x !== null) expect(x).toBeGreaterThan(0);
    }
    expect(adam.tasks.every((t: { n: number }) => t.n === 1024)).toBe(true);
    // Single-threaded groups run pinned to one core where taskset exists (--cpu auto).
    const pinnable = r.machine.cores > 1 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
    expect(r.notes.some((n: string) => /pinned to core \d+ \(taskset\)/.test(n))).toBe(pinnable);
  });

  it('writes the markdown report and an SVG chart per group', () => {
    const md = readFileSync(join(out, 'latest.md'), 'utf8');
    expect(md).toMatch(/\| elements \| wasm-optim \(Melem\/s\) \|/);
    expect(md).toContain('× plain JS');
    expect(md).toContain('≥ 0.9× C SSE at every size');
    expect(md).toContain('× wasm limit');
    expect(md).toContain('≥ 0.97× the wasm limit at 4K–16M');
    for (const id of ['adam', 'many']) {
      const svg = readFileSync(join(out, `${id}.svg`), 'utf8');
      expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
      expect(svg.trim().endsWith('</svg>')).toBe(true);
      expect(svg).toContain('<circle');
    }
    expect(existsSync(join(out, 'sparse.svg'))).toBe(false);
  });

  it('rejects an unknown option with a message and exit code 2', () => {
    const r = bench(['--fast']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown option --fast');
    const c = bench(['--cpu', 'fast']);
    expect(c.status).toBe(2);
    expect(c.stderr).toContain('--cpu takes a core number, auto or none');
  });
});

describe('where a run writes', () => {
  it('a full run writes bench/results; any trial run (quick, filtered, resized, shortened) writes to the temp folder', () => {
    expect(parseArgs([]).out).toBe(DEFAULT_OUT);
    expect(parseArgs(['--clock', 'wall', '--cpu', 'none', '--in-process', '--quiet']).out).toBe(DEFAULT_OUT);
    expect(TRIAL_OUT).toBe(join(tmpdir(), 'wasm-optim-bench'));
    for (const trial of [
      ['--quick'],
      ['--only', 'adam'],
      ['--sizes', '1024'],
      ['--time', '50'],
      ['--rounds', '1'],
      ['--tfjs-cpu-max', '0'],
    ]) {
      const o = parseArgs(trial);
      expect(o.trial).toBe(true);
      expect(o.out).toBe(TRIAL_OUT);
    }
    expect(parseArgs(['--quick', '--out', 'bench/results']).out).toBe(resolve('bench/results'));
    // --report redraws the committed results unless --out names another folder.
    expect(parseArgs(['--report']).out).toBe(DEFAULT_OUT);
  });

  it('a quick filtered run without --out leaves bench/results and docs/benchmarks.md as they were', () => {
    const before = committedOutputs();
    const tmp = mkdtempSync(join(tmpdir(), 'wasm-optim-bench-trial-'));
    try {
      // The child's temp folder is ours, so its TRIAL_OUT is tmp/wasm-optim-bench.
      const run = bench(
        ['--quick', '--only', 'adam/engine', '--sizes', '1024', '--time', '10', '--cpu', 'none', '--quiet'],
        { ...process.env, TMPDIR: tmp, TMP: tmp, TEMP: tmp },
      );
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      const written = join(tmp, 'wasm-optim-bench');
      expect(run.stdout).toContain(`Wrote ${join(written, 'latest.json')}`);
      expect(run.stdout).not.toContain('updated docs/benchmarks.md');
      const r = JSON.parse(readFileSync(join(written, 'latest.json'), 'utf8'));
      expect(r.mode).toBe('quick');
      expect(r.groups.map((g: { id: string }) => g.id)).toEqual(['adam']);
      expect(existsSync(join(written, 'adam.svg'))).toBe(true);
      expect(committedOutputs()).toBe(before);
      const git = spawnSync('git', ['status', '--porcelain', '--', 'bench/results', 'docs/benchmarks.md'], {
        cwd: root,
        encoding: 'utf8',
      });
      if (git.status === 0) expect(git.stdout).toBe('');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 180_000);
});

describe('the roofline kernel (bench-only wasm)', () => {
  beforeAll(() => ensureBenchWasm(), 120_000);

  it('is not in the shipped wasm builds', () => {
    for (const build of ['simd', 'scalar', 'threads', 'threads-scalar']) {
      const names = WebAssembly.Module.exports(
        new WebAssembly.Module(readFileSync(join(root, 'dist', `wasm-optim.${build}.wasm`))),
      ).map((e) => e.name);
      expect(names).toContain('adamStep');
      expect(names).not.toContain('roofline');
    }
  });

  it('moves the bytes of a step: p <- s0 <- s1 <- p ^ g, p <- s0 <- p ^ g, or p <- p ^ g, in both builds', () => {
    const n = 37; // SIMD blocks of 16 and a scalar tail
    const u32 = (f: Float32Array) => Array.from(new Uint32Array(f.buffer, f.byteOffset, f.length));
    for (const simd of [true, false]) {
      for (const states of [0, 1, 2]) {
        const fill = Array.from({ length: 2 + states }, (_, b) =>
          Float32Array.from({ length: n }, (_, i) => b * 1000 + i + 0.5),
        );
        const before = fill.map(u32);
        const k = rooflineKernel({ simd, n, buffers: 2 + states, fill });
        k.run();
        const after = k.views.map(u32);
        const xor = before[0].map((x: number, i: number) => (x ^ before[1][i]) >>> 0);
        const want = [[xor], [before[2], xor], [before[2], before[3], xor]][states];
        expect(after[0]).toEqual(want[0]);
        expect(after[1]).toEqual(before[1]); // the gradient is only read
        for (let s = 0; s < states; s++) expect(after[2 + s]).toEqual(want[1 + s]);
      }
    }
  });
});

// A synthetic group: the engine at 2000 Melem/s, C at 1000 and 2500, the roofline at 2200.
function synthetic() {
  const task = (contender: string, n: number, melems: number) => ({
    name: `x/${contender}/${n}`,
    contender,
    n,
    elems: n,
    melems,
    medianMs: n / melems / 1e3,
    spread: 0.01,
  });
  return {
    id: 'x',
    title: 'X',
    kind: 'dense',
    unit: 'Melem/s',
    xLabel: 'elements',
    baseline: 'engine',
    contenders: [
      { id: 'engine', label: 'wasm-optim' },
      { id: 'c-sse', label: 'C SSE' },
      { id: 'roofline', label: 'roofline' },
    ],
    targets: [
      { contender: 'c-sse', min: 0.9, at: 'every', label: 'C' },
      { contender: 'roofline', min: 0.85, at: 2048, label: 'roof' },
    ],
    notes: [],
    tasks: [
      task('engine', 1024, 2000),
      task('c-sse', 1024, 1000),
      task('roofline', 1024, 4000),
      task('engine', 2048, 2000),
      task('c-sse', 2048, 2500),
      task('roofline', 2048, 2200),
    ],
  };
}

describe('bench report helpers', () => {
  it('evaluates targets as ratios at the sizes they apply to', () => {
    const [c, roof] = evaluateTargets(synthetic());
    // 2000/1000 = 2 at 1K (met), 2000/2500 = 0.8 at 2K (missed)
    expect(c.status).toBe('missed');
    expect(c.checks.map((x: { ratio: number }) => x.ratio)).toEqual([2, 0.8]);
    expect(c.text).toBe('missed at 2K: 0.80×');
    // 2000/2200 = 91% >= 85%, only at 2K
    expect(roof.status).toBe('met');
    expect(roof.checks).toHaveLength(1);
    expect(roof.text).toBe('met (worst 2K: 91%)');
  });

  it('takes a ratio round by round when both contenders ran at least three of the same rounds', () => {
    const g = synthetic();
    const [engine, c] = [g.tasks[0], g.tasks[1]] as { roundMs?: (number | null)[] }[];
    // A slow phase in round 2 falls on both: the pooled medians (2000 vs 1000) would say 2×, the rounds 1.5×.
    engine.roundMs = [1, 2, 1, 1];
    c.roundMs = [1.5, 3, 1.5, 1.5];
    expect(ratioAt(g, 'c-sse', 1024)).toBeCloseTo(1.5, 12);
    // Rounds one side missed are left out; an even count takes the mean of the middle two.
    c.roundMs = [1.5, 3, null, 2];
    expect(ratioAt(g, 'c-sse', 1024)).toBeCloseTo(1.5, 12);
    c.roundMs = [1.5, 3, 2, 2];
    expect(ratioAt(g, 'c-sse', 1024)).toBeCloseTo(1.75, 12);
    // Fewer than three common rounds (or no round record, as in older results): the pooled medians.
    c.roundMs = [1.5, null, null, 2];
    expect(ratioAt(g, 'c-sse', 1024)).toBe(2);
    delete c.roundMs;
    expect(ratioAt(g, 'c-sse', 1024)).toBe(2);
  });

  it('marks met and missed targets in the table', () => {
    const lines = groupTable(synthetic()).split('\n');
    expect(lines[0]).toBe(
      '| elements | wasm-optim (Melem/s) | C SSE (Melem/s) | roofline (Melem/s) | × C SSE | of roofline |',
    );
    expect(lines[2]).toBe('| 1K | 2000 ±1.0% | 1000 ±1.0% | 4000 ±1.0% | 2.00× ✓ | 50% |');
    expect(lines[3]).toBe('| 2K | 2000 ±1.0% | 2500 ±1.0% | 2200 ±1.0% | 0.80× ✗ | 91% ✓ |');
  });

  it('draws one line per contender with data', () => {
    const svg = groupSvg(synthetic());
    expect(svg.match(/<polyline/g)).toHaveLength(3);
    expect(svg.match(/<circle/g)).toHaveLength(6);
  });

  it('writes docs/benchmarks.md as a whole page with the machine, the targets, the init line and chart links', () => {
    const init = { runs: 21, cpu: 0, importMs: 17, initMs: 3.2, initP25Ms: 3, initP75Ms: 3.5 };
    const results = {
      date: '2026-01-02T00:00:00Z',
      mode: 'full',
      machine: { cpu: 'CPU', cores: 2, platform: 'linux', arch: 'x64', node: 'v20' },
      groups: [synthetic()],
      init,
    };
    const page = benchmarksPage(results);
    expect(page.startsWith('# Benchmarks\n')).toBe(true);
    expect(page).toContain('Measured on: CPU (2 cores), linux x64, Node v20; 2026-01-02; full run.');
    expect(page).toContain('| x | C | **missed**: missed at 2K: 0.80× |');
    expect(page).toContain('](../bench/results/x.svg)');
    expect(page).toContain(initLine(init));
    expect(initLine(init)).toMatch(/\*\*3\.2 ms\*\* median .*21 fresh processes, pinned to core 0\); target ≤ 5 ms ✓/);
    expect(initLine({ ...init, initMs: 12 })).toMatch(/target ≤ 5 ms ✗/);
    expect(page.endsWith('\n')).toBe(true);
    expect(page).not.toMatch(/\n\n\n/);
    const zen = { ...results, machine: { ...results.machine, cpuFamily: 25, cpuModel: 17 } };
    expect(benchmarksPage(zen)).toContain('Measured on: CPU, family 25 model 17 (2 cores), linux x64');
    // A filtered or resized run says so, where it would otherwise read as a full run.
    expect(benchmarksPage({ ...results, trial: true })).toContain('Node v20; 2026-01-02; trial run.');
    expect(benchmarksPage({ ...results, mode: 'quick', trial: true })).toContain('; quick run.');
  });

  it('draws Zipf sizes that add up exactly and Zipf ids in range that repeat', () => {
    const sizes = zipfSizes(500, 4194304);
    expect(sizes.reduce((a: number, b: number) => a + b, 0)).toBe(4194304);
    expect(sizes[0] / sizes[9]).toBeGreaterThan(8);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(1);
    const ids = new ZipfIds(1024).draw(4096);
    expect(Math.min(...ids)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...ids)).toBeLessThan(1024);
    expect(new Set(ids).size).toBeLessThan(4096 / 2);
  });

  it('summarizes samples by median and interquartile spread', () => {
    const s = summarize([4, 1, 3, 2, 5]);
    expect(s).toMatchObject({ count: 5, medianMs: 3, p25Ms: 2, p75Ms: 4, minMs: 1 });
    expect(s.spread).toBeCloseTo(1 / 3);
  });
});
