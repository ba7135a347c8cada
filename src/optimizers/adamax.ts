import { SLOT as S } from '../core/abi.js';
import type { CommonResolved, OptimizerDeclaration } from '../core/declaration.js';
import { Optimizer, type BaseOptions } from '../core/optimizer.js';
import { vanishesFrom } from '../core/powers.js';
import type { Schedule } from '../core/schedules.js';
import { betasAndEps, type BetasAndEps } from './parts.js';

/** Options of `Adamax` (PyTorch 2.x names in camelCase). */
export interface AdamaxOptions extends BaseOptions {
  /** Learning rate (a number or a schedule). Default 2e-3. */
  lr?: number | Schedule;
  /** Coefficients of the running average of the gradient and of the infinity norm. Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Added to |g| in the infinity norm. Default 1e-8. */
  eps?: number;
  /** L2 weight decay added to the gradient. Default 0. */
  weightDecay?: number;
}

/** Adamax's resolved options. */
export interface AdamaxResolved extends CommonResolved, BetasAndEps {}

/** Adamax's declaration (tables: `'adamax'`, lazy mode). */
export const adamaxDecl: OptimizerDeclaration<AdamaxResolved> = {
  name: 'Adamax',
  table: 'adamax',
  options: ['lr', 'betas', 'eps', 'weightDecay', 'maximize', 'nonFinite'],
  defaults: { lr: 2e-3, weightDecay: 0 },
  resolve: (o, owner) => betasAndEps(o, owner),
  stateLayout: () => ['exp_avg', 'exp_inf'],
  writeHyper(h, o, t, gradScale, series, stepOnly) {
    const b1 = o.betas[0],
      b2 = o.betas[1];
    // clr = lr / bias_correction, bias_correction = 1 - beta1^t
    h.f32(S.ADAMAX_GSCALE, gradScale);
    h.f32(S.ADAMAX_CLR, o.lr / (1 - series.betas.b1.at(b1, t)));
    if (stepOnly) return;
    h.f32(S.ADAMAX_OMB1, 1 - b1);
    h.f32(S.ADAMAX_BETA2, b2);
    h.f32(S.ADAMAX_EPS, o.eps);
    h.f32(S.ADAMAX_WD, o.weightDecay);
    h.flag(S.ADAMAX_USE_WD, o.weightDecay !== 0);
  },
  // Once 1 - b1^t is exactly 1 (src/core/powers.ts), the block no longer moves with t.
  steadyFrom: (o) => vanishesFrom(o.betas[0]),
  kernel: 'adamaxStep',
  rowKernel: S.EMB_KIND_ADAMAX,
};

/**
 * Adamax (Kingma & Ba, 2015, section 7: Adam with the infinity norm) with PyTorch's update, to
 * float32 rounding: `g += wd p; m = b1 m + (1-b1) g; u = max(b2 u, |g| + eps);
 * p -= (lr / (1 - b1^t)) m / u`. State per param: `exp_avg`, `exp_inf`.
 */
export class Adamax extends Optimizer<AdamaxOptions> {
  static readonly declaration = adamaxDecl;
}
