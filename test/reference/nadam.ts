// Float64 reference for torch.optim.NAdam (PyTorch 2.x, `_single_tensor_nadam`).
import type { NAdamOptions } from '../../src/optimizers/nadam.js';
import { RefOptimizer, type RefState } from './base.js';

/** The options a reference NAdam understands: the real names, without the optimizer-wide ones. */
export type RefNAdamOptions = Omit<NAdamOptions, 'engine' | 'nonFinite' | 'clipGradNorm' | 'clipGradValue' | 'lr'> & {
  lr?: number;
};

/**
 * Reference NAdam in float64, with PyTorch's per-param `mu_product` kept as a running product (the
 * real optimizer recomputes it from t). State: `exp_avg`, `exp_avg_sq`.
 */
export class RefNAdam extends RefOptimizer<RefNAdamOptions> {
  /** Each param's mu_product (PyTorch's state['mu_product']). */
  private muProducts: number[] = [];

  constructor(options: RefNAdamOptions = {}) {
    super(options, {
      lr: 2e-3,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weightDecay: 0,
      momentumDecay: 4e-3,
      decoupledWeightDecay: false,
      maximize: false,
    });
  }

  protected initState(n: number): RefState {
    return { exp_avg: new Float64Array(n), exp_avg_sq: new Float64Array(n) };
  }

  override step(grads: readonly ArrayLike<number>[]): void {
    while (this.muProducts.length < this.params.length) this.muProducts.push(1);
    this.current = 0;
    super.step(grads);
  }

  private current = 0;

  override clone(): this {
    const c = super.clone();
    (c as unknown as { muProducts: number[] }).muProducts = this.muProducts.slice();
    return c;
  }

  protected update(p: Float64Array, grad: ArrayLike<number>, s: RefState, t: number): void {
    const k = this.current++;
    const {
      lr,
      betas: [b1, b2],
      eps,
      weightDecay: wd,
      momentumDecay: psi,
      decoupledWeightDecay: dec,
      maximize,
    } = this.options;
    const bc2 = 1 - Math.pow(b2, t);
    // mu = beta1 (1 - 0.5 * 0.96^(step * momentum_decay)); mu_next at step + 1
    const mu = b1 * (1 - 0.5 * Math.pow(0.96, t * psi));
    const muNext = b1 * (1 - 0.5 * Math.pow(0.96, (t + 1) * psi));
    // mu_product *= mu
    this.muProducts[k] *= mu;
    const muProduct = this.muProducts[k];
    const muProductNext = muProduct * muNext;
    for (let i = 0; i < p.length; i++) {
      let g = maximize ? -grad[i] : grad[i];
      if (wd !== 0) {
        // decoupled: param.mul_(1 - lr * weight_decay);  else grad = grad + weight_decay * param
        if (dec) p[i] *= 1 - lr * wd;
        else g += wd * p[i];
      }
      s.exp_avg[i] += (1 - b1) * (g - s.exp_avg[i]);
      s.exp_avg_sq[i] = b2 * s.exp_avg_sq[i] + (1 - b2) * g * g;
      // denom = sqrt(exp_avg_sq / bias_correction2) + eps
      const denom = Math.sqrt(s.exp_avg_sq[i] / bc2) + eps;
      // param.addcdiv_(grad, denom, value=-lr (1 - mu) / (1 - mu_product))
      p[i] -= ((lr * (1 - mu)) / (1 - muProduct)) * (g / denom);
      // param.addcdiv_(exp_avg, denom, value=-lr mu_next / (1 - mu_product_next))
      p[i] -= ((lr * muNext) / (1 - muProductNext)) * (s.exp_avg[i] / denom);
    }
  }
}
