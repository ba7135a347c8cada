// The state-dict glue of a dense optimizer: a state dict's contents checked against the optimizer
// before anything changes (kind, step counts, options of every group, schedules, each param's
// length, group and state), giving the options and groups to put in place.

import type { OptimizerStateDict, ParamGroupStateDict } from './state-dict.js';
import { firstNonFinite, MAX_STEP_COUNT } from './limits.js';
import type { GroupState } from './optimizer-options.js';
import { describe } from './options.js';
import type { Param } from './param.js';
import { isSchedule, scheduleFromJSON, type Schedule } from './schedules.js';

/** @internal What a state dict is made of: the optimizer's kind, count, params and group options. */
export interface StateDictSource {
  readonly kind: string;
  readonly stepCount: number;
  readonly params: readonly Param[];
  /** A copy of group `i`'s options (lr: the rate of the next step). */
  groupOptions(i: number): Record<string, unknown>;
}

/** @internal The state dict of `h` (its groups' states `groups`; `meta` its meta-gradient tracker, if any). */
export function buildStateDict(
  h: StateDictSource,
  groups: readonly GroupState<unknown>[],
  meta: { state(): NonNullable<OptimizerStateDict['metaGradients']> } | null,
): OptimizerStateDict {
  const steps = h.stepCount;
  const dict: OptimizerStateDict = {
    kind: h.kind,
    stepCount: steps,
    options: h.groupOptions(0),
    params: h.params.map((p) => ({
      length: p.length,
      step: steps - p.birth,
      state: Object.fromEntries(p.stateKeys.map((k) => [k, p.state(k).slice()])),
      ...(p.group !== 0 ? { group: p.group } : {}),
    })),
  };
  if (meta) dict.metaGradients = meta.state();
  // Groups and schedules only when there are any, so that a plain optimizer's dict stays small.
  if (groups.length > 1 || groups[0].schedule !== null) {
    dict.groups = groups.map((g, i) => ({
      options: h.groupOptions(i),
      lrSchedule: g.schedule ? g.schedule.toJSON() : null,
      schedulePosition: g.schedule ? steps - g.start : 0,
    }));
  }
  return dict;
}

/** @internal What checking a state dict reads of the optimizer (`R`: its resolved options). */
export interface StateDictCheckHost<R extends { lr: number }> {
  readonly kind: string;
  readonly params: readonly Param[];
  /** Validates options and fills in defaults (throws RangeError/TypeError). */
  resolve(o: Record<string, unknown>): R;
  /** Refuses a rate this optimizer cannot take. */
  checkRate(value: number | Schedule): void;
  /** A schedule's rate at `position`, checked. */
  scheduledRate(s: Schedule, position: number): number;
  /** The state tensor names under these options. */
  stateNames(o: R): string[];
}

/**
 * Checks `dict` for `h` (`what` names the call in messages) and returns group 0's options and every
 * group's state; throws (RangeError/TypeError naming the fix) when anything does not fit. Changes nothing.
 */
export function checkStateDict<R extends { lr: number }>(
  h: StateDictCheckHost<R>,
  dict: OptimizerStateDict,
): { opts: R; groups: GroupState<R>[] } {
  const what = `${h.kind}.loadStateDict`;
  if (dict === null || typeof dict !== 'object')
    throw new TypeError(`${what}: expected a state dict object, got ${describe(dict)}`);
  if (dict.kind !== h.kind) throw new TypeError(`${what}: the state dict is for ${String(dict.kind)}, not ${h.kind}`);
  if (!Number.isInteger(dict.stepCount) || dict.stepCount < 0)
    throw new RangeError(`${what}: bad stepCount ${dict.stepCount}`);
  if (dict.stepCount > MAX_STEP_COUNT)
    throw new RangeError(`${what}: stepCount ${dict.stepCount} is beyond the limit of 2^40 steps (MAX_STEP_COUNT)`);
  if (!Array.isArray(dict.params) || dict.params.length !== h.params.length) {
    throw new RangeError(
      `${what}: the state dict holds ${Array.isArray(dict.params) ? dict.params.length : 'no'} params, this optimizer has ${h.params.length}; add the same params in the same order first`,
    );
  }
  const { engine: _e, ...given } = (dict.options ?? {}) as Record<string, unknown>;
  const invalid = (where: string, e: unknown): never => {
    if (e instanceof RangeError || e instanceof TypeError) {
      const E = e instanceof RangeError ? RangeError : TypeError;
      throw new E(`${what}: the state dict's ${where} are invalid: ${e.message}`);
    }
    throw e;
  };
  let opts: R;
  try {
    opts = h.resolve(given);
  } catch (e) {
    return invalid('options', e);
  }
  // Param groups (a dict without them holds one group); group 0's options are `options`.
  const groupsIn: ParamGroupStateDict[] = dict.groups ?? [{ options: given, lrSchedule: null, schedulePosition: 0 }];
  if (!Array.isArray(groupsIn) || groupsIn.length === 0)
    throw new TypeError(`${what}: 'groups' must be a non-empty array of param groups, got ${describe(groupsIn)}`);
  const groups: GroupState<R>[] = groupsIn.map((g, gi) => {
    if (g === null || typeof g !== 'object')
      throw new TypeError(`${what}: param group #${gi} is ${describe(g)}, not an object`);
    let gopts = opts;
    let schedule: Schedule | null = null;
    try {
      if (gi > 0) {
        const { engine: _ge, ...own } = (g.options ?? {}) as Record<string, unknown>;
        gopts = h.resolve({ ...given, ...own });
      }
      if (g.lrSchedule !== null && g.lrSchedule !== undefined)
        schedule = isSchedule(g.lrSchedule) ? g.lrSchedule : scheduleFromJSON(g.lrSchedule);
      if (schedule) h.checkRate(schedule);
    } catch (e) {
      return invalid(`param group #${gi} options`, e);
    }
    const pos = g.schedulePosition ?? 0;
    if (!Number.isInteger(pos) || pos < 0 || pos > dict.stepCount)
      throw new RangeError(
        `${what}: param group #${gi} has a bad schedulePosition ${pos} (step count ${dict.stepCount})`,
      );
    if (schedule) {
      try {
        gopts.lr = h.scheduledRate(schedule, pos);
      } catch (e) {
        return invalid(`param group #${gi} schedule`, e);
      }
    }
    return { opts: gopts, schedule, start: dict.stepCount - pos };
  });
  dict.params.forEach((ps, i) => {
    const p = h.params[i];
    if (ps.length !== p.length)
      throw new RangeError(`${what}: param #${i} has length ${ps.length} in the state dict, ${p.length} here`);
    if (!Number.isInteger(ps.step) || ps.step < 0 || ps.step > dict.stepCount)
      throw new RangeError(`${what}: param #${i} has a bad step ${ps.step}`);
    const gi = ps.group ?? 0;
    if (!Number.isInteger(gi) || gi < 0 || gi >= groups.length)
      throw new RangeError(
        `${what}: param #${i} is in group ${gi}, but the state dict has groups 0..${groups.length - 1}`,
      );
    const names = h.stateNames(groups[gi].opts);
    if (names.join() !== p.stateKeys.join()) {
      throw new RangeError(
        `${what}: param #${i}'s options in the state dict need state [${names.join(', ')}] but it holds [${p.stateKeys.join(', ')}]; create the ${h.kind} with the same options`,
      );
    }
    for (const k of names) {
      const s = ps.state?.[k];
      if (!s || s.length !== p.length)
        throw new RangeError(`${what}: param #${i} state '${k}' is missing or has the wrong length`);
      if (!(s instanceof Float32Array)) {
        for (let j = 0; j < (s as ArrayLike<unknown>).length; j++)
          if (typeof s[j] !== 'number') throw new TypeError(`${what}: param #${i} state '${k}'[${j}] is not a number`);
      }
      const bad = firstNonFinite(s);
      if (bad >= 0)
        throw new RangeError(
          `${what}: param #${i} state '${k}'[${bad}] is ${s[bad]}; optimizer state must be finite (a NaN or infinite state would make every later step non-finite)`,
        );
    }
  });
  return { opts, groups };
}
