import { SLOT as S } from '../core/abi.js';
import type { CommonResolved, OptimizerDeclaration } from '../core/declaration.js';
import { checkNumber } from '../core/options.js';
import { Optimizer, type BaseOptions } from '../core/optimizer.js';
import type { Schedule } from '../core/schedules.js';

/** Options of `FTRL` (TensorFlow's `tf.keras.optimizers.Ftrl` names in camelCase). */
export interface FTRLOptions extends Omit<BaseOptions, 'weightDecay'> {
  /** Learning rate (a number or a schedule). Default 1e-3. */
  lr?: number | Schedule;
  /** `learning_rate_power`, at most 0: the rate at which the per-element rate falls. Default -0.5. */
  learningRatePower?: number;
  /** Starting value of the accumulator of squared gradients, at least 0. Default 0.1. */
  initialAccumulatorValue?: number;
  /** L1 regularization strength, at least 0 (weights with `|z| <= l1` are exactly 0). Default 0. */
  l1?: number;
  /** L2 regularization strength, at least 0 (stabilization penalty). Default 0. */
  l2?: number;
  /** `l2_shrinkage_regularization_strength`, at least 0: an L2 penalty on the weights (magnitude). Default 0. */
  l2Shrinkage?: number;
  /** McMahan et al.'s beta, at least 0, folded into l2 as Keras does (`l2 + beta / (2 lr)`). Default 0. */
  beta?: number;
}

/** FTRL's resolved options. */
export interface FTRLResolved extends CommonResolved {
  learningRatePower: number;
  initialAccumulatorValue: number;
  l1: number;
  l2: number;
  l2Shrinkage: number;
  beta: number;
}

function resolveOwn(o: Readonly<Record<string, unknown>>, owner: string): Omit<FTRLResolved, keyof CommonResolved> {
  return {
    learningRatePower: checkNumber(owner, 'learningRatePower', o.learningRatePower ?? -0.5, { max: 0 }),
    initialAccumulatorValue: checkNumber(owner, 'initialAccumulatorValue', o.initialAccumulatorValue ?? 0.1, {
      min: 0,
    }),
    l1: checkNumber(owner, 'l1', o.l1 ?? 0, { min: 0 }),
    l2: checkNumber(owner, 'l2', o.l2 ?? 0, { min: 0 }),
    l2Shrinkage: checkNumber(owner, 'l2Shrinkage', o.l2Shrinkage ?? 0, { min: 0 }),
    beta: checkNumber(owner, 'beta', o.beta ?? 0, { min: 0 }),
  };
}

/** FTRL's declaration (tables: `'ftrl'`). */
export const ftrlDecl: OptimizerDeclaration<FTRLResolved> = {
  name: 'FTRL',
  table: 'ftrl',
  options: [
    'lr',
    'learningRatePower',
    'initialAccumulatorValue',
    'l1',
    'l2',
    'l2Shrinkage',
    'beta',
    'maximize',
    'nonFinite',
  ],
  defaults: { lr: 1e-3, weightDecay: 0 },
  resolve: (o, owner) => {
    // FTRL divides by lr (sigma and the quadratic term): a rate of 0 would make every weight NaN.
    if (o.lr === 0) throw new RangeError(`${owner}: option 'lr' must be > 0 for FTRL (it divides by lr), got 0`);
    return resolveOwn(o, owner);
  },
  stateLayout: () => ['accumulator', 'linear'],
  initState: (name, view, o) => {
    if (name === 'accumulator') view.fill(o.initialAccumulatorValue);
  },
  writeHyper(h, o, _t, gradScale, _series, stepOnly) {
    h.f32(S.FTRL_GSCALE, gradScale);
    h.f32(S.FTRL_LR, o.lr);
    // TensorFlow's quadratic term is n'^(-p) / lr + 2 * l2 with Keras' l2 + beta / (2 lr) for l2.
    h.f32(S.FTRL_L2X2, 2 * o.l2 + (o.lr > 0 ? o.beta / o.lr : 0));
    if (stepOnly) return;
    h.f32(S.FTRL_L1, o.l1);
    h.f32(S.FTRL_SHRINK2, 2 * o.l2Shrinkage);
    h.f32(S.FTRL_NEG_POWER, -o.learningRatePower);
    h.flag(S.FTRL_USE_SHRINK, o.l2Shrinkage > 0);
    h.flag(S.FTRL_SQRT, o.learningRatePower === -0.5);
  },
  l2: (o) => 2 * o.l2Shrinkage,
  squaresGradient: true,
  kernel: 'ftrlStep',
  rowKernel: S.EMB_KIND_FTRL,
};

/**
 * FTRL-Proximal (McMahan et al. 2013, "Ad Click Prediction: a View from the Trenches") as
 * TensorFlow's `Ftrl` optimizer computes it (its `ApplyFtrlV2` kernel, tensorflow/core/kernels/
 * training_ops.cc; `beta` folded into l2 as `tf.keras.optimizers.Ftrl` does), per element:
 * `gs = g + 2 l2Shrinkage w; n' = n + g^2; z += gs - (n'^(-p) - n^(-p)) / lr * w;`
 * `w = |z| > l1 ? (sign(z) l1 - z) / (n'^(-p) / lr + 2 l2 + beta / lr) : 0; n = n'`
 * with `p = learningRatePower`. State per param: `accumulator` (starts at
 * `initialAccumulatorValue`) and `linear` (Keras' slot names). No `weightDecay`: use `l2` or
 * `l2Shrinkage`. The step rewrites every weight from `linear` and `accumulator` (with `l1 > 0`,
 * many become exactly 0: sparse models).
 */
export class FTRL extends Optimizer<FTRLOptions> {
  static readonly declaration = ftrlDecl;
}
