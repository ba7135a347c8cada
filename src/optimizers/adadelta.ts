import { SLOT as S } from '../core/abi.js';
import type { CommonResolved, OptimizerDeclaration } from '../core/declaration.js';
import { checkNumber } from '../core/options.js';
import { Optimizer, type BaseOptions } from '../core/optimizer.js';
import type { Schedule } from '../core/schedules.js';

/** Options of `Adadelta` (PyTorch 2.x names in camelCase). */
export interface AdadeltaOptions extends BaseOptions {
  /** Scales the delta before it is applied (a number or a schedule). Default 1.0. */
  lr?: number | Schedule;
  /** Coefficient of the running averages of the squared gradient and the squared delta. Default 0.9. */
  rho?: number;
  /** Added inside both square roots. Default 1e-6. */
  eps?: number;
  /** L2 weight decay added to the gradient. Default 0. */
  weightDecay?: number;
}

/** Adadelta's resolved options. */
export interface AdadeltaResolved extends CommonResolved {
  rho: number;
  eps: number;
}

/** Adadelta's declaration (tables: `'adadelta'`, lazy mode). */
export const adadeltaDecl: OptimizerDeclaration<AdadeltaResolved> = {
  name: 'Adadelta',
  table: 'adadelta',
  options: ['lr', 'rho', 'eps', 'weightDecay', 'maximize', 'nonFinite'],
  defaults: { lr: 1.0, weightDecay: 0 },
  resolve: (o, owner) => ({
    rho: checkNumber(owner, 'rho', o.rho ?? 0.9, { min: 0, max: 1 }),
    eps: checkNumber(owner, 'eps', o.eps ?? 1e-6, { min: 0 }),
  }),
  stateLayout: () => ['square_avg', 'acc_delta'],
  writeHyper(h, o, _t, gradScale, _series, stepOnly) {
    h.f32(S.ADADELTA_GSCALE, gradScale);
    h.f32(S.ADADELTA_LR, o.lr);
    if (stepOnly) return;
    h.f32(S.ADADELTA_RHO, o.rho);
    h.f32(S.ADADELTA_OMR, 1 - o.rho);
    h.f32(S.ADADELTA_EPS, o.eps);
    h.f32(S.ADADELTA_WD, o.weightDecay);
    h.flag(S.ADADELTA_USE_WD, o.weightDecay !== 0);
  },
  squaresGradient: true,
  steadyFrom: () => 1,
  kernel: 'adadeltaStep',
  rowKernel: S.EMB_KIND_ADADELTA,
};

/**
 * Adadelta (Zeiler, 2012) with PyTorch's update, to float32 rounding:
 * `g += wd p; sq = rho sq + (1-rho) g^2; delta = sqrt(acc + eps) / sqrt(sq + eps) * g;
 *  acc = rho acc + (1-rho) delta^2; p -= lr delta`. State per param: `square_avg`, `acc_delta`.
 */
export class Adadelta extends Optimizer<AdadeltaOptions> {
  static readonly declaration = adadeltaDecl;
}
