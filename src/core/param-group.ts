// Param groups: per-group hyperparameters inside one optimizer (PyTorch's `param_groups`), e.g.
// no weight decay for biases and norms. Every group's params still step in the same single call
// into wasm: a group only changes the hyper blocks its params point at.

import type { Param } from './param.js';
import type { Schedule } from './schedules.js';

/** Internal: what a ParamGroup asks its optimizer. */
export interface GroupHost {
  readonly kind: string;
  readonly params: readonly Param[];
  param(init: ArrayLike<number> | number, options?: { group?: ParamGroup | number }): Param;
}

/** @internal What a ParamGroup asks its optimizer's groups (src/core/param-groups.ts). */
export interface GroupRates extends GroupHost {
  /** Throws unless group `index` exists (and the optimizer is alive). */
  checkGroup(index: number, what: string): void;
  groupOptions(index: number): Record<string, unknown>;
  groupLr(index: number): number;
  groupSchedule(index: number): Schedule | null;
  /** Sets group `index`'s rate. */
  setGroupLr(index: number, value: number | Schedule): void;
}

/**
 * One param group of an optimizer: `opt.addParamGroup({ weightDecay: 0 })` returns it; add params
 * with `group.param(x)` (or `opt.param(x, { group })`). Group 0 holds the constructor's options
 * and every param added without a group.
 */
export class ParamGroup {
  /** @internal */
  constructor(
    private readonly host: GroupRates,
    readonly index: number,
  ) {}

  /** The group's resolved hyperparameters (a copy; `lr` is the current rate). */
  get options(): Record<string, unknown> {
    this.host.checkGroup(this.index, 'options');
    return this.host.groupOptions(this.index);
  }

  /** The group's learning rate for the next step. */
  get lr(): number {
    this.host.checkGroup(this.index, 'lr');
    return this.host.groupLr(this.index);
  }

  /** Sets this group's learning rate: a number, or a schedule that starts at its step 0 now. */
  set lr(value: number | Schedule) {
    this.host.checkGroup(this.index, 'lr');
    this.host.setGroupLr(this.index, value);
  }

  /** The group's schedule, or null when its rate is a number. */
  get lrSchedule(): Schedule | null {
    this.host.checkGroup(this.index, 'lrSchedule');
    return this.host.groupSchedule(this.index);
  }

  /** The params of this group, in the order they were added. */
  get params(): Param[] {
    this.host.checkGroup(this.index, 'params');
    return this.host.params.filter((p) => p.group === this.index);
  }

  /** Adds a param to this group (see `Optimizer.param`). */
  param(init: ArrayLike<number> | number): Param {
    return this.host.param(init, { group: this });
  }
}
