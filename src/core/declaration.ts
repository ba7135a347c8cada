// An optimizer, declared once: its options and defaults, their validation, its state tensors (by
// PyTorch's names), how it fills its kernels' hyper block for step t, and which kernels run it.
// The dense classes (src/optimizers/*.ts), embedding tables (src/embedding/), checkpoints and the
// tests' registry all read the declaration; nothing restates it.

import type { EngineFunctions, TableKernelName } from './abi.js';
import { checkBoolean, checkChoice, checkNumber, type NonFinitePolicy } from './options.js';
import { BetaPowers, MuProducts } from './powers.js';

/** A hyperparameter block being filled: f32 slots, i32 flags (slot numbers: `SLOT` of ./abi.ts). */
export interface HyperWriter {
  f32(slot: number, value: number): void;
  flag(slot: number, on: boolean): void;
}

/** The wasm kernels that fuse a step with its tangents: `kernel(table, meta, count)`. */
export type MetaKernelName = Extract<keyof EngineFunctions, `${string}MetaStep`>;

/**
 * What an optimizer declares about its meta-gradients (`OptimizerDeclaration.meta`; the five in
 * src/optimizers/meta.ts). `R` is its resolved options.
 */
export interface MetaDeclaration<R> {
  /** The hyperparameters it can track, by name (`'beta1'` for `betas[0]`). */
  readonly names: readonly string[];
  /** The fused kernel. */
  readonly kernel: MetaKernelName;
  /** Tangent tensors per hyperparameter: 1 (the param) + the kernel's highest used state slot + 1. */
  slots(o: R): number;
  /** Why `name` cannot be tracked under these options (and what to do), or null. */
  refuse?(o: R, name: string, stepCount: number): string | null;
  /** Writes the derivatives of the kernel's per-step scalars with respect to `name` at step `t`. */
  writeHyper(h: HyperWriter, o: R, t: number, name: string): void;
  /** The initial tangent of state slot `slot` (>= 1) with respect to `name`, when not zero. */
  initTangent?(name: string, slot: number): number;
}

/** The options every optimizer and every table resolves, besides its own. */
export interface CommonResolved {
  /** The rate of the coming step. */
  lr: number;
  weightDecay: number;
  maximize: boolean;
  nonFinite: NonFinitePolicy;
}

/** The option names of `CommonResolved`. */
export const COMMON_OPTIONS = ['lr', 'weightDecay', 'maximize', 'nonFinite'] as const;

/**
 * The step-dependent series one optimizer or table keeps (bias-correction powers b^t, NAdam's mu
 * products), so that a step costs one multiply per series instead of a Math.pow. Each value is a
 * fixed function of (hyperparameters, t), whatever was asked before (src/core/powers.ts).
 */
export class StepSeries {
  /** beta1^t and beta2^t. */
  readonly betas = new BetaPowers();
  /** NAdam's mu_t and mu_1 ... mu_t. */
  readonly mus = new MuProducts();
  /** The previous step's powers (hypergradient optimizers; `betas` has moved on to t). */
  readonly previous = new BetaPowers();
}

/**
 * One optimizer's declaration. `R` is its resolved options: the common ones plus its own, every
 * field set.
 */
export interface OptimizerDeclaration<R extends CommonResolved = CommonResolved> {
  /** The class name, used in messages, state dicts and checkpoints (`'Adam'`). */
  readonly name: string;
  /** The name an `Embedding` table knows it by (`'adam'`), when tables can use it. */
  readonly table?: string;
  /** Every option it knows, the common ones included, in the order state dicts list them. */
  readonly options: readonly string[];
  /** The defaults of the common options that differ between optimizers. */
  readonly defaults: { readonly lr: number; readonly weightDecay: number };
  /** Validates its own options (not the common ones) and fills in their defaults. */
  resolve(o: Readonly<Record<string, unknown>>, owner: string): Omit<R, keyof CommonResolved>;
  /**
   * The kernel's state slots (state0, state1, state2) under these options: the PyTorch name of
   * the tensor each slot holds, or null for a slot these options leave unused.
   */
  stateLayout(o: R): readonly (string | null)[];
  /**
   * The state tensors of `stateLayout` that hold one float per table row instead of one per
   * element (row-wise optimizers' accumulators: FBGEMM's `momentum1` of row-wise Adagrad). Only
   * tables use such declarations (src/embedding/footprint.ts lays a row's state out). Default none.
   */
  readonly rowState?: readonly string[];
  /** Initial values of state tensor `name` (default zeros). */
  initState?(name: string, view: Float32Array, o: R): void;
  /**
   * Writes the hyper block of step `t` (t >= 1; a table's t is its update count). `gradScale`
   * multiplies every gradient in the kernel (its sign flipped for `maximize` by the caller).
   * `stepOnly` true: the block already holds this writer's block for the same options at another
   * step (only `lr`, `t` and `gradScale` may differ), so only the slots that depend on those three
   * need writing; a writer writes them first and returns before the others (a dense step writes a
   * whole block only when its options or params change; test/hyper-step-only.test.ts holds every
   * declaration to it).
   */
  writeHyper(h: HyperWriter, o: R, t: number, gradScale: number, series: StepSeries, stepOnly?: boolean): void;
  /**
   * The first step from which the step-only slots of `writeHyper` no longer depend on `t`: for any
   * t1, t2 >= `steadyFrom(o)`, a write at t1 and one at t2 with the same `lr` and `gradScale` give
   * the same block. A dense step then skips the writer while its cohort's rate and scale stay the
   * same (SGD's only step-dependent slot is its first-step flag: 2). Default: never (the writer
   * runs every step). test/hyper-step-only.test.ts holds every declaration that sets it to it.
   */
  steadyFrom?(o: R): number;
  /**
   * The L2 weight decay these options add to the gradient in the kernel (`g + wd * p`), which the
   * step's finiteness check must cover. Default: `weightDecay`, or 0 with `decoupledWeightDecay`;
   * optimizers whose decay is decoupled (AdamW, Lion) return 0.
   */
  l2?(o: R): number;
  /**
   * True when the kernel squares the gradient into its state (Adam's `v`, Adagrad's `sum`,
   * RMSprop's and Adadelta's `square_avg`): a step's check then also refuses a gradient whose
   * square overflows float32 (|g| above ~1.8e19), which would turn that state into Infinity.
   */
  readonly squaresGradient?: boolean;
  /** The wasm kernel that steps a table of dense tensors; absent for table-only optimizers (row-wise state). */
  readonly kernel?: TableKernelName;
  /**
   * The step kernel with the state stored in 16 or 8 bits (`stateType: 'bf16' | 'int8'`,
   * src/core/state-type.ts), when the optimizer takes one: bitsandbytes' 8-bit optimizers.
   */
  readonly quantKernel?: TableKernelName;
  /** Why options `o` cannot run with 16- or 8-bit state, or null (default: they all can). */
  quantRefusal?(o: R): string | null;
  /** EMB_KIND_* of the row kernel a table runs (`SLOT.EMB_KIND_ADAM`), when tables can use it. */
  readonly rowKernel?: number;
  /**
   * False when the kernel reads whole tensors (per-tensor reductions), so that threads must not
   * cut a tensor into ranges. Default true.
   */
  readonly elementwise?: boolean;
  /** Its meta-gradients (src/optimizers/meta.ts), when it can track them. */
  readonly meta?: MetaDeclaration<R>;
}

/** Any declaration (the registry's and the hosts' view: options as a record). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyDeclaration = OptimizerDeclaration<any>;

/** The common options, checked and defaulted for `owner` (lr as a number: schedules are the host's). */
export function resolveCommon(d: AnyDeclaration, o: Readonly<Record<string, unknown>>, owner: string): CommonResolved {
  return {
    lr: checkNumber(owner, 'lr', o.lr ?? d.defaults.lr, { min: 0 }),
    weightDecay: checkNumber(owner, 'weightDecay', o.weightDecay ?? d.defaults.weightDecay, { min: 0 }),
    maximize: checkBoolean(owner, 'maximize', o.maximize ?? false),
    nonFinite: checkChoice(owner, 'nonFinite', o.nonFinite ?? 'throw', ['throw', 'skip', 'ignore'] as const),
  };
}

/** Names of the state tensors a param (or a table row) holds under these options, in slot order. */
export function stateNames(d: AnyDeclaration, o: CommonResolved): string[] {
  return d.stateLayout(o).filter((n: string | null): n is string => n !== null);
}

/** The resolved options as a record in the declaration's order (arrays copied): for state dicts. */
export function optionsRecord(d: AnyDeclaration, o: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of d.options) {
    const v = o[k];
    out[k] = Array.isArray(v) ? v.slice() : v;
  }
  return out;
}

/** The L2 weight decay a declaration's kernel adds to the gradient under `o` (see `l2`). */
export function l2Decay(d: AnyDeclaration, o: Readonly<Record<string, unknown>>): number {
  if (d.l2) return d.l2(o) as number;
  return o.decoupledWeightDecay ? 0 : ((o.weightDecay as number | undefined) ?? 0);
}
