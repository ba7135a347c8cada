// Float64 references of the memory-lean table optimizers, written from their sources:
// - rowwiseAdagrad: pytorch/FBGEMM fbgemm_gpu/codegen/genscript/optimizers.py, rowwise_adagrad()
//   (split_weight_update_cpu: g += wd w in L2 mode for the statistic; momentum1[idx] += mean(g^2);
//   multiplier = lr / (sqrt(momentum1) + eps); correction = 1 - multiplier wd (L2), 1 - lr wd
//   (DECOUPLE), else 1; w = correction w - grad multiplier);
// - partialRowwiseAdam: the same file, partial_rowwise_adam() (v_t = mean(g^2) (1 - b2) + b2 v;
//   v_hat = v_t / (1 - b2^iter); m = b1 m + (1 - b1) g;
//   w -= lr (m / (1 - b1^iter) / (sqrt(v_hat) + eps) + wd w));
// - ftrl: TensorFlow's ApplyFtrlV2 CPU functor (tensorflow/core/kernels/training_ops.cc) with
//   tf.keras.optimizers.Ftrl's adjusted l2 = l2 + beta / (2 lr).
// State layout as the engine's: per-element tensors rows * dim, per-row ones rows.

/** Options of the references (the engine's names). */
export interface LeanRefOptions {
  lr: number;
  eps?: number;
  weightDecay?: number;
  weightDecayMode?: 'l2' | 'decoupled';
  initialAccumulatorValue?: number;
  betas?: [number, number];
  learningRatePower?: number;
  l1?: number;
  l2?: number;
  l2Shrinkage?: number;
  beta?: number;
  maximize?: boolean;
}

/** The lean optimizers the references model. */
export type LeanKind = 'rowwiseAdagrad' | 'partialRowwiseAdam' | 'ftrl';

/** A table in float64 stepped as the engine steps it: lazy (only named rows) or dense (every row, zero gradients elsewhere). */
export class LeanRef {
  readonly w: Float64Array;
  readonly state: Record<string, Float64Array>;
  private t = 0;

  constructor(
    readonly kind: LeanKind,
    readonly rows: number,
    readonly dim: number,
    init: ArrayLike<number>,
    readonly o: LeanRefOptions,
  ) {
    this.w = Float64Array.from(init);
    const n = rows * dim;
    if (kind === 'rowwiseAdagrad') this.state = { sum: new Float64Array(rows).fill(o.initialAccumulatorValue ?? 0) };
    else if (kind === 'partialRowwiseAdam')
      this.state = { exp_avg: new Float64Array(n), exp_avg_sq: new Float64Array(rows) };
    else
      this.state = {
        accumulator: new Float64Array(n).fill(o.initialAccumulatorValue ?? 0.1),
        linear: new Float64Array(n),
      };
  }

  /**
   * One update: `ids` with `grads` (duplicates summed in float32 in position order, as the engine
   * does); `dense` steps every row, the rows not named with a zero gradient (exact mode).
   */
  update(ids: ArrayLike<number>, grads: ArrayLike<number>, dense = false): void {
    const { dim } = this;
    const sums = new Map<number, Float32Array>();
    for (let i = 0; i < ids.length; i++) {
      let g = sums.get(ids[i]);
      if (!g) sums.set(ids[i], (g = new Float32Array(dim)));
      for (let c = 0; c < dim; c++) g[c] = Math.fround(g[c] + grads[i * dim + c]);
    }
    this.t++;
    const zero = new Float32Array(dim);
    const rowsToStep = dense ? Array.from({ length: this.rows }, (_, r) => r) : [...sums.keys()];
    for (const r of rowsToStep) this.stepRow(r, sums.get(r) ?? zero);
  }

  private stepRow(r: number, g32: Float32Array): void {
    const { dim, o, w } = this;
    const sign = o.maximize ? -1 : 1;
    const g = Array.from(g32, (x) => sign * x);
    const at = r * dim;
    const wd = o.weightDecay ?? 0;
    if (this.kind === 'rowwiseAdagrad') {
      const l2 = (o.weightDecayMode ?? 'l2') === 'l2';
      let sq = 0;
      for (let c = 0; c < dim; c++) {
        const gi = l2 ? g[c] + wd * w[at + c] : g[c];
        sq += gi * gi;
      }
      const s = this.state.sum;
      s[r] += sq / dim;
      const mult = o.lr / (Math.sqrt(s[r]) + (o.eps ?? 1e-8));
      const corr = l2 ? 1 - mult * wd : 1 - o.lr * wd;
      for (let c = 0; c < dim; c++) w[at + c] = corr * w[at + c] - g[c] * mult;
    } else if (this.kind === 'partialRowwiseAdam') {
      const [b1, b2] = o.betas ?? [0.9, 0.999];
      const m = this.state.exp_avg,
        v = this.state.exp_avg_sq;
      let sq = 0;
      for (let c = 0; c < dim; c++) sq += g[c] * g[c];
      v[r] = (sq / dim) * (1 - b2) + v[r] * b2;
      const vHat = v[r] / (1 - Math.pow(b2, this.t));
      for (let c = 0; c < dim; c++) {
        m[at + c] = b1 * m[at + c] + (1 - b1) * g[c];
        w[at + c] -=
          o.lr * (m[at + c] / (1 - Math.pow(b1, this.t)) / (Math.sqrt(vHat) + (o.eps ?? 1e-8)) + wd * w[at + c]);
      }
    } else {
      const p = o.learningRatePower ?? -0.5;
      const l1 = o.l1 ?? 0,
        shrink = o.l2Shrinkage ?? 0,
        lr = o.lr;
      const l2 = (o.l2 ?? 0) + (o.beta ?? 0) / (2 * lr); // Keras' adjusted_l2_regularization_strength
      const n = this.state.accumulator,
        z = this.state.linear;
      for (let c = 0; c < dim; c++) {
        const i = at + c;
        const gws = g[c] + 2 * shrink * w[i];
        const nNew = n[i] + g[c] * g[c];
        z[i] += gws - ((Math.pow(nNew, -p) - Math.pow(n[i], -p)) / lr) * w[i];
        const quad = Math.pow(nNew, -p) / lr + 2 * l2;
        w[i] = Math.abs(z[i]) > l1 ? (Math.sign(z[i]) * l1 - z[i]) / quad : 0;
        n[i] = nNew;
      }
    }
  }
}
