// Float64 reference for torch.optim.Adagrad (PyTorch 2.x, `_single_tensor_adagrad`).
import type { AdagradOptions } from '../../src/optimizers/adagrad.js';
import { RefOptimizer, type RefState } from './base.js';

/** The options a reference Adagrad understands: the real names, without the optimizer-wide ones (engine, nonFinite, clipping); lr a number. */
export type RefAdagradOptions = Omit<
  AdagradOptions,
  'engine' | 'nonFinite' | 'clipGradNorm' | 'clipGradValue' | 'lr'
> & { lr?: number };

/**
 * Reference Adagrad with lrDecay, L2 weight decay, initialAccumulatorValue, eps and maximize, in
 * float64. State: `sum` (starts at initialAccumulatorValue).
 */
export class RefAdagrad extends RefOptimizer<RefAdagradOptions> {
  constructor(options: RefAdagradOptions = {}) {
    super(options, { lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10, maximize: false });
  }

  protected initState(n: number): RefState {
    // state['sum'] = full_like(p, initial_accumulator_value)
    return { sum: new Float64Array(n).fill(this.options.initialAccumulatorValue) };
  }

  protected update(p: Float64Array, grad: ArrayLike<number>, s: RefState, t: number): void {
    const { lr, lrDecay, weightDecay: wd, eps, maximize } = this.options;
    const sum = s.sum;
    // clr = lr / (1 + (step - 1) * lr_decay)
    const clr = lr / (1 + (t - 1) * lrDecay);
    for (let i = 0; i < p.length; i++) {
      // g = maximize ? -grad : grad;  g = g + weight_decay * param
      let g = maximize ? -grad[i] : grad[i];
      if (wd !== 0) g += wd * p[i];
      // state_sum.addcmul_(g, g, value=1):  sum = sum + g^2
      sum[i] += g * g;
      // std = sqrt(sum) + eps;  param.addcdiv_(g, std, value=-clr)
      const std = Math.sqrt(sum[i]) + eps;
      p[i] -= clr * (g / std);
    }
  }
}
