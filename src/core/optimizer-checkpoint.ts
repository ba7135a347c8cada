// Saving and loading a dense optimizer in the checkpoint format (./checkpoint.ts): its state dict
// plus every param's values, checked before anything changes. Called by `Optimizer#save` and
// `Optimizer#load`.

import { CheckpointError, decodeCheckpoint, encodeCheckpoint } from './checkpoint.js';
import type { CheckpointHost, OptimizerStateDict, ParamStateDict } from './state-dict.js';
import { firstNonFinite, MAX_STEP_COUNT } from './limits.js';
import { checkStoredTensors, restoreStoredTensors, storedTensors } from './state-type.js';

type AnyOptimizer = CheckpointHost;

/** Saves an optimizer: its state dict plus every param's values. Called by `Optimizer#save`. */
export function saveOptimizer(opt: AnyOptimizer): Uint8Array {
  const dict = opt.stateDict();
  // State stored in 16 or 8 bits: its bytes too (`stored`), so that a resumed run has the same bits.
  const stored = storedTensors(opt.params);
  const payload: Record<string, unknown> = {
    ...dict,
    ...(opt.stateType !== 'f32' ? { storage: { stateType: opt.stateType, seed: opt.seed } } : {}),
    params: dict.params.map(({ length, step, ...rest }, i) => ({
      length,
      step,
      data: opt.params[i].data,
      ...rest,
      ...(stored[i] ? { stored: stored[i] } : {}),
    })),
  };
  return encodeCheckpoint(opt.kind, payload);
}

interface CheckedParam extends ParamStateDict {
  data: Float32Array;
}
type CheckedDict = Omit<OptimizerStateDict, 'params'> & { params: CheckedParam[] };

/** Validates the decoded payload as an optimizer state: a malformed one is refused. */
function optimizerPayload(payload: Record<string, unknown>, kind: string, what: string): CheckedDict {
  const bad = (why: string): never => {
    throw new CheckpointError('malformed', `${what}: the checkpoint is malformed (${why}) although its checksum holds`);
  };
  if (payload.kind !== kind) bad(`its state names kind ${JSON.stringify(payload.kind)} inside a ${kind} checkpoint`);
  if (!Number.isInteger(payload.stepCount) || (payload.stepCount as number) < 0)
    bad(`bad stepCount ${JSON.stringify(payload.stepCount)}`);
  if ((payload.stepCount as number) > MAX_STEP_COUNT)
    bad(`stepCount ${payload.stepCount} is beyond the limit of 2^40 steps`);
  if (payload.groups !== undefined && (!Array.isArray(payload.groups) || payload.groups.length === 0))
    bad(
      `'groups' is ${Array.isArray(payload.groups) ? 'empty' : JSON.stringify(payload.groups)}, not a list of param groups`,
    );
  const groupCount = Array.isArray(payload.groups) ? payload.groups.length : 1;
  if (payload.options === null || typeof payload.options !== 'object') bad('no options');
  if (!Array.isArray(payload.params)) bad('no params list');
  (payload.params as unknown[]).forEach((ps, i) => {
    const p = ps as Partial<CheckedParam> | null;
    if (p === null || typeof p !== 'object') return bad(`param #${i} is not an object`);
    if (!Number.isInteger(p.length) || (p.length as number) < 0) bad(`param #${i} has a bad length`);
    if (!Number.isInteger(p.step) || (p.step as number) < 0 || (p.step as number) > (payload.stepCount as number))
      bad(`param #${i} has a bad step`);
    if (!(p.data instanceof Float32Array) || p.data.length !== p.length)
      bad(`param #${i} has no data tensor of its length`);
    if (
      p.group !== undefined &&
      (!Number.isInteger(p.group) || (p.group as number) < 0 || (p.group as number) >= groupCount)
    )
      bad(`param #${i} is in group ${JSON.stringify(p.group)}, but the checkpoint has groups 0..${groupCount - 1}`);
    if (p.state === null || typeof p.state !== 'object') bad(`param #${i} has no state`);
    for (const [k, s] of Object.entries(p.state as object)) {
      if (!(s instanceof Float32Array) || s.length !== p.length)
        bad(`param #${i} state '${k}' is not a float32 tensor of its length`);
      const j = firstNonFinite(s as Float32Array);
      if (j >= 0) bad(`param #${i} state '${k}'[${j}] is ${(s as Float32Array)[j]}; optimizer state must be finite`);
    }
  });
  return payload as unknown as CheckedDict;
}

/**
 * Loads a checkpoint from `saveOptimizer` into `opt`. Called by `Optimizer#load`.
 *
 * - An optimizer with params must match the checkpoint: same kind, same number of params, same
 *   lengths, same state tensors (e.g. both with or both without AMSGrad).
 * - An optimizer without params (a fresh one) gets the checkpoint's params, created in order.
 *
 * Hyperparameters and step counts come from the checkpoint (as with `loadStateDict`). Every
 * check runs before anything changes; a refused load throws and leaves `opt` as it was.
 */
export function loadOptimizer(opt: AnyOptimizer, bytes: Uint8Array | ArrayBuffer): void {
  const what = `${opt.kind}.load`;
  const { payload } = decodeCheckpoint(bytes, opt.kind, what);
  const dict = optimizerPayload(payload, opt.kind, what);
  // Hyperparameters, groups and schedules the state dict path refuses (lr -1, betas [2, 0.5], a
  // bad schedule) are a checkpoint with bad contents: a CheckpointError that says what is wrong.
  const load = (d: OptimizerStateDict): void => {
    try {
      opt.loadStateDict(d);
    } catch (e) {
      if (e instanceof CheckpointError || !(e instanceof RangeError || e instanceof TypeError)) throw e;
      throw new CheckpointError(
        'malformed',
        `${what}: the checkpoint's contents are invalid although its checksum holds: ${e.message}`,
      );
    }
  };
  // The storage: the receiver's stateType must be the checkpoint's; its seed is restored.
  const storage = (payload.storage ?? { stateType: 'f32', seed: opt.seed }) as { stateType?: unknown; seed?: unknown };
  if (!Number.isSafeInteger(storage.seed) || (storage.seed as number) < 0)
    throw new CheckpointError(
      'malformed',
      `${what}: the checkpoint's rounding seed ${String(storage.seed)} is invalid`,
    );
  if (storage.stateType !== opt.stateType)
    throw new CheckpointError(
      'layout',
      `${what}: the checkpoint was saved with stateType '${String(storage.stateType)}', this ${opt.kind} has '${opt.stateType}'; create the ${opt.kind} with { stateType: '${String(storage.stateType)}' } to load it`,
    );
  const stored = (payload.params as { stored?: unknown }[]).map((p) => p.stored);
  const checkStored = (): void => {
    const why = checkStoredTensors(opt.params, stored);
    if (why !== null)
      throw new CheckpointError(
        'malformed',
        `${what}: the checkpoint is malformed (${why}) although its checksum holds`,
      );
  };
  const fresh = opt.params.length === 0;
  if (!fresh) {
    if (dict.params.length !== opt.params.length) {
      throw new CheckpointError(
        'layout',
        `${what}: the checkpoint holds ${dict.params.length} params but this optimizer has ${opt.params.length}; add params of the same lengths in the same order, or load into a new optimizer with no params`,
      );
    }
    dict.params.forEach((ps, i) => {
      const p = opt.params[i];
      if (ps.length !== p.length) {
        throw new CheckpointError(
          'layout',
          `${what}: param #${i} has length ${ps.length} in the checkpoint but ${p.length} here; add params of the same lengths in the same order`,
        );
      }
      const names = Object.keys(ps.state);
      if (names.join() !== p.stateKeys.join()) {
        throw new CheckpointError(
          'layout',
          `${what}: param #${i} holds state [${names.join(', ')}] in the checkpoint but [${p.stateKeys.join(', ')}] here; create the ${opt.kind} with the options it was saved with (see inspectCheckpoint)`,
        );
      }
    });
    checkStored();
    load(dict); // validates everything again, then changes
    dict.params.forEach((ps, i) => opt.params[i].data.set(ps.data));
    restoreStoredTensors(opt.params, stored);
    opt.storage.seed = storage.seed as number;
    return;
  }
  // A fresh optimizer: adopt the options, check the layout they give, create the params, restore.
  // On any failure the optimizer gets back its own objects (options, groups, the ParamGroup
  // handles it gave out, schedules) and loses the params it made.
  const before = opt.captureGroups();
  const mark = opt.paramsMark();
  try {
    load({ ...dict, params: [] });
    // Every param's state layout under its group's options, before any allocation.
    dict.params.forEach((ps, i) => {
      const names = Object.keys(ps.state);
      const want = opt.groupStateNames(ps.group ?? 0);
      if (names.join() !== want.join()) {
        throw new CheckpointError(
          'layout',
          `${what}: param #${i} holds state [${names.join(', ')}] in the checkpoint but its options give [${want.join(', ')}]`,
        );
      }
    });
    const created = dict.params.map((ps) => opt.param(ps.length, { group: ps.group ?? 0 }));
    checkStored();
    load(dict);
    dict.params.forEach((ps, i) => created[i].data.set(ps.data));
    restoreStoredTensors(opt.params, stored);
    opt.storage.seed = storage.seed as number;
  } catch (e) {
    opt.dropParamsTo(mark);
    opt.restoreGroups(before);
    throw e;
  }
}
