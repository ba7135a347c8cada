// Float64 references for torch.optim.Adam and torch.optim.AdamW (PyTorch 2.x, `_single_tensor_adam`).
import type { AdamOptions } from '../../src/optimizers/adam.js';
import { RefOptimizer, type RefState } from './base.js';

/** The options a reference Adam/AdamW understands: the real names, without the optimizer-wide ones (engine, nonFinite, clipping); lr a number. */
export type RefAdamOptions = Omit<AdamOptions, 'engine' | 'nonFinite' | 'clipGradNorm' | 'clipGradValue' | 'lr'> & {
  lr?: number;
};

const ADAM_DEFAULTS: Required<RefAdamOptions> = {
  lr: 1e-3,
  betas: [0.9, 0.999],
  eps: 1e-8,
  weightDecay: 0,
  amsgrad: false,
  maximize: false,
};

/**
 * Reference Adam with L2 weight decay (`weightDecay` is added to the gradient), AMSGrad, maximize
 * and bias corrections, in float64. State: `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq` (AMSGrad).
 */
export class RefAdam extends RefOptimizer<RefAdamOptions> {
  constructor(options: RefAdamOptions = {}, defaults: Required<RefAdamOptions> = ADAM_DEFAULTS) {
    super(options, defaults);
  }

  /** True when weight decay is decoupled (AdamW). */
  protected get decoupled(): boolean {
    return false;
  }

  protected initState(n: number): RefState {
    const s: RefState = { exp_avg: new Float64Array(n), exp_avg_sq: new Float64Array(n) };
    if (this.options.amsgrad) s.max_exp_avg_sq = new Float64Array(n);
    return s;
  }

  protected update(p: Float64Array, grad: ArrayLike<number>, s: RefState, t: number): void {
    const {
      lr,
      betas: [b1, b2],
      eps,
      weightDecay: wd,
      amsgrad,
      maximize,
    } = this.options;
    const m = s.exp_avg,
      v = s.exp_avg_sq,
      vmax = s.max_exp_avg_sq;
    // bias_correction1 = 1 - beta1^t;  bias_correction2 = 1 - beta2^t
    // step_size = lr / bias_correction1;  bias_correction2_sqrt = sqrt(bias_correction2)
    const bc1 = 1 - Math.pow(b1, t);
    const bc2 = 1 - Math.pow(b2, t);
    const stepSize = lr / bc1;
    const bc2Sqrt = Math.sqrt(bc2);
    for (let i = 0; i < p.length; i++) {
      // g = maximize ? -grad : grad
      let g = maximize ? -grad[i] : grad[i];
      if (this.decoupled) {
        // AdamW: param.mul_(1 - lr * weight_decay)
        p[i] *= 1 - lr * wd;
      } else if (wd !== 0) {
        // Adam (L2): g = g + weight_decay * param
        g += wd * p[i];
      }
      // exp_avg.lerp_(g, 1 - beta1):  m = m + (1 - beta1) (g - m)
      m[i] += (1 - b1) * (g - m[i]);
      // exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2):  v = beta2 v + (1 - beta2) g^2
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      let second = v[i];
      if (amsgrad) {
        // max_exp_avg_sq = max(max_exp_avg_sq, v); used in place of v
        vmax[i] = Math.max(vmax[i], v[i]);
        second = vmax[i];
      }
      // denom = sqrt(v) / bias_correction2_sqrt + eps;  param.addcdiv_(m, denom, value=-step_size)
      const denom = Math.sqrt(second) / bc2Sqrt + eps;
      p[i] -= stepSize * (m[i] / denom);
    }
  }
}

/** Reference AdamW: `param *= 1 - lr * weightDecay` first, then Adam without L2. Default weightDecay 0.01. */
export class RefAdamW extends RefAdam {
  constructor(options: RefAdamOptions = {}) {
    super(options, { ...ADAM_DEFAULTS, weightDecay: 0.01 });
  }

  protected override get decoupled(): boolean {
    return true;
  }
}
