import { checkBetas, checkBoolean, checkNumber } from './options.js';
import { Optimizer, type BaseOptions, type HyperWriter, type Resolved } from './optimizer.js';
import type { Engine } from './engine.js';
import type { Schedule } from './schedules.js';

/** Options of `NAdam` (PyTorch 2.x names in camelCase). */
export interface NAdamOptions extends BaseOptions {
  /** Learning rate (a number or a schedule). Default 2e-3. */
  lr?: number | Schedule;
  /** Coefficients of the running averages of the gradient and its square. Default [0.9, 0.999]. */
  betas?: [number, number];
  /** Added to the denominator. Default 1e-8. */
  eps?: number;
  /** Weight decay: L2 added to the gradient, or decoupled (`decoupledWeightDecay`). Default 0. */
  weightDecay?: number;
  /** Momentum decay psi of the schedule `mu_t = b1 (1 - 0.5 * 0.96^(t psi))`. Default 4e-3. */
  momentumDecay?: number;
  /** Decoupled weight decay as in AdamW (`p *= 1 - lr wd`), PyTorch's NAdamW. Default false. */
  decoupledWeightDecay?: boolean;
}

/** mu_t = beta1 (1 - 0.5 * 0.96^(t psi)), PyTorch's NAdam momentum schedule. */
function muAt(b1: number, psi: number, t: number): number {
  return b1 * (1 - 0.5 * Math.pow(0.96, t * psi));
}

/**
 * @internal The products mu_1 ... mu_t in float64, cached per (beta1, momentumDecay) for recent
 * t (NAdam's `mu_product`, a function of the step count; also used by `Embedding`).
 */
export class MuProducts {
  private readonly caches = new Map<string, Map<number, number>>();

  product(b1: number, psi: number, t: number): number {
    const key = `${b1}/${psi}`;
    let cache = this.caches.get(key);
    if (!cache) {
      if (this.caches.size > 16) this.caches.clear();
      cache = new Map();
      this.caches.set(key, cache);
    }
    const hit = cache.get(t);
    if (hit !== undefined) return hit;
    const prev = cache.get(t - 1);
    let p = 1;
    if (prev !== undefined) p = prev * muAt(b1, psi, t);
    else for (let i = 1; i <= t; i++) p *= muAt(b1, psi, i);
    if (cache.size > 64) cache.delete(cache.keys().next().value as number);
    cache.set(t, p);
    return p;
  }
}

/**
 * NAdam (Dozat, 2016: Adam with Nesterov momentum) with PyTorch's update and momentum schedule,
 * to float32 rounding: `mu_t = b1 (1 - 0.5 * 0.96^(t psi))`; `m = b1 m + (1-b1) g;
 * v = b2 v + (1-b2) g^2; denom = sqrt(v / (1 - b2^t)) + eps;
 * p -= lr (1 - mu_t) / (1 - prod_{i<=t} mu_i) * g / denom + lr mu_{t+1} / (1 - prod_{i<=t+1} mu_i) * m / denom`.
 * The products are computed in float64 from t (PyTorch keeps them as a float32 `mu_product`
 * state; the difference is below float32 rounding of the update). State per param: `exp_avg`,
 * `exp_avg_sq`.
 */
export class NAdam extends Optimizer<NAdamOptions> {
  get kind(): string {
    return 'NAdam';
  }
  protected readonly knownOptions = ['lr', 'betas', 'eps', 'weightDecay', 'momentumDecay', 'decoupledWeightDecay', 'maximize', 'nonFinite'] as const;
  protected readonly kernelName = 'nadamStep';
  private readonly mus = new MuProducts();

  constructor(options: NAdamOptions = {}) {
    super(options, 'NAdam');
    this.setup(options);
  }

  protected resolve(o: NAdamOptions): Resolved<NAdamOptions> {
    return {
      ...this.resolveBase(o, { lr: 2e-3, weightDecay: 0 }),
      betas: checkBetas(this.kind, o.betas ?? [0.9, 0.999]),
      eps: checkNumber(this.kind, 'eps', o.eps ?? 1e-8, { min: 0 }),
      momentumDecay: checkNumber(this.kind, 'momentumDecay', o.momentumDecay ?? 4e-3, { min: 0 }),
      decoupledWeightDecay: checkBoolean(this.kind, 'decoupledWeightDecay', o.decoupledWeightDecay ?? false),
    };
  }

  protected stateLayout(): (string | null)[] {
    return ['exp_avg', 'exp_avg_sq'];
  }

  protected fillHyper(h: HyperWriter, o: Resolved<NAdamOptions>, t: number, gradScale: number): void {
    writeNAdamHyper(h, this.engine, o, t, gradScale, this.mus);
  }
}

/** @internal The options NAdam's per-step scalars depend on. */
export type NAdamHyper = Pick<Resolved<NAdamOptions>, 'lr' | 'betas' | 'eps' | 'weightDecay' | 'momentumDecay' | 'decoupledWeightDecay'>;

/**
 * @internal Writes the NADAM_* hyper slots of step `t` (the dense class's fillHyper, and the
 * lazy rows of an `Embedding`, whose `t` is the table's update count).
 */
export function writeNAdamHyper(h: HyperWriter, e: Engine, o: NAdamHyper, t: number, gradScale: number, mus: MuProducts): void {
  const [b1, b2] = o.betas;
  const psi = o.momentumDecay;
  // mu = beta1 (1 - 0.5 * 0.96^(t psi)); mu_next likewise at t + 1; mu_product *= mu
  const mu = muAt(b1, psi, t);
  const muNext = muAt(b1, psi, t + 1);
  const prod = mus.product(b1, psi, t);
  const prodNext = prod * muNext;
  const dec = o.decoupledWeightDecay;
  h.f32(e.slots.NADAM_GSCALE, gradScale);
  h.f32(e.slots.NADAM_OMB1, 1 - b1);
  h.f32(e.slots.NADAM_BETA2, b2);
  h.f32(e.slots.NADAM_OMB2, 1 - b2);
  h.f32(e.slots.NADAM_BC2, 1 - Math.pow(b2, t));
  h.f32(e.slots.NADAM_EPS, o.eps);
  h.f32(e.slots.NADAM_CG, (o.lr * (1 - mu)) / (1 - prod));
  h.f32(e.slots.NADAM_CM, (o.lr * muNext) / (1 - prodNext));
  h.f32(e.slots.NADAM_L2, dec ? 0 : o.weightDecay);
  h.f32(e.slots.NADAM_DECAY, dec ? 1 - o.lr * o.weightDecay : 1);
  h.flag(e.slots.NADAM_USE_L2, !dec && o.weightDecay !== 0);
  h.flag(e.slots.NADAM_USE_DECAY, dec && o.weightDecay !== 0);
}
