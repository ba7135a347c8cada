// Float64 reference for Lion as optax.lion computes it (scale_by_lion, add_decayed_weights,
// scale_by_learning_rate).
import type { LionOptions } from '../../src/optimizers/lion.js';
import { RefOptimizer, type RefState } from './base.js';

/** The options a reference Lion understands: the real names, without the optimizer-wide ones. */
export type RefLionOptions = Omit<LionOptions, 'engine' | 'nonFinite' | 'clipGradNorm' | 'clipGradValue' | 'lr'> & {
  lr?: number;
};

/** Reference Lion in float64. State: `exp_avg` (optax's mu). */
export class RefLion extends RefOptimizer<RefLionOptions> {
  constructor(options: RefLionOptions = {}) {
    super(options, { lr: 1e-4, betas: [0.9, 0.99], weightDecay: 1e-3, maximize: false });
  }

  protected initState(n: number): RefState {
    return { exp_avg: new Float64Array(n) };
  }

  protected update(p: Float64Array, grad: ArrayLike<number>, s: RefState): void {
    const {
      lr,
      betas: [b1, b2],
      weightDecay: wd,
      maximize,
    } = this.options;
    for (let i = 0; i < p.length; i++) {
      const g = maximize ? -grad[i] : grad[i];
      const m = s.exp_avg[i];
      // updates = sign((1 - b1) g + b1 mu);  mu = (1 - b2) g + b2 mu
      const u = Math.sign((1 - b1) * g + b1 * m);
      s.exp_avg[i] = (1 - b2) * g + b2 * m;
      // add_decayed_weights: u + wd p;  scale_by_learning_rate: -lr (u + wd p)
      p[i] -= lr * (u + wd * p[i]);
    }
  }
}
