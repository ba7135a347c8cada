// The checks every table makes of what it is asked to restore, before anything changes: a state
// dict (its kind, shape, optimizer, step count, options, the state they need, each tensor's type
// and size) and a checkpoint's header (its shape, optimizer, mode, options, state names and step
// count). The shapes come from the optimizer's declaration; the tensors' sizes from the table's
// storage (a tensor is `rows * width`, width `dim` or 1 for a per-row slot). The tables write what
// passed in their own storage (./local.ts, ./lean.ts); a sharded table checks the whole before
// handing each shard its rows (./sharded.ts).

import { CheckpointError, decodeCheckpoint } from '../core/checkpoint.js';
import { stateNames, type AnyDeclaration } from '../core/declaration.js';
import { TABLE_MAX_STEPS } from '../core/limits.js';
import { checkKnownKeys, describe } from '../core/options.js';
import { resolveTableOptions, type EmbeddingOptimizer, type EmbeddingStateDict, type TableOptions } from './options.js';

/** @internal What the checks need to know of a table. */
export interface PersistedTable {
  readonly rows: number;
  readonly dim: number;
  readonly optimizer: EmbeddingOptimizer;
  readonly stateKeys: readonly string[];
}

/** @internal The kind and shape of a state dict against a table's (a TypeError or RangeError that says which). */
export function checkStateDictShape(what: string, dict: EmbeddingStateDict, t: PersistedTable): void {
  if (dict === null || typeof dict !== 'object')
    throw new TypeError(`${what}: expected a state dict object, got ${describe(dict)}`);
  if (dict.kind !== 'Embedding')
    throw new TypeError(`${what}: the state dict is for ${String(dict.kind)}, not an Embedding`);
  if (dict.rows !== t.rows || dict.dim !== t.dim)
    throw new RangeError(
      `${what}: the state dict is for a ${dict.rows} x ${dict.dim} table, this one is ${t.rows} x ${t.dim}`,
    );
}

/** @internal Each `[name, tensor, floats]` must be a Float32Array of that many floats. */
export function checkTensors(what: string, tensors: readonly [string, unknown, number][]): void {
  for (const [name, t, size] of tensors) {
    if (!(t instanceof Float32Array))
      throw new TypeError(`${what}: '${name}' must be a Float32Array, got ${describe(t)}`);
    if (t.length !== size) throw new RangeError(`${what}: '${name}' has ${t.length} floats, the table needs ${size}`);
  }
}

/**
 * @internal Checks a state dict for table `t` (declaration `decl`; `widthOf(i)` values per row of state
 * slot i): everything but the values themselves. Returns the options it holds, resolved.
 */
export function checkStateDict(
  what: string,
  dict: EmbeddingStateDict,
  t: PersistedTable,
  decl: AnyDeclaration,
  widthOf: (i: number) => number,
): TableOptions {
  checkStateDictShape(what, dict, t);
  if (dict.optimizer !== t.optimizer)
    throw new TypeError(
      `${what}: the state dict uses optimizer '${String(dict.optimizer)}', this table '${t.optimizer}'`,
    );
  if (!Number.isSafeInteger(dict.stepCount) || dict.stepCount < 0 || dict.stepCount > TABLE_MAX_STEPS)
    throw new RangeError(`${what}: bad stepCount ${dict.stepCount} (an integer in [0, ${TABLE_MAX_STEPS}])`);
  const given = (dict.options ?? {}) as Record<string, unknown>;
  checkKnownKeys(what, given, decl.options);
  const opts = resolveTableOptions(decl, given, what);
  const names = stateNames(decl, opts);
  if (names.join() !== t.stateKeys.join())
    throw new RangeError(
      `${what}: the state dict's options need state [${names.join(', ')}] but this table holds [${t.stateKeys.join(', ')}]; create it with the same options`,
    );
  checkTensors(what, [
    ['weights', dict.weights, t.rows * t.dim],
    ...names.map((k, i): [string, unknown, number] => [`state.${k}`, dict.state?.[k], t.rows * widthOf(i)]),
  ]);
  return opts;
}

/** @internal A checkpoint's payload, checked against a table, with what it needs to restore it. */
export interface CheckedCheckpoint {
  /** The decoded payload. */
  readonly p: Record<string, unknown>;
  /** The options it holds, resolved. */
  readonly opts: TableOptions;
  /** Its state tensors by name (in the table's order). */
  readonly state: Record<string, unknown>;
  /** Its update count. */
  readonly steps: number;
  /** Throws the CheckpointError of a malformed checkpoint. */
  readonly malformed: (why: string) => never;
}

/**
 * @internal Decodes a table's checkpoint and checks its header against table `t` (declaration `decl`): the
 * shape, optimizer and mode (CheckpointError 'malformed', 'kind', 'layout'), the options
 * (`checkOptions` may refuse them too) and the names of the state tensors. The tensors are the
 * caller's to check.
 */
export function checkCheckpoint(
  what: string,
  bytes: Uint8Array | ArrayBuffer,
  t: PersistedTable & { readonly mode: string },
  decl: AnyDeclaration,
  checkOptions: (opts: TableOptions) => void = () => {},
): CheckedCheckpoint {
  const p = decodeCheckpoint(bytes, 'Embedding', what).payload as Record<string, unknown>;
  const malformed = (why: string): never => {
    throw new CheckpointError('malformed', `${what}: the checkpoint is malformed (${why}) although its checksum holds`);
  };
  const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
  if (
    !isCount(p.rows) ||
    !isCount(p.dim) ||
    !isCount(p.stepCount) ||
    typeof p.optimizer !== 'string' ||
    typeof p.mode !== 'string'
  )
    malformed('no shape, optimizer, mode or step count');
  if (p.optimizer !== t.optimizer)
    throw new CheckpointError(
      'kind',
      `${what}: the checkpoint holds an Embedding trained with optimizer '${String(p.optimizer)}', this table uses '${t.optimizer}'; create the table with optimizer '${String(p.optimizer)}' (or use Embedding.fromCheckpoint)`,
    );
  if (p.rows !== t.rows || p.dim !== t.dim || p.mode !== t.mode)
    throw new CheckpointError(
      'layout',
      `${what}: the checkpoint holds a ${String(p.rows)} x ${String(p.dim)} table in mode '${String(p.mode)}', this one is ${t.rows} x ${t.dim} in mode '${t.mode}'; create the table with the same shape and mode (or use Embedding.fromCheckpoint)`,
    );
  let opts: TableOptions;
  try {
    const given = (p.options ?? {}) as Record<string, unknown>;
    checkKnownKeys(what, given, decl.options);
    opts = resolveTableOptions(decl, given, what);
    checkOptions(opts);
  } catch (e) {
    return malformed(`its options are invalid: ${(e as Error).message}`);
  }
  const names = stateNames(decl, opts);
  const state = (p.state ?? {}) as Record<string, unknown>;
  if (names.join() !== t.stateKeys.join() || Object.keys(state).join() !== names.join())
    throw new CheckpointError(
      'layout',
      `${what}: the checkpoint holds state [${Object.keys(state).join(', ')}] but this table holds [${t.stateKeys.join(', ')}]; create the table with the options it was saved with (see inspectCheckpoint)`,
    );
  const steps = p.stepCount as number;
  if (steps > TABLE_MAX_STEPS) malformed(`its update count ${steps} is beyond the limit of ${TABLE_MAX_STEPS}`);
  return { p, opts, state, steps, malformed };
}
