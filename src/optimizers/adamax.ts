import { SLOT as S } from '../core/abi.js';
import type { CommonResolved, OptimizerDeclaration } from '../core/declaration.js';
import { Optimizer, type BaseOptions } from '../core/optimizer.js';
import type { Schedule } from '../core/schedules.js';
import { betasAndEps, writeMoments, type MomentSlots, type BetasAndEps } from './parts.js';

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

/** Where Adamax's hyper block holds its betas (no 1 - beta2) and eps. */
const MOMENTS: MomentSlots = { omb1: S.ADAMAX_OMB1, beta2: S.ADAMAX_BETA2, eps: S.ADAMAX_EPS };

/** Adamax's declaration (tables: `'adamax'`, lazy mode). */
export const adamaxDecl: OptimizerDeclaration<AdamaxResolved> = {
  name: 'Adamax',
  table: 'adamax',
  options: ['lr', 'betas', 'eps', 'weightDecay', 'maximize', 'nonFinite'],
  defaults: { lr: 2e-3, weightDecay: 0 },
  resolve: (o, owner) => betasAndEps(o, owner),
  stateLayout: () => ['exp_avg', 'exp_inf'],
  writeHyper(h, o, t, gradScale, series, stepOnly) {
    // clr = lr / bias_correction, bias_correction = 1 - beta1^t
    h.f32(S.ADAMAX_GSCALE, gradScale);
    h.f32(S.ADAMAX_CLR, o.lr / (1 - series.betas.b1.at(o.betas[0], t)));
    if (stepOnly) return;
    writeMoments(h, MOMENTS, o.betas, o.eps);
    h.f32(S.ADAMAX_WD, o.weightDecay);
    h.flag(S.ADAMAX_USE_WD, o.weightDecay !== 0);
  },
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
