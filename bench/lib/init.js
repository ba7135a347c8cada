// The `init` line of the benchmark: `import` and `await init()` of the built package, each in a
// fresh Node process (a process inits once), pinned to the benchmark's core when it has one; and,
// in processes of their own interleaved with those, init()'s steps one at a time (read the file,
// compile, instantiate, make the Engine) to show where its time goes.
// Target (../shared/BENCHMARKS.md): init() <= 5 ms in Node from a warm import.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sig, summarize } from './stats.js';

const SCRIPT = fileURLToPath(new URL('../init-time.js', import.meta.url));
export const INIT_TARGET_MS = 5;
const PARTS = ['readMs', 'compileMs', 'instantiateMs', 'engineMs'];

function sample(args, cpu) {
  const out =
    cpu === null
      ? spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8' })
      : spawnSync('taskset', ['-c', String(cpu), process.execPath, SCRIPT, ...args], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`bench init: ${out.stderr || out.error?.message}`);
  return JSON.parse(out.stdout);
}

/** Runs `runs` fresh processes of each kind, alternating; returns medians, quartiles and the samples (ms). */
export function measureInit({ runs = 21, cpu = null, entry } = {}) {
  const importMs = [];
  const initMs = [];
  const parts = Object.fromEntries(PARTS.map((k) => [k, []]));
  for (let i = 0; i < runs; i++) {
    const r = sample(entry ? [entry] : [], cpu);
    importMs.push(r.importMs);
    initMs.push(r.initMs);
    const p = sample(['--parts', ...(entry ? [entry] : [])], cpu);
    for (const k of PARTS) parts[k].push(p[k]);
  }
  const a = summarize(importMs);
  const b = summarize(initMs);
  return {
    runs,
    cpu,
    importMs: sig(a.medianMs, 4),
    initMs: sig(b.medianMs, 4),
    initP25Ms: sig(b.p25Ms, 4),
    initP75Ms: sig(b.p75Ms, 4),
    parts: Object.fromEntries(PARTS.map((k) => [k, sig(summarize(parts[k]).medianMs, 3)])),
    initSamples: initMs.map((x) => sig(x, 4)),
    importSamples: importMs.map((x) => sig(x, 4)),
  };
}

/** One markdown line for the report. */
export function initLine(init) {
  const ok = init.initMs <= INIT_TARGET_MS ? '✓' : '✗';
  const p = init.parts;
  const where = p
    ? ` Where it goes (medians of the steps done one by one): read the file ${p.readMs} ms, compile ${p.compileMs} ms, ` +
      `instantiate ${p.instantiateMs} ms, start and ABI check ${p.engineMs} ms.`
    : '';
  return (
    `\`init()\` in Node from a warm import: **${init.initMs} ms** median (quartiles ${init.initP25Ms}–${init.initP75Ms} ms, ` +
    `${init.runs} fresh processes${init.cpu !== null && init.cpu !== undefined ? `, pinned to core ${init.cpu}` : ''}); ` +
    `target ≤ ${INIT_TARGET_MS} ms ${ok}.${where} The import before it: ${init.importMs} ms.`
  );
}
