// Checkpoints of embedding tables: resume is bit-identical in lazy and exact mode (exact mode
// keeps its lagging rows and their history across the checkpoint), on both builds and across
// them; refused loads say why and change nothing.
import { describe, expect, it } from 'vitest';
import {
  Adam,
  CheckpointError,
  DisposedError,
  Embedding,
  createEngine,
  inspectCheckpoint,
  memoryStats,
  type Engine,
} from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { bits, rng } from './reliability-util.js';

const ROWS = 61;
const DIM = 6;

const CONFIGS: Record<string, unknown>[] = [
  { optimizer: 'sgd', lr: 0.05 },
  { optimizer: 'sgd', lr: 0.05, momentum: 0.9 },
  { optimizer: 'sgd', lr: 0.05, weightDecay: 0.01 },
  { optimizer: 'adagrad', lr: 0.05, initialAccumulatorValue: 0.1 },
  { optimizer: 'adam', lr: 0.01 },
  { optimizer: 'adam', lr: 0.01, amsgrad: true, betas: [0.8, 0.99] },
  { optimizer: 'adamw', lr: 0.01, weightDecay: 0.1 },
];
const CASES = CONFIGS.flatMap((c) =>
  (['lazy', 'exact'] as const).map((mode): [string, string, Record<string, unknown>] => [
    c.optimizer as string,
    mode,
    { ...c, mode },
  ]),
);

/** Updates `from`..`to`: a few Zipf-like ids per update (repeats included, most rows idle for
 *  long stretches), the rate changed before updates 30 and 70. */
function drive(emb: Embedding, from: number, to: number): void {
  for (let t = from; t <= to; t++) {
    if (t === 30 || t === 70) emb.lr = emb.lr * 0.7;
    const r = rng(t * 7919);
    const k = 1 + Math.floor(r() * 5);
    const ids = Int32Array.from({ length: k }, () => Math.floor(r() * r() * r() * ROWS));
    emb.update(
      ids,
      Float32Array.from({ length: k * DIM }, () => r() * 2 - 1),
    );
  }
}

/** Weights and every state tensor as bits (reading them flushes an exact-mode table). */
function tableBits(emb: Embedding): string {
  return [bits(emb.weights), ...emb.stateKeys.map((k) => `${k}:${bits(emb.state(k))}`), emb.stepCount].join('|');
}

describe.each(BUILD_NAMES)('embedding checkpoints (%s)', (build) => {
  it.each(CASES)(
    '%s %s: 100 updates = 50, save, restore in a fresh engine, 50 (bit for bit)',
    async (_o, mode, options) => {
      const engine = await engineFor(build);
      const straight = new Embedding(ROWS, DIM, { ...options, seed: 5, engine });
      drive(straight, 1, 100);

      const first = new Embedding(ROWS, DIM, { ...options, seed: 5, engine });
      drive(first, 1, 50);
      const bytes = first.save();
      first.dispose();
      const info = inspectCheckpoint(bytes);
      expect(info.kind).toBe('Embedding');
      expect(info.meta).toMatchObject({ rows: ROWS, dim: DIM, mode, stepCount: 50 });

      for (const target of [build, build === 'simd' ? 'scalar' : 'simd'] as const) {
        const fresh = await createEngine({ simd: target === 'simd' });
        const resumed = Embedding.fromCheckpoint(bytes, { engine: fresh });
        expect(resumed.optimizer).toBe(options.optimizer);
        expect(resumed.mode).toBe(mode);
        drive(resumed, 51, 100);
        expect(tableBits(resumed)).toBe(tableBits(straight));
        // load() into a table created by hand gives the same.
        const byHand = new Embedding(ROWS, DIM, { ...options, init: 'zeros', engine: fresh });
        byHand.load(bytes);
        drive(byHand, 51, 100);
        expect(tableBits(byHand)).toBe(tableBits(straight));
        resumed.dispose();
        byHand.dispose();
        expect(memoryStats(fresh)).toMatchObject({ bytesInUse: 0, blocksInUse: 0 });
      }
      straight.dispose();
    },
  );

  it('refuses another optimizer, shape, mode or state layout, and corrupt bytes; nothing changes', async () => {
    const engine: Engine = await engineFor(build);
    const src = new Embedding(8, 3, { optimizer: 'adam', amsgrad: true, mode: 'exact', seed: 1, engine });
    drive8(src);
    const bytes = src.save();
    const refuse = (emb: Embedding, b: Uint8Array, reason: string, message?: RegExp): void => {
      const before = emb.save(); // save() does not flush: equal bytes mean nothing changed at all
      try {
        emb.load(b);
        throw new Error('the load succeeded');
      } catch (e) {
        expect(e).toBeInstanceOf(CheckpointError);
        expect((e as CheckpointError).reason).toBe(reason);
        if (message) expect((e as Error).message).toMatch(message);
      }
      expect(sameBytes(emb.save(), before)).toBe(true);
    };
    const tables = [
      [
        new Embedding(8, 3, { optimizer: 'adamw', amsgrad: true, mode: 'exact', engine }),
        'kind',
        /trained with optimizer 'adam', this table uses 'adamw'/,
      ],
      [new Embedding(8, 3, { optimizer: 'sgd', mode: 'exact', engine }), 'kind', undefined],
      [
        new Embedding(9, 3, { optimizer: 'adam', amsgrad: true, mode: 'exact', engine }),
        'layout',
        /holds a 8 x 3 table in mode 'exact', this one is 9 x 3/,
      ],
      [new Embedding(8, 4, { optimizer: 'adam', amsgrad: true, mode: 'exact', engine }), 'layout', undefined],
      [new Embedding(8, 3, { optimizer: 'adam', amsgrad: true, mode: 'lazy', engine }), 'layout', /in mode 'lazy'/],
      [
        new Embedding(8, 3, { optimizer: 'adam', mode: 'exact', engine }),
        'layout',
        /holds state \[exp_avg, exp_avg_sq, max_exp_avg_sq\] but this table holds \[exp_avg, exp_avg_sq\]/,
      ],
    ] as const;
    for (const [t, reason, message] of tables) {
      drive8(t);
      refuse(t, bytes, reason, message);
    }
    const same = new Embedding(8, 3, { optimizer: 'adam', amsgrad: true, mode: 'exact', engine });
    drive8(same);
    // An exact-mode checkpoint carries the history ring (about 512 KiB, so each attempt costs a
    // CRC of it): complement every byte of the header and metadata, flip every bit of 16 random
    // bytes elsewhere. (The exhaustive sweep is on the small lazy table below.)
    const r = rng(99);
    const flips: [number, number][] = Array.from({ length: 320 }, (_, i) => [i, 255]);
    for (let j = 0; j < 16; j++) {
      const i = Math.floor(r() * bytes.length);
      for (const x of [1, 2, 4, 8, 16, 32, 64, 128]) flips.push([i, x]);
    }
    for (const [i, x] of flips) {
      bytes[i] ^= x;
      expect(() => same.load(bytes)).toThrow(CheckpointError);
      bytes[i] ^= x;
    }
    for (const n of [0, 7, 27, 28, bytes.length >> 1, bytes.length - 1])
      refuse(same, bytes.subarray(0, n), 'truncated');
    // An optimizer's checkpoint is not a table's, and the other way round.
    const adam = new Adam({ engine });
    adam.param(3);
    refuse(same, adam.save(), 'kind', /holds an Adam, not an Embedding/);
    expect(() => adam.load(bytes)).toThrow(/holds an Embedding, not an Adam/);
    expect(() => Embedding.fromCheckpoint(adam.save(), { engine })).toThrow(CheckpointError);
    // The intact checkpoint still loads.
    same.load(bytes);
    expect(sameBytes(same.save(), bytes)).toBe(true);
    [src, same, adam, ...tables.map((t) => t[0])].forEach((t) => t.dispose());
    expect(() => src.save()).toThrow(DisposedError);
    expect(() => src.load(bytes)).toThrow(DisposedError);
  });

  it('a small lazy table: every single-byte corruption at every position is detected, nothing changes', async () => {
    const engine: Engine = await engineFor(build);
    const t = new Embedding(3, 2, { optimizer: 'adam', seed: 4, engine });
    drive8(t);
    const bytes = t.save();
    expect(bytes.length).toBeLessThan(1024);
    const before = t.save();
    // Every other value of every byte on one build; on the other, every single-bit flip and the
    // complement (detection happens before the engine is touched).
    const changes =
      build === 'simd' ? Array.from({ length: 255 }, (_, k) => k + 1) : [1, 2, 4, 8, 16, 32, 64, 128, 255];
    let refused = 0;
    for (let i = 0; i < bytes.length; i++) {
      const orig = bytes[i];
      for (const x of changes) {
        const v = orig ^ x;
        bytes[i] = v;
        try {
          t.load(bytes);
        } catch (e) {
          if (e instanceof CheckpointError) refused++;
        }
      }
      bytes[i] = orig;
    }
    expect(refused).toBe(bytes.length * changes.length);
    expect(sameBytes(t.save(), before)).toBe(true);
    t.dispose();
  });

  it('fromCheckpoint allocates nothing when refused', async () => {
    const engine: Engine = await engineFor(build);
    const src = new Embedding(40, 4, { optimizer: 'sgd', momentum: 0.5, mode: 'exact', seed: 2, engine });
    drive8(src);
    const bad = src.save();
    bad[bad.length - 9] ^= 0x10;
    const inUse = memoryStats(engine).bytesInUse;
    expect(() => Embedding.fromCheckpoint(bad, { engine })).toThrow(/CRC-32 mismatch/);
    expect(memoryStats(engine).bytesInUse).toBe(inUse);
    src.dispose();
  });
});

/** Byte equality (vitest's deep equality walks a 512 KiB array far too slowly). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A few updates on a table (ids taken modulo its rows). */
function drive8(emb: Embedding): void {
  for (let t = 1; t <= 5; t++) {
    const ids = Int32Array.from([t % 8, (t * 3) % 8, t % 8].map((i) => i % emb.rows));
    emb.update(
      ids,
      Float32Array.from({ length: 3 * emb.dim }, (_, i) => Math.sin(t + i)),
    );
  }
}
