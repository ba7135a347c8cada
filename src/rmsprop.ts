import { checkBoolean, checkNumber } from './options.js';
import { Optimizer, type BaseOptions, type HyperWriter, type Resolved } from './optimizer.js';
import type { Schedule } from './schedules.js';

/** Options of `RMSprop` (PyTorch 2.x names in camelCase). */
export interface RMSpropOptions extends BaseOptions {
  /** Learning rate. Default 0.01. */
  lr?: number | Schedule;
  /** Smoothing constant of the squared-gradient average. Default 0.99. */
  alpha?: number;
  /** Added to the denominator. Default 1e-8. */
  eps?: number;
  /** L2 weight decay added to the gradient. Default 0. */
  weightDecay?: number;
  /** Momentum factor. Default 0. */
  momentum?: number;
  /** Normalize by the estimated variance (subtract the squared mean gradient). Default false. */
  centered?: boolean;
}

/**
 * RMSprop (Hinton's lecture 6e) with PyTorch's update:
 * `g += wd p; sq = alpha sq + (1-alpha) g^2; avg = sqrt(sq [- ga^2 if centered]) + eps;
 *  buf = momentum buf + g / avg, p -= lr buf` (or `p -= lr g / avg` without momentum).
 * State per param: `square_avg`, `momentum_buffer` (momentum > 0), `grad_avg` (centered).
 */
export class RMSprop extends Optimizer<RMSpropOptions> {
  get kind(): string {
    return 'RMSprop';
  }
  protected readonly knownOptions = ['lr', 'alpha', 'eps', 'weightDecay', 'momentum', 'centered', 'maximize', 'nonFinite'] as const;
  protected readonly kernelName = 'rmspropStep';

  constructor(options: RMSpropOptions = {}) {
    super(options, 'RMSprop');
    this.setup(options);
  }

  protected resolve(o: RMSpropOptions): Resolved<RMSpropOptions> {
    return {
      ...this.resolveBase(o, { lr: 1e-2, weightDecay: 0 }),
      alpha: checkNumber(this.kind, 'alpha', o.alpha ?? 0.99, { min: 0, max: 1 }),
      eps: checkNumber(this.kind, 'eps', o.eps ?? 1e-8, { min: 0 }),
      momentum: checkNumber(this.kind, 'momentum', o.momentum ?? 0, { min: 0 }),
      centered: checkBoolean(this.kind, 'centered', o.centered ?? false),
    };
  }

  protected stateLayout(o: Resolved<RMSpropOptions>): (string | null)[] {
    return ['square_avg', o.momentum > 0 ? 'momentum_buffer' : null, o.centered ? 'grad_avg' : null];
  }

  protected fillHyper(h: HyperWriter, o: Resolved<RMSpropOptions>, _t: number, gradScale: number): void {
    const e = this.engine;
    h.f32(e.slots.RMSPROP_GSCALE, gradScale);
    h.f32(e.slots.RMSPROP_LR, o.lr);
    h.f32(e.slots.RMSPROP_ALPHA, o.alpha);
    h.f32(e.slots.RMSPROP_OMA, 1 - o.alpha);
    h.f32(e.slots.RMSPROP_EPS, o.eps);
    h.f32(e.slots.RMSPROP_WD, o.weightDecay);
    h.f32(e.slots.RMSPROP_MOMENTUM, o.momentum);
    h.flag(e.slots.RMSPROP_USE_WD, o.weightDecay !== 0);
    h.flag(e.slots.RMSPROP_CENTERED, o.centered);
    h.flag(e.slots.RMSPROP_USE_MOMENTUM, o.momentum > 0);
  }
}
