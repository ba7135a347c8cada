import { SLOT as S } from '../core/abi.js';
import type { CommonResolved, OptimizerDeclaration } from '../core/declaration.js';
import { checkBoolean } from '../core/options.js';
import { Optimizer, type BaseOptions } from '../core/optimizer.js';
import type { Schedule } from '../core/schedules.js';
import { vanishesFrom } from '../core/powers.js';
import { adamMeta } from './meta.js';
import { betasAndEps, type BetasAndEps } from './parts.js';

/** Options of `Adam` and `AdamW` (PyTorch 2.x names in camelCase). */
export interface AdamOptions extends BaseOptions {
  /** Learning rate. Default 1e-3. */
  lr?: number | Schedule;
  /** Coefficients of the running averages of the gradient and its square. Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Added to the denominator for numerical stability. Default 1e-8. */
  eps?: number;
  /** Weight decay: L2 added to the gradient (Adam, default 0), decoupled `p *= 1 - lr wd` (AdamW, default 0.01). */
  weightDecay?: number;
  /** Use AMSGrad (the running maximum of the second moment). Default false. */
  amsgrad?: boolean;
}

/** Adam's resolved options. */
export interface AdamResolved extends CommonResolved, BetasAndEps {
  amsgrad: boolean;
}

/** Adam (`decoupled` false) or AdamW: the same kernel, the decay in another place. */
function declareAdam(decoupled: boolean): OptimizerDeclaration<AdamResolved> {
  return {
    name: decoupled ? 'AdamW' : 'Adam',
    table: decoupled ? 'adamw' : 'adam',
    options: ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad', 'maximize', 'nonFinite'],
    defaults: { lr: 1e-3, weightDecay: decoupled ? 0.01 : 0 },
    resolve: (o, owner) => ({
      ...betasAndEps(o, owner),
      amsgrad: checkBoolean(owner, 'amsgrad', o.amsgrad ?? false),
    }),
    stateLayout: (o) => ['exp_avg', 'exp_avg_sq', o.amsgrad ? 'max_exp_avg_sq' : null],
    writeHyper(h, o, t, gradScale, series, stepOnly) {
      // Plain reads, no destructuring: this runs on every step and shows on small tensors.
      const b1 = o.betas[0],
        b2 = o.betas[1];
      const wd = o.weightDecay;
      const bc1 = 1 - series.betas.b1.at(b1, t);
      const bc2 = 1 - series.betas.b2.at(b2, t);
      h.f32(S.ADAM_GSCALE, gradScale);
      h.f32(S.ADAM_STEP_SIZE, o.lr / bc1);
      h.f32(S.ADAM_INV_BC2_SQRT, 1 / Math.sqrt(bc2));
      h.f32(S.ADAM_DECAY, decoupled ? 1 - o.lr * wd : 1);
      if (stepOnly) return;
      h.f32(S.ADAM_BETA1, b1);
      h.f32(S.ADAM_OMB1, 1 - b1);
      h.f32(S.ADAM_BETA2, b2);
      h.f32(S.ADAM_OMB2, 1 - b2);
      h.f32(S.ADAM_EPS, o.eps);
      h.f32(S.ADAM_L2, decoupled ? 0 : wd);
      h.flag(S.ADAM_AMSGRAD, o.amsgrad);
      h.flag(S.ADAM_USE_L2, !decoupled && wd !== 0);
      h.flag(S.ADAM_USE_DECAY, decoupled && wd !== 0);
    },
    // Once 1 - b1^t and 1 - b2^t are exactly 1 (src/core/powers.ts), the block no longer moves with t.
    steadyFrom: (o) => Math.max(vanishesFrom(o.betas[0]), vanishesFrom(o.betas[1])),
    l2: (o) => (decoupled ? 0 : o.weightDecay),
    squaresGradient: true,
    kernel: 'adamStep',
    quantKernel: 'adamQStep',
    rowKernel: S.EMB_KIND_ADAM,
    meta: adamMeta(decoupled),
  };
}

/** Adam's declaration (tables: `'adam'`). */
export const adamDecl = declareAdam(false);
/** AdamW's declaration (tables: `'adamw'`). */
export const adamwDecl = declareAdam(true);

/**
 * Adam (Kingma & Ba, 2015) with PyTorch's exact update, to float32 rounding:
 * `m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= (lr / (1-b1^t)) m / (sqrt(v) / sqrt(1-b2^t) + eps)`.
 * `weightDecay` adds `wd * p` to the gradient (L2); `amsgrad` uses `vmax = max(vmax, v)` in place of `v`.
 * State per param: `exp_avg`, `exp_avg_sq` (and `max_exp_avg_sq` with AMSGrad).
 */
export class Adam extends Optimizer<AdamOptions> {
  static readonly declaration = adamDecl;
}

/**
 * AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay, PyTorch's order:
 * `p *= 1 - lr * weightDecay` first, then the Adam update. `weightDecay` defaults to 0.01.
 */
export class AdamW extends Adam {
  static override readonly declaration = adamwDecl;
}
