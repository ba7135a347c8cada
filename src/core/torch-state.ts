// Optimizers and tables <-> PyTorch's state_dict names in the safetensors format (./safetensors.ts):
// `torch.optim.Optimizer.state_dict()` flattened with dots: `param.<i>` (the i-th param's values),
// `state.<i>.<name>` (`exp_avg`, ..., `step` as a float32 scalar), and
// `__metadata__.param_groups` (PyTorch's group keys, `params` as index lists). Tables use the same
// helpers from src/embedding/safetensors.ts.

import { CheckpointError, encodeCheckpoint } from './checkpoint.js';
import { loadOptimizer } from './optimizer-checkpoint.js';
import {
  decodeSafetensors,
  encodeSafetensors,
  isCount,
  refuse,
  type SafetensorsTensor,
  type SafetensorsTensorInput,
} from './safetensors.js';
import type { CheckpointHost, OptimizerStateDict, ParamGroupStateDict } from './state-dict.js';

/** Options of the engine that PyTorch has no group key for; kept in `__metadata__.wasm_optim`. */
const ENGINE_ONLY = ['nonFinite', 'clipGradNorm', 'clipGradValue'];
/** Group keys PyTorch writes that choose an implementation, not an update: ignored on load. */
const TORCH_ONLY = ['foreach', 'capturable', 'differentiable', 'fused', 'initial_lr'];
/** State entries derived from the step count (not engine tensors). */
const DERIVED_STATE = ['step', 'mu_product'];

const snake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (k: string): string => k.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

/** @internal PyTorch group keys of resolved options (engine-only ones left out). */
export function torchGroup(options: Record<string, unknown>): Record<string, unknown> {
  const g: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options))
    if (!ENGINE_ONLY.includes(k)) g[snake(k)] = Array.isArray(v) ? v.slice() : v;
  return g;
}

/** NAdam's `mu_product` after t steps: prod_{i<=t} b1 (1 - 0.5 * 0.96^(i psi)), in float64. */
function muProduct(b1: number, psi: number, t: number): number {
  let p = 1;
  for (let i = 1; i <= t; i++) p *= b1 * (1 - 0.5 * Math.pow(0.96, i * psi));
  return p;
}

/** The float32 scalar tensor of a step count (refused past 2^24, where float32 stops counting exactly). */
function stepTensor(step: number, what: string): SafetensorsTensorInput {
  if (Math.fround(step) !== step)
    throw new RangeError(
      `${what}: step ${step} has no exact float32 value (PyTorch keeps state['step'] as a float32 tensor); the hand-off holds up to 2^24 = 16777216 steps`,
    );
  return { dtype: 'F32', shape: [], data: new Float32Array([step]) };
}

/** @internal Writes the per-param state PyTorch would hold for a param that took `step` steps. */
export function putState(
  out: Record<string, SafetensorsTensorInput>,
  prefix: string,
  kind: string,
  options: Record<string, unknown>,
  step: number,
  shape: number[],
  state: Record<string, Float32Array>,
  what: string,
): void {
  for (const [k, v] of Object.entries(state)) out[`${prefix}.${k}`] = { dtype: 'F32', shape, data: v };
  out[`${prefix}.step`] = stepTensor(step, what);
  if (kind === 'NAdam') {
    const [b1] = options.betas as number[];
    out[`${prefix}.mu_product`] = {
      dtype: 'F32',
      shape: [],
      data: new Float32Array([muProduct(b1, options.momentumDecay as number, step)]),
    };
  }
}

/**
 * @internal Whether PyTorch holds state for a param that took `step` steps: from its first step on, and
 * from the start for Adagrad (whose constructor fills `sum` and `step`).
 */
export function hasState(kind: string, step: number): boolean {
  return step > 0 || kind === 'Adagrad';
}

type AnyOptimizer = CheckpointHost;

/**
 * The tensors and metadata of an optimizer as PyTorch's `optimizer.state_dict()` would hold them,
 * flattened: `param.<i>`, `state.<i>.<name>`, `state.<i>.step`; `__metadata__` holds `format`
 * (`pt`), `optimizer` (the class name), `param_groups` (JSON) and `wasm_optim` (JSON: the step
 * count, the engine-only options and the lr schedules, which PyTorch ignores). Called by
 * `Optimizer#saveSafetensors`.
 */
export function saveOptimizerSafetensors(opt: AnyOptimizer): Uint8Array {
  const what = `${opt.kind}.saveSafetensors`;
  const dict = opt.stateDict();
  const groups: ParamGroupStateDict[] = dict.groups ?? [
    { options: dict.options, lrSchedule: null, schedulePosition: 0 },
  ];
  const tensors: Record<string, SafetensorsTensorInput> = {};
  dict.params.forEach((ps, i) => {
    const shape = [ps.length];
    tensors[`param.${i}`] = { dtype: 'F32', shape, data: opt.params[i].data };
    const options = groups[ps.group ?? 0].options;
    if (hasState(opt.kind, ps.step)) putState(tensors, `state.${i}`, opt.kind, options, ps.step, shape, ps.state, what);
  });
  const paramGroups = groups.map((g, gi) => ({
    ...torchGroup(g.options),
    params: dict.params.flatMap((ps, i) => ((ps.group ?? 0) === gi ? [i] : [])),
  }));
  const engine: Record<string, unknown> = {
    kind: opt.kind,
    stepCount: dict.stepCount,
    options: Object.fromEntries(ENGINE_ONLY.map((k) => [k, dict.options[k] ?? null])),
  };
  if (dict.groups)
    engine.groups = dict.groups.map((g) => ({ lrSchedule: g.lrSchedule, schedulePosition: g.schedulePosition }));
  return encodeSafetensors(tensors, {
    format: 'pt',
    optimizer: opt.kind,
    param_groups: JSON.stringify(paramGroups),
    wasm_optim: JSON.stringify(engine),
  });
}

/** @internal The parsed `__metadata__.wasm_optim`, or null when the file has none (written by PyTorch). */
export function engineMeta(meta: Record<string, string>, what: string): Record<string, unknown> | null {
  if (meta.wasm_optim === undefined) return null;
  let v: unknown;
  try {
    v = JSON.parse(meta.wasm_optim);
  } catch {
    return refuse(
      'malformed',
      what,
      '__metadata__.wasm_optim is not JSON; remove it (it is optional) or write it again with saveSafetensors()',
    );
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    refuse('malformed', what, '__metadata__.wasm_optim is not a JSON object');
  return v as Record<string, unknown>;
}

/** @internal `__metadata__.param_groups` parsed and checked: a non-empty list of objects with `params` index lists. */
export function parseGroups(meta: Record<string, string>, what: string): Record<string, unknown>[] {
  if (meta.param_groups === undefined)
    refuse(
      'malformed',
      what,
      "__metadata__ has no 'param_groups'; write it as JSON.dumps(optimizer.state_dict()['param_groups'])",
    );
  let groups: unknown;
  try {
    groups = JSON.parse(meta.param_groups);
  } catch {
    return refuse('malformed', what, '__metadata__.param_groups is not JSON');
  }
  if (!Array.isArray(groups) || groups.length === 0)
    refuse('malformed', what, '__metadata__.param_groups must be a non-empty JSON list of groups');
  (groups as unknown[]).forEach((g, gi) => {
    if (g === null || typeof g !== 'object' || Array.isArray(g))
      refuse('malformed', what, `param_groups[${gi}] is not an object`);
    const p = (g as Record<string, unknown>).params;
    if (!Array.isArray(p) || !p.every(isCount))
      refuse('malformed', what, `param_groups[${gi}].params must be a list of param indices, got ${JSON.stringify(p)}`);
  });
  return groups as Record<string, unknown>[];
}

/**
 * @internal A group's options in engine names: PyTorch keys mapped to camelCase, implementation flags
 * dropped, unknown keys refused unless false or null (a feature the engine lacks, switched off).
 */
export function engineOptions(
  group: Record<string, unknown>,
  known: readonly string[],
  owner: string,
  where: string,
  what: string,
): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(group)) {
    if (k === 'params' || TORCH_ONLY.includes(k)) continue;
    const c = camel(k);
    // A switch the engine does not have, turned off (e.g. newer PyTorch's Adam writes
    // decoupled_weight_decay: false): the update is the engine's.
    if (!known.includes(c) && (v === false || v === null)) continue;
    if (!known.includes(c) || ENGINE_ONLY.includes(c)) {
      refuse(
        'layout',
        what,
        `${where} has '${k}', which ${owner} does not have (its keys: ${known
          .filter((x) => !ENGINE_ONLY.includes(x))
          .map(snake)
          .join(', ')}); load the file into the optimizer it was written for`,
      );
    }
    o[c] = v;
  }
  return o;
}

/** @internal A scalar step count from `state.<i>.step` (float or integer dtype, a non-negative integer value). */
export function readStep(t: SafetensorsTensor, name: string, what: string): number {
  if (t.data.length !== 1) refuse('layout', what, `'${name}' has shape [${t.shape.join(', ')}]; a step is a scalar`);
  if (t.dtype === 'F16' || t.dtype === 'BF16' || t.dtype === 'BOOL' || t.dtype.startsWith('F8'))
    refuse('layout', what, `'${name}' is ${t.dtype}; write the step as a float32 (or int64) scalar`);
  const v = Number(t.data[0]);
  if (!Number.isSafeInteger(v) || v < 0)
    refuse('layout', what, `'${name}' is ${v}, not a step count (a non-negative integer)`);
  return v;
}

/** @internal A float32 tensor's values, or a refusal naming it. */
export function readF32(t: SafetensorsTensor, name: string, what: string): Float32Array {
  if (t.dtype !== 'F32')
    refuse('layout', what, `'${name}' is ${t.dtype}; the engine holds float32: convert it first (tensor.float())`);
  return t.data as Float32Array;
}

/** @internal Refuses NAdam's `mu_product` when it does not follow from the step and the options. */
export function checkMuProduct(
  t: SafetensorsTensor | undefined,
  name: string,
  options: Record<string, unknown>,
  step: number,
  what: string,
): void {
  if (t === undefined) return;
  if (t.data.length !== 1 || (t.dtype !== 'F32' && t.dtype !== 'F64'))
    refuse('layout', what, `'${name}' must be a float scalar`);
  const betas = options.betas as unknown;
  const b1 = Array.isArray(betas) && typeof betas[0] === 'number' ? betas[0] : 0.9;
  const psi = typeof options.momentumDecay === 'number' ? options.momentumDecay : 4e-3;
  const want = muProduct(b1, psi, step);
  const got = Number(t.data[0]);
  // PyTorch multiplies in float32: a relative error of about one rounding per step.
  if (!(Math.abs(got - want) <= (step + 8) * 2 ** -23 * Math.abs(want) + 1e-37)) {
    refuse(
      'layout',
      what,
      `'${name}' is ${got} but step ${step} with betas[0] ${b1} and momentum_decay ${psi} give ${want}; the engine derives mu_product from the step count, so this state cannot be continued exactly`,
    );
  }
}

/**
 * Loads a safetensors file in PyTorch's flattened `state_dict()` names into `opt` (an optimizer
 * of the class named in `__metadata__.optimizer`): into one with params of the same sizes (the
 * `param.<i>` values are optional then), or into one with no params (they are created from
 * `param.<i>`, in index order, in the groups `param_groups` lists them in). Hyperparameters come
 * from `param_groups` (PyTorch keys, camelCased); options PyTorch lacks (`nonFinite`, clipping)
 * from `__metadata__.wasm_optim`, else the receiver keeps its own. Everything is checked before
 * anything changes (then `loadStateDict` checks again); a refused file throws a CheckpointError
 * and leaves `opt` as it was. Called by `Optimizer#loadSafetensors`.
 */
export function loadOptimizerSafetensors(opt: AnyOptimizer, bytes: Uint8Array | ArrayBuffer): void {
  const what = `${opt.kind}.loadSafetensors`;
  const file = decodeSafetensors(bytes, what);
  const meta = file.metadata;
  if (meta.optimizer === undefined)
    refuse('malformed', what, `__metadata__ has no 'optimizer' (the class name, e.g. '${opt.kind}')`);
  if (meta.optimizer !== opt.kind)
    refuse(
      'kind',
      what,
      `the file holds the state of ${meta.optimizer}, not ${opt.kind}; load it into a ${meta.optimizer}`,
    );
  const groups = parseGroups(meta, what);
  const eng = engineMeta(meta, what);
  // Param indices: each in exactly one group, together 0 .. n-1.
  const groupOf: number[] = [];
  groups.forEach((g, gi) => {
    for (const i of g.params as number[]) {
      if (groupOf[i] !== undefined)
        refuse('malformed', what, `param ${i} is in param_groups[${groupOf[i]}] and param_groups[${gi}]`);
      groupOf[i] = gi;
    }
  });
  const n = groupOf.length;
  for (let i = 0; i < n; i++)
    if (groupOf[i] === undefined) refuse('malformed', what, `param_groups list params up to ${n - 1} but not ${i}`);
  // Tensors: param.<i> and state.<i>.<name>, nothing else.
  const params: (SafetensorsTensor | undefined)[] = new Array(n).fill(undefined);
  const states: Record<string, SafetensorsTensor>[] = Array.from({ length: n }, () => ({}));
  for (const [name, t] of Object.entries(file.tensors)) {
    const m = /^param\.(\d+)$/.exec(name) ?? /^state\.(\d+)\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(name);
    if (!m)
      refuse(
        'layout',
        what,
        `tensor '${name}' is neither param.<i> nor state.<i>.<name>; is this an optimizer's file (a table's has 'weight')?`,
      );
    const i = Number(m[1]);
    if (String(i) !== m[1] || i >= n)
      refuse('layout', what, `tensor '${name}' names param ${m[1]}, but param_groups list params 0 to ${n - 1}`);
    if (m[2] === undefined) params[i] = t;
    else states[i][m[2]] = t;
  }
  const fresh = opt.params.length === 0;
  if (!fresh && n !== opt.params.length)
    refuse(
      'layout',
      what,
      `the file holds ${n} params but this ${opt.kind} has ${opt.params.length}; add params of the same sizes in the same order, or load into a new ${opt.kind} with no params`,
    );
  const given = params.filter((p) => p !== undefined).length;
  if (given !== n && (fresh || given !== 0)) {
    const missing = params.findIndex((p) => p === undefined);
    refuse(
      'layout',
      what,
      `tensor 'param.${missing}' is missing; ${fresh ? 'an optimizer with no params creates them from param.<i>' : 'give every param.<i> or none'}`,
    );
  }
  // Options: group 0's PyTorch keys plus the engine-only ones.
  const known = Object.keys(opt.options);
  const current = opt.options as Record<string, unknown>;
  const engOpts = (eng?.options ?? {}) as Record<string, unknown>;
  const only = Object.fromEntries(
    ENGINE_ONLY.filter((k) => known.includes(k)).map((k) => [k, k in engOpts ? engOpts[k] : current[k]]),
  );
  const groupOptions = groups.map((g, gi) => ({
    ...engineOptions(g, known, opt.kind, `param_groups[${gi}]`, what),
    ...only,
  }));
  const engGroups =
    Array.isArray(eng?.groups) && eng.groups.length === groups.length
      ? (eng.groups as Record<string, unknown>[])
      : null;
  // Per param: length, step and state tensors as the receiver's options ask.
  const lengths: number[] = [];
  const steps: number[] = [];
  const stateDicts: Record<string, Float32Array>[] = [];
  for (let i = 0; i < n; i++) {
    const p = params[i];
    const length = p ? readF32(p, `param.${i}`, what).length : opt.params[i].length;
    if (!fresh && length !== opt.params[i].length)
      refuse(
        'layout',
        what,
        `param.${i} has ${length} elements but param #${i} here has ${opt.params[i].length}; add params of the same sizes in the same order`,
      );
    const s = states[i];
    const names = Object.keys(s).filter((k) => !DERIVED_STATE.includes(k));
    let step = 0;
    const state: Record<string, Float32Array> = {};
    for (const k of names) {
      const v = readF32(s[k], `state.${i}.${k}`, what);
      if (v.length !== length)
        refuse('layout', what, `'state.${i}.${k}' has ${v.length} elements but param ${i} has ${length}`);
      if (p && s[k].shape.join() !== p.shape.join())
        refuse(
          'layout',
          what,
          `'state.${i}.${k}' has shape [${s[k].shape.join(', ')}] but param.${i} has [${p.shape.join(', ')}]`,
        );
      state[k] = v;
    }
    if (s.step !== undefined) step = readStep(s.step, `state.${i}.step`, what);
    else if (names.length > 0) {
      // PyTorch's SGD keeps no step: a momentum buffer means at least one step was taken.
      if (opt.kind === 'SGD' || opt.kind === 'SGDHD') step = 1;
      else refuse('layout', what, `'state.${i}.step' is missing beside state.${i}.${names[0]}`);
    }
    if (opt.kind === 'NAdam')
      checkMuProduct(s.mu_product, `state.${i}.mu_product`, groupOptions[groupOf[i]], step, what);
    else if (s.mu_product !== undefined)
      refuse('layout', what, `'state.${i}.mu_product' is NAdam state, not ${opt.kind}'s`);
    lengths.push(length);
    steps.push(step);
    stateDicts.push(state);
  }
  const maxStep = steps.reduce((a, b) => Math.max(a, b), 0);
  const stepCount = eng && isCount(eng.stepCount) ? eng.stepCount : maxStep;
  if (stepCount < maxStep)
    refuse('malformed', what, `__metadata__.wasm_optim.stepCount ${stepCount} is below a param's step ${maxStep}`);
  // A param with no state in the file has not stepped: its state is the optimizer's initial one.
  const dict: OptimizerStateDict = {
    kind: opt.kind,
    stepCount,
    options: groupOptions[0],
    params: stateDicts.map((state, i) => ({
      length: lengths[i],
      step: steps[i],
      state,
      ...(groupOf[i] !== 0 ? { group: groupOf[i] } : {}),
    })),
    groups: groupOptions.map((options, gi) => ({
      options,
      lrSchedule: (engGroups?.[gi]?.lrSchedule ?? null) as ParamGroupStateDict['lrSchedule'],
      schedulePosition: isCount(engGroups?.[gi]?.schedulePosition) ? (engGroups?.[gi]?.schedulePosition as number) : 0,
    })),
  };
  const expected = expectedStateNames(opt, dict);
  dict.params.forEach((ps, i) => {
    const want = expected[i];
    const got = Object.keys(ps.state);
    if (got.length === 0 && steps[i] === 0) {
      const init = opt.kind === 'Adagrad' ? Number(groupOptions[groupOf[i]].initialAccumulatorValue ?? 0) : 0;
      for (const k of want) ps.state[k] = new Float32Array(ps.length).fill(init);
      return;
    }
    if (want.slice().sort().join() !== got.slice().sort().join()) {
      refuse(
        'layout',
        what,
        `param ${i} holds state [${got.join(', ')}] in the file but its options need [${want.join(', ')}]; check amsgrad / momentum / centered in param_groups`,
      );
    }
    ps.state = Object.fromEntries(want.map((k) => [k, ps.state[k]]));
  });
  // Hand over to the checkpoint loader: it checks everything again, creates params when the
  // optimizer has none, and undoes them if anything fails.
  const data = dict.params.map((ps, i) => {
    const p = params[i];
    return p ? (p.data as Float32Array) : opt.params[i].data.slice();
  });
  const payload = { ...dict, params: dict.params.map((ps, i) => ({ ...ps, data: data[i] })) };
  try {
    loadOptimizer(opt, encodeCheckpoint(opt.kind, payload as unknown as Record<string, unknown>));
  } catch (e) {
    if (e instanceof CheckpointError)
      throw new CheckpointError(e.reason, e.message.replace(`${opt.kind}.load:`, `${what}:`));
    if (e instanceof RangeError || e instanceof TypeError) throw new CheckpointError('layout', `${what}: ${e.message}`);
    throw e;
  }
}

/**
 * The state names each param needs under the file's options, from the optimizer's own
 * declaration (its `resolve` and `stateNames`, which allocate nothing: a refused file must not
 * even grow the engine's memory).
 */
function expectedStateNames(opt: AnyOptimizer, dict: OptimizerStateDict): string[][] {
  const decl = opt as unknown as { resolve(o: object): object; stateNames(o: object): string[] };
  const groups = dict.groups as ParamGroupStateDict[];
  let names: string[][];
  try {
    names = groups.map((g) => decl.stateNames(decl.resolve(g.options)));
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError)
      return refuse('layout', `${opt.kind}.loadSafetensors`, `param_groups hold invalid options: ${e.message}`);
    throw e;
  }
  return dict.params.map((ps) => names[ps.group ?? 0]);
}
