import { checkBetas, checkNumber } from './options.js';
import { Optimizer, type BaseOptions, type HyperWriter, type Resolved } from './optimizer.js';
import type { Engine } from './engine.js';
import { BetaPowers } from './powers.js';
import type { Schedule } from './schedules.js';

/** Options of `Adamax` (PyTorch 2.x names in camelCase). */
export interface AdamaxOptions extends BaseOptions {
  /** Learning rate (a number or a schedule). Default 2e-3. */
  lr?: number | Schedule;
  /** Coefficients of the running average of the gradient and of the infinity norm. Default [0.9, 0.999]. */
  betas?: [number, number];
  /** Added to |g| in the infinity norm. Default 1e-8. */
  eps?: number;
  /** L2 weight decay added to the gradient. Default 0. */
  weightDecay?: number;
}

/**
 * Adamax (Kingma & Ba, 2015, section 7: Adam with the infinity norm) with PyTorch's update, to
 * float32 rounding: `g += wd p; m = b1 m + (1-b1) g; u = max(b2 u, |g| + eps);
 * p -= (lr / (1 - b1^t)) m / u`. State per param: `exp_avg`, `exp_inf`.
 */
export class Adamax extends Optimizer<AdamaxOptions> {
  get kind(): string {
    return 'Adamax';
  }
  protected readonly knownOptions = ['lr', 'betas', 'eps', 'weightDecay', 'maximize', 'nonFinite'] as const;
  protected readonly kernelName = 'adamaxStep';
  /** beta1^t (one multiply per step instead of a Math.pow). */
  private readonly powers = new BetaPowers();

  constructor(options: AdamaxOptions = {}) {
    super(options, 'Adamax');
    this.setup(options);
  }

  protected resolve(o: AdamaxOptions): Resolved<AdamaxOptions> {
    return {
      ...this.resolveBase(o, { lr: 2e-3, weightDecay: 0 }),
      betas: checkBetas(this.kind, o.betas ?? [0.9, 0.999]),
      eps: checkNumber(this.kind, 'eps', o.eps ?? 1e-8, { min: 0 }),
    };
  }

  protected stateLayout(): (string | null)[] {
    return ['exp_avg', 'exp_inf'];
  }

  protected fillHyper(h: HyperWriter, o: Resolved<AdamaxOptions>, t: number, gradScale: number): void {
    writeAdamaxHyper(h, this.engine, o, t, gradScale, this.powers);
  }
}

/** @internal The options Adamax's per-step scalars depend on. */
export type AdamaxHyper = Pick<Resolved<AdamaxOptions>, 'lr' | 'betas' | 'eps' | 'weightDecay'>;

/**
 * @internal Writes the ADAMAX_* hyper slots of step `t` (the dense class's fillHyper, and the
 * lazy rows of an `Embedding`, whose `t` is the table's update count).
 */
export function writeAdamaxHyper(h: HyperWriter, e: Engine, o: AdamaxHyper, t: number, gradScale: number, pw: BetaPowers): void {
  const [b1, b2] = o.betas;
  // clr = lr / bias_correction, bias_correction = 1 - beta1^t
  h.f32(e.slots.ADAMAX_GSCALE, gradScale);
  h.f32(e.slots.ADAMAX_OMB1, 1 - b1);
  h.f32(e.slots.ADAMAX_BETA2, b2);
  h.f32(e.slots.ADAMAX_CLR, o.lr / (1 - pw.b1.at(b1, t)));
  h.f32(e.slots.ADAMAX_EPS, o.eps);
  h.f32(e.slots.ADAMAX_WD, o.weightDecay);
  h.flag(e.slots.ADAMAX_USE_WD, o.weightDecay !== 0);
}
