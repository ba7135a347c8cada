// The param groups of a dense optimizer (PyTorch's `param_groups`): each group's resolved options,
// its learning-rate schedule and the step that schedule started at, and the ParamGroup handles
// given out. The optimizer (src/core/optimizer.ts) owns one `ParamGroups`; the handles
// (src/core/param-group.ts), state dicts, hypergradients and meta-gradients read and set the
// groups' rates through it. Every group's params still step in the same single call into wasm.

import { checkKnownKeys, checkNumber, describe } from './options.js';
import { copyOptions, OPTIMIZER_WIDE, scheduledRate, type GroupState } from './optimizer-options.js';
import type { Param } from './param.js';
import { ParamGroup, type GroupRates } from './param-group.js';
import { isSchedule, type Schedule } from './schedules.js';

/** @internal What the param groups read of their optimizer. */
export interface GroupsOwner<R> {
  readonly kind: string;
  /** The optimizer's params (the array itself: it grows as params are added). */
  readonly params: readonly Param[];
  /** The option names of the optimizer's declaration (a group may set those not optimizer-wide). */
  readonly optionNames: readonly string[];
  /** The number of completed steps (a schedule's position is `steps() - start`). */
  steps(): number;
  /** Throws once the optimizer is disposed (`what` names the call). */
  checkAlive(what: string): void;
  /** Refuses a rate the optimizer cannot take (hypergradients: a schedule), before anything changes. */
  checkRate(value: number | Schedule): void;
  /** Validates options and fills in defaults (the optimizer's `resolve`). */
  resolve(o: Record<string, unknown>): R;
  param(init: ArrayLike<number> | number, options?: { group?: ParamGroup | number }): Param;
}

/** @internal The param groups of one optimizer; group 0 holds the constructor's options. */
export class ParamGroups<R extends { lr: number }> implements GroupRates {
  /** Each group's options, schedule and start, in group order (replaced, never mutated, by a load). */
  states: GroupState<R>[];
  /** The ParamGroup handles given out, one per group. */
  handles: ParamGroup[];

  constructor(
    private readonly owner: GroupsOwner<R>,
    first: GroupState<R>,
  ) {
    this.states = [first];
    this.handles = [new ParamGroup(this, 0)];
  }

  get kind(): string {
    return this.owner.kind;
  }

  get params(): readonly Param[] {
    return this.owner.params;
  }

  /** The optimizer's completed steps (state dicts read it with the groups). */
  get stepCount(): number {
    return this.owner.steps();
  }

  param(init: ArrayLike<number> | number, options?: { group?: ParamGroup | number }): Param {
    return this.owner.param(init, options);
  }

  /** The number of param groups. */
  get groupCount(): number {
    return this.states.length;
  }

  /**
   * Adds a group (the body of `Optimizer.addParamGroup`): options it does not set are group 0's,
   * its rate included (a schedule of group 0 keeps its position). Everything is checked first.
   */
  add(options: Record<string, unknown>): ParamGroup {
    const owner = this.owner;
    owner.checkAlive('addParamGroup');
    const what = `${owner.kind}.addParamGroup`;
    if (options === null || typeof options !== 'object')
      throw new TypeError(`${what}: options must be an object, got ${describe(options)}`);
    for (const k of Object.keys(options)) {
      if (OPTIMIZER_WIDE.includes(k) || k === 'engine')
        throw new TypeError(`${what}: option '${k}' applies to the whole optimizer; set it in the constructor`);
    }
    checkKnownKeys(
      what,
      options,
      owner.optionNames.filter((k: string) => !OPTIMIZER_WIDE.includes(k)),
    );
    const base = this.states[0];
    const lr = options.lr !== undefined ? options.lr : (base.schedule ?? this.groupLr(0));
    const opts = owner.resolve({ ...copyOptions(base.opts), ...options, lr });
    const schedule = isSchedule(lr) ? lr : null;
    this.states.push({
      opts,
      schedule,
      start: schedule !== null && schedule === base.schedule ? base.start : owner.steps(),
    });
    const handle = new ParamGroup(this, this.handles.length);
    this.handles.push(handle);
    return handle;
  }

  /** Puts loaded groups in place, keeping the handles of the groups that remain. */
  replace(states: GroupState<R>[]): void {
    this.states = states;
    this.handles = states.map((_g, i) => this.handles[i] ?? new ParamGroup(this, i));
  }

  /** (ParamGroup) throws unless group `index` exists (and the optimizer is alive). */
  checkGroup(index: number, what: string): void {
    this.owner.checkAlive(what);
    if (index >= this.states.length) {
      throw new RangeError(
        `${this.owner.kind}: param group #${index} no longer exists (a state dict with ${this.states.length} groups was loaded); use opt.paramGroups`,
      );
    }
  }

  /** A copy of group `index`'s options, `lr` its rate for the next step. */
  groupOptions(index: number): Record<string, unknown> {
    return { ...copyOptions(this.states[index].opts), lr: this.groupLr(index) };
  }

  /** Group `index`'s resolved options themselves (no copy: read them, never keep or change them). */
  groupOptionsLive(index: number): Readonly<Record<string, unknown>> {
    return this.states[index].opts as unknown as Readonly<Record<string, unknown>>;
  }

  /** The rate of group `index` for the next step. */
  groupLr(index: number): number {
    const g = this.states[index];
    return g.schedule ? scheduledRate(this.owner.kind, g.schedule, this.owner.steps() - g.start) : g.opts.lr;
  }

  /** The schedule of group `index`, or null. */
  groupSchedule(index: number): Schedule | null {
    return this.states[index].schedule;
  }

  /**
   * Sets the rate of group `index`, or of every group when `index` is undefined: a number, or a
   * schedule that starts at its step 0 with the next step. Checked before anything changes.
   */
  setGroupLr(index: number | undefined, value: number | Schedule): void {
    const owner = this.owner;
    owner.checkRate(value);
    const schedule = isSchedule(value) ? value : null;
    const rate = schedule ? scheduledRate(owner.kind, schedule, 0) : checkNumber(owner.kind, 'lr', value, { min: 0 });
    const start = owner.steps();
    const end = index === undefined ? this.states.length : index + 1;
    for (let i = index ?? 0; i < end; i++) {
      const g = this.states[i];
      g.schedule = schedule;
      g.start = start;
      g.opts.lr = rate;
    }
  }

  /**
   * Before a step: every scheduled group's rate for this step, checked with the rate after it (a
   * step that would leave a schedule at an invalid rate, an exponentialLR overflowing to Infinity,
   * is refused, so that opt.lr, stateDict() and save() keep working after every accepted step).
   */
  scheduleStep(): void {
    const next = this.owner.steps() + 1;
    for (let i = 0; i < this.states.length; i++) {
      const g = this.states[i];
      if (g.schedule) {
        scheduledRate(this.owner.kind, g.schedule, next - g.start);
        g.opts.lr = this.groupLr(i);
      }
    }
  }

  /** The group index named by `options.group` (a ParamGroup of this optimizer or an index); `what` names the call. */
  groupOf(options: { group?: ParamGroup | number } | undefined, what: string): number {
    if (options === undefined) return 0;
    const where = `${this.owner.kind}.${what}`;
    if (options === null || typeof options !== 'object')
      throw new TypeError(`${where}: options must be an object, got ${describe(options)}`);
    checkKnownKeys(where, options, ['group']);
    const g = options.group;
    if (g === undefined) return 0;
    if (g instanceof ParamGroup) {
      if (this.handles[g.index] !== g)
        throw new RangeError(
          `${where}: option 'group' is a param group of another optimizer (or one that no longer exists)`,
        );
      return g.index;
    }
    if (typeof g !== 'number' || !Number.isInteger(g))
      throw new TypeError(`${where}: option 'group' must be a ParamGroup or a group index, got ${describe(g)}`);
    if (g < 0 || g >= this.states.length)
      throw new RangeError(
        `${where}: option 'group' is ${g}, but this optimizer has groups 0..${this.states.length - 1}; create one with addParamGroup()`,
      );
    return g;
  }

  /**
   * The groups as the objects themselves (options, schedules, the handles given out), for
   * `restore`: a load that fails half-way puts these very objects back (never rebuilt copies), so
   * the user's handles and schedule objects stay the optimizer's.
   */
  capture(): { readonly states: GroupState<R>[]; readonly handles: ParamGroup[] } {
    return { states: this.states, handles: this.handles };
  }

  /** Puts back what `capture` returned. */
  restore(c: { readonly states: GroupState<R>[]; readonly handles: ParamGroup[] }): void {
    this.states = c.states;
    this.handles = c.handles;
  }
}
