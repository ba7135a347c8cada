import { checkBetas, checkBoolean, checkNumber } from './options.js';
import { Optimizer, type BaseOptions, type HyperWriter, type Resolved } from './optimizer.js';
import type { Engine } from './engine.js';
import { Powers } from './powers.js';
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
 * t (NAdam's `mu_product`, a function of the step count; also used by `Embedding`), and mu_t
 * itself. A step asks for mu_t, mu_{t+1} and the product at t: the pair's cache and the last two
 * mu values are kept at hand, so that a step costs one Math.pow and no string key (building the
 * key from two floats cost more than the rest of the step on a small tensor).
 */
export class MuProducts {
  private readonly caches = new Map<string, Map<number, number>>();
  private b1 = NaN;
  private psi = NaN;
  private cache: Map<number, number> = new Map();
  private muT = -1;
  private muV = NaN;
  private muT2 = -1;
  private muV2 = NaN;
  private prodT = -1;
  private prodV = NaN;
  private readonly powers2 = new Powers();

  /** b2^t (src/powers.ts: one multiply per step, the same bits whatever was asked before). */
  beta2Power(b2: number, t: number): number {
    return this.powers2.at(b2, t);
  }

  /** mu_t (the same bits as muAt: a value computed once and kept). */
  mu(b1: number, psi: number, t: number): number {
    this.use(b1, psi);
    if (t === this.muT) return this.muV;
    if (t === this.muT2) return this.muV2;
    const v = muAt(b1, psi, t);
    this.muT2 = this.muT;
    this.muV2 = this.muV;
    this.muT = t;
    this.muV = v;
    return v;
  }

  product(b1: number, psi: number, t: number): number {
    this.use(b1, psi);
    // The common case: the step after the last one asked for (no Map work, no allocation).
    if (t === this.prodT) return this.prodV;
    if (t === this.prodT + 1) return this.keepProduct(t, this.prodV * this.mu(b1, psi, t));
    // Another cohort's t (params added late), a loaded state dict, or a jump: the recent products
    // of the pair are kept in a Map (filled on this path only), else computed from mu_1.
    const cache = this.cache;
    const hit = cache.get(t);
    if (hit !== undefined) return this.keepProduct(t, hit);
    const prev = cache.get(t - 1);
    let p = 1;
    if (prev !== undefined) p = prev * this.mu(b1, psi, t);
    else for (let i = 1; i <= t; i++) p *= muAt(b1, psi, i);
    if (cache.size > 64) cache.delete(cache.keys().next().value as number);
    cache.set(t, p);
    return this.keepProduct(t, p);
  }

  private keepProduct(t: number, p: number): number {
    this.prodT = t;
    this.prodV = p;
    return p;
  }

  /** Makes (b1, psi)'s cache the current one. */
  private use(b1: number, psi: number): void {
    if (b1 === this.b1 && psi === this.psi) return;
    const key = `${b1}/${psi}`;
    let cache = this.caches.get(key);
    if (!cache) {
      if (this.caches.size > 16) this.caches.clear();
      cache = new Map();
      this.caches.set(key, cache);
    }
    this.b1 = b1;
    this.psi = psi;
    this.cache = cache;
    this.muT = this.muT2 = this.prodT = -1;
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
  const mu = mus.mu(b1, psi, t);
  const muNext = mus.mu(b1, psi, t + 1);
  const prod = mus.product(b1, psi, t);
  const prodNext = prod * muNext;
  const dec = o.decoupledWeightDecay;
  h.f32(e.slots.NADAM_GSCALE, gradScale);
  h.f32(e.slots.NADAM_OMB1, 1 - b1);
  h.f32(e.slots.NADAM_BETA2, b2);
  h.f32(e.slots.NADAM_OMB2, 1 - b2);
  // 1 / (1 - b2^t): the kernel multiplies by it (see assembly/nadam_lanes.ts).
  h.f32(e.slots.NADAM_INV_BC2, 1 / (1 - mus.beta2Power(b2, t)));
  h.f32(e.slots.NADAM_EPS, o.eps);
  h.f32(e.slots.NADAM_CG, (o.lr * (1 - mu)) / (1 - prod));
  h.f32(e.slots.NADAM_CM, (o.lr * muNext) / (1 - prodNext));
  h.f32(e.slots.NADAM_L2, dec ? 0 : o.weightDecay);
  h.f32(e.slots.NADAM_DECAY, dec ? 1 - o.lr * o.weightDecay : 1);
  h.flag(e.slots.NADAM_USE_L2, !dec && o.weightDecay !== 0);
  h.flag(e.slots.NADAM_USE_DECAY, dec && o.weightDecay !== 0);
}
