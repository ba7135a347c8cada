// The safetensors hand-off: the format itself (round trips, alignment, every malformed file
// refused with nothing changed), every dense optimizer and table through it, and real PyTorch
// (Debian's python3-torch) continuing from the engine's files and the engine from PyTorch's.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Adam, AdamW, Adagrad, CheckpointError, Embedding, NAdam, RMSprop, SGD, ShardedEmbedding, cosineLR, decodeSafetensors,
  encodeSafetensors, type Engine, type EmbeddingOptions, type SafetensorsTensorInput,
} from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { ALL_OPTIMIZERS, bits, rng, snapshot, type AnyOptimizer } from './reliability-util.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./torch/continue.py', import.meta.url));

/** Why PyTorch cannot be used here, or null when `/usr/bin/python3 -c 'import torch'` works. */
function torchUnavailable(): string | null {
  const r = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (r.error) return `${PYTHON} cannot run (${r.error.message})`;
  if (r.status !== 0) return `${PYTHON} cannot import torch (${r.stderr.trim().split('\n').pop()})`;
  return null;
}
const TORCH_MISSING = torchUnavailable();
const INSTALL = "install Debian's python3-torch (apt-get update && apt-get install -y python3-torch; .ci/run does this)";
if (TORCH_MISSING && process.env.CI !== 'true') {
  console.warn(`test/safetensors.test.ts: SKIPPING the PyTorch round trips: ${TORCH_MISSING}; ${INSTALL}`);
}

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'wasm-optim-safetensors-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function python(args: string[]): void {
  const r = spawnSync(PYTHON, [SCRIPT, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${PYTHON} ${SCRIPT} ${args.join(' ')} failed:\n${r.stderr}`);
}

/** Gradients grad.<t>.<i> for `steps` steps of params of these lengths (seeded, in [-1, 1)). */
function makeGrads(lengths: number[], steps: number, seed: number): Float32Array[][] {
  const r = rng(seed);
  return Array.from({ length: steps }, () => lengths.map((n) => Float32Array.from({ length: n }, () => r() * 2 - 1)));
}

function gradsFile(grads: Float32Array[][], path: string, shapes?: number[][]): void {
  const t: Record<string, SafetensorsTensorInput> = {};
  grads.forEach((gs, s) => gs.forEach((g, i) => { t[`grad.${s}.${i}`] = { shape: shapes?.[i] ?? [g.length], data: g }; }));
  writeFileSync(path, encodeSafetensors(t));
}

function run(opt: AnyOptimizer, grads: Float32Array[][]): void {
  for (const gs of grads) {
    opt.params.forEach((p, i) => p.grad.set(gs[i]));
    opt.step();
  }
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const TOL = 2e-5;

/** Every kind PyTorch 1.13 has, with options that exercise its state and hyperparameters. */
const TORCH_CASES: { name: string; torch: string; Ctor: new (o: object) => AnyOptimizer; options: Record<string, unknown>; groups?: Record<string, unknown>[] }[] = [
  { name: 'Adam', torch: 'Adam', Ctor: Adam as never, options: { lr: 0.01, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.01 } },
  { name: 'Adam amsgrad, two param groups', torch: 'Adam', Ctor: Adam as never, options: { lr: 0.02, amsgrad: true }, groups: [{ lr: 0.005, betas: [0.5, 0.9] }] },
  { name: 'AdamW', torch: 'AdamW', Ctor: AdamW as never, options: { lr: 0.01, weightDecay: 0.1 } },
  { name: 'SGD momentum, dampening', torch: 'SGD', Ctor: SGD as never, options: { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 } },
  { name: 'SGD nesterov', torch: 'SGD', Ctor: SGD as never, options: { lr: 0.05, momentum: 0.9, nesterov: true } },
  { name: 'SGD plain', torch: 'SGD', Ctor: SGD as never, options: { lr: 0.1 } },
  { name: 'Adagrad', torch: 'Adagrad', Ctor: Adagrad as never, options: { lr: 0.1, lrDecay: 0.01, initialAccumulatorValue: 0.1, weightDecay: 0.01 } },
  { name: 'RMSprop centered, momentum', torch: 'RMSprop', Ctor: RMSprop as never, options: { lr: 0.01, alpha: 0.9, momentum: 0.5, centered: true } },
  { name: 'RMSprop', torch: 'RMSprop', Ctor: RMSprop as never, options: { lr: 0.01 } },
  { name: 'Adamax', torch: 'Adamax', Ctor: ALL_OPTIMIZERS.Adamax, options: { lr: 0.01, weightDecay: 0.01 } },
  { name: 'Adadelta', torch: 'Adadelta', Ctor: ALL_OPTIMIZERS.Adadelta, options: { lr: 0.5, rho: 0.8 } },
  { name: 'NAdam', torch: 'NAdam', Ctor: NAdam as never, options: { lr: 0.01, momentumDecay: 0.01 } },
  { name: 'RAdam', torch: 'RAdam', Ctor: ALL_OPTIMIZERS.RAdam, options: { lr: 0.01 } },
];

const LENGTHS = [7, 12, 5];
const K = 6; // steps before the hand-off
const M = 10; // steps after it

const ROWS = 40, DIM = 6;
/** Tables in exact mode: the dense optimizer with zero gradients outside the touched rows, so PyTorch's dense optimizer over nn.Embedding's weight continues them. */
const TABLE_CASES: { optimizer: 'adam' | 'adamw' | 'sgd' | 'adagrad'; cls: string; options: EmbeddingOptions }[] = [
  { optimizer: 'adam', cls: 'Adam', options: { lr: 0.01, betas: [0.8, 0.99] } },
  { optimizer: 'adamw', cls: 'AdamW', options: { lr: 0.01, weightDecay: 0.05 } },
  { optimizer: 'sgd', cls: 'SGD', options: { lr: 0.05, momentum: 0.9 } },
  { optimizer: 'adagrad', cls: 'Adagrad', options: { lr: 0.1, initialAccumulatorValue: 0.1 } },
];

/** Sparse updates and the same as dense gradients (zero outside the ids, duplicates summed). */
function sparseSteps(steps: number, seed: number): { ids: Int32Array; grads: Float32Array; dense: Float32Array }[] {
  const r = rng(seed);
  return Array.from({ length: steps }, () => {
    const ids = Int32Array.from({ length: 8 }, () => Math.floor(r() * ROWS));
    const grads = Float32Array.from({ length: 8 * DIM }, () => r() * 2 - 1);
    const dense = new Float32Array(ROWS * DIM);
    ids.forEach((id, j) => { for (let c = 0; c < DIM; c++) dense[id * DIM + c] += grads[j * DIM + c]; });
    return { ids, grads, dense };
  });
}

const snakeKeys = (o: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k.replace(/[A-Z]/g, (x) => `_${x.toLowerCase()}`), v]));

describe('safetensors hand-off to real PyTorch', () => {
  it('has PyTorch when CI=true (else the round trips below are skipped with a printed message)', () => {
    if (process.env.CI === 'true' && TORCH_MISSING) throw new Error(`PyTorch is missing on CI: ${TORCH_MISSING}; ${INSTALL}`);
    expect(TORCH_MISSING === null || process.env.CI !== 'true').toBe(true);
  });

  // Everything PyTorch does runs in one Python process (importing torch takes seconds): the
  // engine's files and the inputs are written first, then the checks read PyTorch's outputs.
  const jobs: string[][] = [];
  const file = (name: string): string => join(dir, `${name.replace(/[^A-Za-z0-9]+/g, '-')}.safetensors`);
  const forward = new Map<string, { opt: AnyOptimizer; rest: Float32Array[][] }>();
  const tables = new Map<string, { emb: Embedding; steps: ReturnType<typeof sparseSteps> }>();
  beforeAll(async () => {
    if (TORCH_MISSING) return;
    const engine = await engineFor('simd');
    for (const c of TORCH_CASES) {
      // Engine -> PyTorch: K engine steps, the file, then M steps on both sides.
      const opt = new c.Ctor({ ...c.options, engine });
      const r = rng(11);
      const g1 = c.groups ? opt.addParamGroup(c.groups[0]) : null;
      // With a second group the params interleave (0 and 2 in group 0, 1 in group 1): PyTorch's
      // loader maps indices through the groups' lists.
      LENGTHS.forEach((n, i) => opt.param(Float32Array.from({ length: n }, () => r() * 2 - 1), g1 && i === 1 ? { group: g1 } : undefined));
      const grads = makeGrads(LENGTHS, K + M, 5);
      run(opt, grads.slice(0, K));
      writeFileSync(file(`${c.name} fwd state`), opt.saveSafetensors());
      gradsFile(grads.slice(K), file(`${c.name} fwd grads`));
      jobs.push(['resume', file(`${c.name} fwd state`), file(`${c.name} fwd grads`), String(M), file(`${c.name} fwd out`)]);
      forward.set(c.name, { opt, rest: grads.slice(K) });
      // PyTorch -> engine: PyTorch takes K steps, writes the file, takes M more.
      const init: Record<string, SafetensorsTensorInput> = {};
      const r2 = rng(12);
      LENGTHS.forEach((n, i) => { init[`param.${i}`] = { shape: [n], data: Float32Array.from({ length: n }, () => r2() * 2 - 1) }; });
      // PyTorch numbers params group by group: groups [0, 1] and [2] here.
      const spec = c.groups
        ? [{ ...snakeKeys(c.options), params: [0, 1] }, { ...snakeKeys(c.options), ...snakeKeys(c.groups[0]), params: [2] }]
        : [{ ...snakeKeys(c.options), params: [0, 1, 2] }];
      writeFileSync(file(`${c.name} rev init`), encodeSafetensors(init));
      gradsFile(makeGrads(LENGTHS, K + M, 6), file(`${c.name} rev grads`));
      jobs.push(['train', file(`${c.name} rev init`), file(`${c.name} rev grads`), String(K), String(M), c.torch, JSON.stringify(spec),
        file(`${c.name} rev state`), file(`${c.name} rev final`)]);
    }
    for (const tc of TABLE_CASES) {
      const steps = sparseSteps(K + M, 21);
      const emb = new Embedding(ROWS, DIM, { optimizer: tc.optimizer, mode: 'exact', ...tc.options, seed: 4, engine });
      for (const s of steps.slice(0, K)) emb.update(s.ids, s.grads);
      writeFileSync(file(`table ${tc.optimizer} fwd state`), emb.saveSafetensors());
      gradsFile(steps.slice(K).map((s) => [s.dense]), file(`table ${tc.optimizer} fwd grads`), [[ROWS, DIM]]);
      jobs.push(['resume', file(`table ${tc.optimizer} fwd state`), file(`table ${tc.optimizer} fwd grads`), String(M), file(`table ${tc.optimizer} fwd out`)]);
      tables.set(tc.optimizer, { emb, steps });
      const r = rng(3);
      writeFileSync(file(`table ${tc.optimizer} rev init`), encodeSafetensors({ 'param.0': { shape: [ROWS, DIM], data: Float32Array.from({ length: ROWS * DIM }, () => r() * 2 - 1) } }));
      gradsFile(steps.map((s) => [s.dense]), file(`table ${tc.optimizer} rev grads`), [[ROWS, DIM]]);
      jobs.push(['train', file(`table ${tc.optimizer} rev init`), file(`table ${tc.optimizer} rev grads`), String(K), String(M), tc.cls,
        JSON.stringify([{ ...snakeKeys(tc.options as Record<string, unknown>), params: [0] }]), file(`table ${tc.optimizer} rev state`), file(`table ${tc.optimizer} rev final`), 'table']);
    }
    const list = join(dir, 'jobs.json');
    writeFileSync(list, JSON.stringify(jobs));
    python(['batch', list]);
  });

  const read = (name: string, tensor: string): Float32Array => decodeSafetensors(readFileSync(file(name))).tensors[tensor].data as Float32Array;

  for (const c of TORCH_CASES) {
    it.skipIf(TORCH_MISSING !== null)(`${c.name}: engine -> torch.optim continues as the engine does (${M} steps, ${TOL})`, () => {
      const { opt, rest } = forward.get(c.name)!;
      run(opt, rest);
      opt.params.forEach((p, i) => expect(maxDiff(read(`${c.name} fwd out`, `param.${i}`), p.data), `param ${i}`).toBeLessThanOrEqual(TOL));
      opt.dispose();
    });

    it.skipIf(TORCH_MISSING !== null)(`${c.name}: torch.optim -> engine continues as PyTorch does (${M} steps, ${TOL})`, async () => {
      const opt = new c.Ctor({ engine: await engineFor('simd') });
      opt.loadSafetensors(readFileSync(file(`${c.name} rev state`)));
      expect(opt.params.length).toBe(3);
      // PyTorch's SGD keeps no step: a momentum buffer says "at least one".
      expect(opt.stepCount).toBe(c.name === 'SGD plain' ? 0 : c.torch === 'SGD' ? 1 : K);
      if (c.groups) expect(opt.paramGroups[1].lr).toBe(c.groups[0].lr);
      for (const [k, v] of Object.entries(c.options)) expect(opt.options[k as keyof typeof opt.options], k).toEqual(v);
      run(opt, makeGrads(LENGTHS, K + M, 6).slice(K));
      opt.params.forEach((p, i) => expect(maxDiff(read(`${c.name} rev final`, `param.${i}`), p.data), `param ${i}`).toBeLessThanOrEqual(TOL));
      opt.dispose();
    });
  }

  for (const tc of TABLE_CASES) {
    it.skipIf(TORCH_MISSING !== null)(`table '${tc.optimizer}' (exact mode) -> torch.optim.${tc.cls} over nn.Embedding's weight continues as the table does`, () => {
      const { emb, steps } = tables.get(tc.optimizer)!;
      for (const s of steps.slice(K)) emb.update(s.ids, s.grads);
      expect(maxDiff(read(`table ${tc.optimizer} fwd out`, 'param.0'), emb.weights)).toBeLessThanOrEqual(TOL);
      emb.dispose();
    });

    it.skipIf(TORCH_MISSING !== null)(`torch.optim.${tc.cls} over nn.Embedding's weight -> table '${tc.optimizer}' (exact mode) continues as PyTorch does`, async () => {
      const { steps } = tables.get(tc.optimizer)!;
      const back = new Embedding(ROWS, DIM, { optimizer: tc.optimizer, mode: 'exact', ...tc.options, init: 'zeros', engine: await engineFor('simd') });
      back.loadSafetensors(readFileSync(file(`table ${tc.optimizer} rev state`)));
      expect(back.stepCount).toBe(tc.optimizer === 'sgd' ? 1 : K); // PyTorch's SGD keeps no step
      expect(back.lr).toBe(tc.options.lr);
      for (const s of steps.slice(K)) back.update(s.ids, s.grads);
      expect(maxDiff(read(`table ${tc.optimizer} rev final`, 'param.0'), back.weights)).toBeLessThanOrEqual(TOL);
      back.dispose();
    });
  }
});
