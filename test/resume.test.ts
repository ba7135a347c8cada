// Resume is bit-identical: 100 steps straight equal 50 steps, save, load into a fresh optimizer
// in a fresh engine (as another process would), 50 more steps - for every optimizer and variant,
// on both builds, and across builds (save on one, resume on the other).
import { describe, expect, it } from 'vitest';
import { createEngine, inspectCheckpoint, type Engine } from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { bits, makeOptimizer, snapshot, type AnyOptimizer, type DenseKind } from './reliability-util.js';

const CONFIGS: [DenseKind, Record<string, unknown>][] = [
  ['Adam', {}],
  ['Adam', { lr: 0.01, amsgrad: true }],
  ['Adam', { lr: 0.01, weightDecay: 0.05, maximize: true, betas: [0.8, 0.95], eps: 1e-6 }],
  ['AdamW', { lr: 0.01 }],
  ['AdamW', { lr: 0.01, amsgrad: true, weightDecay: 0.1 }],
  ['SGD', { lr: 0.05 }],
  ['SGD', { lr: 0.05, momentum: 0.9 }],
  ['SGD', { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 }],
  ['SGD', { lr: 0.05, momentum: 0.5, dampening: 0.3, maximize: true }],
  ['Adagrad', {}],
  ['Adagrad', { lr: 0.1, lrDecay: 0.01, initialAccumulatorValue: 0.1, weightDecay: 0.01 }],
  ['RMSprop', {}],
  ['RMSprop', { momentum: 0.9 }],
  ['RMSprop', { momentum: 0.5, centered: true, weightDecay: 0.01, alpha: 0.9 }],
];

const SIZES = [1, 7, 64, 1000, 0];
const LATE_SIZE = 33;

/** The gradient of step `t`: a smooth function of the param's current float32 values. */
function writeGrads(opt: AnyOptimizer, t: number): void {
  opt.params.forEach((p, k) => {
    const data = p.data;
    const g = p.grad;
    for (let i = 0; i < g.length; i++) g[i] = Math.sin(0.37 * i + 0.11 * t + k) * (1 + 0.5 * Math.cos(data[i]));
  });
}

/** Steps `from`..`to` (1-based): a param joins before step 31, lr halves before steps 41 and 71,
 *  and every 13th step has zero gradients. */
function drive(opt: AnyOptimizer, from: number, to: number): void {
  for (let t = from; t <= to; t++) {
    if (t === 31) opt.param(new Float32Array(LATE_SIZE).map((_, i) => Math.cos(i) / 2));
    if (t === 41 || t === 71) opt.lr = opt.lr * 0.5;
    if (t % 13 === 0) opt.zeroGrad();
    else writeGrads(opt, t);
    opt.step();
  }
}

const initial = (n: number, k: number): Float32Array => new Float32Array(n).map((_, i) => Math.sin(i * 1.3 + k) * 2);

function start(kind: DenseKind, options: Record<string, unknown>, engine: Engine): AnyOptimizer {
  const opt = makeOptimizer(kind, options, engine);
  SIZES.forEach((n, k) => opt.param(initial(n, k)));
  return opt;
}

describe.each(BUILD_NAMES)('resume (%s)', (build) => {
  it.each(CONFIGS)('%s %j: 100 steps = 50 steps, save, load in a fresh engine, 50 steps (bit for bit)', async (kind, options) => {
    const engine = await engineFor(build);
    const straight = start(kind, options, engine);
    drive(straight, 1, 100);

    const first = start(kind, options, engine);
    drive(first, 1, 50);
    const bytes = first.save();
    first.dispose();
    expect(inspectCheckpoint(bytes).meta.stepCount).toBe(50);

    for (const target of [build, build === 'simd' ? 'scalar' : 'simd'] as const) {
      const fresh = await createEngine({ simd: target === 'simd' }); // a new instance: nothing shared
      const resumed = makeOptimizer(kind, {}, fresh); // options come from the checkpoint
      resumed.load(bytes);
      expect(resumed.params.map((p) => p.length)).toEqual([...SIZES, LATE_SIZE]);
      drive(resumed, 51, 100);
      expect(resumed.stepCount).toBe(100);
      expect(snapshot(resumed, false)).toBe(snapshot(straight, false));
      // Sanity: the run really moved every non-empty param.
      SIZES.forEach((n, k) => {
        if (n > 0) expect(bits(resumed.params[k].data)).not.toBe(bits(initial(n, k)));
      });
      resumed.dispose();
    }
    straight.dispose();
  });
});
