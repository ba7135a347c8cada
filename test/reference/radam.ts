// Float64 reference for torch.optim.RAdam (PyTorch 2.x, `_single_tensor_radam`).
import type { RAdamOptions } from '../../src/optimizers/radam.js';
import { RefOptimizer, type RefState } from './base.js';

/** The options a reference RAdam understands: the real names, without the optimizer-wide ones. */
export type RefRAdamOptions = Omit<RAdamOptions, 'engine' | 'nonFinite' | 'clipGradNorm' | 'clipGradValue' | 'lr'> & {
  lr?: number;
};

/** Reference RAdam in float64. State: `exp_avg`, `exp_avg_sq`. */
export class RefRAdam extends RefOptimizer<RefRAdamOptions> {
  constructor(options: RefRAdamOptions = {}) {
    super(options, {
      lr: 1e-3,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weightDecay: 0,
      decoupledWeightDecay: false,
      maximize: false,
    });
  }

  protected initState(n: number): RefState {
    return { exp_avg: new Float64Array(n), exp_avg_sq: new Float64Array(n) };
  }

  protected update(p: Float64Array, grad: ArrayLike<number>, s: RefState, t: number): void {
    const {
      lr,
      betas: [b1, b2],
      eps,
      weightDecay: wd,
      decoupledWeightDecay: dec,
      maximize,
    } = this.options;
    const bc1 = 1 - Math.pow(b1, t);
    const bc2 = 1 - Math.pow(b2, t);
    // rho_inf = 2 / (1 - beta2) - 1;  rho_t = rho_inf - 2 step beta2^step / bias_correction2
    const rhoInf = 2 / (1 - b2) - 1;
    const rhoT = rhoInf - (2 * t * Math.pow(b2, t)) / bc2;
    // rect = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
    const rect = rhoT > 5 ? Math.sqrt(((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT)) : 0;
    for (let i = 0; i < p.length; i++) {
      let g = maximize ? -grad[i] : grad[i];
      if (wd !== 0) {
        if (dec) p[i] *= 1 - lr * wd;
        else g += wd * p[i];
      }
      s.exp_avg[i] += (1 - b1) * (g - s.exp_avg[i]);
      s.exp_avg_sq[i] = b2 * s.exp_avg_sq[i] + (1 - b2) * g * g;
      const mHat = s.exp_avg[i] / bc1;
      if (rhoT > 5) {
        // adaptive_lr = sqrt(bias_correction2) / (sqrt(exp_avg_sq) + eps)
        const adaptive = Math.sqrt(bc2) / (Math.sqrt(s.exp_avg_sq[i]) + eps);
        p[i] -= mHat * lr * adaptive * rect;
      } else {
        p[i] -= mHat * lr;
      }
    }
  }
}
