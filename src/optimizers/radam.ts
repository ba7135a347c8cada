import { SLOT as S } from '../core/abi.js';
import type { CommonResolved, OptimizerDeclaration } from '../core/declaration.js';
import { checkBoolean } from '../core/options.js';
import { Optimizer, type BaseOptions } from '../core/optimizer.js';
import type { Schedule } from '../core/schedules.js';
import { betasAndEps, writeDecay, writeMoments, type DecaySlots, type MomentSlots, type BetasAndEps } from './parts.js';

/** Options of `RAdam` (PyTorch 2.x names in camelCase). */
export interface RAdamOptions extends BaseOptions {
  /** Learning rate (a number or a schedule). Default 1e-3. */
  lr?: number | Schedule;
  /** Coefficients of the running averages of the gradient and its square. Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Added to sqrt(v) in the adaptive term. Default 1e-8. */
  eps?: number;
  /** Weight decay: L2 added to the gradient, or decoupled (`decoupledWeightDecay`). Default 0. */
  weightDecay?: number;
  /** Decoupled weight decay as in AdamW (`p *= 1 - lr wd`). Default false. */
  decoupledWeightDecay?: boolean;
}

/** RAdam's resolved options. */
export interface RAdamResolved extends CommonResolved, BetasAndEps {
  decoupledWeightDecay: boolean;
}

/** The rectification term r_t at step t, or null when rho_t <= 5 (PyTorch's threshold). */
export function radamRectification(beta2: number, t: number, beta2PowT: number = Math.pow(beta2, t)): number | null {
  const bc2 = 1 - beta2PowT;
  const rhoInf = 2 / (1 - beta2) - 1;
  const rhoT = rhoInf - (2 * t * beta2PowT) / bc2;
  if (!(rhoT > 5)) return null;
  return Math.sqrt(((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
}

/** Where RAdam's hyper block holds its betas and eps. */
const MOMENTS: MomentSlots = { omb1: S.RADAM_OMB1, beta2: S.RADAM_BETA2, omb2: S.RADAM_OMB2, eps: S.RADAM_EPS };
/** Where RAdam's hyper block holds its weight decay. */
const DECAY: DecaySlots = { l2: S.RADAM_L2, decay: S.RADAM_DECAY, useL2: S.RADAM_USE_L2, useDecay: S.RADAM_USE_DECAY };

/** RAdam's declaration (tables: `'radam'`, lazy mode; a table's t is its update count). */
export const radamDecl: OptimizerDeclaration<RAdamResolved> = {
  name: 'RAdam',
  table: 'radam',
  options: ['lr', 'betas', 'eps', 'weightDecay', 'decoupledWeightDecay', 'maximize', 'nonFinite'],
  defaults: { lr: 1e-3, weightDecay: 0 },
  resolve: (o, owner) => ({
    ...betasAndEps(o, owner),
    decoupledWeightDecay: checkBoolean(owner, 'decoupledWeightDecay', o.decoupledWeightDecay ?? false),
  }),
  stateLayout: () => ['exp_avg', 'exp_avg_sq'],
  writeHyper(h, o, t, gradScale, series, stepOnly) {
    const b1 = o.betas[0],
      b2 = o.betas[1];
    const bc1 = 1 - series.betas.b1.at(b1, t);
    const b2t = series.betas.b2.at(b2, t);
    const bc2 = 1 - b2t;
    const rect = radamRectification(b2, t, b2t);
    const dec = o.decoupledWeightDecay;
    h.f32(S.RADAM_GSCALE, gradScale);
    h.f32(S.RADAM_COEF, rect === null ? o.lr / bc1 : (o.lr / bc1) * rect * Math.sqrt(bc2));
    writeDecay(h, DECAY, o.lr, o.weightDecay, dec, stepOnly);
    h.flag(S.RADAM_RECT, rect !== null);
    if (stepOnly) return;
    writeMoments(h, MOMENTS, o.betas, o.eps);
  },
  squaresGradient: true,
  kernel: 'radamStep',
  rowKernel: S.EMB_KIND_RADAM,
};

/**
 * RAdam (Liu et al., 2020, "On the Variance of the Adaptive Learning Rate and Beyond") with
 * PyTorch's update, to float32 rounding: `m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * rho_inf = 2 / (1-b2) - 1; rho_t = rho_inf - 2 t b2^t / (1 - b2^t)`; when `rho_t > 5`,
 * `p -= lr m / (1-b1^t) * r_t * sqrt(1-b2^t) / (sqrt(v) + eps)` with
 * `r_t = sqrt((rho_t-4)(rho_t-2) rho_inf / ((rho_inf-4)(rho_inf-2) rho_t))`, else
 * `p -= lr m / (1-b1^t)` (SGD with momentum). Note eps is added to sqrt(v), not to sqrt(v_hat),
 * as in PyTorch. State per param: `exp_avg`, `exp_avg_sq`.
 */
export class RAdam extends Optimizer<RAdamOptions> {
  static readonly declaration = radamDecl;

  /** The rectification term r_t at step t, or null when rho_t <= 5 (PyTorch's threshold). */
  static rectification(beta2: number, t: number, beta2PowT: number = Math.pow(beta2, t)): number | null {
    return radamRectification(beta2, t, beta2PowT);
  }
}
