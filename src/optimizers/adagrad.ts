import { SLOT as S } from '../core/abi.js';
import type { CommonResolved, OptimizerDeclaration } from '../core/declaration.js';
import { checkNumber } from '../core/options.js';
import { Optimizer, type BaseOptions } from '../core/optimizer.js';
import type { Schedule } from '../core/schedules.js';
import { adagradMeta } from './meta.js';

/** Options of `Adagrad` (PyTorch 2.x names in camelCase). */
export interface AdagradOptions extends BaseOptions {
  /** Learning rate. Default 0.01. */
  lr?: number | Schedule;
  /** Learning-rate decay: the rate at step t is `lr / (1 + (t - 1) lrDecay)`. Default 0. */
  lrDecay?: number;
  /** L2 weight decay added to the gradient. Default 0. */
  weightDecay?: number;
  /** Starting value of the sum of squared gradients. Default 0. */
  initialAccumulatorValue?: number;
  /** Added to the denominator. Default 1e-10. */
  eps?: number;
}

/** Adagrad's resolved options. */
export interface AdagradResolved extends CommonResolved {
  lrDecay: number;
  initialAccumulatorValue: number;
  eps: number;
}

/** Adagrad's declaration (tables: `'adagrad'`). */
export const adagradDecl: OptimizerDeclaration<AdagradResolved> = {
  name: 'Adagrad',
  table: 'adagrad',
  options: ['lr', 'lrDecay', 'weightDecay', 'initialAccumulatorValue', 'eps', 'maximize', 'nonFinite'],
  defaults: { lr: 1e-2, weightDecay: 0 },
  resolve: (o, owner) => ({
    lrDecay: checkNumber(owner, 'lrDecay', o.lrDecay ?? 0, { min: 0 }),
    initialAccumulatorValue: checkNumber(owner, 'initialAccumulatorValue', o.initialAccumulatorValue ?? 0, { min: 0 }),
    eps: checkNumber(owner, 'eps', o.eps ?? 1e-10, { min: 0 }),
  }),
  stateLayout: () => ['sum'],
  initState: (_name, view, o) => view.fill(o.initialAccumulatorValue),
  writeHyper(h, o, t, gradScale, _series, stepOnly) {
    h.f32(S.ADAGRAD_GSCALE, gradScale);
    h.f32(S.ADAGRAD_CLR, o.lr / (1 + (t - 1) * o.lrDecay));
    if (stepOnly) return;
    h.f32(S.ADAGRAD_EPS, o.eps);
    h.f32(S.ADAGRAD_WD, o.weightDecay);
    h.flag(S.ADAGRAD_USE_WD, o.weightDecay !== 0);
  },
  squaresGradient: true,
  // clr = lr / (1 + (t - 1) lrDecay) moves with t unless lrDecay is 0.
  steadyFrom: (o) => (o.lrDecay === 0 ? 1 : Infinity),
  kernel: 'adagradStep',
  quantKernel: 'adagradQStep',
  rowKernel: S.EMB_KIND_ADAGRAD,
  meta: adagradMeta,
};

/**
 * Adagrad (Duchi et al., 2011) with PyTorch's update:
 * `g += wd p; sum += g^2; p -= lr / (1 + (t-1) lrDecay) * g / (sqrt(sum) + eps)`.
 * State per param: `sum`.
 */
export class Adagrad extends Optimizer<AdagradOptions> {
  static readonly declaration = adagradDecl;
}
