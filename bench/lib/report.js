// Reports from a results object (bench/results/latest.json): markdown tables with ratios and
// targets, hand-rolled SVG charts of throughput against size, and docs/benchmarks.md.
import { initLine } from './init.js';

/** Sizes as the tables print them: 1K, 64K, 16M (powers of 1024), else the number. */
export function sizeLabel(n) {
  if (n >= 1048576 && n % 1048576 === 0) return `${n / 1048576}M`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024}K`;
  return String(n);
}

function fmtRate(x) {
  if (!Number.isFinite(x)) return '–';
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toPrecision(2);
}

function fmtRatio(r) {
  if (!Number.isFinite(r)) return '–';
  if (r >= 100) return `${r.toFixed(0)}×`;
  if (r >= 10) return `${r.toFixed(1)}×`;
  return `${r.toFixed(2)}×`;
}

function fmtMs(ms) {
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  if (ms >= 0.001) return `${(ms * 1000).toFixed(1)} µs`;
  return `${(ms * 1e6).toFixed(0)} ns`;
}

/** The task of `group` for `contender` at size `n`, if it ran. */
export function taskAt(group, contender, n) {
  return group.tasks.find((t) => t.contender === contender && t.n === n);
}

/** Sizes of a group, ascending. */
export function groupSizes(group) {
  return [...new Set(group.tasks.map((t) => t.n))].sort((a, b) => a - b);
}

/** Rounds a ratio needs from both tasks before it is taken round by round. */
const PAIRED_ROUNDS = 3;

/**
 * Baseline throughput over the contender's at size n (how many times faster the engine is), or
 * NaN when either did not produce a result. The contenders of a size run in interleaved rounds;
 * when both ran at least PAIRED_ROUNDS of the same rounds, the ratio is the median of the ratios
 * within each round (a slow phase of the machine falls on both sides of a round's ratio), else the
 * ratio of the pooled medians.
 */
export function ratioAt(group, contender, n) {
  const a = taskAt(group, group.baseline, n);
  const b = taskAt(group, contender, n);
  if (!a?.melems || !b?.melems) return NaN;
  const paired = [];
  const ra = a.roundMs ?? [];
  const rb = b.roundMs ?? [];
  for (let i = 0; i < Math.min(ra.length, rb.length); i++)
    if (ra[i] > 0 && rb[i] > 0) paired.push((a.elems * rb[i]) / (b.elems * ra[i]));
  if (paired.length < PAIRED_ROUNDS || !(a.elems > 0) || !(b.elems > 0)) return a.melems / b.melems;
  paired.sort((x, y) => x - y);
  const h = paired.length >> 1;
  return paired.length % 2 ? paired[h] : (paired[h - 1] + paired[h]) / 2;
}

/**
 * Whether a target applies at size n: `at` is a size or 'every', optionally limited to the sizes
 * from `from` up to `upTo` (inclusive).
 */
export function appliesAt(tg, n) {
  if (tg.at !== 'every') return tg.at === n;
  return n >= (tg.from ?? 0) && n <= (tg.upTo ?? Infinity);
}

/** Whether a ratio meets a target: at least `min` and at most `max`, where given. */
export function meets(tg, ratio) {
  return (tg.min === undefined || ratio >= tg.min) && (tg.max === undefined || ratio <= tg.max);
}

/**
 * Evaluates every target of a group: for each, the sizes it applies to, the ratio at each, and
 * whether it was met everywhere.
 * @returns {{ label: string, contender: string, status: 'met' | 'missed' | 'not measured', checks: { n: number, ratio: number, ok: boolean }[], text: string }[]}
 */
export function evaluateTargets(group) {
  return (group.targets ?? []).map((tg) => {
    const sizes = tg.at === 'every' ? groupSizes(group).filter((n) => appliesAt(tg, n)) : [tg.at];
    const checks = [];
    for (const n of sizes) {
      const ratio = ratioAt(group, tg.contender, n);
      if (Number.isFinite(ratio)) checks.push({ n, ratio, ok: meets(tg, ratio) });
    }
    const missed = checks.filter((c) => !c.ok);
    const status = checks.length === 0 ? 'not measured' : missed.length ? 'missed' : 'met';
    const show = (c) => `${sizeLabel(c.n)}: ${targetValue(tg, c.ratio)}`;
    let text;
    if (status === 'not measured') text = 'not measured in this run';
    else if (status === 'met') {
      const worst = checks.reduce((w, c) => (c.ratio < w.ratio ? c : w));
      text = `met (worst ${show(worst)})`;
    } else text = `missed at ${missed.map(show).join(', ')}`;
    return { label: tg.label, contender: tg.contender, status, checks, text };
  });
}

/** How a ratio reads for a target: a share of the roofline, a time ratio, or a speed-up. */
function targetValue(tg, ratio) {
  if (tg.contender === 'roofline') return `${(ratio * 100).toFixed(0)}%`;
  if (tg.display === 'time') return `${(1 / ratio).toFixed(2)}× the time`;
  return fmtRatio(ratio);
}

/**
 * The markdown table of one group: a row per size; the median throughput (or time) of each
 * contender with its spread, then the baseline's ratio to every other contender, marked ✓/✗
 * where a target applies.
 */
export function groupTable(group) {
  const sizes = groupSizes(group);
  const others = group.contenders.filter((c) => c.id !== group.baseline);
  const head = [group.xLabel ?? 'n'];
  for (const c of group.contenders) head.push(group.showMs ? `${c.label} (time)` : `${c.label} (${group.unit})`);
  for (const c of others) head.push(c.id === 'roofline' ? 'of roofline' : `× ${c.ratioLabel ?? c.label}`);
  const rows = [head, head.map(() => '---')];
  for (const n of sizes) {
    const row = [sizeLabel(n)];
    for (const c of group.contenders) {
      const t = taskAt(group, c.id, n);
      if (!t) row.push('–');
      else if (t.skipped) row.push('skipped');
      else if (t.error) row.push(/out of memory/.test(t.error) ? 'out of memory' : 'error');
      else {
        const spread = `±${(t.spread * 100).toFixed(t.spread < 0.1 ? 1 : 0)}%`;
        row.push(group.showMs ? `${fmtMs(t.medianMs)} ${spread}` : `${fmtRate(t.melems)} ${spread}`);
      }
    }
    for (const c of others) {
      const r = ratioAt(group, c.id, n);
      if (!Number.isFinite(r)) {
        row.push('–');
        continue;
      }
      const tg = (group.targets ?? []).find((x) => x.contender === c.id && appliesAt(x, n));
      let cell =
        c.id === 'roofline'
          ? `${(r * 100).toFixed(0)}%`
          : tg?.display === 'time'
            ? `${(1 / r).toFixed(2)}× the time`
            : fmtRatio(r);
      if (tg) cell += meets(tg, r) ? ' ✓' : ' ✗';
      row.push(cell);
    }
    rows.push(row);
  }
  return rows.map((r) => `| ${r.join(' | ')} |`).join('\n');
}

/** Markdown for one group: title, table, targets, notes. */
export function groupMarkdown(group, options = {}) {
  const lines = [`${options.level ?? '###'} ${group.title}`, ''];
  lines.push(groupTable(group), '');
  const targets = evaluateTargets(group);
  if (targets.length) {
    lines.push('Targets:');
    for (const t of targets) lines.push(`- ${t.label}: **${t.status}** — ${t.text}`);
    lines.push('');
  }
  const notes = [...(group.notes ?? [])];
  for (const t of group.tasks) {
    if (t.skipped) notes.push(`${t.name}: skipped (${t.skipped})`);
    if (t.error) notes.push(`${t.name}: ${t.error}`);
  }
  if (notes.length) {
    lines.push('Notes:');
    for (const n of [...new Set(notes)]) lines.push(`- ${n}`);
    lines.push('');
  }
  if (options.svg) lines.push(`![${group.title}](${options.svg})`, '');
  return lines.join('\n');
}

/**
 * What kind of run produced `results`: 'quick', 'trial' (filtered, resized or shortened: --only,
 * --sizes, --time, --rounds, ...) or 'full'.
 */
export function runKind(results) {
  if (results.mode === 'quick') return 'quick';
  return results.trial ? 'trial' : results.mode;
}

/** One line about the machine and the run. */
export function machineLine(results) {
  const m = results.machine;
  const load = m.loadavg ? `; load average ${m.loadavg.map((x) => x.toFixed(1)).join(' ')} at the start` : '';
  const clock = results.settings?.clock
    ? `; timed with the ${results.settings.clock === 'cpu' ? "process's CPU time" : 'wall clock'}`
    : '';
  const family =
    m.cpuFamily == null ? '' : `, family ${m.cpuFamily}${m.cpuModel == null ? '' : ` model ${m.cpuModel}`}`;
  return `${m.cpu}${family} (${m.cores} cores), ${m.platform} ${m.arch}, Node ${m.node}; ${results.date.slice(0, 10)}; ${runKind(results)} run${clock}${load}`;
}

const EXPLAIN =
  'Each cell is the median over the samples (± half the interquartile range, relative). ' +
  '"× X" columns are the first column\'s throughput over X\'s (how many times faster), "of roofline" its share of the ' +
  "roofline kernel's rate; all measured in the same run. ✓/✗ mark the targets.";

/** What the C and clang contenders are (docs/benchmarks.md), and what they need. */
export const YARDSTICKS =
  "Yardsticks. **wasm (clang)**, the wasm limit: the loops of `bench/c/dense.c` (the default options' arithmetic, " +
  'no gradient clamp or scale, the same float32 operations in the same order as the kernels, so the results are the ' +
  'same bits) compiled by clang (`--target=wasm32 -O3 -msimd128 -nostdlib`, four f32x4 interleaved per iteration, the ' +
  "fastest of 1, 2 and 4) and run in the same Node process as the engine, on the engine column's own arrays (the " +
  'engine\'s memory imported, so that the two differ only in code): "× wasm limit" columns. It needs clang and ' +
  'wasm-ld (Debian: `apt-get install clang lld`) and is skipped with a note without them. **C SSE**: the same loops ' +
  'compiled natively by gcc (`-O3 -msse4.2 -fno-math-errno`). Every dense contender sets its param and state back to ' +
  'where they started every 256 steps: with the fixed gradient, Adam with L2 decay would otherwise reach float32 ' +
  'denormals after ~800 steps, and a step would slow with the step count. Embedding tables: **C lazy (radix sort)** sorts the ids ' +
  'and coalesces runs; **C lazy (slot per row)** coalesces with a slot per table row (no sort; a row seen once is ' +
  'updated straight from its gradient); **C lazy (hybrid)** coalesces so, then sorts the distinct rows; the **row-touch limit** reads and writes w, m and v of each distinct row and ' +
  'reads one gradient row each, with no arithmetic and the ids deduplicated before timing (the bytes any lazy update ' +
  "moves); **C lazy (slot per row, prefetch)** and **C lazy (hash + chains, prefetch)** (the engine's coalescing: a " +
  "hash of the batch's ids and chains of their positions) prefetch each row's lines 8 rows ahead " +
  "(`__builtin_prefetch`). **wasm (clang) chains / prefetch**, the wasm limit of a whole update: those two loops' C " +
  'source compiled by clang to wasm32 SIMD (as the dense wasm limit, with `-mbulk-memory`; `__builtin_prefetch` ' +
  "compiles to nothing, wasm having no prefetch instruction) and run in the engine's process, on the native loops' " +
  'ids, table and gradients (in its own memory, read in place as the native loops read theirs). The C loops and the ' +
  'engine get the same ids in two regimes, Zipf-like and hot ids.';

/** The whole markdown report of a run. */
export function markdownReport(results, svgPath = (g) => `${g.id}.svg`) {
  const out = [`# wasm-optim benchmark`, '', machineLine(results), ''];
  out.push(EXPLAIN, '');
  for (const g of results.groups) out.push(groupMarkdown(g, { svg: svgPath(g) }));
  return out.join('\n');
}

const COLORS = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#17becf',
  '#bcbd22',
];

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * A log-log line chart of throughput against size, one line per contender, as an SVG string.
 * @param {any} group
 */
export function groupSvg(group) {
  const W = 760,
    H = 440,
    L = 70,
    R = 230,
    T = 40,
    B = 56;
  const pw = W - L - R,
    ph = H - T - B;
  const sizes = groupSizes(group);
  const points = group.tasks.filter((t) => t.melems > 0);
  const ys = points.map((t) => t.melems);
  const yMin = Math.pow(10, Math.floor(Math.log10(Math.min(...ys, 1))));
  const yMax = Math.pow(10, Math.ceil(Math.log10(Math.max(...ys, 10))));
  const xMin = Math.log2(sizes[0]);
  const xMax = Math.log2(sizes[sizes.length - 1]);
  const x = (n) => L + (xMax === xMin ? pw / 2 : ((Math.log2(n) - xMin) / (xMax - xMin)) * pw);
  const y = (v) => T + ph - ((Math.log10(v) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * ph;
  const parts = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  parts.push(`<text x="${L}" y="22" font-size="14" font-weight="bold">${esc(group.title)}</text>`);
  // Grid and axes.
  for (let e = Math.log10(yMin); e <= Math.log10(yMax) + 1e-9; e++) {
    for (const mult of [1, 2, 5]) {
      const v = mult * Math.pow(10, e);
      if (v > yMax * 1.0001) continue;
      const yy = y(v).toFixed(1);
      parts.push(`<line x1="${L}" x2="${L + pw}" y1="${yy}" y2="${yy}" stroke="${mult === 1 ? '#ccc' : '#eee'}"/>`);
      if (mult === 1 || ph > 300)
        parts.push(
          `<text x="${L - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle" fill="#444">${v >= 1 ? v : v.toPrecision(1)}</text>`,
        );
    }
  }
  for (const n of sizes) {
    const xx = x(n).toFixed(1);
    parts.push(`<line x1="${xx}" x2="${xx}" y1="${T}" y2="${T + ph}" stroke="#eee"/>`);
    parts.push(`<text x="${xx}" y="${T + ph + 16}" text-anchor="middle" fill="#444">${sizeLabel(n)}</text>`);
  }
  parts.push(`<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  parts.push(
    `<text x="${L + pw / 2}" y="${H - 14}" text-anchor="middle">${esc(group.xLabel ?? 'n')} (log scale)</text>`,
  );
  parts.push(
    `<text transform="translate(16 ${T + ph / 2}) rotate(-90)" text-anchor="middle">${esc(group.unit)} (log scale)</text>`,
  );
  // One line per contender.
  group.contenders.forEach((c, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = sizes.map((n) => taskAt(group, c.id, n)).filter((t) => t?.melems > 0);
    if (pts.length > 1) {
      parts.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((t) => `${x(t.n).toFixed(1)},${y(t.melems).toFixed(1)}`).join(' ')}"/>`,
      );
    }
    for (const t of pts) {
      parts.push(
        `<circle cx="${x(t.n).toFixed(1)}" cy="${y(t.melems).toFixed(1)}" r="3.5" fill="${color}"><title>${esc(`${t.name}: ${fmtRate(t.melems)} ${group.unit}`)}</title></circle>`,
      );
    }
    const ly = T + 10 + i * 20;
    parts.push(
      `<line x1="${L + pw + 16}" x2="${L + pw + 40}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`,
    );
    parts.push(
      `<text x="${L + pw + 46}" y="${ly}" dominant-baseline="middle">${esc(c.label)}${pts.length ? '' : ' (no data)'}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

/**
 * docs/benchmarks.md: the whole page, generated from `results` (chart paths relative to docs/).
 * The README links it and shows one chart; nothing is spliced into the README any more.
 */
export function benchmarksPage(results, chartDir = '../bench/results') {
  const out = ['# Benchmarks', ''];
  out.push(
    `_Generated from \`bench/results/latest.json\` by \`npm run bench\` (bench/lib/report.js); not edited by hand. How the suite works and how to run it: [CONTRIBUTING.md](../CONTRIBUTING.md#benchmarks)._`,
    '',
  );
  out.push(`Measured on: ${machineLine(results)}.`, '');
  if (results.init) out.push(initLine(results.init), '');
  out.push(
    'Every target is a ratio between two things measured in the same run. The machine is shared, so single figures are noisy; the ± after each figure shows how much. The contenders of a size run in interleaved rounds, and a ratio is the median of the ratios within each round (where both ran at least three rounds; else the ratio of the medians), so a slow phase of the machine falls on both of its sides.',
    '',
    EXPLAIN,
    '',
    YARDSTICKS,
    '',
  );
  out.push('| group | target | result |', '| --- | --- | --- |');
  for (const g of results.groups) {
    for (const t of evaluateTargets(g)) out.push(`| ${g.id} | ${t.label} | **${t.status}**: ${t.text} |`);
  }
  out.push('');
  for (const g of results.groups) out.push(groupMarkdown(g, { level: '##', svg: `${chartDir}/${g.id}.svg` }));
  return out
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .replace(/\s*$/, '\n');
}
