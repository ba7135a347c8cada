// Float64 references for sparse (lazy) updates of embedding tables: PyTorch's formulas restricted
// to the rows an update names, with duplicate ids summed first (SparseAdam / LazyAdam semantics,
// dense Adam's eps placement; sparse Adagrad; SGD with momentum, dampening, Nesterov, L2 decay;
// Adamax as torch.optim.Adamax with the table's update count in the bias correction; Lion as
// optax.lion computes it; Adadelta, NAdam and RAdam as torch.optim's, with NAdam's mu_t and
// mu_product and RAdam's rho_t from the table's update count, mu_product kept as PyTorch keeps
// it, a running product).

export type RefOptimizer = 'sgd' | 'adagrad' | 'adam' | 'adamw' | 'adamax' | 'lion' | 'adadelta' | 'nadam' | 'radam';

export interface RefOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  lrDecay?: number;
  initialAccumulatorValue?: number;
  maximize?: boolean;
  rho?: number;
  momentumDecay?: number;
  decoupledWeightDecay?: boolean;
}

/** A float64 table and its optimizer state, updated lazily. */
export class LazyRef {
  readonly w: Float64Array;
  readonly s0: Float64Array;
  readonly s1: Float64Array;
  readonly s2: Float64Array;
  t = 0;
  /** NAdam: the product mu_1 ... mu_t of the table's momentum schedule (PyTorch's `mu_product`). */
  muProduct = 1;

  constructor(
    readonly optimizer: RefOptimizer,
    readonly rows: number,
    readonly dim: number,
    init: ArrayLike<number>,
    readonly o: RefOptions,
  ) {
    this.w = Float64Array.from(init);
    this.s0 = new Float64Array(rows * dim).fill(optimizer === 'adagrad' ? (o.initialAccumulatorValue ?? 0) : 0);
    this.s1 = new Float64Array(rows * dim);
    this.s2 = new Float64Array(rows * dim);
  }

  /** Sums the gradient rows of each distinct id (float64). */
  static coalesce(ids: ArrayLike<number>, grads: ArrayLike<number>, dim: number): Map<number, Float64Array> {
    const sums = new Map<number, Float64Array>();
    for (let i = 0; i < ids.length; i++) {
      let s = sums.get(ids[i]);
      if (!s) sums.set(ids[i], (s = new Float64Array(dim)));
      for (let c = 0; c < dim; c++) s[c] += grads[i * dim + c];
    }
    return sums;
  }

  update(ids: ArrayLike<number>, grads: ArrayLike<number>): void {
    const { dim, o } = this;
    const t = ++this.t;
    const lr = o.lr,
      wd = o.weightDecay ?? 0,
      sign = o.maximize ? -1 : 1;
    const [b1, b2] = o.betas ?? [0.9, 0.999];
    const bc1 = 1 - Math.pow(b1, t),
      bc2 = 1 - Math.pow(b2, t);
    // NAdam: mu_t = b1 (1 - 0.5 * 0.96^(t psi)); mu_product *= mu_t (every update, touched or not).
    const psi = o.momentumDecay ?? 4e-3;
    const muT = b1 * (1 - 0.5 * Math.pow(0.96, t * psi)),
      muNext = b1 * (1 - 0.5 * Math.pow(0.96, (t + 1) * psi));
    if (this.optimizer === 'nadam') this.muProduct *= muT;
    const muProduct = this.muProduct;
    // RAdam: rho_inf = 2 / (1 - b2) - 1; rho_t = rho_inf - 2 t b2^t / (1 - b2^t); rectified when rho_t > 5.
    const rhoInf = 2 / (1 - b2) - 1,
      rhoT = rhoInf - (2 * t * Math.pow(b2, t)) / bc2;
    const rect = Math.sqrt(((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
    for (const [r, gsum] of LazyRef.coalesce(ids, grads, dim)) {
      for (let c = 0; c < dim; c++) {
        const i = r * dim + c;
        let g = sign * gsum[c];
        let p = this.w[i];
        if (this.optimizer === 'adam' || this.optimizer === 'adamw') {
          const eps = o.eps ?? 1e-8;
          if (this.optimizer === 'adam') g += wd * p;
          else p *= 1 - lr * wd;
          this.s0[i] = b1 * this.s0[i] + (1 - b1) * g;
          this.s1[i] = b2 * this.s1[i] + (1 - b2) * g * g;
          let v = this.s1[i];
          if (o.amsgrad) v = this.s2[i] = Math.max(this.s2[i], v);
          p -= ((lr / bc1) * this.s0[i]) / (Math.sqrt(v) / Math.sqrt(bc2) + eps);
        } else if (this.optimizer === 'adamax') {
          // torch.optim.Adamax: g += wd p; m = lerp(m, g, 1 - b1); u = max(b2 u, |g| + eps);
          // p -= (lr / (1 - b1^t)) m / u. State: s0 = exp_avg, s1 = exp_inf.
          g += wd * p;
          this.s0[i] += (1 - b1) * (g - this.s0[i]);
          this.s1[i] = Math.max(b2 * this.s1[i], Math.abs(g) + (o.eps ?? 1e-8));
          p -= (lr / bc1) * (this.s0[i] / this.s1[i]);
        } else if (this.optimizer === 'lion') {
          // optax.lion: c = b1 m + (1 - b1) g; p -= lr (sign(c) + wd p); m = b2 m + (1 - b2) g.
          // No bias correction. State: s0 = exp_avg (optax's mu).
          const [b1, b2] = o.betas ?? [0.9, 0.99];
          const m = this.s0[i];
          const c = b1 * m + (1 - b1) * g;
          p -= lr * (Math.sign(c) + wd * p);
          this.s0[i] = b2 * m + (1 - b2) * g;
        } else if (this.optimizer === 'adadelta') {
          // torch.optim.Adadelta (no step count): g += wd p; sq = rho sq + (1 - rho) g^2;
          // d = sqrt(acc + eps) / sqrt(sq + eps) g; acc = rho acc + (1 - rho) d^2; p -= lr d.
          const rho = o.rho ?? 0.9,
            eps = o.eps ?? 1e-6;
          g += wd * p;
          this.s0[i] = rho * this.s0[i] + (1 - rho) * g * g;
          const d = (Math.sqrt(this.s1[i] + eps) / Math.sqrt(this.s0[i] + eps)) * g;
          this.s1[i] = rho * this.s1[i] + (1 - rho) * d * d;
          p -= lr * d;
        } else if (this.optimizer === 'nadam' || this.optimizer === 'radam') {
          // torch.optim.NAdam / RAdam: L2 (g += wd p) or decoupled (p *= 1 - lr wd) weight decay;
          // m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2. State: s0 = exp_avg, s1 = exp_avg_sq.
          const eps = o.eps ?? 1e-8;
          if (o.decoupledWeightDecay) p *= 1 - lr * wd;
          else g += wd * p;
          const m = (this.s0[i] = b1 * this.s0[i] + (1 - b1) * g);
          const v = (this.s1[i] = b2 * this.s1[i] + (1 - b2) * g * g);
          if (this.optimizer === 'nadam') {
            // p -= lr (1 - mu_t) / (1 - mu_product) g / denom + lr mu_{t+1} / (1 - mu_product mu_{t+1}) m / denom
            const denom = Math.sqrt(v / bc2) + eps;
            p -=
              ((lr * (1 - muT)) / (1 - muProduct)) * (g / denom) +
              ((lr * muNext) / (1 - muProduct * muNext)) * (m / denom);
          } else if (rhoT > 5) {
            // p -= lr m / bc1 * rect * sqrt(bc2) / (sqrt(v) + eps)
            p -= (((lr * m) / bc1) * rect * Math.sqrt(bc2)) / (Math.sqrt(v) + eps);
          } else {
            p -= (lr * m) / bc1;
          }
        } else if (this.optimizer === 'adagrad') {
          g += wd * p;
          this.s0[i] += g * g;
          const clr = lr / (1 + (t - 1) * (o.lrDecay ?? 0));
          p -= (clr * g) / (Math.sqrt(this.s0[i]) + (o.eps ?? 1e-10));
        } else {
          let d = g + wd * p;
          const mu = o.momentum ?? 0;
          if (mu !== 0) {
            const b = t === 1 ? d : mu * this.s0[i] + (1 - (o.dampening ?? 0)) * d;
            this.s0[i] = b;
            d = o.nesterov ? d + mu * b : b;
          }
          p -= lr * d;
        }
        this.w[i] = p;
      }
    }
  }
}

export { rng } from './rng.js';

/** k ids in [0, rows), skewed so that small ids repeat (as words do). */
export function skewedIds(rand: () => number, k: number, rows: number): Int32Array {
  return Int32Array.from({ length: k }, () => Math.min(rows - 1, Math.floor(rows * rand() * rand())));
}

/** Values uniform in [-scale, scale). */
export function uniform(rand: () => number, n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (2 * rand() - 1) * scale);
}

/** The dense gradient of a sparse update: duplicate ids summed in float32, in position order (as the engine sums them). */
export function denseGrad(ids: ArrayLike<number>, grads: ArrayLike<number>, rows: number, dim: number): Float32Array {
  const out = new Float32Array(rows * dim);
  for (let i = 0; i < ids.length; i++) {
    for (let c = 0; c < dim; c++) out[ids[i] * dim + c] = Math.fround(out[ids[i] * dim + c] + grads[i * dim + c]);
  }
  return out;
}

/** Largest |a - b| / (|b| + floor) over all elements, and where. */
export function maxRelError(a: ArrayLike<number>, b: ArrayLike<number>, floor: number): { err: number; at: number } {
  let err = 0,
    at = -1;
  for (let i = 0; i < b.length; i++) {
    const e = Math.abs(a[i] - b[i]) / (Math.abs(b[i]) + floor);
    if (!(e <= err)) {
      err = e;
      at = i;
    }
  }
  return { err, at };
}

/**
 * Dense Adam/AdamW in float64 arithmetic with the float32 coefficients the dense kernel is given
 * (src/adam.ts fillHyper): what the dense optimizer computes, without its per-operation float32
 * rounding. Over thousands of steps that rounding adds up in the dense optimizer itself (a weight
 * decay step `p *= 1 - lr wd` rounds p each time, in the same direction for a slowly moving p), so
 * long runs are compared with this reference.
 */
export class DenseAdamRef {
  readonly p: Float64Array;
  readonly m: Float64Array;
  readonly v: Float64Array;
  readonly vmax: Float64Array;
  t = 0;
  lr: number;

  constructor(
    init: ArrayLike<number>,
    readonly o: {
      lr: number;
      betas?: [number, number];
      eps?: number;
      weightDecay?: number;
      amsgrad?: boolean;
      maximize?: boolean;
      decoupled: boolean;
    },
  ) {
    this.p = Float64Array.from(init);
    this.m = new Float64Array(init.length);
    this.v = new Float64Array(init.length);
    this.vmax = new Float64Array(init.length);
    this.lr = o.lr;
  }

  step(grad: ArrayLike<number>): void {
    const f = Math.fround;
    const t = ++this.t;
    const [b1, b2] = this.o.betas ?? [0.9, 0.999];
    const wd = this.o.weightDecay ?? 0;
    const gs = this.o.maximize ? -1 : 1;
    const B1 = f(b1),
      B1C = f(1 - b1),
      B2 = f(b2),
      B2C = f(1 - b2);
    const ss = f(this.lr / (1 - Math.pow(b1, t))),
      ib = f(1 / Math.sqrt(1 - Math.pow(b2, t))),
      eps = f(this.o.eps ?? 1e-8);
    const l2 = this.o.decoupled ? 0 : f(wd),
      dc = this.o.decoupled ? f(1 - this.lr * wd) : 1;
    for (let i = 0; i < this.p.length; i++) {
      let p = this.p[i];
      const g = grad[i] * gs + l2 * p;
      p *= dc;
      this.m[i] = this.m[i] * B1 + B1C * g;
      this.v[i] = this.v[i] * B2 + B2C * g * g;
      let v = this.v[i];
      if (this.o.amsgrad) v = this.vmax[i] = Math.max(this.vmax[i], v);
      this.p[i] = p - ss * (this.m[i] / (Math.sqrt(v) * ib + eps));
    }
  }
}
