import { checkNumber } from './options.js';
import { Optimizer, type BaseOptions, type HyperWriter, type Resolved } from './optimizer.js';
import type { Schedule } from './schedules.js';

/** Options of `Adagrad` (PyTorch 2.x names in camelCase). */
export interface AdagradOptions extends BaseOptions {
  /** Learning rate. Default 0.01. */
  lr?: number | Schedule;
  /** Learning-rate decay: the rate at step t is `lr / (1 + (t - 1) lrDecay)`. Default 0. */
  lrDecay?: number;
  /** L2 weight decay added to the gradient. Default 0. */
  weightDecay?: number;
  /** Starting value of the sum of squared gradients. Default 0. */
  initialAccumulatorValue?: number;
  /** Added to the denominator. Default 1e-10. */
  eps?: number;
}

/**
 * Adagrad (Duchi et al., 2011) with PyTorch's update:
 * `g += wd p; sum += g^2; p -= lr / (1 + (t-1) lrDecay) * g / (sqrt(sum) + eps)`.
 * State per param: `sum`.
 */
export class Adagrad extends Optimizer<AdagradOptions> {
  get kind(): string {
    return 'Adagrad';
  }
  protected readonly knownOptions = ['lr', 'lrDecay', 'weightDecay', 'initialAccumulatorValue', 'eps', 'maximize', 'nonFinite'] as const;
  protected readonly kernelName = 'adagradStep';

  constructor(options: AdagradOptions = {}) {
    super(options, 'Adagrad');
    this.setup(options);
  }

  protected resolve(o: AdagradOptions): Resolved<AdagradOptions> {
    return {
      ...this.resolveBase(o, { lr: 1e-2, weightDecay: 0 }),
      lrDecay: checkNumber(this.kind, 'lrDecay', o.lrDecay ?? 0, { min: 0 }),
      initialAccumulatorValue: checkNumber(this.kind, 'initialAccumulatorValue', o.initialAccumulatorValue ?? 0, { min: 0 }),
      eps: checkNumber(this.kind, 'eps', o.eps ?? 1e-10, { min: 0 }),
    };
  }

  protected stateLayout(): (string | null)[] {
    return ['sum'];
  }

  protected override initState(_name: string, view: Float32Array, o: Resolved<AdagradOptions>): void {
    view.fill(o.initialAccumulatorValue);
  }

  protected fillHyper(h: HyperWriter, o: Resolved<AdagradOptions>, t: number, gradScale: number): void {
    const e = this.engine;
    h.f32(e.slots.ADAGRAD_GSCALE, gradScale);
    h.f32(e.slots.ADAGRAD_CLR, o.lr / (1 + (t - 1) * o.lrDecay));
    h.f32(e.slots.ADAGRAD_EPS, o.eps);
    h.f32(e.slots.ADAGRAD_WD, o.weightDecay);
    h.flag(e.slots.ADAGRAD_USE_WD, o.weightDecay !== 0);
  }
}
