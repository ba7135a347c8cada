// Exact mode's catch-up of Adam, AdamW and AMSGrad rows (assembly/embedding/exact.ts, adamCatchUp)
// gives the same bits in the SIMD build as in the scalar one, whose element-by-element code is the
// reference for the order of every float32 operation. Covers what the SIMD loops split on: row
// lengths around the 16- and 4-element blocks, groups of four with an element whose sqrt(v) is below
// the series' threshold (the centred series, or the term-by-term sum in the first updates, before the
// windows qualify for it) next to ordinary groups, gaps from 1 update to past the summed window
// (J = 263), rows never touched (v = 0) reached by the sweep, lookups and flushes.
import { describe, expect, it } from 'vitest';
import { Embedding, type EmbeddingOptions } from '../src/index.js';
import { engineFor } from './engines.js';
import { rng } from './rng.js';

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

const ROWS = 48;

/** Ids of update `u`: row 0 every update, rows 1-7 every 2-8 updates, rows 8-15 every ~40, others rarely (some never). */
function idsOf(u: number, rand: () => number): Int32Array {
  const ids = [0];
  for (let r = 1; r < 8; r++) if (u % (r + 1) === 0) ids.push(r);
  for (let r = 8; r < 16; r++) if ((u + 5 * r) % 40 === 0) ids.push(r);
  for (let r = 16; r < ROWS - 8; r++) if (rand() < 0.012) ids.push(r);
  if (rand() < 0.3) ids.push(ids[ids.length - 1]); // a duplicate
  return Int32Array.from(ids);
}

/** Gradients: uniform in [-1, 1), but about one element in 12 below 1e-6 (sqrt(v) below the threshold) and row 3's all tiny. */
function gradsOf(ids: Int32Array, dim: number, rand: () => number): Float32Array {
  const g = new Float32Array(ids.length * dim);
  for (let i = 0; i < ids.length; i++)
    for (let c = 0; c < dim; c++) {
      const x = 2 * rand() - 1;
      g[i * dim + c] = ids[i] === 3 || rand() < 0.08 ? x * 1e-7 : x;
    }
  return g;
}

const VARIANTS: [string, Partial<EmbeddingOptions>][] = [
  ['adam', { optimizer: 'adam', lr: 0.01 }],
  ['adamw', { optimizer: 'adamw', lr: 0.01, weightDecay: 0.05 }],
  ['amsgrad', { optimizer: 'adam', lr: 0.01, amsgrad: true }],
];

describe('exact catch-up: the SIMD build gives the scalar build bits', () => {
  it.each(VARIANTS.flatMap(([name, o]) => [1, 4, 7, 16, 19, 32, 36, 64, 67].map((dim) => [name, dim, o] as const)))(
    '%s, dim %i',
    async (_name, dim, o) => {
      const make = async (build: 'simd' | 'scalar') =>
        new Embedding(ROWS, dim, { ...o, mode: 'exact', seed: 11, engine: await engineFor(build) } as EmbeddingOptions);
      const tables = [await make('simd'), await make('scalar')];
      const state = o.amsgrad ? ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'] : ['exp_avg', 'exp_avg_sq'];
      const rand = rng(dim * 7 + (o.amsgrad ? 1 : 0) + (o.weightDecay ? 2 : 0));
      for (let u = 0; u < 420; u++) {
        const ids = idsOf(u, rand);
        const g = gradsOf(ids, dim, rand);
        if (u % 97 === 50) for (const t of tables) t.lr = 0.01 * 0.5 ** (u / 97);
        for (const t of tables) expect(t.update(ids, g)).toBe(true);
        if (u % 61 === 30) {
          const look = Int32Array.from([u % ROWS, 9, ROWS - 1]);
          expect(bits(tables[0].lookup(look)), `lookup after update ${u}`).toEqual(bits(tables[1].lookup(look)));
        }
        if (u === 200) for (const t of tables) t.flush();
      }
      // state() and weights bring every row up to date first (a flush: the sweep over every row).
      for (const k of state) expect(bits(tables[0].state(k)), k).toEqual(bits(tables[1].state(k)));
      expect(bits(tables[0].weights)).toEqual(bits(tables[1].weights));
      for (const t of tables) t.dispose();
    },
  );
});

// The SIMD catch-up's shortcut for groups of four whose sqrt(v) is below the threshold and whose m
// are all +0 (F = 0 instead of the centred series or the term-by-term sum): rows stepped once with
// tiny positive gradients (some exactly 0) and then only swept, so that m decays to +0 through the
// subnormals while v stays tiny, in windows with and without a centre; their bits against the
// scalar build's, which takes the long paths.
describe('exact catch-up: groups whose m decayed to +0 give the scalar build bits', () => {
  it.each(VARIANTS.flatMap(([name, o]) => [4, 20, 64].map((dim) => [name, dim, o] as const)))(
    '%s, dim %i',
    async (_name, dim, o) => {
      const rows = 8;
      const make = async (build: 'simd' | 'scalar') =>
        new Embedding(rows, dim, { ...o, mode: 'exact', seed: 5, engine: await engineFor(build) } as EmbeddingOptions);
      const tables = [await make('simd'), await make('scalar')];
      const rand = rng(dim + 3);
      for (let u = 0; u < 1600; u++) {
        const ids = [0];
        const once = (u - 3) / 60; // rows 1-7 stepped once each, at updates 3, 63, ..., 363
        if (Number.isInteger(once) && once >= 0 && once < rows - 1) ids.push(once + 1);
        const g = new Float32Array(ids.length * dim);
        for (let c = 0; c < dim; c++) g[c] = 2 * rand() - 1;
        if (ids.length > 1) for (let c = 0; c < dim; c++) g[dim + c] = c % 5 === 2 ? 0 : 1e-7 * (1 + rand());
        for (const t of tables) expect(t.update(Int32Array.from(ids), g)).toBe(true);
        if (u % 100 === 99) {
          const all = Int32Array.from({ length: rows }, (_, r) => r);
          expect(bits(tables[0].lookup(all)), `lookup after update ${u}`).toEqual(bits(tables[1].lookup(all)));
        }
      }
      const m = tables[1].state('exp_avg');
      expect(m.subarray(dim, 2 * dim).every((x) => Object.is(x, 0))).toBe(true); // m is +0 in the rows stepped once
      for (const k of ['exp_avg', 'exp_avg_sq']) expect(bits(tables[0].state(k)), k).toEqual(bits(tables[1].state(k)));
      expect(bits(tables[0].weights)).toEqual(bits(tables[1].weights));
      for (const t of tables) t.dispose();
    },
  );
});
