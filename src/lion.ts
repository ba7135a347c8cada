import { checkBetas } from './options.js';
import { Optimizer, type BaseOptions, type HyperWriter, type Resolved } from './optimizer.js';
import type { Engine } from './engine.js';
import type { Schedule } from './schedules.js';

/** Options of `Lion` (optax.lion's hyperparameters, camelCase names as the other optimizers). */
export interface LionOptions extends BaseOptions {
  /** Learning rate (a number or a schedule). Default 1e-4 (Lion wants 3-10x less than AdamW). */
  lr?: number | Schedule;
  /** `[b1, b2]`: b1 interpolates the update direction, b2 the momentum. Default [0.9, 0.99]. */
  betas?: [number, number];
  /** Decoupled weight decay, applied inside the rate as in optax: `p -= lr (sign(c) + wd p)`. Default 1e-3 (optax's). */
  weightDecay?: number;
}

/**
 * Lion (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms") as optax.lion computes
 * it, to float32 rounding: `c = b1 m + (1-b1) g; p -= lr (sign(c) + wd p); m = b2 m + (1-b2) g`.
 * sign(0) is 0. Differs from PyTorch ports such as lion-pytorch only in rounding (they do
 * `p *= 1 - lr wd` first). State per param: `exp_avg`.
 */
export class Lion extends Optimizer<LionOptions> {
  get kind(): string {
    return 'Lion';
  }
  protected readonly knownOptions = ['lr', 'betas', 'weightDecay', 'maximize', 'nonFinite'] as const;
  protected readonly kernelName = 'lionStep';

  constructor(options: LionOptions = {}) {
    super(options, 'Lion');
    this.setup(options);
  }

  protected resolve(o: LionOptions): Resolved<LionOptions> {
    return {
      ...this.resolveBase(o, { lr: 1e-4, weightDecay: 1e-3 }),
      betas: checkBetas(this.kind, o.betas ?? [0.9, 0.99]),
    };
  }

  protected stateLayout(): (string | null)[] {
    return ['exp_avg'];
  }

  protected fillHyper(h: HyperWriter, o: Resolved<LionOptions>, _t: number, gradScale: number): void {
    writeLionHyper(h, this.engine, o, gradScale);
  }
}

/** @internal The options Lion's scalars depend on. */
export type LionHyper = Pick<Resolved<LionOptions>, 'lr' | 'betas' | 'weightDecay'>;

/** @internal Writes the LION_* hyper slots (the dense class's fillHyper, and an `Embedding`'s lazy rows). */
export function writeLionHyper(h: HyperWriter, e: Engine, o: LionHyper, gradScale: number): void {
  const [b1, b2] = o.betas;
  h.f32(e.slots.LION_GSCALE, gradScale);
  h.f32(e.slots.LION_LR, o.lr);
  h.f32(e.slots.LION_BETA1, b1);
  h.f32(e.slots.LION_OMB1, 1 - b1);
  h.f32(e.slots.LION_BETA2, b2);
  h.f32(e.slots.LION_OMB2, 1 - b2);
  h.f32(e.slots.LION_WD, o.weightDecay);
  h.flag(e.slots.LION_USE_WD, o.weightDecay !== 0);
}
