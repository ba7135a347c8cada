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
  Adam,
  AdamW,
  Adagrad,
  CheckpointError,
  Embedding,
  NAdam,
  RMSprop,
  SGD,
  ShardedEmbedding,
  cosineLR,
  decodeSafetensors,
  encodeSafetensors,
  memoryStats,
  type Engine,
  type EmbeddingOptions,
  type SafetensorsTensorInput,
} from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { ALL_OPTIMIZERS, bits, rng, snapshot, type AnyOptimizer } from './reliability-util.js';

/** Debian's python3 with python3-torch; TORCH_PYTHON names another interpreter. */
const PYTHON = process.env.TORCH_PYTHON ?? '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./torch/continue.py', import.meta.url));

/** Why PyTorch cannot be used here, or null when `/usr/bin/python3 -c 'import torch'` works. */
function torchUnavailable(): string | null {
  const r = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (r.error) return `${PYTHON} cannot run (${r.error.message})`;
  if (r.status !== 0) return `${PYTHON} cannot import torch (${r.stderr.trim().split('\n').pop()})`;
  return null;
}
const TORCH_MISSING = torchUnavailable();
const INSTALL =
  "install Debian's python3-torch (apt-get update && apt-get install -y python3-torch; .ci/run does this)";
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
  grads.forEach((gs, s) =>
    gs.forEach((g, i) => {
      t[`grad.${s}.${i}`] = { shape: shapes?.[i] ?? [g.length], data: g };
    }),
  );
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
const TORCH_CASES: {
  name: string;
  torch: string;
  Ctor: new (o: object) => AnyOptimizer;
  options: Record<string, unknown>;
  groups?: Record<string, unknown>[];
}[] = [
  {
    name: 'Adam',
    torch: 'Adam',
    Ctor: Adam as never,
    options: { lr: 0.01, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.01 },
  },
  {
    name: 'Adam amsgrad, two param groups',
    torch: 'Adam',
    Ctor: Adam as never,
    options: { lr: 0.02, amsgrad: true },
    groups: [{ lr: 0.005, betas: [0.5, 0.9] }],
  },
  { name: 'AdamW', torch: 'AdamW', Ctor: AdamW as never, options: { lr: 0.01, weightDecay: 0.1 } },
  {
    name: 'SGD momentum, dampening',
    torch: 'SGD',
    Ctor: SGD as never,
    options: { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 },
  },
  { name: 'SGD nesterov', torch: 'SGD', Ctor: SGD as never, options: { lr: 0.05, momentum: 0.9, nesterov: true } },
  { name: 'SGD plain', torch: 'SGD', Ctor: SGD as never, options: { lr: 0.1 } },
  {
    name: 'Adagrad',
    torch: 'Adagrad',
    Ctor: Adagrad as never,
    options: { lr: 0.1, lrDecay: 0.01, initialAccumulatorValue: 0.1, weightDecay: 0.01 },
  },
  {
    name: 'RMSprop centered, momentum',
    torch: 'RMSprop',
    Ctor: RMSprop as never,
    options: { lr: 0.01, alpha: 0.9, momentum: 0.5, centered: true },
  },
  { name: 'RMSprop', torch: 'RMSprop', Ctor: RMSprop as never, options: { lr: 0.01 } },
  { name: 'Adamax', torch: 'Adamax', Ctor: ALL_OPTIMIZERS.Adamax, options: { lr: 0.01, weightDecay: 0.01 } },
  { name: 'Adadelta', torch: 'Adadelta', Ctor: ALL_OPTIMIZERS.Adadelta, options: { lr: 0.5, rho: 0.8 } },
  { name: 'NAdam', torch: 'NAdam', Ctor: NAdam as never, options: { lr: 0.01, momentumDecay: 0.01 } },
  { name: 'RAdam', torch: 'RAdam', Ctor: ALL_OPTIMIZERS.RAdam, options: { lr: 0.01 } },
];

const LENGTHS = [7, 12, 5];
const K = 6; // steps before the hand-off
const M = 10; // steps after it

const ROWS = 40,
  DIM = 6;
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
    ids.forEach((id, j) => {
      for (let c = 0; c < DIM; c++) dense[id * DIM + c] += grads[j * DIM + c];
    });
    return { ids, grads, dense };
  });
}

const snakeKeys = (o: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k.replace(/[A-Z]/g, (x) => `_${x.toLowerCase()}`), v]));

describe('safetensors hand-off to real PyTorch', () => {
  it('has PyTorch when CI=true (else the round trips below are skipped with a printed message)', () => {
    if (process.env.CI === 'true' && TORCH_MISSING)
      throw new Error(`PyTorch is missing on CI: ${TORCH_MISSING}; ${INSTALL}`);
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
      LENGTHS.forEach((n, i) =>
        opt.param(
          Float32Array.from({ length: n }, () => r() * 2 - 1),
          g1 && i === 1 ? { group: g1 } : undefined,
        ),
      );
      const grads = makeGrads(LENGTHS, K + M, 5);
      run(opt, grads.slice(0, K));
      writeFileSync(file(`${c.name} fwd state`), opt.saveSafetensors());
      gradsFile(grads.slice(K), file(`${c.name} fwd grads`));
      jobs.push([
        'resume',
        file(`${c.name} fwd state`),
        file(`${c.name} fwd grads`),
        String(M),
        file(`${c.name} fwd out`),
      ]);
      forward.set(c.name, { opt, rest: grads.slice(K) });
      // PyTorch -> engine: PyTorch takes K steps, writes the file, takes M more.
      const init: Record<string, SafetensorsTensorInput> = {};
      const r2 = rng(12);
      LENGTHS.forEach((n, i) => {
        init[`param.${i}`] = { shape: [n], data: Float32Array.from({ length: n }, () => r2() * 2 - 1) };
      });
      // PyTorch numbers params group by group: groups [0, 1] and [2] here.
      const spec = c.groups
        ? [
            { ...snakeKeys(c.options), params: [0, 1] },
            { ...snakeKeys(c.options), ...snakeKeys(c.groups[0]), params: [2] },
          ]
        : [{ ...snakeKeys(c.options), params: [0, 1, 2] }];
      writeFileSync(file(`${c.name} rev init`), encodeSafetensors(init));
      gradsFile(makeGrads(LENGTHS, K + M, 6), file(`${c.name} rev grads`));
      jobs.push([
        'train',
        file(`${c.name} rev init`),
        file(`${c.name} rev grads`),
        String(K),
        String(M),
        c.torch,
        JSON.stringify(spec),
        file(`${c.name} rev state`),
        file(`${c.name} rev final`),
      ]);
    }
    for (const tc of TABLE_CASES) {
      const steps = sparseSteps(K + M, 21);
      const emb = new Embedding(ROWS, DIM, { optimizer: tc.optimizer, mode: 'exact', ...tc.options, seed: 4, engine });
      for (const s of steps.slice(0, K)) emb.update(s.ids, s.grads);
      writeFileSync(file(`table ${tc.optimizer} fwd state`), emb.saveSafetensors());
      gradsFile(
        steps.slice(K).map((s) => [s.dense]),
        file(`table ${tc.optimizer} fwd grads`),
        [[ROWS, DIM]],
      );
      jobs.push([
        'resume',
        file(`table ${tc.optimizer} fwd state`),
        file(`table ${tc.optimizer} fwd grads`),
        String(M),
        file(`table ${tc.optimizer} fwd out`),
      ]);
      tables.set(tc.optimizer, { emb, steps });
      const r = rng(3);
      writeFileSync(
        file(`table ${tc.optimizer} rev init`),
        encodeSafetensors({
          'param.0': { shape: [ROWS, DIM], data: Float32Array.from({ length: ROWS * DIM }, () => r() * 2 - 1) },
        }),
      );
      gradsFile(
        steps.map((s) => [s.dense]),
        file(`table ${tc.optimizer} rev grads`),
        [[ROWS, DIM]],
      );
      jobs.push([
        'train',
        file(`table ${tc.optimizer} rev init`),
        file(`table ${tc.optimizer} rev grads`),
        String(K),
        String(M),
        tc.cls,
        JSON.stringify([{ ...snakeKeys(tc.options as Record<string, unknown>), params: [0] }]),
        file(`table ${tc.optimizer} rev state`),
        file(`table ${tc.optimizer} rev final`),
        'table',
      ]);
    }
    const list = join(dir, 'jobs.json');
    writeFileSync(list, JSON.stringify(jobs));
    python(['batch', list]);
  });

  const read = (name: string, tensor: string): Float32Array =>
    decodeSafetensors(readFileSync(file(name))).tensors[tensor].data as Float32Array;

  for (const c of TORCH_CASES) {
    it.skipIf(TORCH_MISSING !== null)(
      `${c.name}: engine -> torch.optim continues as the engine does (${M} steps, ${TOL})`,
      () => {
        const { opt, rest } = forward.get(c.name)!;
        run(opt, rest);
        opt.params.forEach((p, i) =>
          expect(maxDiff(read(`${c.name} fwd out`, `param.${i}`), p.data), `param ${i}`).toBeLessThanOrEqual(TOL),
        );
        opt.dispose();
      },
    );

    it.skipIf(TORCH_MISSING !== null)(
      `${c.name}: torch.optim -> engine continues as PyTorch does (${M} steps, ${TOL})`,
      async () => {
        const opt = new c.Ctor({ engine: await engineFor('simd') });
        opt.loadSafetensors(readFileSync(file(`${c.name} rev state`)));
        expect(opt.params.length).toBe(3);
        // PyTorch's SGD keeps no step: a momentum buffer says "at least one".
        expect(opt.stepCount).toBe(c.name === 'SGD plain' ? 0 : c.torch === 'SGD' ? 1 : K);
        if (c.groups) expect(opt.paramGroups[1].lr).toBe(c.groups[0].lr);
        for (const [k, v] of Object.entries(c.options))
          expect(opt.options[k as keyof typeof opt.options], k).toEqual(v);
        run(opt, makeGrads(LENGTHS, K + M, 6).slice(K));
        opt.params.forEach((p, i) =>
          expect(maxDiff(read(`${c.name} rev final`, `param.${i}`), p.data), `param ${i}`).toBeLessThanOrEqual(TOL),
        );
        opt.dispose();
      },
    );
  }

  for (const tc of TABLE_CASES) {
    it.skipIf(TORCH_MISSING !== null)(
      `table '${tc.optimizer}' (exact mode) -> torch.optim.${tc.cls} over nn.Embedding's weight continues as the table does`,
      () => {
        const { emb, steps } = tables.get(tc.optimizer)!;
        for (const s of steps.slice(K)) emb.update(s.ids, s.grads);
        expect(maxDiff(read(`table ${tc.optimizer} fwd out`, 'param.0'), emb.weights)).toBeLessThanOrEqual(TOL);
        emb.dispose();
      },
    );

    it.skipIf(TORCH_MISSING !== null)(
      `torch.optim.${tc.cls} over nn.Embedding's weight -> table '${tc.optimizer}' (exact mode) continues as PyTorch does`,
      async () => {
        const { steps } = tables.get(tc.optimizer)!;
        const back = new Embedding(ROWS, DIM, {
          optimizer: tc.optimizer,
          mode: 'exact',
          ...tc.options,
          init: 'zeros',
          engine: await engineFor('simd'),
        });
        back.loadSafetensors(readFileSync(file(`table ${tc.optimizer} rev state`)));
        expect(back.stepCount).toBe(tc.optimizer === 'sgd' ? 1 : K); // PyTorch's SGD keeps no step
        expect(back.lr).toBe(tc.options.lr);
        for (const s of steps.slice(K)) back.update(s.ids, s.grads);
        expect(maxDiff(read(`table ${tc.optimizer} rev final`, 'param.0'), back.weights)).toBeLessThanOrEqual(TOL);
        back.dispose();
      },
    );
  }
});

// ---------------------------------------------------------------------------------------------
// The format itself.

/** A state dict (or any structure) as a string with every float32 tensor as its bits. */
function dictBits(x: unknown): string {
  return JSON.stringify(x, (_k, v) => (v instanceof Float32Array ? bits(v) : v));
}

/** The file with its header JSON replaced by `edit(header)` (data bytes kept as they are). */
function withHeader(bytes: Uint8Array, edit: (h: Record<string, unknown>) => unknown, pad = true): Uint8Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const n = dv.getUint32(0, true);
  const h = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  const out = edit(h);
  let json = new TextEncoder().encode(typeof out === 'string' ? out : JSON.stringify(out ?? h));
  if (pad && json.length % 8 !== 0)
    json = new TextEncoder().encode(new TextDecoder().decode(json) + ' '.repeat(8 - (json.length % 8)));
  const data = bytes.subarray(8 + n);
  const r = new Uint8Array(8 + json.length + data.length);
  new DataView(r.buffer).setUint32(0, json.length, true);
  r.set(json, 8);
  r.set(data, 8 + json.length);
  return r;
}

/** The file decoded, changed by `edit` (tensors and metadata) and encoded again. */
function rewrite(
  bytes: Uint8Array,
  edit: (t: Record<string, SafetensorsTensorInput>, m: Record<string, string>) => void,
): Uint8Array {
  const f = decodeSafetensors(bytes);
  const tensors: Record<string, SafetensorsTensorInput> = Object.fromEntries(
    Object.entries(f.tensors).map(([k, v]) => [k, { ...v, data: v.data.slice() }]),
  );
  const meta = { ...f.metadata };
  edit(tensors, meta);
  return encodeSafetensors(tensors, meta);
}

function refusedWith(fn: () => unknown, reason: string, message: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected a refusal matching ${message}`).toBeInstanceOf(CheckpointError);
  expect((err as CheckpointError).message).toMatch(message);
  expect((err as CheckpointError).reason).toBe(reason);
}

describe('safetensors format', () => {
  it('lays out a file as the reference does: u64 header length, JSON padded with spaces to 8 bytes, data back to back', () => {
    const bytes = encodeSafetensors({ b: { shape: [2], data: new Float32Array([1, -2]) } }, { k: 'v' });
    const json = '{"__metadata__":{"k":"v"},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
    const n = Math.ceil(json.length / 8) * 8;
    const want = new Uint8Array(8 + n + 8);
    new DataView(want.buffer).setUint32(0, n, true);
    want.set(new TextEncoder().encode(json.padEnd(n, ' ')), 8);
    new DataView(want.buffer).setFloat32(8 + n, 1, true);
    new DataView(want.buffer).setFloat32(8 + n + 4, -2, true);
    expect(Array.from(bytes)).toEqual(Array.from(want));
  });

  it('round-trips every dtype, scalars, empty tensors and metadata; every tensor aligned to its element size, decoded without a copy', () => {
    const input: Record<string, SafetensorsTensorInput> = {
      u8: { shape: [3], data: new Uint8Array([0, 255, 7]) },
      f64: { shape: [2, 1], data: new Float64Array([Math.PI, -0]) },
      bool: { dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) },
      i16: { shape: [1], data: new Int16Array([-3]) },
      f32: { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, -6.5]) },
      scalar: { shape: [], data: new Float32Array([7]) },
      empty: { shape: [0, 4], data: new Float32Array(0) },
      bf16: { dtype: 'BF16', shape: [1], data: new Uint16Array([0x3f80]) },
      f16: { dtype: 'F16', shape: [1], data: new Uint16Array([0x3c00]) },
      i64: { shape: [2], data: new BigInt64Array([-(2n ** 40n), 5n]) },
      u64: { shape: [1], data: new BigUint64Array([2n ** 63n]) },
      i32: { shape: [1], data: new Int32Array([-1]) },
      u32: { shape: [1], data: new Uint32Array([2 ** 32 - 1]) },
      i8: { shape: [1], data: new Int8Array([-128]) },
      u16: { shape: [1], data: new Uint16Array([65535]) },
      f8: { dtype: 'F8_E4M3', shape: [1], data: new Uint8Array([0x38]) },
    };
    const bytes = encodeSafetensors(input, { format: 'pt', note: 'ü' });
    const n = new DataView(bytes.buffer).getUint32(0, true);
    expect((8 + n) % 8).toBe(0);
    const f = decodeSafetensors(bytes);
    expect(f.metadata).toEqual({ format: 'pt', note: 'ü' });
    expect(Object.keys(f.tensors).sort()).toEqual(Object.keys(input).sort());
    for (const [name, t] of Object.entries(input)) {
      const d = f.tensors[name];
      expect(d.dtype, name).toBe(t.dtype ?? d.dtype);
      expect(d.shape, name).toEqual(t.shape);
      expect(d.data.constructor, name).toBe(t.data.constructor);
      expect(Array.from(d.data as ArrayLike<number>), name).toEqual(Array.from(t.data as ArrayLike<number>));
      expect((d.data.byteOffset - bytes.byteOffset) % d.data.BYTES_PER_ELEMENT, `${name} aligned`).toBe(0);
      expect(d.data.buffer, `${name} is a view`).toBe(bytes.buffer);
    }
    expect(Object.is((f.tensors.f64.data as Float64Array)[1], -0)).toBe(true);
    // Largest elements first, then by name: the order the reference writes.
    expect(Object.keys(f.tensors)).toEqual([
      'f64',
      'i64',
      'u64',
      'empty',
      'f32',
      'i32',
      'scalar',
      'u32',
      'bf16',
      'f16',
      'i16',
      'u16',
      'bool',
      'f8',
      'i8',
      'u8',
    ]);
    // An unaligned copy of the file decodes the same (into copies).
    const shifted = new Uint8Array(bytes.length + 1).subarray(1);
    shifted.set(bytes);
    const g = decodeSafetensors(shifted);
    expect(Array.from(g.tensors.f32.data as Float32Array)).toEqual([1, 2, 3, 4, 5, -6.5]);
    expect(g.tensors.f64.data.buffer).not.toBe(shifted.buffer);
    expect(decodeSafetensors(bytes.slice().buffer).tensors.i64.data).toEqual(new BigInt64Array([-(2n ** 40n), 5n]));
  });

  it('refuses to encode what it cannot write', () => {
    const f = new Float32Array(2);
    expect(() => encodeSafetensors({ a: { shape: [3], data: f } })).toThrow(/shape \[3\] \(3 elements\) but 2/);
    expect(() => encodeSafetensors({ a: { dtype: 'F64', shape: [2], data: f } })).toThrow(
      /F64 but holds a Float32Array; F64 takes a Float64Array/,
    );
    expect(() => encodeSafetensors({ a: { dtype: 'X' as never, shape: [2], data: f } })).toThrow(/unknown dtype "X"/);
    expect(() => encodeSafetensors({ a: { shape: [-2], data: f } })).toThrow(/non-negative integers/);
    expect(() => encodeSafetensors({ __metadata__: { shape: [2], data: f } })).toThrow(/cannot name a tensor/);
    expect(() => encodeSafetensors({ a: { shape: [2], data: new Uint8ClampedArray(2) as never } })).toThrow(TypeError);
    expect(() => encodeSafetensors({}, { n: 1 as never })).toThrow(/metadata 'n' is number 1; .* strings/);
  });

  it('refuses every malformed file with a CheckpointError that says what is wrong', () => {
    const good = encodeSafetensors(
      { a: { shape: [2], data: new Float32Array([1, 2]) }, b: { shape: [1], data: new Float32Array([3]) } },
      { k: 'v' },
    );
    expect(decodeSafetensors(good).tensors.b.data).toEqual(new Float32Array([3]));
    const entry = (h: Record<string, unknown>, name: string): Record<string, unknown> =>
      h[name] as Record<string, unknown>;
    const bigHeader = good.slice();
    new DataView(bigHeader.buffer).setUint32(4, 1, true);
    const badUtf8 = withHeader(good, (h) => JSON.stringify(h).replace('"k"', '"\u00ff"'));
    badUtf8[badUtf8.indexOf(0xc3, 8)] = 0xff; // 0xff 0xbf where UTF-8 had 0xc3 0xbf
    const cases: [Uint8Array, string, RegExp][] = [
      [good.subarray(0, 5), 'truncated', /truncated: 5 bytes, fewer than the 8/],
      [good.subarray(0, 20), 'truncated', /header declares \d+ bytes but only 12 follow/],
      [bigHeader, 'malformed', /header length is 4294967\d+ bytes, more than the 100000000/],
      [badUtf8, 'malformed', /not valid UTF-8/],
      [withHeader(good, (h) => ` ${JSON.stringify(h)}`), 'malformed', /starting with '\{'/],
      [withHeader(good, (h) => JSON.stringify(h).slice(0, -1)), 'malformed', /header is not JSON/],
      [
        withHeader(good, (h) => {
          h.__metadata__ = { k: 1 };
        }),
        'malformed',
        /__metadata__.k is number 1, not a string/,
      ],
      [
        withHeader(good, (h) => {
          h.__metadata__ = ['x'];
        }),
        'malformed',
        /__metadata__ is not an object of strings/,
      ],
      [
        withHeader(good, (h) => {
          h.a = [1];
        }),
        'malformed',
        /tensor 'a' is not an object/,
      ],
      [
        withHeader(good, (h) => {
          entry(h, 'a').extra = 1;
        }),
        'malformed',
        /tensor 'a' has unknown key\(s\) extra/,
      ],
      [
        withHeader(good, (h) => {
          entry(h, 'a').dtype = 'F31';
        }),
        'malformed',
        /tensor 'a' has unknown dtype "F31"/,
      ],
      [
        withHeader(good, (h) => {
          entry(h, 'a').shape = [2.5];
        }),
        'malformed',
        /tensor 'a' has shape \[2.5\]/,
      ],
      [
        withHeader(good, (h) => {
          entry(h, 'a').shape = [-2];
        }),
        'malformed',
        /tensor 'a' has shape \[-2\]/,
      ],
      [
        withHeader(good, (h) => {
          entry(h, 'a').data_offsets = [0];
        }),
        'malformed',
        /tensor 'a' has data_offsets \[0\]/,
      ],
      [
        withHeader(good, (h) => {
          entry(h, 'a').data_offsets = [8, 0];
        }),
        'malformed',
        /tensor 'a' has data_offsets \[8,0\]/,
      ],
      [
        withHeader(good, (h) => {
          entry(h, 'a').shape = [3];
        }),
        'malformed',
        /tensor 'a' is F32 of shape \[3\] \(12 bytes\) but its data_offsets \[\d+, \d+\] span 8 bytes/,
      ],
      [
        withHeader(good, (h) => {
          entry(h, 'a').dtype = 'F64';
        }),
        'malformed',
        /tensor 'a' is F64 of shape \[2\] \(16 bytes\)/,
      ],
      [
        withHeader(good, (h) => {
          entry(h, 'b').data_offsets = [0, 4];
        }),
        'malformed',
        /overlaps/,
      ],
      [
        withHeader(good, (h) => {
          entry(h, 'b').data_offsets = [12, 16];
          entry(h, 'a').data_offsets = [0, 8];
        }),
        'malformed',
        /bytes 8 to 12 of the data belong to no tensor/,
      ],
      [
        withHeader(good, (h) => {
          delete h.a;
        }),
        'malformed',
        /bytes 0 to \d+ of the data belong to no tensor/,
      ],
      [good.subarray(0, good.length - 1), 'truncated', /tensors need 12 bytes of data but 11 are present/],
      [Uint8Array.from([...good, 0]), 'corrupt', /1 bytes after the last tensor's data belong to no tensor/],
    ];
    for (const [bytes, reason, message] of cases) refusedWith(() => decodeSafetensors(bytes), reason, message);
    expect(() => decodeSafetensors('x' as never)).toThrow(TypeError);
  });
});

// ---------------------------------------------------------------------------------------------
// Every dense optimizer and table through the format (no PyTorch needed).

/** Steps `opt` `n` times with seeded gradients. */
function train(opt: AnyOptimizer, n: number, seed: number): void {
  const r = rng(seed);
  for (let t = 0; t < n; t++) {
    for (const p of opt.params) {
      const g = p.grad;
      for (let i = 0; i < g.length; i++) g[i] = r() * 2 - 1;
    }
    opt.step();
  }
}

describe.each(BUILD_NAMES)('optimizers through safetensors (%s build)', (build) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await engineFor(build);
  });

  for (const [name, Ctor] of Object.entries(ALL_OPTIMIZERS)) {
    it(`${name}: save, load into a new one (params created) and into one with params; both continue bit for bit`, () => {
      const opt = new Ctor({ engine, nonFinite: 'skip', clipGradNorm: 5 });
      // FTRL has no weightDecay (its regularizers are l1, l2, l2Shrinkage).
      const g = opt.addParamGroup(name === 'FTRL' ? { lr: 0.003, l2: 0.02 } : { lr: 0.003, weightDecay: 0.02 });
      opt.param(Float32Array.from({ length: 9 }, (_, i) => i / 9 - 0.5));
      opt.param(6, { group: g });
      train(opt, 4, 1);
      opt.param(Float32Array.from({ length: 3 }, (_, i) => i)); // joins late: no state yet, as in PyTorch
      train(opt, 2, 2);
      opt.param(4); // never stepped
      const bytes = opt.saveSafetensors();
      const f = decodeSafetensors(bytes);
      expect(f.metadata.optimizer).toBe(name);
      expect(f.metadata.format).toBe('pt');
      const groups = JSON.parse(f.metadata.param_groups) as Record<string, unknown>[];
      expect(groups.map((x) => x.params)).toEqual([[0, 2, 3], [1]]);
      expect(groups[1].lr).toBe(opt.paramGroups[1].lr);
      expect(Object.keys(groups[0])).not.toContain('nonFinite');
      expect(groups[0].weight_decay).toBe(opt.options.weightDecay);
      expect(f.tensors['state.0.step'].data).toEqual(new Float32Array([6]));
      expect(f.tensors['state.0.step'].shape).toEqual([]);
      expect(f.tensors['state.2.step'].data).toEqual(new Float32Array([2]));
      // PyTorch's Adagrad fills its state in the constructor; the others from the first step.
      expect(
        Object.keys(f.tensors)
          .filter((k) => k.startsWith('state.3.'))
          .sort(),
      ).toEqual(name === 'Adagrad' ? ['state.3.step', 'state.3.sum'] : []);
      expect(f.tensors['param.1'].data).toEqual(opt.params[1].data);

      const fresh = new Ctor({ engine });
      fresh.loadSafetensors(bytes);
      expect(dictBits(fresh.stateDict())).toBe(dictBits(opt.stateDict()));
      expect(snapshot(fresh, false)).toBe(snapshot(opt, false));
      const same = new Ctor({ engine });
      const g2 = same.addParamGroup({ lr: 1 });
      [9, 6, 3, 4].forEach((n, i) => same.param(n, i === 1 ? { group: g2 } : undefined));
      same.loadSafetensors(bytes);
      expect(dictBits(same.stateDict())).toBe(dictBits(opt.stateDict()));
      expect(snapshot(same, false)).toBe(snapshot(opt, false));
      for (const o of [opt, fresh, same]) train(o, 3, 3);
      expect(snapshot(fresh, false)).toBe(snapshot(opt, false));
      expect(snapshot(same, false)).toBe(snapshot(opt, false));
      for (const o of [opt, fresh, same]) o.dispose();
    });
  }

  it('an lr schedule and the engine-only options come back from __metadata__.wasm_optim', () => {
    const opt = new Adam({
      engine,
      lr: cosineLR({ peak: 0.1, decaySteps: 20 }) as never,
      nonFinite: 'ignore',
      clipGradValue: 0.5,
    });
    opt.param(5);
    train(opt, 3, 4);
    const fresh = new Adam({ engine });
    fresh.loadSafetensors(opt.saveSafetensors());
    expect(fresh.options.nonFinite).toBe('ignore');
    expect(fresh.options.clipGradValue).toBe(0.5);
    expect(fresh.lrSchedule?.toJSON()).toEqual(opt.lrSchedule?.toJSON());
    for (const o of [opt, fresh]) train(o, 4, 5);
    expect(snapshot(fresh, false)).toBe(snapshot(opt, false));
    // A file from PyTorch has no wasm_optim: the receiver keeps its own engine-only options.
    // Newer PyTorch's switches that are off (decoupled_weight_decay: false for Adam) and its
    // implementation flags are ignored.
    const torchLike = rewrite(opt.saveSafetensors(), (_t, m) => {
      delete m.wasm_optim;
      m.param_groups = JSON.stringify(
        JSON.parse(m.param_groups).map((g: object) => ({
          ...g,
          decoupled_weight_decay: false,
          foreach: null,
          fused: true,
          initial_lr: 0.1,
        })),
      );
    });
    const other = new Adam({ engine, nonFinite: 'skip' });
    other.loadSafetensors(torchLike);
    expect(other.options.nonFinite).toBe('skip');
    expect(other.options.clipGradValue).toBe(null);
    expect(other.lr).toBe(opt.lr);
    for (const o of [opt, fresh, other]) o.dispose();
  });

  it('NAdam writes mu_product as PyTorch keeps it, and refuses one that does not follow from the step', () => {
    const opt = new NAdam({ engine, momentumDecay: 0.01 });
    opt.param(3);
    train(opt, 5, 6);
    const bytes = opt.saveSafetensors();
    let mu = 1;
    for (let i = 1; i <= 5; i++) mu *= 0.9 * (1 - 0.5 * Math.pow(0.96, i * 0.01));
    expect((decodeSafetensors(bytes).tensors['state.0.mu_product'].data as Float32Array)[0]).toBe(Math.fround(mu));
    const fresh = new NAdam({ engine });
    const before = snapshot(fresh);
    refusedWith(
      () =>
        fresh.loadSafetensors(
          rewrite(bytes, (t) => {
            t['state.0.mu_product'] = { shape: [], data: new Float32Array([mu * 1.01]) };
          }),
        ),
      'layout',
      /mu_product' is .* but step 5 .* give/,
    );
    expect(snapshot(fresh)).toBe(before);
    fresh.loadSafetensors(bytes);
    opt.dispose();
    fresh.dispose();
  });

  it('refuses every bad file and changes nothing (an optimizer with params, and one without)', () => {
    const src = new Adam({ engine, amsgrad: true });
    src.param(4);
    src.param(3);
    train(src, 3, 7);
    const good = src.saveSafetensors();
    const target = new Adam({ engine, amsgrad: true });
    target.param(4);
    target.param(3);
    train(target, 2, 8);
    const fresh = new Adam({ engine, amsgrad: true });
    const f32 = (n: number, v = 0): SafetensorsTensorInput => ({ shape: [n], data: new Float32Array(n).fill(v) });
    const groupsEdit = (edit: (g: Record<string, unknown>[]) => unknown) =>
      rewrite(good, (_t, m) => {
        const g = JSON.parse(m.param_groups) as Record<string, unknown>[];
        const out = edit(g);
        m.param_groups = typeof out === 'string' ? out : JSON.stringify(g);
      });
    const cases: [Uint8Array, string, RegExp][] = [
      [good.subarray(0, good.length - 4), 'truncated', /truncated/],
      [
        rewrite(good, (_t, m) => {
          delete m.optimizer;
        }),
        'malformed',
        /no 'optimizer'/,
      ],
      [
        rewrite(good, (_t, m) => {
          m.optimizer = 'SGD';
        }),
        'kind',
        /holds the state of SGD, not Adam; load it into a SGD/,
      ],
      [
        rewrite(good, (_t, m) => {
          delete m.param_groups;
        }),
        'malformed',
        /no 'param_groups'/,
      ],
      [groupsEdit(() => '[{'), 'malformed', /param_groups is not JSON/],
      [groupsEdit(() => '[]'), 'malformed', /non-empty JSON list/],
      [
        groupsEdit((g) => {
          g[0].params = [0, 0, 1];
        }),
        'malformed',
        /param 0 is in param_groups\[0\] and param_groups\[0\]/,
      ],
      [
        groupsEdit((g) => {
          g[0].params = [0, 2];
        }),
        'malformed',
        /list params up to 2 but not 1/,
      ],
      [
        groupsEdit((g) => {
          g[0].params = 'all';
        }),
        'malformed',
        /params must be a list of param indices/,
      ],
      [
        groupsEdit((g) => {
          g[0].momentum = 0.9;
        }),
        'layout',
        /has 'momentum', which Adam does not have/,
      ],
      [
        groupsEdit((g) => {
          g[0].non_finite = 'skip';
        }),
        'layout',
        /has 'non_finite', which Adam does not have/,
      ],
      [
        groupsEdit((g) => {
          g[0].decoupled_weight_decay = true;
        }),
        'layout',
        /has 'decoupled_weight_decay', which Adam does not have/,
      ],
      [
        groupsEdit((g) => {
          g[0].lr = -1;
        }),
        'layout',
        /option 'lr' must be >= 0, got -1/,
      ],
      [
        groupsEdit((g) => {
          g[0].amsgrad = false;
        }),
        'layout',
        /holds state \[.*max_exp_avg_sq.*\] in the file but its options need \[exp_avg, exp_avg_sq\]/,
      ],
      [
        groupsEdit((g) => {
          g[0].betas = [0.9];
        }),
        'layout',
        /betas/,
      ],
      [
        rewrite(good, (t) => {
          t['weight'] = f32(4);
        }),
        'layout',
        /tensor 'weight' is neither param.<i> nor state.<i>.<name>/,
      ],
      [
        rewrite(good, (t) => {
          t['state.2.exp_avg'] = f32(3);
        }),
        'layout',
        /names param 2, but param_groups list params 0 to 1/,
      ],
      [
        rewrite(good, (t) => {
          t['state.01.exp_avg'] = f32(3);
        }),
        'layout',
        /names param 01/,
      ],
      [
        rewrite(good, (t) => {
          t['state.0.exp_avg'] = { shape: [4], data: new Float64Array(4) };
        }),
        'layout',
        /'state.0.exp_avg' is F64; the engine holds float32/,
      ],
      [
        rewrite(good, (t) => {
          t['state.1.exp_avg'] = f32(4);
        }),
        'layout',
        /'state.1.exp_avg' has 4 elements but param 1 has 3/,
      ],
      [
        rewrite(good, (t) => {
          t['state.1.exp_avg'] = { shape: [3, 1], data: new Float32Array(3) };
        }),
        'layout',
        /has shape \[3, 1\] but param.1 has \[3\]/,
      ],
      [
        rewrite(good, (t) => {
          delete t['state.1.step'];
        }),
        'layout',
        /'state.1.step' is missing beside state.1.exp_avg/,
      ],
      [
        rewrite(good, (t) => {
          t['state.1.step'] = { shape: [], data: new Float32Array([2.5]) };
        }),
        'layout',
        /'state.1.step' is 2.5, not a step count/,
      ],
      [
        rewrite(good, (t) => {
          t['state.1.step'] = { shape: [2], data: new Float32Array([1, 1]) };
        }),
        'layout',
        /a step is a scalar/,
      ],
      [
        rewrite(good, (t) => {
          delete t['state.1.max_exp_avg_sq'];
        }),
        'layout',
        /holds state \[exp_avg, exp_avg_sq\] in the file but its options need \[exp_avg, exp_avg_sq, max_exp_avg_sq\]/,
      ],
      [
        rewrite(good, (t) => {
          t['state.1.mu_product'] = { shape: [], data: new Float32Array([0.5]) };
        }),
        'layout',
        /NAdam state, not Adam's/,
      ],
      [
        rewrite(good, (t) => {
          t['param.1'] = f32(5);
          t['state.1.exp_avg'] = f32(5);
          t['state.1.exp_avg_sq'] = f32(5);
          t['state.1.max_exp_avg_sq'] = f32(5);
        }),
        'layout',
        /param.1 has 5 elements but param #1 here has 3/,
      ],
      [
        rewrite(good, (_t, m) => {
          m.param_groups = JSON.stringify([{ ...JSON.parse(m.param_groups)[0], params: [0, 1, 2] }]);
        }),
        'layout',
        /3 params but this Adam has 2/,
      ],
      [
        rewrite(good, (_t, m) => {
          m.wasm_optim = '{';
        }),
        'malformed',
        /wasm_optim is not JSON/,
      ],
      [
        rewrite(good, (_t, m) => {
          m.wasm_optim = JSON.stringify({ stepCount: 1 });
        }),
        'malformed',
        /stepCount 1 is below a param's step 3/,
      ],
      [
        rewrite(good, (_t, m) => {
          m.wasm_optim = JSON.stringify({ options: { nonFinite: 'never' } });
        }),
        'layout',
        /nonFinite/,
      ],
    ];
    for (const opt of [target, fresh]) {
      const before = snapshot(opt);
      const dict = dictBits(opt.stateDict());
      for (const [bytes, reason, message] of cases) {
        if (opt === fresh && /this Adam has 2|param #1 here/.test(message.source)) continue;
        refusedWith(() => opt.loadSafetensors(bytes), reason, message);
        expect(snapshot(opt), message.source).toBe(before);
        expect(dictBits(opt.stateDict()), message.source).toBe(dict);
      }
    }
    // Missing param values: a fresh optimizer needs them; one with params keeps its own when all are absent.
    const noValues = rewrite(good, (t) => {
      delete t['param.0'];
      delete t['param.1'];
    });
    refusedWith(
      () => fresh.loadSafetensors(noValues),
      'layout',
      /'param.0' is missing; an optimizer with no params creates them/,
    );
    refusedWith(
      () =>
        target.loadSafetensors(
          rewrite(good, (t) => {
            delete t['param.1'];
          }),
        ),
      'layout',
      /'param.1' is missing; give every param.<i> or none/,
    );
    expect(fresh.params.length).toBe(0);
    const kept = target.params.map((p) => p.data.slice());
    target.loadSafetensors(noValues);
    target.params.forEach((p, i) => expect(p.data).toEqual(kept[i]));
    expect(target.params[0].state('exp_avg')).toEqual(src.params[0].state('exp_avg'));
    for (const o of [src, target, fresh]) o.dispose();
  });
});

describe.each(BUILD_NAMES)('tables through safetensors (%s build)', (build) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await engineFor(build);
  });
  const R = 30,
    D = 4;
  const CASES: [EmbeddingOptions['optimizer'], EmbeddingOptions['mode'], EmbeddingOptions][] = [
    ['adam', 'lazy', { amsgrad: true }],
    ['adam', 'exact', {}],
    ['adamw', 'exact', { weightDecay: 0.1 }],
    ['sgd', 'lazy', { momentum: 0.9 }],
    ['sgd', 'exact', { momentum: 0.9, nesterov: true }],
    ['adagrad', 'exact', { initialAccumulatorValue: 0.2, lrDecay: 0.1 }],
    ['adamax', 'lazy', {}],
    ['lion', 'lazy', {}],
    ['adadelta', 'lazy', {}],
    ['nadam', 'lazy', {}],
    ['radam', 'lazy', { decoupledWeightDecay: true, weightDecay: 0.01 }],
  ];
  const updates = (emb: Embedding, n: number, seed: number): void => {
    const r = rng(seed);
    for (let t = 0; t < n; t++) {
      const ids = Int32Array.from({ length: 5 }, () => Math.floor(r() * R));
      emb.update(
        ids,
        Float32Array.from({ length: 5 * D }, () => r() * 2 - 1),
      );
    }
  };
  for (const [optimizer, mode, extra] of CASES) {
    it(`${optimizer} (${mode}): weight, state.0.* and the update count round-trip; the loaded table continues bit for bit`, () => {
      const options = { optimizer, mode, lr: 0.05, ...extra, engine };
      const emb = new Embedding(R, D, { ...options, seed: 9, nonFinite: 'skip' });
      updates(emb, 5, 1);
      const bytes = emb.saveSafetensors();
      const f = decodeSafetensors(bytes);
      expect(f.tensors.weight.shape).toEqual([R, D]);
      expect(f.tensors['state.0.step'].data).toEqual(new Float32Array([5]));
      for (const k of emb.stateKeys) expect(f.tensors[`state.0.${k}`].shape).toEqual([R, D]);
      expect(Object.keys(f.tensors).length).toBe(2 + emb.stateKeys.length + (optimizer === 'nadam' ? 1 : 0));
      const groups = JSON.parse(f.metadata.param_groups) as Record<string, unknown>[];
      expect(groups).toHaveLength(1);
      expect(groups[0].params).toEqual([0]);
      expect(groups[0].lr).toBe(0.05);
      const back = new Embedding(R, D, { ...options, init: 'zeros' });
      back.loadSafetensors(bytes);
      expect(back.options.nonFinite).toBe('skip');
      expect(dictBits(back.stateDict())).toBe(dictBits(emb.stateDict()));
      updates(emb, 4, 2);
      updates(back, 4, 2);
      if (mode === 'lazy') expect(dictBits(back.stateDict())).toBe(dictBits(emb.stateDict()));
      else {
        // Exact mode replays missed steps in closed form from where each table last caught up:
        // the loaded table starts caught up, so a replay may round differently (save() keeps
        // that history for a bit-exact resume; PyTorch has no place for it).
        const [a, b] = [back.stateDict(), emb.stateDict()];
        for (const k of emb.stateKeys) expect(maxDiff(a.state[k], b.state[k]), k).toBeLessThanOrEqual(1e-6);
        expect(maxDiff(a.weights, b.weights)).toBeLessThanOrEqual(1e-6);
        expect(a.stepCount).toBe(b.stepCount);
      }
      emb.dispose();
      back.dispose();
    });
  }

  it('a sharded table saves and loads as one (to and from an unsharded one)', () => {
    const options = { optimizer: 'adam' as const, lr: 0.05, engine };
    const sharded = new ShardedEmbedding(R, D, { ...options, maxShardRows: 8, seed: 3 }) as unknown as Embedding;
    const plain = new Embedding(R, D, { ...options, init: 'zeros' });
    updates(sharded, 3, 4);
    plain.loadSafetensors(sharded.saveSafetensors());
    expect(dictBits(plain.stateDict())).toBe(dictBits(sharded.stateDict()));
    updates(plain, 2, 5);
    const again = new ShardedEmbedding(R, D, { ...options, maxShardRows: 8, init: 'zeros' }) as unknown as Embedding;
    again.loadSafetensors(plain.saveSafetensors());
    expect(dictBits(again.stateDict())).toBe(dictBits(plain.stateDict()));
    for (const t of [sharded, plain, again]) t.dispose();
  });

  it('refuses every bad table file and changes nothing', () => {
    const src = new Embedding(R, D, { optimizer: 'adam', lr: 0.05, seed: 1, engine });
    updates(src, 2, 6);
    const good = src.saveSafetensors();
    const table = new Embedding(R, D, { optimizer: 'adam', seed: 2, engine });
    updates(table, 1, 7);
    const f32 = (shape: number[]): SafetensorsTensorInput => ({
      shape,
      data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
    });
    const cases: [Uint8Array, string, RegExp][] = [
      [
        rewrite(good, (_t, m) => {
          m.optimizer = 'SGD';
        }),
        'kind',
        /holds the state of SGD, but this table uses 'adam' \(Adam\)/,
      ],
      [
        rewrite(good, (_t, m) => {
          delete m.optimizer;
        }),
        'malformed',
        /no 'optimizer'/,
      ],
      [
        rewrite(good, (_t, m) => {
          m.param_groups = JSON.stringify([{ lr: 1, params: [0, 1] }]);
        }),
        'layout',
        /one param group with params \[0\]/,
      ],
      [
        rewrite(good, (_t, m) => {
          m.param_groups = JSON.stringify([{ lr: 1, momentum: 0.5, params: [0] }]);
        }),
        'layout',
        /has 'momentum', which a 'adam' table does not have/,
      ],
      [
        rewrite(good, (_t, m) => {
          m.param_groups = JSON.stringify([{ lr: -1, params: [0] }]);
        }),
        'layout',
        /lr/,
      ],
      [
        rewrite(good, (_t, m) => {
          m.param_groups = JSON.stringify([{ amsgrad: true, params: [0] }]);
        }),
        'layout',
        /need state \[exp_avg, exp_avg_sq, max_exp_avg_sq\]/,
      ],
      [
        rewrite(good, (t) => {
          delete t.weight;
        }),
        'layout',
        /'weight' is missing/,
      ],
      [
        rewrite(good, (t) => {
          t.weight = f32([D, R]);
        }),
        'layout',
        /'weight' has shape \[4, 30\] but this table is 30 x 4/,
      ],
      [
        rewrite(good, (t) => {
          t['state.0.exp_avg'] = f32([R * D]);
        }),
        'layout',
        /'state.0.exp_avg' has shape \[120\]/,
      ],
      [
        rewrite(good, (t) => {
          t['state.0.momentum_buffer'] = f32([R, D]);
        }),
        'layout',
        /holds state \[.*momentum_buffer\] but this table holds \[exp_avg, exp_avg_sq\]/,
      ],
      [
        rewrite(good, (t) => {
          delete t['state.0.exp_avg_sq'];
        }),
        'layout',
        /exp_avg_sq/,
      ],
      [
        rewrite(good, (t) => {
          delete t['state.0.step'];
        }),
        'layout',
        /'state.0.step' is missing/,
      ],
      [
        rewrite(good, (t) => {
          t['param.0'] = f32([R, D]);
        }),
        'layout',
        /'param.0' is neither weight nor state.0.<name>/,
      ],
      [
        rewrite(good, (t) => {
          t.weight = { shape: [R, D], data: new Float64Array(R * D) };
        }),
        'layout',
        /'weight' is F64/,
      ],
    ];
    const before = dictBits(table.stateDict());
    const mem = JSON.stringify(memoryStats(engine));
    for (const [bytes, reason, message] of cases) {
      refusedWith(() => table.loadSafetensors(bytes), reason, message);
      expect(dictBits(table.stateDict()), message.source).toBe(before);
      expect(JSON.stringify(memoryStats(engine)), message.source).toBe(mem);
    }
    src.dispose();
    table.dispose();
  });
});
