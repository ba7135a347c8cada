// Float64 reference for torch.optim.SGD (PyTorch 2.x, `_single_tensor_sgd`).
import type { SGDOptions } from '../../src/optimizers/sgd.js';
import { RefOptimizer, type RefState } from './base.js';

/** The options a reference SGD understands: the real names, without the optimizer-wide ones (engine, nonFinite, clipping); lr a number. */
export type RefSGDOptions = Omit<SGDOptions, 'engine' | 'nonFinite' | 'clipGradNorm' | 'clipGradValue' | 'lr'> & {
  lr?: number;
};

/**
 * Reference SGD with momentum, dampening, Nesterov, L2 weight decay and maximize, in float64.
 * State: `momentum_buffer` when momentum != 0 (PyTorch creates it at the param's first step as a
 * copy of the gradient; here it exists from the start and is overwritten at step 1).
 */
export class RefSGD extends RefOptimizer<RefSGDOptions> {
  constructor(options: RefSGDOptions = {}) {
    super(options, { lr: 1e-3, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, maximize: false });
  }

  protected initState(n: number): RefState {
    return this.options.momentum !== 0 ? { momentum_buffer: new Float64Array(n) } : {};
  }

  protected update(p: Float64Array, grad: ArrayLike<number>, s: RefState, t: number): void {
    const { lr, momentum, dampening, nesterov, weightDecay: wd, maximize } = this.options;
    const buf = s.momentum_buffer;
    for (let i = 0; i < p.length; i++) {
      // d = maximize ? -grad : grad
      let d = maximize ? -grad[i] : grad[i];
      // d = d + weight_decay * param
      if (wd !== 0) d += wd * p[i];
      if (momentum !== 0) {
        // buf = clone(d) at the first step, else buf = momentum * buf + (1 - dampening) * d
        buf[i] = t === 1 ? d : momentum * buf[i] + (1 - dampening) * d;
        // nesterov: d = d + momentum * buf;  else d = buf
        d = nesterov ? d + momentum * buf[i] : buf[i];
      }
      // param = param - lr * d
      p[i] -= lr * d;
    }
  }
}
