// Float64 reference for FTRL as TensorFlow's ApplyFtrlV2 CPU functor computes it
// (tensorflow/core/kernels/training_ops.cc) with tf.keras.optimizers.Ftrl's beta folded into l2
// (adjusted_l2 = l2 + beta / (2 lr)); the same update as test/reference/lean.ts, per param.
import type { FTRLOptions } from '../../src/optimizers/ftrl.js';
import { RefOptimizer, type RefState } from './base.js';

/** The options a reference FTRL understands: the real names, without the optimizer-wide ones. */
export type RefFTRLOptions = Omit<FTRLOptions, 'engine' | 'nonFinite' | 'clipGradNorm' | 'clipGradValue' | 'lr'> & {
  lr?: number;
};

/** Reference FTRL in float64. State: `accumulator`, `linear` (Keras' slot names). */
export class RefFTRL extends RefOptimizer<RefFTRLOptions> {
  constructor(options: RefFTRLOptions = {}) {
    super(options, {
      lr: 1e-3,
      learningRatePower: -0.5,
      initialAccumulatorValue: 0.1,
      l1: 0,
      l2: 0,
      l2Shrinkage: 0,
      beta: 0,
      maximize: false,
    });
  }

  protected initState(n: number): RefState {
    return { accumulator: new Float64Array(n).fill(this.options.initialAccumulatorValue), linear: new Float64Array(n) };
  }

  protected update(w: Float64Array, grad: ArrayLike<number>, s: RefState): void {
    const { lr, learningRatePower: p, l1, l2Shrinkage, beta, maximize } = this.options;
    const l2 = this.options.l2 + beta / (2 * lr);
    for (let i = 0; i < w.length; i++) {
      const g = maximize ? -grad[i] : grad[i];
      const gws = g + 2 * l2Shrinkage * w[i];
      const n = s.accumulator[i],
        nNew = n + g * g;
      s.linear[i] += gws - ((Math.pow(nNew, -p) - Math.pow(n, -p)) / lr) * w[i];
      const z = s.linear[i];
      const quad = Math.pow(nNew, -p) / lr + 2 * l2;
      w[i] = Math.abs(z) > l1 ? (Math.sign(z) * l1 - z) / quad : 0;
      s.accumulator[i] = nNew;
    }
  }
}
