import { checkBetas, checkBoolean, checkNumber } from './options.js';
import { Optimizer, type BaseOptions, type HyperWriter, type Resolved } from './optimizer.js';
import type { Engine } from './engine.js';
import { Powers, Series } from './powers.js';
import { MU_ANCHOR, muProductClosed } from './mu-product.js';
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
 * @internal mu_t and the products mu_1 ... mu_t in float64 (NAdam's `mu_product`, a function of
 * the step count and of (beta1, momentumDecay); also used by `Embedding`). The product is a fixed
 * function of (beta1, momentumDecay, t): the closed form of src/mu-product.ts at the anchor
 * a = t - t mod 256, times mu_{a+1} ... mu_t in order. A step asks each cohort of params for mu_t,
 * mu_{t+1} and the product at t; the series are kept in a `Series` (src/powers.ts) that grows
 * with the number of cohorts, so the usual step costs one multiply per cohort, and any other
 * request (a loaded state dict, a cohort not seen for a while) at most one closed form and 255
 * multiplies, never a walk over every past step.
 */
export class MuProducts {
  private readonly mus = new Series();
  private readonly products = new Series();
  private readonly powers2 = new Powers();

  /** b2^t (src/powers.ts: one multiply per step, the same bits whatever was asked before). */
  beta2Power(b2: number, t: number): number {
    return this.powers2.at(b2, t);
  }

  /** mu_t (computed by muAt once and kept). */
  mu(b1: number, psi: number, t: number): number {
    const i = this.mus.find(b1, psi, t);
    return i >= 0 ? this.mus.value(i) : this.mus.put(b1, psi, t, muAt(b1, psi, t));
  }

  /** mu_1 mu_2 ... mu_t. */
  product(b1: number, psi: number, t: number): number {
    const s = this.products;
    // The usual request first: the step after one asked before (within an anchor's span).
    let i = t % MU_ANCHOR !== 0 ? s.find(b1, psi, t - 1) : -1;
    if (i >= 0) return s.advance(i, t, this.mu(b1, psi, t));
    if ((i = s.find(b1, psi, t)) >= 0) return s.value(i);
    const anchor = t - (t % MU_ANCHOR);
    let p = muProductClosed(b1, psi, anchor);
    for (let k = anchor + 1; k <= t; k++) p *= muAt(b1, psi, k);
    return s.put(b1, psi, t, p);
  }
}

/**
 * NAdam (Dozat, 2016: Adam with Nesterov momentum) with PyTorch's update and momentum schedule,
 * to float32 rounding: `mu_t = b1 (1 - 0.5 * 0.96^(t psi))`; `m = b1 m + (1-b1) g;
 * v = b2 v + (1-b2) g^2; denom = sqrt(v / (1 - b2^t)) + eps;
 * p -= lr (1 - mu_t) / (1 - prod_{i<=t} mu_i) * g / denom + lr mu_{t+1} / (1 - prod_{i<=t+1} mu_i) * m / denom`.
 * The products are computed in float64 from t (PyTorch keeps them as a float32 `mu_product`
 * state; the difference is below float32 rounding of the update), in O(1) at any t. State per param: `exp_avg`,
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
