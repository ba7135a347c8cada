// One-run A/B of dense steps with 16- and 8-bit state (`stateType`, docs/lean-state.md): two
// checkouts (A and B, each with its SIMD build in dist/), each stepping one param with 'f32', 'bf16'
// and 'int8' state, the six contenders interleaved round by round in one process. Pin it to one core:
//
//   taskset -c 0 npx tsx bench/quant-ab.ts A_DIR B_DIR [Kind] [elements] [rounds] [options JSON]
//   taskset -c 0 npx tsx bench/quant-ab.ts /work/wt/base . Adam 65536 21 '{"amsgrad":true}'
//
// Prints each contender's median step time, its ratio to its tree's float32 step, and B/A for bf16
// and int8 (the two trees' float32 steps run the same kernel: their difference is the run's noise).
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

interface Stepper {
  step(): unknown;
}
interface Tree {
  createEngine(o: { source: Uint8Array }): Promise<unknown>;
  [kind: string]: unknown;
}

const [a = '.', b = '.', kind = 'Adam', nStr = '65536', roundsStr = '15', optJson = '{}'] = process.argv.slice(2);
const n = Number(nStr);
const rounds = Number(roundsStr);
const extra = JSON.parse(optJson) as Record<string, unknown>;
const types = ['f32', 'bf16', 'int8'] as const;

let seed = 1;
const rnd = (): number => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff - 0.5;
};
const init = Float32Array.from({ length: n }, () => rnd());
const grad = Float32Array.from({ length: n }, () => rnd() * 0.02);

const contenders: { name: string; opt: Stepper }[] = [];
for (const [k, dir] of [a, b].entries()) {
  const root = resolve(dir);
  const M = (await import(pathToFileURL(`${root}/src/index.ts`).href)) as Tree;
  const engine = await M.createEngine({ source: readFileSync(`${root}/dist/wasm-optim.simd.wasm`) });
  for (const stateType of types) {
    const Ctor = M[kind] as new (o: object) => Stepper & {
      param(x: Float32Array): { grad: Float32Array };
    };
    const opt = new Ctor({ lr: 1e-3, engine, stateType, ...extra });
    opt.param(init).grad.set(grad);
    contenders.push({ name: `${'AB'[k]}.${stateType}`, opt });
  }
}

const reps = Math.max(3, Math.round(2e6 / n));
const time = (o: Stepper): number => {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < reps; i++) o.step();
  return Number(process.hrtime.bigint() - t0) / reps / 1000;
};
for (const c of contenders) time(c.opt);
const runs: number[][] = contenders.map(() => []);
for (let r = 0; r < rounds; r++) contenders.forEach((c, i) => runs[i].push(time(c.opt)));
const med = (x: number[]): number => [...x].sort((p, q) => p - q)[x.length >> 1];
const m = runs.map(med);
const cells = contenders.map((c, i) => `${c.name} ${m[i].toFixed(1)} us (${(m[i] / m[i < 3 ? 0 : 3]).toFixed(2)}x)`);
console.log(
  `${kind} ${optJson} n=${n}, load ${loadavg()[0].toFixed(2)}: ${cells.join('  ')} | B/A bf16 ${(m[4] / m[1]).toFixed(3)} int8 ${(m[5] / m[2]).toFixed(3)}`,
);
