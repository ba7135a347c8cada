// One declaration per optimizer (src/core/declaration.ts, src/optimizers/*.ts) serves the dense
// classes and the embedding tables alike. These tests hold the two to each other: a table row that
// every update names is a dense param stepped with the same gradients, bit for bit, over many
// updates (where bias corrections, schedules and the powers series move), in both builds; and the
// registry, the declarations and the generated wasm boundary agree with each other.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Embedding,
  OPTIMIZERS,
  Optimizer,
  SLOT,
  TABLE_OPTIMIZERS,
  TABLE_OPTIMIZER_NAMES,
  TABLE_ONLY_DECLARATIONS,
  type Engine,
  type EmbeddingOptimizer,
} from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { ABI_HASH } from '../src/core/abi.js';
import { abiHash } from '../scripts/abi-hash.mjs';
import { rng } from './reliability-util.js';

// Options that move every code path of each table optimizer's writer (decay, schedules, flags).
const TABLE_CASES: [EmbeddingOptimizer, Record<string, unknown>][] = [
  ['sgd', { lr: 0.05 }],
  ['sgd', { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 }],
  ['adagrad', { lr: 0.1, lrDecay: 0.01, initialAccumulatorValue: 0.1, weightDecay: 0.01 }],
  ['adam', { lr: 0.01 }],
  ['adam', { lr: 0.01, amsgrad: true, weightDecay: 0.01, betas: [0.8, 0.99] }],
  ['adamw', { lr: 0.01, weightDecay: 0.1 }],
  ['adamax', { lr: 0.01, weightDecay: 0.01 }],
  ['lion', { lr: 0.001, weightDecay: 0.1 }],
  ['adadelta', { lr: 1, rho: 0.95, weightDecay: 0.01 }],
  ['nadam', { lr: 0.01, momentumDecay: 0.004 }],
  ['nadam', { lr: 0.01, weightDecay: 0.01, decoupledWeightDecay: true }],
  ['radam', { lr: 0.01 }],
  ['radam', { lr: 0.01, weightDecay: 0.01, decoupledWeightDecay: true }],
  ['ftrl', { lr: 0.05, l1: 0.001, l2: 0.01, l2Shrinkage: 0.01, beta: 0.1 }],
  ['ftrl', { lr: 0.05, learningRatePower: -0.6 }],
];

// Table-only optimizers (per-row state: no dense class); test/lean-optimizers.test.ts holds them to
// float64 references of their sources instead.
const TABLE_ONLY_CASES: EmbeddingOptimizer[] = ['rowwiseAdagrad', 'partialRowwiseAdam'];

const UPDATES = 60;
const DIM = 13; // a SIMD body and a scalar tail

describe.each(BUILD_NAMES)('declarations (%s build)', (build) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await engineFor(build);
  });

  it('every table optimizer has a case here', () => {
    expect(new Set([...TABLE_CASES.map(([o]) => o), ...TABLE_ONLY_CASES])).toEqual(new Set(TABLE_OPTIMIZER_NAMES));
  });

  it.each(TABLE_CASES)(
    `%s %j: a row named in every update equals the dense optimizer bit for bit over ${UPDATES} updates`,
    (optimizer, options) => {
      const decl = TABLE_OPTIMIZERS.get(optimizer);
      if (!decl) throw new Error(`no declaration for ${optimizer}`);
      const Dense = OPTIMIZERS[decl.name as keyof typeof OPTIMIZERS];
      const random = rng(7);
      const rows = 5;
      const init = Float32Array.from({ length: rows * DIM }, () => random() * 2 - 1);
      const table = new Embedding(rows, DIM, { optimizer, mode: 'lazy', init, engine, ...options });
      const dense = new Dense({ engine, ...options } as never);
      const p = dense.param(init.subarray(2 * DIM, 3 * DIM));
      try {
        for (let u = 0; u < UPDATES; u++) {
          // Row 2 twice (its gradients sum), row 4 sometimes: row 2 is named in every update.
          const ids = u % 3 === 0 ? [2, 4, 2] : [2, 2];
          const grads = Float32Array.from(
            { length: ids.length * DIM },
            () => (random() * 2 - 1) * (u % 7 === 0 ? 100 : 1),
          );
          table.update(ids, grads);
          // The table sums a row's gradients in the order they appear, in float32.
          const last = ids.lastIndexOf(2);
          const g = p.grad;
          for (let j = 0; j < DIM; j++) g[j] = Math.fround(grads[j] + grads[last * DIM + j]);
          dense.step();
        }
        const row = table.lookup([2]);
        expect(Array.from(row)).toEqual(Array.from(p.data));
        for (const name of table.stateKeys) {
          expect(Array.from(table.state(name).subarray(2 * DIM, 3 * DIM)), name).toEqual(Array.from(p.state(name)));
        }
      } finally {
        table.dispose();
        dense.dispose();
      }
    },
  );
});

describe('the registry and the generated boundary', () => {
  it('each dense class is its declaration: kind, options and state names', async () => {
    const engine = await engineFor('simd');
    for (const [name, Ctor] of Object.entries(OPTIMIZERS)) {
      const decl = Ctor.declaration;
      expect(decl.name).toBe(name);
      const opt = new Ctor({ engine } as never);
      expect(opt.kind).toBe(name);
      const p = opt.param(3);
      expect([...p.stateKeys]).toEqual(decl.stateLayout(opt.options as never).filter((n: string | null) => n !== null));
      opt.dispose();
    }
  });

  it('a dense class over a table-only declaration (no dense kernel) is refused when constructed', async () => {
    const engine = await engineFor('simd');
    for (const declaration of TABLE_ONLY_DECLARATIONS) {
      expect(declaration.kernel).toBeUndefined();
      class TableOnly extends Optimizer {
        static readonly declaration = declaration;
      }
      expect(() => new TableOnly({ engine })).toThrow(
        new TypeError(
          `TableOnly: declaration '${declaration.name}' has no dense kernel (a table-only optimizer: use it in an Embedding)`,
        ),
      );
    }
  });

  it('table optimizers are exactly the declarations with a table name and a row kernel', () => {
    const withRows = [...Object.values(OPTIMIZERS).map((c) => c.declaration), ...TABLE_ONLY_DECLARATIONS].filter(
      (d) => d.table !== undefined && d.rowKernel !== undefined,
    );
    expect(withRows.map((d) => d.table).sort()).toEqual([...TABLE_OPTIMIZER_NAMES].sort());
    expect(TABLE_OPTIMIZER_NAMES).toEqual(
      expect.arrayContaining(['sgd', 'adagrad', 'adam', 'adamw', 'adamax', 'lion', 'adadelta', 'nadam', 'radam']),
    );
  });

  it("the module's abiHash() is ABI_HASH, the hash of SLOT; every declared kernel is an exported function", async () => {
    for (const build of BUILD_NAMES) {
      const engine = await engineFor(build);
      const exports = engine.exports as unknown as Record<string, unknown>;
      expect((exports.abiHash as () => number)()).toBe(ABI_HASH);
      // The shipped builds carry the constants in abiHash() only (scripts/strip-abi-globals.mjs).
      expect(Object.values(exports).filter((v) => v instanceof WebAssembly.Global)).toEqual([]);
      for (const Ctor of Object.values(OPTIMIZERS))
        expect(typeof exports[Ctor.declaration.kernel as string]).toBe('function');
    }
    expect(abiHash(Object.entries(SLOT))).toBe(ABI_HASH);
    const moved = { ...SLOT, ADAM_BETA1: SLOT.ADAM_BETA1 + 1 };
    expect(abiHash(Object.entries(moved))).not.toBe(ABI_HASH);
  });

  it('a module whose ABI hash differs is refused with an error that names the fix', async () => {
    const { Engine } = await import('../src/index.js');
    const engine = await engineFor('scalar');
    const fake = { exports: { ...(engine.exports as object), abiHash: () => 99, _initialize: undefined } };
    expect(() => new Engine(fake as unknown as WebAssembly.Instance)).toThrow(
      /its ABI hash is 0x00000063, expected 0x[0-9a-f]{8}\); load the \.wasm file shipped with this version of wasm-optim/,
    );
  });

  it('a module that exports its constants as globals (no abiHash) is checked constant by constant', async () => {
    const { Engine } = await import('../src/index.js');
    const engine = await engineFor('scalar');
    const globals = Object.fromEntries(
      Object.entries(SLOT).map(([k, v]) => [k, new WebAssembly.Global({ value: 'i32' }, v)]),
    );
    const exports = { ...(engine.exports as object), ...globals, abiHash: undefined, _initialize: undefined };
    expect(() => new Engine({ exports } as unknown as WebAssembly.Instance)).not.toThrow();
    const fake = { exports: { ...exports, ADAM_BETA1: new WebAssembly.Global({ value: 'i32' }, 99) } };
    expect(() => new Engine(fake as unknown as WebAssembly.Instance)).toThrow(
      /its ADAM_BETA1 is 99, expected 1\); load the \.wasm file shipped with this version of wasm-optim/,
    );
    const { ADAM_BETA2: _dropped, ...missing } = exports as Record<string, unknown>;
    expect(() => new Engine({ exports: missing } as unknown as WebAssembly.Instance)).toThrow(
      /its ADAM_BETA2 is missing, expected/,
    );
  });
});
