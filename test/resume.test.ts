// Resume is bit-identical: 100 steps straight equal 50 steps, save, load into a fresh optimizer
// in a fresh engine (as another process would), 50 more steps - for every optimizer and variant,
// on both builds, and across builds (save on one, resume on the other).
import { describe, expect, it } from 'vitest';
import { cosineLR, createEngine, inspectCheckpoint, stepLR, type Engine } from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { ALL_OPTIMIZERS, bits, snapshot, type AnyOptimizer } from './reliability-util.js';

/** A run's optimizer: its class, options, extra param groups (params alternate between groups). */
interface Config {
  cls: string;
  options: Record<string, unknown>;
  groups?: Record<string, unknown>[];
  /** Halve lr before steps 41 and 71 (not with schedules, which it would replace). */
  halve?: boolean;
}

const VARIANTS: Config[] = [
  { cls: 'Adam', options: { lr: 0.01, amsgrad: true } },
  { cls: 'Adam', options: { lr: 0.01, weightDecay: 0.05, maximize: true, betas: [0.8, 0.95], eps: 1e-6 } },
  { cls: 'AdamW', options: { lr: 0.01, amsgrad: true, weightDecay: 0.1 } },
  { cls: 'SGD', options: { lr: 0.05, momentum: 0.9 } },
  { cls: 'SGD', options: { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 } },
  { cls: 'SGD', options: { lr: 0.05, momentum: 0.5, dampening: 0.3, maximize: true } },
  { cls: 'Adagrad', options: { lr: 0.1, lrDecay: 0.01, initialAccumulatorValue: 0.1, weightDecay: 0.01 } },
  { cls: 'RMSprop', options: { momentum: 0.9 } },
  { cls: 'RMSprop', options: { momentum: 0.5, centered: true, weightDecay: 0.01, alpha: 0.9 } },
  // Param groups with their own state layout, and learning-rate schedules mid-way.
  {
    cls: 'Adam',
    options: { lr: cosineLR({ peak: 0.02, decaySteps: 100, warmupSteps: 10 }) },
    groups: [{ amsgrad: true, weightDecay: 0.1, lr: 0.005 }],
  },
  {
    cls: 'SGD',
    options: { lr: stepLR({ lr: 0.05, stepSize: 30, gamma: 0.5 }), momentum: 0.9 },
    groups: [{ momentum: 0, weightDecay: 0.01 }],
  },
  { cls: 'AdamW', options: { lr: 0.01 }, groups: [{ weightDecay: 0 }, { betas: [0.5, 0.9] }], halve: true },
];
/** Every exported optimizer with its defaults, then the variants. */
const CONFIGS: Config[] = [
  ...Object.keys(ALL_OPTIMIZERS).map((cls) => ({ cls, options: {}, halve: true })),
  ...VARIANTS.map((v) => ({ halve: !v.groups, ...v })),
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

/** Steps `from`..`to` (1-based): a param joins before step 31, lr halves before steps 41 and 71
 *  (`halve`), and every 13th step has zero gradients. */
function drive(opt: AnyOptimizer, cfg: Config, from: number, to: number): void {
  for (let t = from; t <= to; t++) {
    if (t === 31)
      opt.param(
        new Float32Array(LATE_SIZE).map((_, i) => Math.cos(i) / 2),
        { group: opt.paramGroups.length - 1 },
      );
    if (cfg.halve && (t === 41 || t === 71)) opt.lr = opt.lr * 0.5;
    if (t % 13 === 0) opt.zeroGrad();
    else writeGrads(opt, t);
    opt.step();
  }
}

const initial = (n: number, k: number): Float32Array => new Float32Array(n).map((_, i) => Math.sin(i * 1.3 + k) * 2);

function start(cfg: Config, engine: Engine): AnyOptimizer {
  const opt = new ALL_OPTIMIZERS[cfg.cls]({ ...cfg.options, engine });
  for (const g of cfg.groups ?? []) opt.addParamGroup(g);
  const groups = opt.paramGroups.length;
  SIZES.forEach((n, k) => opt.param(initial(n, k), { group: k % groups }));
  return opt;
}

describe.each(BUILD_NAMES)('resume (%s)', (build) => {
  it('covers every exported optimizer', () => {
    expect(new Set(CONFIGS.map((c) => c.cls))).toEqual(new Set(Object.keys(ALL_OPTIMIZERS)));
    expect(Object.keys(ALL_OPTIMIZERS).length).toBeGreaterThanOrEqual(5);
  });

  it.each(CONFIGS.map((c): [string, string, Config] => [c.cls, JSON.stringify({ ...c.options, groups: c.groups }), c]))(
    '%s %s: 100 steps = 50 steps, save, load in a fresh engine, 50 steps (bit for bit)',
    async (_cls, _label, cfg) => {
      const engine = await engineFor(build);
      const straight = start(cfg, engine);
      drive(straight, cfg, 1, 100);

      const first = start(cfg, engine);
      drive(first, cfg, 1, 50);
      const bytes = first.save();
      first.dispose();
      expect(inspectCheckpoint(bytes).meta.stepCount).toBe(50);

      for (const target of [build, build === 'simd' ? 'scalar' : 'simd'] as const) {
        const fresh = await createEngine({ simd: target === 'simd' }); // a new instance: nothing shared
        const resumed = new ALL_OPTIMIZERS[cfg.cls]({ engine: fresh }); // options and groups come from the checkpoint
        resumed.load(bytes);
        expect(resumed.params.map((p) => p.length)).toEqual([...SIZES, LATE_SIZE]);
        expect(resumed.paramGroups.length).toBe(1 + (cfg.groups?.length ?? 0));
        drive(resumed, cfg, 51, 100);
        expect(resumed.stepCount).toBe(100);
        expect(resumed.params.map((p) => p.group)).toEqual(straight.params.map((p) => p.group));
        expect(snapshot(resumed, false)).toBe(snapshot(straight, false));
        expect(resumed.paramGroups.map((g) => g.lr)).toEqual(straight.paramGroups.map((g) => g.lr));
        // Sanity: the run really moved every non-empty param.
        SIZES.forEach((n, k) => {
          if (n > 0) expect(bits(resumed.params[k].data)).not.toBe(bits(initial(n, k)));
        });
        resumed.dispose();
      }
      straight.dispose();
    },
  );
});
