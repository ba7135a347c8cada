// Issue 20 for embedding tables: an update under nonFinite 'throw' never makes a weight or a state
// non-finite. Optimizers that square the gradient into their state (the declaration's
// `squaresGradient`: Adam's exp_avg_sq, Adagrad's sum, ...) refuse a row whose square overflows
// float32 (|g| above ~1.8e19), including a sum of duplicate ids whose parts are each below it,
// exactly as the dense step does; the others take it. Sharded tables check every shard (the
// squares and the L2-decayed gradient) before any shard changes.
import { describe, expect, it } from 'vitest';
import {
  createEngine,
  Embedding,
  NonFiniteGradientError,
  ShardedEmbedding,
  TABLE_OPTIMIZERS,
  type EmbeddingOptimizer,
  type EmbeddingTable,
} from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';

const ALL = [...TABLE_OPTIMIZERS.keys()] as EmbeddingOptimizer[];
const SQUARING = ALL.filter((k) => TABLE_OPTIMIZERS.get(k)!.squaresGradient === true);
const NOT_SQUARING = ALL.filter((k) => TABLE_OPTIMIZERS.get(k)!.squaresGradient !== true);
const ROWS = 12,
  DIM = 5;

function snapshot(t: EmbeddingTable): number[][] {
  const all = Int32Array.from({ length: ROWS }, (_, i) => i);
  const sd = t.stateDict();
  return [Array.from(t.lookup(all)), ...Object.values(sd.state).map((s) => Array.from(s))];
}

function grads(rows: number, at: number, value: number): Float32Array {
  const g = new Float32Array(rows * DIM).fill(0.25);
  g[at] = value;
  return g;
}

describe.each(BUILD_NAMES)('a table gradient whose square overflows float32 (%s build)', (build) => {
  it('the registry splits the table optimizers into both kinds', () => {
    expect(SQUARING).toEqual(expect.arrayContaining(['adam', 'adamw', 'adagrad']));
    expect(NOT_SQUARING).toEqual(expect.arrayContaining(['sgd', 'lion', 'adamax']));
  });

  it.each(SQUARING)('%s: refused under throw with nothing changed, false under skip, 1e19 taken', async (optimizer) => {
    const engine = await engineFor(build);
    const emb = new Embedding(ROWS, DIM, { optimizer, lr: 1e-3, seed: 3, engine });
    emb.update([1, 2], grads(2, 3, 0.5));
    const before = snapshot(emb);
    // One row whose square overflows.
    expect(() => emb.update([4, 5], grads(2, 7, 2e19))).toThrow(NonFiniteGradientError);
    expect(() => emb.update([4, 5], grads(2, 7, -2e19))).toThrow(/id 5 has magnitude \d+, whose square/);
    // Duplicates whose sum does (1.5e19 each, 3e19 summed): the check sees the applied rows.
    expect(() => emb.update([6, 6], grads(2, 2, 1.5e19).fill(1.5e19, 5, 10))).toThrow(/id 6 .*square/);
    expect(snapshot(emb)).toEqual(before);
    expect(emb.stepCount).toBe(1);
    emb.dispose();

    const skip = new Embedding(ROWS, DIM, { optimizer, lr: 1e-3, seed: 3, nonFinite: 'skip', engine });
    expect(skip.update([0, 3], grads(2, 1, 3e19))).toBe(false);
    expect(skip.stepCount).toBe(0);
    expect(skip.update([0, 3], grads(2, 1, 1e19))).toBe(true);
    for (const s of snapshot(skip)) expect(s.every(Number.isFinite)).toBe(true);
    skip.dispose();

    // 'ignore' skips every check, as PyTorch does.
    const ignore = new Embedding(ROWS, DIM, { optimizer, lr: 1e-3, seed: 3, nonFinite: 'ignore', engine });
    expect(ignore.update([0], grads(1, 1, 3e19))).toBe(true);
    ignore.dispose();
  });

  it.each(NOT_SQUARING)('%s does not square the gradient: 2e19 is a finite update', async (optimizer) => {
    const engine = await engineFor(build);
    const emb = new Embedding(ROWS, DIM, { optimizer, lr: 1e-30, seed: 3, engine });
    expect(emb.update([4, 5], grads(2, 7, 2e19))).toBe(true);
    for (const s of snapshot(emb)) expect(s.every(Number.isFinite)).toBe(true);
    emb.dispose();
  });

  it('sharded: a refusal in the last shard leaves every shard as it was (squares and L2)', async () => {
    const parent = await createEngine({ simd: build === 'simd' });
    const sharded = new ShardedEmbedding(ROWS, DIM, { optimizer: 'adam', seed: 3, maxShardRows: 4, engine: parent });
    expect(sharded.shardCount).toBe(3);
    sharded.update([0, 11], grads(2, 0, 0.5));
    const before = snapshot(sharded);
    expect(() => sharded.update([1, 10], grads(2, 7, 2e19))).toThrow(/id 10 has magnitude .* whose square/);
    expect(() => sharded.update([1, 10, 10], grads(3, 7, 1.5e19).fill(1.5e19, 10, 15))).toThrow(/id 10 .*square/);
    expect(snapshot(sharded)).toEqual(before);
    expect(sharded.stepCount).toBe(1);
    sharded.dispose();

    // L2: g + wd * w overflows in the last shard only (weights near float32's limit there).
    const init = new Float32Array(ROWS * DIM).fill(0.5);
    init.fill(3e38, 10 * DIM, 11 * DIM);
    const l2 = new ShardedEmbedding(ROWS, DIM, {
      optimizer: 'sgd',
      lr: 1e-3,
      weightDecay: 1,
      init,
      maxShardRows: 4,
      engine: parent,
    });
    const l2Before = snapshot(l2);
    expect(() => l2.update([1, 10], grads(2, 5, 1e38).fill(1e38, 5, 10))).toThrow(/id 10 with L2 weight decay/);
    expect(snapshot(l2)).toEqual(l2Before);
    expect(l2.stepCount).toBe(0);
    l2.dispose();
  });
});
