import { checkBetas, checkBoolean, checkNumber } from './options.js';
import { Optimizer, type BaseOptions, type HyperWriter, type Resolved } from './optimizer.js';
import type { Schedule } from './schedules.js';
import { BetaPowers } from './powers.js';

/** Options of `Adam` and `AdamW` (PyTorch 2.x names in camelCase). */
export interface AdamOptions extends BaseOptions {
  /** Learning rate. Default 1e-3. */
  lr?: number | Schedule;
  /** Coefficients of the running averages of the gradient and its square. Default [0.9, 0.999]. */
  betas?: [number, number];
  /** Added to the denominator for numerical stability. Default 1e-8. */
  eps?: number;
  /** Weight decay: L2 added to the gradient (Adam, default 0), decoupled `p *= 1 - lr wd` (AdamW, default 0.01). */
  weightDecay?: number;
  /** Use AMSGrad (the running maximum of the second moment). Default false. */
  amsgrad?: boolean;
}

const ADAM_OPTIONS = ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad', 'maximize', 'nonFinite'] as const;

/**
 * Adam (Kingma & Ba, 2015) with PyTorch's exact update, to float32 rounding:
 * `m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= (lr / (1-b1^t)) m / (sqrt(v) / sqrt(1-b2^t) + eps)`.
 * `weightDecay` adds `wd * p` to the gradient (L2); `amsgrad` uses `vmax = max(vmax, v)` in place of `v`.
 * State per param: `exp_avg`, `exp_avg_sq` (and `max_exp_avg_sq` with AMSGrad).
 */
export class Adam extends Optimizer<AdamOptions> {
  get kind(): string {
    return 'Adam';
  }
  protected readonly knownOptions = ADAM_OPTIONS;
  protected readonly kernelName = 'adamStep';
  /** beta1^t and beta2^t of the bias corrections (one multiply per step instead of Math.pow). */
  private readonly powers = new BetaPowers();
  /** True for AdamW's decoupled weight decay. */
  protected get decoupled(): boolean {
    return false;
  }

  constructor(options: AdamOptions = {}) {
    super(options, 'Adam');
    this.setup(options);
  }

  protected resolve(o: AdamOptions): Resolved<AdamOptions> {
    return {
      ...this.resolveBase(o, { lr: 1e-3, weightDecay: this.decoupled ? 0.01 : 0 }),
      betas: checkBetas(this.kind, o.betas ?? [0.9, 0.999]),
      eps: checkNumber(this.kind, 'eps', o.eps ?? 1e-8, { min: 0 }),
      amsgrad: checkBoolean(this.kind, 'amsgrad', o.amsgrad ?? false),
    };
  }

  protected override l2WeightDecay(o: Resolved<AdamOptions>): number {
    return this.decoupled ? 0 : o.weightDecay;
  }

  protected stateLayout(o: Resolved<AdamOptions>): (string | null)[] {
    return ['exp_avg', 'exp_avg_sq', o.amsgrad ? 'max_exp_avg_sq' : null];
  }

  protected fillHyper(h: HyperWriter, o: Resolved<AdamOptions>, t: number, gradScale: number): void {
    // Plain reads, no destructuring or repeated getters: this runs on every step and shows on
    // small tensors.
    const s = this.engine.slots;
    const b1 = o.betas[0], b2 = o.betas[1];
    const decoupled = this.decoupled, wd = o.weightDecay;
    const bc1 = 1 - this.powers.b1.at(b1, t);
    const bc2 = 1 - this.powers.b2.at(b2, t);
    h.f32(s.ADAM_GSCALE, gradScale);
    h.f32(s.ADAM_BETA1, b1);
    h.f32(s.ADAM_OMB1, 1 - b1);
    h.f32(s.ADAM_BETA2, b2);
    h.f32(s.ADAM_OMB2, 1 - b2);
    h.f32(s.ADAM_STEP_SIZE, o.lr / bc1);
    h.f32(s.ADAM_INV_BC2_SQRT, 1 / Math.sqrt(bc2));
    h.f32(s.ADAM_EPS, o.eps);
    h.f32(s.ADAM_L2, decoupled ? 0 : wd);
    h.f32(s.ADAM_DECAY, decoupled ? 1 - o.lr * wd : 1);
    h.flag(s.ADAM_AMSGRAD, o.amsgrad);
    h.flag(s.ADAM_USE_L2, !decoupled && wd !== 0);
    h.flag(s.ADAM_USE_DECAY, decoupled && wd !== 0);
  }
}

/**
 * AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay, PyTorch's order:
 * `p *= 1 - lr * weightDecay` first, then the Adam update. `weightDecay` defaults to 0.01.
 */
export class AdamW extends Adam {
  override get kind(): string {
    return 'AdamW';
  }

  protected override get decoupled(): boolean {
    return true;
  }
}
