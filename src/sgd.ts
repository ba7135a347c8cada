import { checkBoolean, checkNumber } from './options.js';
import { Optimizer, type BaseOptions, type HyperWriter, type Resolved } from './optimizer.js';
import type { Schedule } from './schedules.js';

/** Options of `SGD` (PyTorch 2.x names in camelCase). */
export interface SGDOptions extends BaseOptions {
  /** Learning rate. Default 1e-3. */
  lr?: number | Schedule;
  /** Momentum factor. Default 0. */
  momentum?: number;
  /** Dampening for momentum. Default 0. */
  dampening?: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0). Default false. */
  nesterov?: boolean;
  /** L2 weight decay added to the gradient. Default 0. */
  weightDecay?: number;
}

/**
 * Stochastic gradient descent with PyTorch's momentum:
 * `d = g + wd p; buf = d (first step) | momentum buf + (1 - dampening) d;
 *  d = nesterov ? d + momentum buf : buf; p -= lr d`.
 * State per param: `momentum_buffer` (when momentum != 0).
 */
export class SGD extends Optimizer<SGDOptions> {
  get kind(): string {
    return 'SGD';
  }
  protected readonly knownOptions = ['lr', 'momentum', 'dampening', 'nesterov', 'weightDecay', 'maximize', 'nonFinite'] as const;
  protected readonly kernelName: string = 'sgdStep';

  constructor(options: SGDOptions = {}) {
    super(options, 'SGD');
    this.setup(options);
  }

  protected resolve(o: SGDOptions): Resolved<SGDOptions> {
    const r = {
      ...this.resolveBase(o, { lr: 1e-3, weightDecay: 0 }),
      momentum: checkNumber(this.kind, 'momentum', o.momentum ?? 0, { min: 0 }),
      dampening: checkNumber(this.kind, 'dampening', o.dampening ?? 0),
      nesterov: checkBoolean(this.kind, 'nesterov', o.nesterov ?? false),
    };
    if (r.nesterov && (r.momentum <= 0 || r.dampening !== 0)) {
      throw new RangeError(`${this.kind}: option 'nesterov' needs momentum > 0 and dampening 0, got momentum ${r.momentum}, dampening ${r.dampening}`);
    }
    return r;
  }

  protected stateLayout(o: Resolved<SGDOptions>): (string | null)[] {
    return [o.momentum !== 0 ? 'momentum_buffer' : null];
  }

  protected fillHyper(h: HyperWriter, o: Resolved<SGDOptions>, t: number, gradScale: number): void {
    const e = this.engine;
    h.f32(e.slots.SGD_GSCALE, gradScale);
    h.f32(e.slots.SGD_LR, o.lr);
    h.f32(e.slots.SGD_MOMENTUM, o.momentum);
    h.f32(e.slots.SGD_OMD, 1 - o.dampening);
    h.f32(e.slots.SGD_WD, o.weightDecay);
    h.flag(e.slots.SGD_USE_MOMENTUM, o.momentum !== 0);
    h.flag(e.slots.SGD_FIRST, t === 1);
    h.flag(e.slots.SGD_NESTEROV, o.nesterov);
    h.flag(e.slots.SGD_USE_WD, o.weightDecay !== 0);
  }
}
