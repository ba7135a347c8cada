// Tables <-> PyTorch's names in the safetensors format: a table as PyTorch holds an
// `nn.Embedding` (`weight`) and a dense optimizer over it (`state.0.*`, `param_groups`). The
// format and the shared mapping are in src/core/safetensors.ts.

import { CheckpointError } from '../core/checkpoint.js';
import {
  decodeSafetensors,
  encodeSafetensors,
  refuse,
  type SafetensorsTensor,
  type SafetensorsTensorInput,
} from '../core/safetensors.js';
import {
  checkMuProduct,
  engineMeta,
  engineOptions,
  hasState,
  parseGroups,
  putState,
  readF32,
  readStep,
  torchGroup,
} from '../core/torch-state.js';
import type { EmbeddingTable } from './table.js';
import type { AnyDeclaration } from '../core/declaration.js';
import { TABLE_OPTIMIZERS } from '../optimizers/registry.js';
import { initialTableState } from './footprint.js';
import { resolveTableOptions, type TableOptions } from './options.js';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from './half.js';
import type { EmbeddingOptimizer, EmbeddingStateDict } from './options.js';

/** The class name of a table optimizer (PyTorch's where it has one): its declaration's `name`. */
function tableClass(optimizer: EmbeddingOptimizer): string {
  return (TABLE_OPTIMIZERS.get(optimizer) as AnyDeclaration).name;
}

/**
 * The tensors and metadata of a table as PyTorch would hold an `nn.Embedding` and its optimizer:
 * `weight` (rows × dim), `state.0.<name>` (rows × dim), `state.0.step` (the update count, a
 * float32 scalar; NAdam also `state.0.mu_product`); `__metadata__` holds `format`, `optimizer`
 * (PyTorch's class name: 'Adam', 'SGD', ...), `param_groups` (one group, `params: [0]`) and
 * `wasm_optim` (the table's optimizer, mode, shape, update count and `nonFinite`). Exact mode
 * is flushed first. Called by `Embedding#saveSafetensors`.
 */
export function saveEmbeddingSafetensors(emb: EmbeddingTable): Uint8Array {
  const what = 'Embedding.saveSafetensors';
  const dict = emb.stateDict();
  const shape = [dict.rows, dict.dim];
  // A lean table's weights in their stored dtype (its decoded values are exactly representable).
  const wt = (emb as { weightType?: string }).weightType ?? 'f32';
  const weight: SafetensorsTensorInput =
    wt === 'bf16'
      ? { dtype: 'BF16', shape, data: f32ToBf16(dict.weights) }
      : wt === 'f16'
        ? { dtype: 'F16', shape, data: f32ToF16(dict.weights) }
        : { dtype: 'F32', shape, data: dict.weights };
  const tensors: Record<string, SafetensorsTensorInput> = { weight };
  const kind = tableClass(dict.optimizer);
  if (hasState(kind, dict.stepCount)) {
    putState(tensors, 'state.0', kind, dict.options, dict.stepCount, shape, dict.state, what);
    // A per-row accumulator (rowwiseAdagrad's sum, partialRowwiseAdam's exp_avg_sq) has shape [rows], as FBGEMM's momentum1.
    for (const [k, v] of Object.entries(dict.state))
      if (v.length === dict.rows && dict.dim !== 1) tensors[`state.0.${k}`].shape = [dict.rows];
  }
  return encodeSafetensors(tensors, {
    format: 'pt',
    optimizer: kind,
    param_groups: JSON.stringify([{ ...torchGroup(dict.options), params: [0] }]),
    wasm_optim: JSON.stringify({
      kind: 'Embedding',
      optimizer: dict.optimizer,
      mode: dict.mode,
      rows: dict.rows,
      dim: dict.dim,
      stepCount: dict.stepCount,
      options: { nonFinite: dict.options.nonFinite },
    }),
  });
}

/**
 * Loads a table's safetensors file (from `saveSafetensors`, or written from PyTorch with the same
 * names) into `emb`: same rows and dim, the optimizer named in `__metadata__.optimizer`. The
 * hyperparameters come from `param_groups`; the update count from `state.0.step` (no state: 0).
 * Everything is checked before anything changes; a refused file throws a CheckpointError and
 * leaves the table as it was. Called by `Embedding#loadSafetensors`.
 */
export function loadEmbeddingSafetensors(emb: EmbeddingTable, bytes: Uint8Array | ArrayBuffer): void {
  const what = 'Embedding.loadSafetensors';
  const file = decodeSafetensors(bytes, what);
  const meta = file.metadata;
  const kind = tableClass(emb.optimizer);
  if (meta.optimizer === undefined)
    refuse('malformed', what, `__metadata__ has no 'optimizer' (the class name, e.g. '${kind}')`);
  if (meta.optimizer !== kind)
    refuse(
      'kind',
      what,
      `the file holds the state of ${meta.optimizer}, but this table uses '${emb.optimizer}' (${kind}); create the table with that optimizer`,
    );
  const groups = parseGroups(meta, what);
  if (groups.length !== 1 || (groups[0].params as number[]).join() !== '0')
    refuse(
      'layout',
      what,
      `a table's file has one param group with params [0], this one has ${JSON.stringify(groups.map((g) => g.params))}`,
    );
  const eng = engineMeta(meta, what);
  const known = Object.keys(emb.options);
  const engOpts = (eng?.options ?? {}) as Record<string, unknown>;
  const options: Record<string, unknown> = {
    ...engineOptions(groups[0], known, `a '${emb.optimizer}' table`, 'param_groups[0]', what),
    nonFinite: 'nonFinite' in engOpts ? engOpts.nonFinite : emb.options.nonFinite,
  };
  const shape = `${emb.rows},${emb.dim}`;
  const state: Record<string, Float32Array> = {};
  let weights: Float32Array | null = null;
  let step: number | null = null;
  let mu: SafetensorsTensor | undefined;
  for (const [name, t] of Object.entries(file.tensors)) {
    if (name === 'weight')
      weights =
        t.dtype === 'BF16'
          ? bf16ToF32(t.data as Uint16Array)
          : t.dtype === 'F16'
            ? f16ToF32(t.data as Uint16Array)
            : readF32(t, name, what);
    else if (name === 'state.0.step') step = readStep(t, name, what);
    else if (name === 'state.0.mu_product' && emb.optimizer === 'nadam') mu = t;
    else if (name.startsWith('state.0.')) state[name.slice(8)] = readF32(t, name, what);
    else
      refuse(
        'layout',
        what,
        `tensor '${name}' is neither weight nor state.0.<name>; is this an optimizer's file (load it with Optimizer#loadSafetensors)?`,
      );
    const rowWise = name.startsWith('state.0.') && t.shape.join() === `${emb.rows}`; // a per-row accumulator
    if (name !== 'state.0.step' && name !== 'state.0.mu_product' && t.shape.join() !== shape && !rowWise) {
      refuse('layout', what, `'${name}' has shape [${t.shape.join(', ')}] but this table is ${emb.rows} x ${emb.dim}`);
    }
  }
  if (weights === null) refuse('layout', what, "tensor 'weight' is missing");
  const names = Object.keys(state);
  // PyTorch's SGD keeps no step: a momentum buffer means at least one step was taken.
  if (step === null && names.length > 0 && emb.optimizer !== 'sgd')
    refuse('layout', what, `'state.0.step' is missing beside state.0.${names[0]}`);
  const stepCount = step ?? (names.length > 0 ? 1 : 0);
  if (emb.optimizer === 'nadam') checkMuProduct(mu, 'state.0.mu_product', options, stepCount, what);
  // No state in the file: the table has not stepped; its state is the initial one.
  if (names.length === 0) {
    const decl = TABLE_OPTIMIZERS.get(emb.optimizer) as AnyDeclaration;
    let opts: TableOptions;
    try {
      opts = resolveTableOptions(decl, options, what);
    } catch (e) {
      throw new CheckpointError('layout', `${what}: ${(e as Error).message}`);
    }
    Object.assign(state, initialTableState(decl, opts, emb.rows, emb.dim));
  }
  const dict: EmbeddingStateDict = {
    kind: 'Embedding',
    rows: emb.rows,
    dim: emb.dim,
    optimizer: emb.optimizer,
    mode: emb.mode,
    stepCount,
    options,
    weights: weights as Float32Array,
    state,
  };
  const extra = Object.keys(state).filter((k) => !emb.stateKeys.includes(k));
  if (extra.length > 0)
    refuse(
      'layout',
      what,
      `the file holds state [${Object.keys(state).join(', ')}] but this table holds [${emb.stateKeys.join(', ')}]; create the table with the options in param_groups (${meta.param_groups})`,
    );
  try {
    emb.loadStateDict(dict); // checks options, state names and lengths before it changes anything
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError) throw new CheckpointError('layout', `${what}: ${e.message}`);
    throw e;
  }
}
