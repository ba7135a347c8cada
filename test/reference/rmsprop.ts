// Float64 reference for torch.optim.RMSprop (PyTorch 2.x, `_single_tensor_rmsprop`).
import type { RMSpropOptions } from '../../src/optimizers/rmsprop.js';
import { RefOptimizer, type RefState } from './base.js';

/** The options a reference RMSprop understands: the real names, without the optimizer-wide ones (engine, nonFinite, clipping); lr a number. */
export type RefRMSpropOptions = Omit<
  RMSpropOptions,
  'engine' | 'nonFinite' | 'clipGradNorm' | 'clipGradValue' | 'lr'
> & { lr?: number };

/**
 * Reference RMSprop with centering, momentum, L2 weight decay and maximize, in float64.
 * State: `square_avg`, `momentum_buffer` (momentum > 0), `grad_avg` (centered).
 */
export class RefRMSprop extends RefOptimizer<RefRMSpropOptions> {
  constructor(options: RefRMSpropOptions = {}) {
    super(options, { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, maximize: false });
  }

  protected initState(n: number): RefState {
    const s: RefState = { square_avg: new Float64Array(n) };
    if (this.options.momentum > 0) s.momentum_buffer = new Float64Array(n);
    if (this.options.centered) s.grad_avg = new Float64Array(n);
    return s;
  }

  protected update(p: Float64Array, grad: ArrayLike<number>, s: RefState): void {
    const { lr, alpha, eps, weightDecay: wd, momentum, centered, maximize } = this.options;
    const sq = s.square_avg,
      buf = s.momentum_buffer,
      ga = s.grad_avg;
    for (let i = 0; i < p.length; i++) {
      // g = maximize ? -grad : grad;  g = g + weight_decay * param
      let g = maximize ? -grad[i] : grad[i];
      if (wd !== 0) g += wd * p[i];
      // square_avg.mul_(alpha).addcmul_(g, g, value=1 - alpha):  sq = alpha sq + (1 - alpha) g^2
      sq[i] = alpha * sq[i] + (1 - alpha) * g * g;
      let avg: number;
      if (centered) {
        // grad_avg.lerp_(g, 1 - alpha):  ga = ga + (1 - alpha) (g - ga)
        ga[i] += (1 - alpha) * (g - ga[i]);
        // avg = sqrt(square_avg - grad_avg^2) + eps
        avg = Math.sqrt(sq[i] - ga[i] * ga[i]) + eps;
      } else {
        // avg = sqrt(square_avg) + eps
        avg = Math.sqrt(sq[i]) + eps;
      }
      if (momentum > 0) {
        // buf.mul_(momentum).addcdiv_(g, avg);  param.add_(buf, alpha=-lr)
        buf[i] = momentum * buf[i] + g / avg;
        p[i] -= lr * buf[i];
      } else {
        // param.addcdiv_(g, avg, value=-lr)
        p[i] -= lr * (g / avg);
      }
    }
  }
}
