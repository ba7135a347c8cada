// The f16 guard of lean tables (nonFinite 'throw' or 'skip'): the kernel keeps every touched record
// before writing it and flags a stored weight that came out infinite (past 65504); the table then
// writes the kept records back and refuses the update. Checked over hundreds of rows (many blocks of
// the kernel), split into pieces and across worker threads, in both builds: a refused update changes
// no bit, and an accepted one gives the same bits as a table without the guard ('ignore').
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine, Embedding, NonFiniteGradientError, type Engine } from '../src/index.js';
import { LeanEmbedding } from '../src/embedding/lean.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { rng } from './rng.js';

const ROWS = 600;
const DIM = 20;
const threaded: Engine[] = [];
afterAll(async () => {
  for (const e of threaded) await e.shutdownThreads();
});

function table(engine: Engine, nonFinite: 'throw' | 'skip' | 'ignore', split: boolean): Embedding {
  const r = rng(7);
  const init = Float32Array.from({ length: ROWS * DIM }, () => r() - 0.5);
  init[517 * DIM + 7] = 65000;
  init[523 * DIM + 2] = -65000;
  const emb = new Embedding(ROWS, DIM, {
    optimizer: 'sgd',
    lr: 1,
    momentum: 0.5,
    weightType: 'f16',
    stateType: 'bf16',
    init,
    seed: 4,
    nonFinite,
    engine,
  });
  if (split) {
    const t = emb.table as LeanEmbedding;
    const orig = t.applyRows.bind(t);
    t.applyRows = (step: number, u: number) => orig(step, u, [Math.floor(u / 3), u - Math.floor(u / 3)]);
  }
  return emb;
}

const ALL = Int32Array.from({ length: ROWS }, (_, i) => i);
/** The stored weights and state, decoded (exact for f16 and bf16), as bytes. */
const values = (emb: Embedding): Buffer =>
  Buffer.concat([
    Buffer.from(emb.lookup(ALL).buffer),
    ...Object.values(emb.stateDict().state).map((x) => Buffer.from(x.buffer)),
  ]);

/** 400 ids over the whole table (about 300 distinct rows) and their gradients, drawn from `seed`. */
function batch(seed: number): { ids: Int32Array; grads: Float32Array } {
  const r = rng(seed);
  const ids = Int32Array.from({ length: 400 }, () => Math.floor(r() * ROWS));
  ids[10] = 517;
  ids[390] = 523;
  const grads = Float32Array.from({ length: 400 * DIM }, () => (r() - 0.5) * 0.01);
  return { ids, grads };
}

describe('the f16 guard of lean tables', () => {
  for (const build of BUILD_NAMES) {
    it(`(${build}) refuses an update past 65504 over many rows, split or threaded, and changes nothing`, async () => {
      const simd = build === 'simd';
      const two = await createEngine({ simd, threads: 2, minParallelElements: 0 });
      const three = await createEngine({ simd, threads: 3, minParallelElements: 0 });
      (three.parallel as unknown as { workersOnly: boolean }).workersOnly = true;
      threaded.push(two, three);
      const one = await engineFor(build);
      for (const [engine, split] of [
        [one, false],
        [one, true],
        [two, false],
        [three, false],
      ] as const) {
        for (const nonFinite of ['throw', 'skip'] as const) {
          const t = table(engine, nonFinite, split);
          const twin = table(engine, 'ignore', false);
          for (let s = 0; s < 3; s++) {
            const { ids, grads } = batch(100 + s);
            expect(t.update(ids, grads)).toBe(true);
            twin.update(ids, grads);
          }
          expect(values(t).equals(values(twin))).toBe(true);
          const before = Buffer.from(t.save());
          const { ids, grads } = batch(200);
          grads[10 * DIM + 7] = -1000; // row 517, column 7: 65000 + 1000
          grads[390 * DIM + 2] = 1000; // row 523, column 2: -66000
          if (nonFinite === 'throw') {
            expect(() => t.update(ids, grads)).toThrow(NonFiniteGradientError);
            expect(() => t.update(ids, grads)).toThrow(/id 517 makes its weight at column 7 .*65504/);
          } else expect(t.update(ids, grads)).toBe(false);
          expect(t.stepCount).toBe(3);
          expect(Buffer.from(t.save()).equals(before)).toBe(true);
          // One row past the limit is enough, wherever it is in the list.
          grads[10 * DIM + 7] = 0;
          if (nonFinite === 'throw') expect(() => t.update(ids, grads)).toThrow(/id 523 makes its weight at column 2/);
          else expect(t.update(ids, grads)).toBe(false);
          expect(Buffer.from(t.save()).equals(before)).toBe(true);
          // Without them the update goes through, with the bits of the table without the guard.
          grads[390 * DIM + 2] = 0;
          expect(t.update(ids, grads)).toBe(true);
          twin.update(ids, grads);
          expect(values(t).equals(values(twin))).toBe(true);
          t.dispose();
          twin.dispose();
        }
      }
    });
  }
});
