// The fused rows of lean tables against the unfused path (decode into scratch rows, the row kernel,
// encode), which the block's LEAN_NOFUSE word forces: row-wise Adagrad on bf16 weights
// (assembly/embedding/storage.ts) and Adam, AdamW, AMSGrad and L2 Adam on every storage
// (assembly/embedding/lean-adam.ts). The same bits after many updates, at every dim from 1 to 65, in
// every gradient regime, for each weight decay mode, in both builds, and on 2 or 3 threads.
import { describe, expect, it } from 'vitest';
import { createEngine, Embedding, type EmbeddingOptions } from '../src/index.js';
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

const ADAM_CASES: [string, EmbeddingOptions][] = [
  ['Adam, bf16 weights, int8 state', { optimizer: 'adam', lr: 0.05, weightType: 'bf16', stateType: 'int8' }],
  ['Adam, bf16 weights, bf16 state', { optimizer: 'adam', lr: 0.05, weightType: 'bf16', stateType: 'bf16' }],
  ['Adam, bf16 weights, f32 state, maximize', { optimizer: 'adam', lr: 0.05, weightType: 'bf16', maximize: true }],
  [
    // int8 state can take a weight past f16's range (an element whose v decodes to 0 steps by lr m / eps):
    // 'skip' refuses those updates in both tables (the guard's restore path).
    'AMSGrad, f16 weights (guarded, skip), int8 state',
    { optimizer: 'adam', lr: 0.05, weightType: 'f16', stateType: 'int8', amsgrad: true, nonFinite: 'skip' },
  ],
  [
    'AdamW, f32 weights, int8 state, eps',
    { optimizer: 'adamw', lr: 0.05, weightDecay: 0.1, stateType: 'int8', eps: 1e-3, betas: [0.8, 0.99] },
  ],
  [
    'Adam with L2 decay, f16 weights (unguarded), f32 state',
    { optimizer: 'adam', lr: 0.05, weightDecay: 0.1, weightType: 'f16', nonFinite: 'ignore' },
  ],
  [
    'AMSGrad AdamW, f32 weights, bf16 state',
    { optimizer: 'adamw', lr: 0.05, weightDecay: 0.05, amsgrad: true, stateType: 'bf16' },
  ],
  [
    'AMSGrad with L2 decay, f16 weights, bf16 state, maximize',
    {
      optimizer: 'adam',
      lr: 0.02,
      weightDecay: 0.01,
      amsgrad: true,
      weightType: 'f16',
      stateType: 'bf16',
      maximize: true,
    },
  ],
];

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
    // Adam: every pair of weight and state types a lean table takes (f32 + f32 is a float32 table),
    // each flag (AMSGrad, L2 decay, decoupled decay, maximize), f16 weights with and without the guard.
    ...ADAM_CASES,
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
          expect(fused.update(ids, g), `dim ${dim}, update ${s}`).toBe(plain.update(ids, g));
        }
        expect(bits(fused).equals(bits(plain)), `dim ${dim}`).toBe(true);
        fused.dispose();
        plain.dispose();
      }
    });
  }
});

describe('fused lean Adam rows on threads', () => {
  it('2 and 3 threads give the bits of the unfused rows on one thread (both builds, dims 20, 33, 64)', async () => {
    for (const build of BUILD_NAMES) {
      const simd = build === 'simd';
      const one = await engineFor(build);
      const two = await createEngine({ simd, threads: 2, minParallelElements: 0 });
      const three = await createEngine({ simd, threads: 3, minParallelElements: 0 });
      (three.parallel as unknown as { workersOnly: boolean }).workersOnly = true;
      for (const [name, opts] of [ADAM_CASES[0], ADAM_CASES[3], ADAM_CASES[6]]) {
        for (const dim of [20, 33, 64]) {
          const r = rng(7 + dim);
          const rows = 300;
          const init = Float32Array.from({ length: rows * dim }, () => (r() - 0.5) * 2);
          const plain = new Embedding(rows, dim, { ...opts, init, seed: 5, engine: one });
          unfuse(plain);
          const threaded = [two, three].map((engine) => new Embedding(rows, dim, { ...opts, init, seed: 5, engine }));
          for (let s = 0; s < 12; s++) {
            const k = 400;
            const ids = Int32Array.from({ length: k }, () => Math.floor(r() ** 2 * rows));
            const g = Float32Array.from({ length: k * dim }, () => (r() - 0.5) * (s % 3 === 0 ? 1e-4 : 1));
            const done = plain.update(ids, g);
            for (const t of threaded) expect(t.update(ids, g)).toBe(done);
          }
          for (const t of threaded) expect(bits(t).equals(bits(plain)), `${build} ${name} dim ${dim}`).toBe(true);
          for (const t of [plain, ...threaded]) t.dispose();
        }
      }
      await two.shutdownThreads();
      await three.shutdownThreads();
    }
  });
});
