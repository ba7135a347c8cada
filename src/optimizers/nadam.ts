import { SLOT as S } from '../core/abi.js';
import type { CommonResolved, OptimizerDeclaration } from '../core/declaration.js';
import { checkBoolean, checkNumber } from '../core/options.js';
import { Optimizer, type BaseOptions } from '../core/optimizer.js';
import type { Schedule } from '../core/schedules.js';
import { betasAndEps, type BetasAndEps } from './parts.js';

/** Options of `NAdam` (PyTorch 2.x names in camelCase). */
export interface NAdamOptions extends BaseOptions {
  /** Learning rate (a number or a schedule). Default 2e-3. */
  lr?: number | Schedule;
  /** Coefficients of the running averages of the gradient and its square. Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Added to the denominator. Default 1e-8. */
  eps?: number;
  /** Weight decay: L2 added to the gradient, or decoupled (`decoupledWeightDecay`). Default 0. */
  weightDecay?: number;
  /** Momentum decay psi of the schedule `mu_t = b1 (1 - 0.5 * 0.96^(t psi))`. Default 4e-3. */
  momentumDecay?: number;
  /** Decoupled weight decay as in AdamW (`p *= 1 - lr wd`), PyTorch's NAdamW. Default false. */
  decoupledWeightDecay?: boolean;
}

/** NAdam's resolved options. */
export interface NAdamResolved extends CommonResolved, BetasAndEps {
  momentumDecay: number;
  decoupledWeightDecay: boolean;
}

/** NAdam's declaration (tables: `'nadam'`, lazy mode; a table's t is its update count). */
export const nadamDecl: OptimizerDeclaration<NAdamResolved> = {
  name: 'NAdam',
  table: 'nadam',
  options: ['lr', 'betas', 'eps', 'weightDecay', 'momentumDecay', 'decoupledWeightDecay', 'maximize', 'nonFinite'],
  defaults: { lr: 2e-3, weightDecay: 0 },
  resolve: (o, owner) => ({
    ...betasAndEps(o, owner),
    momentumDecay: checkNumber(owner, 'momentumDecay', o.momentumDecay ?? 4e-3, { min: 0 }),
    decoupledWeightDecay: checkBoolean(owner, 'decoupledWeightDecay', o.decoupledWeightDecay ?? false),
  }),
  stateLayout: () => ['exp_avg', 'exp_avg_sq'],
  writeHyper(h, o, t, gradScale, series, stepOnly) {
    const b1 = o.betas[0],
      b2 = o.betas[1];
    const psi = o.momentumDecay;
    const mus = series.mus;
    // mu = beta1 (1 - 0.5 * 0.96^(t psi)); mu_next likewise at t + 1; mu_product *= mu
    mus.step(b1, psi, t);
    const out = mus.out;
    const mu = out[0],
      muNext = out[1],
      prod = out[2];
    const prodNext = prod * muNext;
    const dec = o.decoupledWeightDecay;
    h.f32(S.NADAM_GSCALE, gradScale);
    // 1 / (1 - b2^t): the kernel multiplies by it (see assembly/optimizers/nadam/lanes.ts).
    h.f32(S.NADAM_INV_BC2, 1 / (1 - series.betas.b2.at(b2, t)));
    h.f32(S.NADAM_CG, (o.lr * (1 - mu)) / (1 - prod));
    h.f32(S.NADAM_CM, (o.lr * muNext) / (1 - prodNext));
    h.f32(S.NADAM_DECAY, dec ? 1 - o.lr * o.weightDecay : 1);
    if (stepOnly) return;
    h.f32(S.NADAM_OMB1, 1 - b1);
    h.f32(S.NADAM_BETA2, b2);
    h.f32(S.NADAM_OMB2, 1 - b2);
    h.f32(S.NADAM_EPS, o.eps);
    h.f32(S.NADAM_L2, dec ? 0 : o.weightDecay);
    h.flag(S.NADAM_USE_L2, !dec && o.weightDecay !== 0);
    h.flag(S.NADAM_USE_DECAY, dec && o.weightDecay !== 0);
  },
  squaresGradient: true,
  kernel: 'nadamStep',
  rowKernel: S.EMB_KIND_NADAM,
};

/**
 * NAdam (Dozat, 2016: Adam with Nesterov momentum) with PyTorch's update and momentum schedule,
 * to float32 rounding: `mu_t = b1 (1 - 0.5 * 0.96^(t psi))`; `m = b1 m + (1-b1) g;
 * v = b2 v + (1-b2) g^2; denom = sqrt(v / (1 - b2^t)) + eps;
 * p -= lr (1 - mu_t) / (1 - prod_{i<=t} mu_i) * g / denom + lr mu_{t+1} / (1 - prod_{i<=t+1} mu_i) * m / denom`.
 * The products are computed in float64 from t (PyTorch keeps them as a float32 `mu_product`
 * state; the difference is below float32 rounding of the update). State per param: `exp_avg`,
 * `exp_avg_sq`.
 */
export class NAdam extends Optimizer<NAdamOptions> {
  static readonly declaration = nadamDecl;
}
