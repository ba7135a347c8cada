// How a lean table stores a row: the storage types (16-bit weights, 16/8-bit state), their codes
// in the kernels, and the byte layout of a row's record (weights, int8's absmax words, per-row
// slots, per-element state). The table itself is ./lean.ts; the kernels assembly/embedding/storage.ts.
// Formats: docs/lean-storage.md.

import { SLOT as S } from '../core/abi.js';
import { stateNames, type AnyDeclaration, type CommonResolved } from '../core/declaration.js';
import { checkChoice } from '../core/options.js';

/** How a table stores its weights: float32, IEEE half (`'f16'`) or bfloat16 (`'bf16'`). */
export type WeightType = 'f32' | 'f16' | 'bf16';
/** How a table stores its optimizer state: float32, bfloat16, or int8 codes of a dynamic map with one absmax per row. */
export type StateType = 'f32' | 'bf16' | 'int8';

/** The weight types, in the order of the kernels' codes. */
export const WEIGHT_TYPES: readonly WeightType[] = ['f32', 'f16', 'bf16'];
/** The state types. */
export const STATE_TYPES: readonly StateType[] = ['f32', 'bf16', 'int8'];

/** @internal State tensors that may be negative take the signed map; the others (second moments, sums) the unsigned one. */
export const SIGNED_STATE = new Set(['exp_avg', 'momentum_buffer']);

/** @internal The kernels' code of a weight type. */
export const wtCode = (t: WeightType): number => (t === 'f32' ? S.LEAN_F32 : t === 'f16' ? S.LEAN_F16 : S.LEAN_BF16);
/** @internal The kernels' code of a state type. */
export const stCode = (t: StateType): number => (t === 'f32' ? S.LEAN_F32 : t === 'bf16' ? S.LEAN_BF16 : S.LEAN_INT8);
/** @internal Bytes of one stored weight. */
export const wBytes = (t: WeightType): number => (t === 'f32' ? 4 : 2);
/** @internal Bytes of one stored per-element state value (int8: its absmax word aside). */
export const sBytes = (t: StateType): number => (t === 'f32' ? 4 : t === 'bf16' ? 2 : 1);
const ceil4 = (n: number): number => Math.ceil(n / 4) * 4;

/** The byte layout of one row's record. */
export interface LeanLayout {
  /** Bytes of one row: weights, absmax words (int8), per-row slots, per-element state. */
  record: number;
  /** Each state tensor's byte offset in the record, in slot order. */
  stateOffsets: number[];
  /** Each state tensor's absmax word's byte offset (int8 per-element tensors; else -1). */
  absmaxOffsets: number[];
  /** Each state tensor's width: `dim`, or its own (a per-row slot, kept as float32). */
  widths: number[];
}

/**
 * The record layout of a row of `dim` weights of type `wt` with state tensors of type `st`: `states`
 * is their number (each `dim` wide) or their widths (a width other than `dim` is a per-row slot,
 * stored as float32). Weights, padded to 4 bytes; one float32 absmax per int8 tensor; the per-row
 * slots; the per-element tensors; padded to 4 bytes.
 */
export function leanLayout(dim: number, states: number | readonly number[], wt: WeightType, st: StateType): LeanLayout {
  const widths = typeof states === 'number' ? Array.from({ length: states }, () => dim) : [...states];
  let at = ceil4(dim * wBytes(wt));
  const absmaxOffsets = widths.map((w) => (st === 'int8' && w === dim ? (at += 4) - 4 : -1));
  const stateOffsets = widths.map(() => 0);
  widths.forEach((w, i) => {
    if (w !== dim) stateOffsets[i] = (at += 4 * w) - 4 * w;
  });
  widths.forEach((w, i) => {
    if (w === dim) stateOffsets[i] = (at += dim * sBytes(st)) - dim * sBytes(st);
  });
  return { record: ceil4(at), stateOffsets, absmaxOffsets, widths };
}

/** @internal The checked `weightType` and `stateType` of table options (defaults 'f32'). */
export function resolveStorage(options: { weightType?: unknown; stateType?: unknown }): {
  weightType: WeightType;
  stateType: StateType;
} {
  return {
    weightType: checkChoice('Embedding', 'weightType', options.weightType ?? 'f32', WEIGHT_TYPES),
    stateType: checkChoice('Embedding', 'stateType', options.stateType ?? 'f32', STATE_TYPES),
  };
}

/**
 * @internal The record layout of a table with declaration `d` and options `o`: per-row slots (a declaration's
 * `rowState`, e.g. row-wise Adagrad's sum) are one float32 a row, the others `dim` values.
 */
export function leanTableLayout(
  d: AnyDeclaration,
  o: CommonResolved,
  dim: number,
  wt: WeightType,
  st: StateType,
): LeanLayout {
  const rowState = d.rowState ?? [];
  return leanLayout(
    dim,
    stateNames(d, o).map((n) => (rowState.includes(n) ? 1 : dim)),
    wt,
    st,
  );
}

/** @internal True when these options store a table in lean records (`weightType` or `stateType` other than 'f32'). */
export function isLean(options: { weightType?: unknown; stateType?: unknown }): boolean {
  const s = resolveStorage(options);
  return s.weightType !== 'f32' || s.stateType !== 'f32';
}
