// Float64 reference for torch.optim.Adadelta (PyTorch 2.x, `_single_tensor_adadelta`).
import type { AdadeltaOptions } from '../../src/optimizers/adadelta.js';
import { RefOptimizer, type RefState } from './base.js';

/** The options a reference Adadelta understands: the real names, without the optimizer-wide ones. */
export type RefAdadeltaOptions = Omit<
  AdadeltaOptions,
  'engine' | 'nonFinite' | 'clipGradNorm' | 'clipGradValue' | 'lr'
> & { lr?: number };

/** Reference Adadelta in float64. State: `square_avg`, `acc_delta`. */
export class RefAdadelta extends RefOptimizer<RefAdadeltaOptions> {
  constructor(options: RefAdadeltaOptions = {}) {
    super(options, { lr: 1.0, rho: 0.9, eps: 1e-6, weightDecay: 0, maximize: false });
  }

  protected initState(n: number): RefState {
    return { square_avg: new Float64Array(n), acc_delta: new Float64Array(n) };
  }

  protected update(p: Float64Array, grad: ArrayLike<number>, s: RefState): void {
    const { lr, rho, eps, weightDecay: wd, maximize } = this.options;
    for (let i = 0; i < p.length; i++) {
      let g = maximize ? -grad[i] : grad[i];
      if (wd !== 0) g += wd * p[i];
      // square_avg.mul_(rho).addcmul_(grad, grad, value=1 - rho)
      s.square_avg[i] = rho * s.square_avg[i] + (1 - rho) * g * g;
      // std = sqrt(square_avg + eps);  delta = sqrt(acc_delta + eps) / std * grad
      const delta = (Math.sqrt(s.acc_delta[i] + eps) / Math.sqrt(s.square_avg[i] + eps)) * g;
      // acc_delta.mul_(rho).addcmul_(delta, delta, value=1 - rho)
      s.acc_delta[i] = rho * s.acc_delta[i] + (1 - rho) * delta * delta;
      // param.add_(delta, alpha=-lr)
      p[i] -= lr * delta;
    }
  }
}
