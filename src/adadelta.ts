import { checkNumber } from './options.js';
import { Optimizer, type BaseOptions, type HyperWriter, type Resolved } from './optimizer.js';
import type { Engine } from './engine.js';
import type { Schedule } from './schedules.js';

/** Options of `Adadelta` (PyTorch 2.x names in camelCase). */
export interface AdadeltaOptions extends BaseOptions {
  /** Scales the delta before it is applied (a number or a schedule). Default 1.0. */
  lr?: number | Schedule;
  /** Coefficient of the running averages of the squared gradient and the squared delta. Default 0.9. */
  rho?: number;
  /** Added inside both square roots. Default 1e-6. */
  eps?: number;
  /** L2 weight decay added to the gradient. Default 0. */
  weightDecay?: number;
}

/**
 * Adadelta (Zeiler, 2012) with PyTorch's update, to float32 rounding:
 * `g += wd p; sq = rho sq + (1-rho) g^2; delta = sqrt(acc + eps) / sqrt(sq + eps) * g;
 *  acc = rho acc + (1-rho) delta^2; p -= lr delta`. State per param: `square_avg`, `acc_delta`.
 */
export class Adadelta extends Optimizer<AdadeltaOptions> {
  get kind(): string {
    return 'Adadelta';
  }
  protected readonly knownOptions = ['lr', 'rho', 'eps', 'weightDecay', 'maximize', 'nonFinite'] as const;
  protected readonly kernelName = 'adadeltaStep';

  constructor(options: AdadeltaOptions = {}) {
    super(options, 'Adadelta');
    this.setup(options);
  }

  protected resolve(o: AdadeltaOptions): Resolved<AdadeltaOptions> {
    return {
      ...this.resolveBase(o, { lr: 1.0, weightDecay: 0 }),
      rho: checkNumber(this.kind, 'rho', o.rho ?? 0.9, { min: 0, max: 1 }),
      eps: checkNumber(this.kind, 'eps', o.eps ?? 1e-6, { min: 0 }),
    };
  }

  protected stateLayout(): (string | null)[] {
    return ['square_avg', 'acc_delta'];
  }

  protected fillHyper(h: HyperWriter, o: Resolved<AdadeltaOptions>, _t: number, gradScale: number): void {
    writeAdadeltaHyper(h, this.engine, o, gradScale);
  }
}

/** @internal The options Adadelta's scalars depend on. */
export type AdadeltaHyper = Pick<Resolved<AdadeltaOptions>, 'lr' | 'rho' | 'eps' | 'weightDecay'>;

/** @internal Writes the ADADELTA_* hyper slots (the dense class's fillHyper, and an `Embedding`'s lazy rows). */
export function writeAdadeltaHyper(h: HyperWriter, e: Engine, o: AdadeltaHyper, gradScale: number): void {
  h.f32(e.slots.ADADELTA_GSCALE, gradScale);
  h.f32(e.slots.ADADELTA_LR, o.lr);
  h.f32(e.slots.ADADELTA_RHO, o.rho);
  h.f32(e.slots.ADADELTA_OMR, 1 - o.rho);
  h.f32(e.slots.ADADELTA_EPS, o.eps);
  h.f32(e.slots.ADADELTA_WD, o.weightDecay);
  h.flag(e.slots.ADADELTA_USE_WD, o.weightDecay !== 0);
}
