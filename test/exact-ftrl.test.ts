// Exact mode of FTRL tables (src/embedding/exact-ftrl.ts, docs/lean-tables.md): with l2Shrinkage 0 a
// row that an update does not name behaves as the dense FTRL's zero-gradient step (z and n unchanged,
// w recomputed from them with that step's rate). A table in exact mode equals the dense FTRL class
// stepping every row, with zero gradients for the rows not named, bit for bit, also when the rate
// changes between updates; lazy mode does not (the test below shows where it differs).
import { beforeAll, describe, expect, it } from 'vitest';
import { Embedding, FTRL, type Engine, type Param } from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { gaussian, rng } from './dense-util.js';

const ROWS = 40;
const DIM = 7; // a SIMD body and a scalar tail per row
const OPTIONS = { lr: 0.1, l1: 0.01, l2: 0.02, beta: 0.5, initialAccumulatorValue: 0.1 };

/** One update of `emb` and the same step of `dense` (param `p`: every row, zero gradients for the rows not named). */
function stepBoth(emb: Embedding, dense: FTRL, p: Param, { ids, grads, lr }: Update): void {
  emb.lr = lr;
  dense.lr = lr;
  emb.update(ids, grads);
  p.grad.fill(0);
  ids.forEach((id, k) => p.grad.set(grads.subarray(k * DIM, (k + 1) * DIM), id * DIM));
  dense.step();
}

interface Update {
  ids: Int32Array;
  grads: Float32Array;
  lr: number;
}

/** A run of `updates` updates of distinct random rows with random gradients; the rate changes at some. */
function plan(seed: number, updates: number): Update[] {
  const r = rng(seed);
  return Array.from({ length: updates }, (_, u) => {
    const ids = Int32Array.from([...Array(ROWS).keys()].filter(() => r() < 0.2));
    const grads = Float32Array.from({ length: ids.length * DIM }, () => gaussian(r));
    return { ids, grads, lr: u < 8 ? 0.1 : u < 15 ? 0.05 : u % 3 === 0 ? 0.2 : 0.03 };
  });
}

const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);
function firstDiff(a: Float32Array, b: Float32Array): number {
  const x = bits(a),
    y = bits(b);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

for (const build of BUILD_NAMES) {
  describe(`FTRL tables in exact mode, ${build} build`, () => {
    let engine: Engine;
    beforeAll(async () => {
      engine = await engineFor(build);
    });

    for (const extra of [{}, { maximize: true, learningRatePower: -0.7 }])
      it(`equal the dense FTRL with zero gradients for untouched rows, rate changes included ${JSON.stringify(extra)}`, () => {
        const r = rng(1);
        const init = Float32Array.from({ length: ROWS * DIM }, () => gaussian(r));
        const emb = new Embedding(ROWS, DIM, { optimizer: 'ftrl', mode: 'exact', init, engine, ...OPTIONS, ...extra });
        const dense = new FTRL({ engine, ...OPTIONS, ...extra });
        const p = dense.param(init);
        for (const [u, up] of plan(2, 30).entries()) {
          stepBoth(emb, dense, p, up);
          expect(firstDiff(emb.lookup(Int32Array.from(Array(ROWS).keys())), p.data), `weights, update ${u}`).toBe(-1);
          for (const k of ['accumulator', 'linear'])
            expect(firstDiff(emb.state(k), p.state(k)), `${k}, update ${u}`).toBe(-1);
        }
        // A checkpoint resumes: the next update steps every row once more (the rate of the loaded weights is not known), which changes nothing.
        const bytes = emb.save();
        const back = Embedding.fromCheckpoint(bytes, { engine });
        stepBoth(back, dense, p, plan(3, 1)[0]);
        expect(firstDiff(back.lookup(Int32Array.from(Array(ROWS).keys())), p.data), 'after load').toBe(-1);
        for (const o of [emb, back, dense]) o.dispose();
      });

    it('lazy mode differs once the rate changes (what exact mode fixes)', () => {
      const r = rng(1);
      const init = Float32Array.from({ length: ROWS * DIM }, () => gaussian(r));
      const emb = new Embedding(ROWS, DIM, { optimizer: 'ftrl', mode: 'lazy', init, engine, ...OPTIONS });
      const dense = new FTRL({ engine, ...OPTIONS });
      const p = dense.param(init);
      for (const up of plan(2, 20)) stepBoth(emb, dense, p, up);
      expect(firstDiff(emb.lookup(Int32Array.from(Array(ROWS).keys())), p.data)).not.toBe(-1);
      emb.dispose();
      dense.dispose();
    });

    it('refuses l2Shrinkage > 0 in exact mode, naming the fix', () => {
      expect(() => new Embedding(ROWS, DIM, { optimizer: 'ftrl', mode: 'exact', l2Shrinkage: 0.1, engine })).toThrow(
        /l2Shrinkage: 0 or mode 'lazy'/,
      );
    });
  });
}
