import { SLOT as S } from '../core/abi.js';
import type { CommonResolved, OptimizerDeclaration } from '../core/declaration.js';
import { checkBetas } from '../core/options.js';
import { Optimizer, type BaseOptions } from '../core/optimizer.js';
import type { Schedule } from '../core/schedules.js';

/** Options of `Lion` (optax.lion's hyperparameters, camelCase names as the other optimizers). */
export interface LionOptions extends BaseOptions {
  /** Learning rate (a number or a schedule). Default 1e-4 (Lion wants 3-10x less than AdamW). */
  lr?: number | Schedule;
  /** `[b1, b2]`: b1 interpolates the update direction, b2 the momentum. Default [0.9, 0.99]. */
  betas?: readonly [number, number];
  /** Decoupled weight decay, applied inside the rate as in optax: `p -= lr (sign(c) + wd p)`. Default 1e-3 (optax's). */
  weightDecay?: number;
}

/** Lion's resolved options. */
export interface LionResolved extends CommonResolved {
  betas: [number, number];
}

/** Lion's declaration (tables: `'lion'`, lazy mode). */
export const lionDecl: OptimizerDeclaration<LionResolved> = {
  name: 'Lion',
  table: 'lion',
  options: ['lr', 'betas', 'weightDecay', 'maximize', 'nonFinite'],
  defaults: { lr: 1e-4, weightDecay: 1e-3 },
  resolve: (o, owner) => ({ betas: checkBetas(owner, o.betas ?? [0.9, 0.99]) }),
  stateLayout: () => ['exp_avg'],
  writeHyper(h, o, _t, gradScale, _series, stepOnly) {
    h.f32(S.LION_GSCALE, gradScale);
    h.f32(S.LION_LR, o.lr);
    if (stepOnly) return;
    const b1 = o.betas[0],
      b2 = o.betas[1];
    h.f32(S.LION_BETA1, b1);
    h.f32(S.LION_OMB1, 1 - b1);
    h.f32(S.LION_BETA2, b2);
    h.f32(S.LION_OMB2, 1 - b2);
    h.f32(S.LION_WD, o.weightDecay);
    h.flag(S.LION_USE_WD, o.weightDecay !== 0);
  },
  // Lion's decay is decoupled (p -= lr (sign(c) + wd p)): nothing is added to the gradient.
  l2: () => 0,
  steadyFrom: () => 1,
  kernel: 'lionStep',
  quantKernel: 'lionQStep',
  rowKernel: S.EMB_KIND_LION,
};

/**
 * Lion (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms") as optax.lion computes
 * it, to float32 rounding: `c = b1 m + (1-b1) g; p -= lr (sign(c) + wd p); m = b2 m + (1-b2) g`.
 * sign(0) is 0. Differs from PyTorch ports such as lion-pytorch only in rounding (they do
 * `p *= 1 - lr wd` first). State per param: `exp_avg`.
 */
export class Lion extends Optimizer<LionOptions> {
  static readonly declaration = lionDecl;
}
