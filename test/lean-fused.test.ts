// The fused rows of lean tables (assembly/embedding/storage.ts: row-wise Adagrad on bf16 weights
// decoded, stepped and rounded back in registers, without scratch rows) against the unfused path
// (decode into scratch rows, the row kernel, encode), which the block's LEAN_NOFUSE word forces: the
// same bits after many updates, at every dim from 1 to 65, in every gradient regime, for each weight
// decay mode, in both builds.
import { describe, expect, it } from 'vitest';
import { Embedding, type EmbeddingOptions } from '../src/index.js';
import { LeanEmbedding } from '../src/embedding/lean.js';
import { SLOT as S } from '../src/core/abi.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { rng } from './rng.js';

const ROWS = 40;
const DIMS = Array.from({ length: 65 }, (_, i) => i + 1);
// Gradient scales: tiny, ordinary, large, and mixed within a row (a few huge elements among small ones).
const REGIMES = [1e-7, 1e-2, 30, -1] as const;

function unfuse(emb: Embedding): void {
  const t = emb.table as LeanEmbedding;
  const ld = (t as unknown as { ld: number }).ld;
  emb.engine.heapU32[(ld >>> 2) + S.LEAN_NOFUSE] = 1;
}

const bits = (emb: Embedding): Buffer => Buffer.from(emb.save());

describe.each(BUILD_NAMES)('fused lean rows (%s build)', (build) => {
  const cases: [string, EmbeddingOptions][] = [
    ['row-wise Adagrad, bf16 weights', { optimizer: 'rowwiseAdagrad', lr: 0.05, weightType: 'bf16' }],
    [
      'row-wise Adagrad, bf16 weights, int8 state, decoupled decay, maximize',
      {
        optimizer: 'rowwiseAdagrad',
        lr: 0.05,
        weightType: 'bf16',
        stateType: 'int8',
        weightDecay: 0.1,
        weightDecayMode: 'decoupled',
        maximize: true,
      },
    ],
    [
      'row-wise Adagrad, bf16 weights and state, initial accumulator, eps',
      {
        optimizer: 'rowwiseAdagrad',
        lr: 0.2,
        weightType: 'bf16',
        stateType: 'bf16',
        initialAccumulatorValue: 0.5,
        eps: 1e-3,
      },
    ],
  ];
  for (const [name, opts] of cases) {
    it(`${name}: the fused rows equal the unfused ones bit for bit (dims 1-65, 4 regimes, 24 updates)`, async () => {
      const engine = await engineFor(build);
      for (const dim of DIMS) {
        const r = rng(1000 + dim);
        const init = Float32Array.from({ length: ROWS * dim }, () => (r() - 0.5) * 4);
        const fused = new Embedding(ROWS, dim, { ...opts, init, seed: 11, engine });
        const plain = new Embedding(ROWS, dim, { ...opts, init, seed: 11, engine });
        unfuse(plain);
        for (let s = 0; s < 24; s++) {
          const k = 30;
          const ids = Int32Array.from({ length: k }, () => Math.floor(r() ** 2 * ROWS));
          const scale = REGIMES[s % REGIMES.length];
          const g = Float32Array.from({ length: k * dim }, () =>
            scale > 0 ? (r() - 0.5) * scale : (r() - 0.5) * (r() < 0.05 ? 1e4 : 1e-3),
          );
          fused.update(ids, g);
          plain.update(ids, g);
        }
        expect(bits(fused).equals(bits(plain)), `dim ${dim}`).toBe(true);
        fused.dispose();
        plain.dispose();
      }
    });
  }
});
