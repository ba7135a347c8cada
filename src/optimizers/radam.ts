import { SLOT as S } from '../core/abi.js';
import type { CommonResolved, OptimizerDeclaration } from '../core/declaration.js';
import { checkBoolean } from '../core/options.js';
import { MAX_STEP_COUNT } from '../core/limits.js';
import { Optimizer, type BaseOptions } from '../core/optimizer.js';
import { vanishesFrom } from '../core/powers.js';
import type { Schedule } from '../core/schedules.js';
import { betasAndEps, type BetasAndEps } from './parts.js';

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

/**
 * A step from which RAdam's block no longer moves with t: 1 - b1^t and 1 - b2^t are exactly 1
 * (`vanishesFrom`) and 2 t b2^t <= 2^-60, below half an ulp of rho_inf >= 1, so that rho_t is
 * exactly rho_inf (Powers' b2^t is within a relative 1e-14; t b^t decreases from there on).
 * Default betas: step 53138.
 */
export function radamSteadyFrom(b1: number, b2: number): number {
  let t = Math.max(vanishesFrom(b1), vanishesFrom(b2));
  if (!Number.isFinite(t) || b2 === 0) return t;
  const lb = Math.log(b2);
  const bound = -60 * Math.LN2;
  // ln(2t) + t ln(b2) <= -60 ln 2: a few fixed-point rounds, then the exact first such step (+1).
  for (let i = 0; i < 4 && t <= MAX_STEP_COUNT; i++) t = Math.max(t, Math.ceil((Math.log(2 * t) - bound) / -lb));
  while (t <= MAX_STEP_COUNT && Math.log(2 * t) + t * lb > bound) t++;
  return t > MAX_STEP_COUNT ? Infinity : t + 1;
}

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
    h.f32(S.RADAM_DECAY, dec ? 1 - o.lr * o.weightDecay : 1);
    h.flag(S.RADAM_RECT, rect !== null);
    if (stepOnly) return;
    h.f32(S.RADAM_OMB1, 1 - b1);
    h.f32(S.RADAM_BETA2, b2);
    h.f32(S.RADAM_OMB2, 1 - b2);
    h.f32(S.RADAM_EPS, o.eps);
    h.f32(S.RADAM_L2, dec ? 0 : o.weightDecay);
    h.flag(S.RADAM_USE_L2, !dec && o.weightDecay !== 0);
    h.flag(S.RADAM_USE_DECAY, dec && o.weightDecay !== 0);
  },
  steadyFrom: (o) => radamSteadyFrom(o.betas[0], o.betas[1]),
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
