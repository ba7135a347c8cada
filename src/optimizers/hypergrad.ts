// Hypergradient descent (Baydin, Cornish, Martinez Rubio, Schmidt & Wood, ICLR 2018, "Online
// Learning Rate Adaptation with Hypergradient Descent"): the learning rate itself takes a gradient
// step at every step, alpha_t = alpha_{t-1} + beta * g_t . u_{t-1}, where u_{t-1} is the direction
// of the previous update (p_{t-1} = p_{t-2} - alpha_{t-1} u_{t-1}), so d f(p_{t-1}) / d alpha_{t-1}
// = -g_t . u_{t-1}. The dot product comes from the pass that reads the gradients before every
// step anyway (the non-finite check / norm), in float64 (assembly/optimizers/hypergrad/step.ts: hdDots).

import { SLOT as S } from '../core/abi.js';
import type { OptimizerDeclaration } from '../core/declaration.js';
import type { Engine } from '../core/engine.js';
import { checkNumber } from '../core/options.js';
import type { GroupOptions } from '../core/optimizer.js';
import type { StepHook } from '../core/dense-step.js';
import type { Param } from '../core/param.js';
import type { ParamGroup } from '../core/param-group.js';
import { isSchedule, type Schedule } from '../core/schedules.js';
import { Adam, adamDecl, type AdamOptions, type AdamResolved } from './adam.js';
import { SGD, sgdDecl, type SGDOptions, type SGDResolved } from './sgd.js';

/** The option hypergradient optimizers add. */
interface HypergradOption {
  /**
   * beta, the learning rate of the learning rate. Defaults: the paper's 1e-3 (SGD-HD) and 1e-7
   * (Adam-HD).
   */
  hypergradLr?: number;
  /** The initial learning rate, adapted from there (a number: schedules do not apply). */
  lr?: number;
}

/** Options of `SGDHD`: SGD's, plus `hypergradLr`. */
export interface SGDHDOptions extends Omit<SGDOptions, 'lr'>, HypergradOption {}
/** Options of `AdamHD`: Adam's, plus `hypergradLr`. */
export interface AdamHDOptions extends Omit<AdamOptions, 'lr'>, HypergradOption {}

/** `hypergradLr`, checked, with its default. */
function hypergradLr(o: Readonly<Record<string, unknown>>, owner: string, fallback: number): number {
  checkNoSchedule(owner, o.lr);
  return checkNumber(owner, 'hypergradLr', o.hypergradLr ?? fallback, { min: 0 });
}

function checkNoSchedule(kind: string, lr: unknown): void {
  if (isSchedule(lr))
    throw new TypeError(
      `${kind}: option 'lr' must be a number: hypergradient descent adapts the rate itself, so a schedule cannot drive it`,
    );
}

/** What hypergradient descent reads of its optimizer. */
interface HypergradHost {
  readonly kind: string;
  readonly engine: Engine;
  readonly params: readonly Param[];
  readonly groups: {
    readonly groupCount: number;
    groupSchedule(i: number): Schedule | null;
    groupOptionsLive(i: number): Readonly<Record<string, unknown>>;
    groupLr(i: number): number;
    setGroupLr(i: number, v: number): void;
  };
}

/**
 * The step hook both HD optimizers use: the dots of the last pass (scratch in the engine), and the
 * rate update per group. They differ in the pass's `mode` (how the kernel finds the previous
 * direction D) and in `factor`, the direction's factor c_i for a param (0: no previous step).
 */
class Hypergradient implements StepHook {
  private scratch = 0;
  private capacity = 0;
  /** clamp(g) . D and p . D of each tensor, from the last pass. */
  private dg = new Float64Array(0);
  private dp = new Float64Array(0);
  private sums = new Float64Array(0);

  constructor(
    private readonly opt: HypergradHost,
    private readonly mode: number,
    private readonly factor: (p: Param, o: Readonly<Record<string, unknown>>) => number,
  ) {}

  /** `opt.lr = schedule` is refused as the constructor refuses it (the rate adapts itself). */
  checkRate(value: number | Schedule): void {
    checkNoSchedule(this.opt.kind, value);
  }

  /** Runs hdDots over the table; returns the squared norm (NaN if any gradient is not finite). */
  measure(table: number, count: number, lo: number, hi: number): number {
    const { engine, groups } = this.opt;
    for (let g = 0; g < groups.groupCount; g++) checkNoSchedule(this.opt.kind, groups.groupSchedule(g));
    if (count > this.capacity) {
      const cap = Math.max(8, count * 2);
      const s = engine.alloc(cap * 24);
      if (this.scratch) engine.free(this.scratch);
      this.scratch = s;
      this.capacity = cap;
    }
    engine.exports.hdDots(table, count, this.mode, lo, hi, this.scratch);
    const out = engine.heapF64;
    const at = this.scratch >>> 3;
    if (this.dg.length !== count) {
      this.dg = new Float64Array(count);
      this.dp = new Float64Array(count);
    }
    let sumSq = 0;
    for (let t = 0; t < count; t++) {
      sumSq += out[at + 3 * t];
      this.dg[t] = out[at + 3 * t + 1];
      this.dp[t] = out[at + 3 * t + 2];
    }
    return sumSq;
  }

  /**
   * Updates each group's rate: alpha += beta * h, h = sum over the group's tensors of
   * c_i (s_g * clamp(g_i) . D_i + wd_g * p_i . D_i), where s_g is the group's gradient scale (sign
   * included) and c_i the tensor's direction factor. A non-finite h (gradients NaN under
   * nonFinite: 'ignore') leaves the rate as it was; the rate never goes below 0.
   */
  beforeUpdate(scale: number): void {
    // Runs every step: no option copies, no arrays made (a copy of every group's options each step
    // cost microseconds, more than the whole update of a small model).
    const groups = this.opt.groups;
    const n = groups.groupCount;
    if (this.sums.length !== n) this.sums = new Float64Array(n);
    else this.sums.fill(0);
    const h = this.sums;
    const params = this.opt.params;
    for (let i = 0; i < params.length; i++) {
      const p = params[i];
      const o = groups.groupOptionsLive(p.group);
      const s = o.maximize ? -scale : scale;
      const wd = o.weightDecay as number;
      const c = this.factor(p, o);
      if (c !== 0) h[p.group] += c * (s * this.dg[i] + (wd !== 0 ? wd * this.dp[i] : 0));
    }
    for (let g = 0; g < n; g++) {
      const beta = groups.groupOptionsLive(g).hypergradLr as number;
      const next = groups.groupLr(g) + beta * h[g];
      if (Number.isFinite(next)) groups.setGroupLr(g, Math.max(0, next));
    }
  }

  release(): void {
    if (this.scratch) this.opt.engine.free(this.scratch);
    this.scratch = this.capacity = 0;
  }
}

/** SGD-HD's resolved options. */
type SGDHDResolved = SGDResolved & { hypergradLr: number };
/** Adam-HD's resolved options. */
type AdamHDResolved = AdamResolved & { hypergradLr: number };

/** SGD-HD's declaration: SGD's, with `hypergradLr` and the previous direction `grad_prev`. */
export const sgdhdDecl: OptimizerDeclaration<SGDHDResolved> = {
  ...sgdDecl,
  name: 'SGDHD',
  table: undefined,
  options: [...sgdDecl.options, 'hypergradLr'],
  resolve: (o, owner) => ({ ...sgdDecl.resolve(o, owner), hypergradLr: hypergradLr(o, owner, 1e-3) }),
  stateLayout: (o) => [o.momentum !== 0 ? 'momentum_buffer' : null, 'grad_prev'],
  writeHyper(h, o, t, gradScale, series, stepOnly) {
    sgdDecl.writeHyper(h, o, t, gradScale, series, stepOnly);
    h.flag(S.HD_SKIP, t === 1);
    if (!stepOnly) h.flag(S.HD_USE_P, o.weightDecay !== 0);
  },
  kernel: 'hdSgdStep',
  quantKernel: undefined, // no 8-bit hypergradient kernel: stateType 'f32' only
  rowKernel: undefined,
};

/** Adam-HD's declaration: Adam's, with `hypergradLr` and the previous step's bias correction. */
export const adamhdDecl: OptimizerDeclaration<AdamHDResolved> = {
  ...adamDecl,
  name: 'AdamHD',
  table: undefined,
  options: [...adamDecl.options, 'hypergradLr'],
  resolve: (o, owner) => ({ ...adamDecl.resolve(o, owner), hypergradLr: hypergradLr(o, owner, 1e-7) }),
  writeHyper(h, o, t, gradScale, series, stepOnly) {
    adamDecl.writeHyper(h, o, t, gradScale, series, stepOnly);
    // The previous step's 1 / sqrt(1 - beta2^(t-1)); a param's first step has no previous one.
    // b2^(t-1) from its own Powers (the current step's series has moved on to t): the same bits.
    h.f32(S.HD_PREV_IB, t > 1 ? 1 / Math.sqrt(1 - series.previous.b2.at(o.betas[1], t - 1)) : 0);
    h.flag(S.HD_SKIP, t === 1);
    if (!stepOnly) h.flag(S.HD_USE_P, o.weightDecay !== 0);
  },
  // Adam's, one step later: HD_PREV_IB reads b2^(t-1).
  steadyFrom: (o) => adamDecl.steadyFrom!(o) + 1,
  quantKernel: undefined, // no 8-bit hypergradient kernel: stateType 'f32' only
  rowKernel: undefined,
};

/**
 * SGD-HD: PyTorch's SGD (momentum, dampening, Nesterov, L2 weight decay) whose learning rate
 * follows hypergradient descent, `lr += hypergradLr * g_t . d_{t-1}`, with d the direction of the
 * previous update (the gradient, or the momentum/Nesterov direction), as in the authors'
 * `SGDHD`. Per param group, each group's rate adapts from its own params. State per param:
 * `momentum_buffer` (with momentum) and `grad_prev` (the last direction). The current rate is
 * `opt.lr` (and in the state dict).
 */
export class SGDHD extends SGD {
  static override readonly declaration = sgdhdDecl;

  constructor(options: SGDHDOptions = {}) {
    super(options as SGDOptions);
    // d_{t-1} is stored as applied; a param's first step has none (its grad_prev is 0).
    this.hook = new Hypergradient(this, S.HD_MODE_STORED, (p) => (p.birth === this.stepCount ? 0 : 1));
  }

  /** Adds a param group (see `Optimizer.addParamGroup`); it may set its own `hypergradLr`. */
  override addParamGroup(options: GroupOptions<SGDHDOptions> = {}): ParamGroup {
    return super.addParamGroup(options as GroupOptions<SGDOptions>);
  }
}

/**
 * Adam-HD: Adam (L2 weight decay, AMSGrad) whose learning rate follows hypergradient descent,
 * `lr += hypergradLr * g_t . u_{t-1}` with `u_{t-1} = m / (sqrt(v) / sqrt(1 - b2^(t-1)) + eps) / (1 - b1^(t-1))`,
 * the exact direction of the previous Adam step, recomputed from the state (no extra tensor).
 * The authors' `AdamHD` puts eps next to sqrt(v) instead, like their Adam; this follows PyTorch's
 * Adam. Per param group. State per param: `exp_avg`, `exp_avg_sq` (`max_exp_avg_sq`).
 */
export class AdamHD extends Adam {
  static override readonly declaration = adamhdDecl;

  constructor(options: AdamHDOptions = {}) {
    super(options as AdamOptions);
    // u_{t-1} is recomputed from the state, its bias correction 1 / (1 - b1^(t-1)) is c_i.
    this.hook = new Hypergradient(this, S.HD_MODE_ADAM, (p, o) => {
      const prev = this.stepCount - p.birth; // the param's steps so far: t - 1
      return prev === 0 ? 0 : 1 / (1 - this.series.previous.b1.at((o.betas as number[])[0], prev));
    });
  }

  /** Adds a param group (see `Optimizer.addParamGroup`); it may set its own `hypergradLr`. */
  override addParamGroup(options: GroupOptions<AdamHDOptions> = {}): ParamGroup {
    return super.addParamGroup(options as GroupOptions<AdamOptions>);
  }
}
