// Float64 reference for torch.optim.Adamax (PyTorch 2.x, `_single_tensor_adamax`).
import type { AdamaxOptions } from '../../src/optimizers/adamax.js';
import { RefOptimizer, type RefState } from './base.js';

/** The options a reference Adamax understands: the real names, without the optimizer-wide ones. */
export type RefAdamaxOptions = Omit<AdamaxOptions, 'engine' | 'nonFinite' | 'clipGradNorm' | 'clipGradValue' | 'lr'> & {
  lr?: number;
};

/** Reference Adamax in float64. State: `exp_avg`, `exp_inf`. */
export class RefAdamax extends RefOptimizer<RefAdamaxOptions> {
  constructor(options: RefAdamaxOptions = {}) {
    super(options, { lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, maximize: false });
  }

  protected initState(n: number): RefState {
    return { exp_avg: new Float64Array(n), exp_inf: new Float64Array(n) };
  }

  protected update(p: Float64Array, grad: ArrayLike<number>, s: RefState, t: number): void {
    const {
      lr,
      betas: [b1, b2],
      eps,
      weightDecay: wd,
      maximize,
    } = this.options;
    // clr = lr / bias_correction,  bias_correction = 1 - beta1^t
    const clr = lr / (1 - Math.pow(b1, t));
    for (let i = 0; i < p.length; i++) {
      let g = maximize ? -grad[i] : grad[i];
      // grad = grad + weight_decay * param
      if (wd !== 0) g += wd * p[i];
      // exp_avg.lerp_(grad, 1 - beta1)
      s.exp_avg[i] += (1 - b1) * (g - s.exp_avg[i]);
      // exp_inf = max(exp_inf * beta2, |grad| + eps)
      s.exp_inf[i] = Math.max(s.exp_inf[i] * b2, Math.abs(g) + eps);
      // param.addcdiv_(exp_avg, exp_inf, value=-clr)
      p[i] -= clr * (s.exp_avg[i] / s.exp_inf[i]);
    }
  }
}
