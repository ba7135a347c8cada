import { SLOT as S } from '../core/abi.js';
import type { CommonResolved, OptimizerDeclaration } from '../core/declaration.js';
import { checkBoolean, checkNumber } from '../core/options.js';
import { Optimizer, type BaseOptions } from '../core/optimizer.js';
import type { Schedule } from '../core/schedules.js';
import { rmspropMeta } from './meta.js';

/** Options of `RMSprop` (PyTorch 2.x names in camelCase). */
export interface RMSpropOptions extends BaseOptions {
  /** Learning rate. Default 0.01. */
  lr?: number | Schedule;
  /** Smoothing constant of the squared-gradient average. Default 0.99. */
  alpha?: number;
  /** Added to the denominator. Default 1e-8. */
  eps?: number;
  /** L2 weight decay added to the gradient. Default 0. */
  weightDecay?: number;
  /** Momentum factor. Default 0. */
  momentum?: number;
  /** Normalize by the estimated variance (subtract the squared mean gradient). Default false. */
  centered?: boolean;
}

/** RMSprop's resolved options. */
export interface RMSpropResolved extends CommonResolved {
  alpha: number;
  eps: number;
  momentum: number;
  centered: boolean;
}

/** RMSprop's declaration (dense only: tables have no RMSprop row kernel). */
export const rmspropDecl: OptimizerDeclaration<RMSpropResolved> = {
  name: 'RMSprop',
  options: ['lr', 'alpha', 'eps', 'weightDecay', 'momentum', 'centered', 'maximize', 'nonFinite'],
  defaults: { lr: 1e-2, weightDecay: 0 },
  resolve: (o, owner) => ({
    alpha: checkNumber(owner, 'alpha', o.alpha ?? 0.99, { min: 0, max: 1 }),
    eps: checkNumber(owner, 'eps', o.eps ?? 1e-8, { min: 0 }),
    momentum: checkNumber(owner, 'momentum', o.momentum ?? 0, { min: 0 }),
    centered: checkBoolean(owner, 'centered', o.centered ?? false),
  }),
  stateLayout: (o) => ['square_avg', o.momentum > 0 ? 'momentum_buffer' : null, o.centered ? 'grad_avg' : null],
  writeHyper(h, o, _t, gradScale, _series, stepOnly) {
    h.f32(S.RMSPROP_GSCALE, gradScale);
    h.f32(S.RMSPROP_LR, o.lr);
    if (stepOnly) return;
    h.f32(S.RMSPROP_ALPHA, o.alpha);
    h.f32(S.RMSPROP_OMA, 1 - o.alpha);
    h.f32(S.RMSPROP_EPS, o.eps);
    h.f32(S.RMSPROP_WD, o.weightDecay);
    h.f32(S.RMSPROP_MOMENTUM, o.momentum);
    h.flag(S.RMSPROP_USE_WD, o.weightDecay !== 0);
    h.flag(S.RMSPROP_CENTERED, o.centered);
    h.flag(S.RMSPROP_USE_MOMENTUM, o.momentum > 0);
  },
  squaresGradient: true,
  steadyFrom: () => 1,
  kernel: 'rmspropStep',
  quantKernel: 'rmspropQStep',
  // bitsandbytes' RMSprop8bit refuses `centered` too: `square_avg - grad_avg^2` of two independently
  // rounded tensors goes negative, and its square root NaN.
  quantRefusal: (o) =>
    o.centered
      ? "centered RMSprop computes sqrt(square_avg - grad_avg^2), which rounded state makes negative; use centered: false or stateType 'f32'"
      : null,
  meta: rmspropMeta,
};

/**
 * RMSprop (Hinton's lecture 6e) with PyTorch's update:
 * `g += wd p; sq = alpha sq + (1-alpha) g^2; avg = sqrt(sq [- ga^2 if centered]) + eps;
 *  buf = momentum buf + g / avg, p -= lr buf` (or `p -= lr g / avg` without momentum).
 * State per param: `square_avg`, `momentum_buffer` (momentum > 0), `grad_avg` (centered).
 */
export class RMSprop extends Optimizer<RMSpropOptions> {
  static readonly declaration = rmspropDecl;
}
