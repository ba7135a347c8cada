// The cost of gradient clipping on a 4M-element Adam step (`npm run build` first, then
// `node scripts/clip-cost.mjs [rounds]`): every variant steps in interleaved rounds and is timed
// with this process's CPU time (so that waiting for a core on a busy machine does not count);
// prints the median per step and the ratios to the plain step with and without the non-finite check.
import { createEngine, Adam } from '../dist/index.js';
const n = 4 << 20;
const engine = await createEngine({ simd: true });
const init = new Float32Array(n).map((_, i) => Math.sin(i));
const g = new Float32Array(n).map((_, i) => Math.cos(i * 1.3) * 1e-2);
const variants = {
  'plain (nonFinite ignore)': { nonFinite: 'ignore' },
  'plain (default throw check)': {},
  'clipGradNorm (ignore)': { nonFinite: 'ignore', clipGradNorm: 1 },
  'clipGradNorm (default)': { clipGradNorm: 1 },
  'clipGradValue (ignore)': { nonFinite: 'ignore', clipGradValue: 1e-3 },
  'norm+value (default)': { clipGradNorm: 1, clipGradValue: 1e-3 },
};
const opts = Object.fromEntries(
  Object.entries(variants).map(([k, o]) => {
    const a = new Adam({ lr: 1e-3, engine, ...o });
    const p = a.param(init);
    p.grad.set(g);
    return [k, a];
  }),
);
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
};
const best = Object.fromEntries(Object.keys(opts).map((k) => [k, []]));
for (const a of Object.values(opts)) for (let i = 0; i < 3; i++) a.step();
const rounds = Number(process.argv[2] ?? 15);
for (let r = 0; r < rounds; r++) {
  for (const [k, a] of Object.entries(opts)) {
    const t0 = cpu();
    const w0 = performance.now();
    for (let i = 0; i < 4; i++) a.step();
    best[k].push({ cpu: (cpu() - t0) / 4, wall: (performance.now() - w0) / 4 });
  }
}
const med = (xs) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s[s.length >> 1];
};
const base = med(best['plain (nonFinite ignore)'].map((x) => x.cpu));
const baseT = med(best['plain (default throw check)'].map((x) => x.cpu));
for (const [k, xs] of Object.entries(best)) {
  const c = med(xs.map((x) => x.cpu)),
    w = med(xs.map((x) => x.wall));
  console.log(
    `${k.padEnd(30)} cpu ${c.toFixed(2)} ms  wall ${w.toFixed(2)} ms  ${(n / c / 1e3).toFixed(0)} Melem/s  x${(c / base).toFixed(3)} vs ignore-plain  x${(c / baseT).toFixed(3)} vs default-plain`,
  );
}
