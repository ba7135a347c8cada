// What checkpoints and state dicts are made of, and what the checkpoint formats need of an
// optimizer (`CheckpointHost`, which `Optimizer` implements). Kept apart from ./optimizer.ts so that
// ./checkpoint.ts and ./safetensors.ts depend on these types, not on the class that calls them.

import type { ArenaMark } from './param-arena.js';
import type { Param } from './param.js';
import type { ScheduleSpec } from './schedules.js';
import type { MetaGradientState } from './meta-gradients.js';

/** A param group in a state dict. */
export interface ParamGroupStateDict {
  /** The group's resolved options (`lr`: its rate for the next step). Group 0's repeat `options`. */
  options: Record<string, unknown>;
  /** The group's learning-rate schedule (its JSON form), or null. */
  lrSchedule: ScheduleSpec | null;
  /** Steps taken since the schedule was set: where it resumes. */
  schedulePosition: number;
}

/** A param's optimizer state in a state dict. */
export interface ParamStateDict {
  /** Number of elements. */
  length: number;
  /** Steps this param has taken (PyTorch's per-param `step`). */
  step: number;
  /** Each state tensor by PyTorch's name (`exp_avg`, `exp_avg_sq`, `momentum_buffer`, ...). */
  state: Record<string, Float32Array>;
  /** Index of the param's group (default 0). */
  group?: number;
}

/** The structured state of an optimizer (hyperparameters, step count and state tensors, not the params). */
export interface OptimizerStateDict {
  kind: string;
  stepCount: number;
  options: Record<string, unknown>;
  params: ParamStateDict[];
  /** The param groups (group 0 first); absent: one group with `options`. */
  groups?: ParamGroupStateDict[];
  /** The meta-gradient tracking and its tangents (absent when none are tracked). */
  metaGradients?: MetaGradientState;
}

/** @internal Where an optimizer's params stand, to undo params added after it. */
export interface ParamsMark {
  readonly count: number;
  readonly arena: ArenaMark;
}

/** Internal: What the checkpoint formats (./checkpoint.ts, ./safetensors.ts) use of an optimizer. */
export interface CheckpointHost {
  readonly kind: string;
  /** How the state tensors are stored (`stateType`). */
  readonly stateType: string;
  /** The seed of bf16 state's stochastic rounding. */
  readonly seed: number;
  /** @internal the state storage (a checkpoint restores its seed). */
  readonly storage: { seed: number };
  readonly params: readonly Param[];
  readonly options: Readonly<Record<string, unknown>>;
  stateDict(): OptimizerStateDict;
  loadStateDict(dict: OptimizerStateDict): void;
  param(init: ArrayLike<number> | number, options?: { group?: number }): Param;
  /** @internal */
  paramsMark(): ParamsMark;
  /** @internal */
  dropParamsTo(mark: ParamsMark): void;
  /** @internal */
  captureGroups(): object;
  /** @internal */
  restoreGroups(c: object): void;
  /** @internal */
  groupStateNames(index: number): string[];
}
