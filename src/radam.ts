import { checkBetas, checkBoolean, checkNumber } from './options.js';
import { Optimizer, type BaseOptions, type HyperWriter, type Resolved } from './optimizer.js';
import type { Engine } from './engine.js';
import { BetaPowers } from './powers.js';
import type { Schedule } from './schedules.js';

/** Options of `RAdam` (PyTorch 2.x names in camelCase). */
export interface RAdamOptions extends BaseOptions {
  /** Learning rate (a number or a schedule). Default 1e-3. */
  lr?: number | Schedule;
  /** Coefficients of the running averages of the gradient and its square. Default [0.9, 0.999]. */
  betas?: [number, number];
  /** Added to sqrt(v) in the adaptive term. Default 1e-8. */
  eps?: number;
  /** Weight decay: L2 added to the gradient, or decoupled (`decoupledWeightDecay`). Default 0. */
  weightDecay?: number;
  /** Decoupled weight decay as in AdamW (`p *= 1 - lr wd`). Default false. */
  decoupledWeightDecay?: boolean;
}

/**
 * RAdam (Liu et al., 2020, "On the Variance of the Adaptive Learning Rate and Beyond") with
 * PyTorch's update, to float32 rounding: `m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * rho_inf = 2 / (1-b2) - 1; rho_t = rho_inf - 2 t b2^t / (1 - b2^t)`; when `rho_t > 5`,
 * `p -= lr m / (1-b1^t) * r_t * sqrt(1-b2^t) / (sqrt(v) + eps)` with
 * `r_t = sqrt((rho_t-4)(rho_t-2) rho_inf / ((rho_inf-4)(rho_inf-2) rho_t))`, else
 * `p -= lr m / (1-b1^t)` (SGD with momentum). Note eps is added to sqrt(v), not to sqrt(v_hat),
 * as in PyTorch. State per param: `exp_avg`, `exp_avg_sq`.
 */
export class RAdam extends Optimizer<RAdamOptions> {
  get kind(): string {
    return 'RAdam';
  }
  protected readonly knownOptions = ['lr', 'betas', 'eps', 'weightDecay', 'decoupledWeightDecay', 'maximize', 'nonFinite'] as const;
  protected readonly kernelName = 'radamStep';
  /** beta1^t and beta2^t (one multiply each per step instead of Math.pow). */
  private readonly powers = new BetaPowers();

  constructor(options: RAdamOptions = {}) {
    super(options, 'RAdam');
    this.setup(options);
  }

  protected resolve(o: RAdamOptions): Resolved<RAdamOptions> {
    return {
      ...this.resolveBase(o, { lr: 1e-3, weightDecay: 0 }),
      betas: checkBetas(this.kind, o.betas ?? [0.9, 0.999]),
      eps: checkNumber(this.kind, 'eps', o.eps ?? 1e-8, { min: 0 }),
      decoupledWeightDecay: checkBoolean(this.kind, 'decoupledWeightDecay', o.decoupledWeightDecay ?? false),
    };
  }

  protected stateLayout(): (string | null)[] {
    return ['exp_avg', 'exp_avg_sq'];
  }

  /** The rectification term r_t at step t, or null when rho_t <= 5 (PyTorch's threshold). */
  static rectification(beta2: number, t: number, beta2PowT: number = Math.pow(beta2, t)): number | null {
    const bc2 = 1 - beta2PowT;
    const rhoInf = 2 / (1 - beta2) - 1;
    const rhoT = rhoInf - (2 * t * beta2PowT) / bc2;
    if (!(rhoT > 5)) return null;
    return Math.sqrt(((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
  }

  protected fillHyper(h: HyperWriter, o: Resolved<RAdamOptions>, t: number, gradScale: number): void {
    writeRAdamHyper(h, this.engine, o, t, gradScale, this.powers);
  }
}

/** @internal The options RAdam's per-step scalars depend on. */
export type RAdamHyper = Pick<Resolved<RAdamOptions>, 'lr' | 'betas' | 'eps' | 'weightDecay' | 'decoupledWeightDecay'>;

/**
 * @internal Writes the RADAM_* hyper slots of step `t` (the dense class's fillHyper, and the
 * lazy rows of an `Embedding`, whose `t` is the table's update count).
 */
export function writeRAdamHyper(h: HyperWriter, e: Engine, o: RAdamHyper, t: number, gradScale: number, pw: BetaPowers): void {
  const [b1, b2] = o.betas;
  const bc1 = 1 - pw.b1.at(b1, t);
  const b2t = pw.b2.at(b2, t);
  const bc2 = 1 - b2t;
  const rect = RAdam.rectification(b2, t, b2t);
  const dec = o.decoupledWeightDecay;
  h.f32(e.slots.RADAM_GSCALE, gradScale);
  h.f32(e.slots.RADAM_OMB1, 1 - b1);
  h.f32(e.slots.RADAM_BETA2, b2);
  h.f32(e.slots.RADAM_OMB2, 1 - b2);
  h.f32(e.slots.RADAM_EPS, o.eps);
  h.f32(e.slots.RADAM_COEF, rect === null ? o.lr / bc1 : ((o.lr / bc1) * rect) * Math.sqrt(bc2));
  h.f32(e.slots.RADAM_L2, dec ? 0 : o.weightDecay);
  h.f32(e.slots.RADAM_DECAY, dec ? 1 - o.lr * o.weightDecay : 1);
  h.flag(e.slots.RADAM_RECT, rect !== null);
  h.flag(e.slots.RADAM_USE_L2, !dec && o.weightDecay !== 0);
  h.flag(e.slots.RADAM_USE_DECAY, dec && o.weightDecay !== 0);
}
