// A table row's footprint: where each optimizer state tensor sits in the row's state block and how
// many bytes a row takes (weights + state). One small function of the element sizes, so that other
// storage types (16-bit weights, 8-bit state) plug in their sizes here.

import { stateNames, type AnyDeclaration, type CommonResolved } from '../core/declaration.js';

/** One optimizer state tensor of a table: its name and floats per row (`dim`, or 1 for a per-row slot). */
export interface TableStateSlot {
  /** The state tensor's name (`exp_avg`, `sum`, ...). */
  readonly name: string;
  /** Values per row: `dim` for a per-element tensor, 1 for a per-row one (`rowState`). */
  readonly width: number;
}

/** A table row's footprint in bytes (see `rowFootprint`). */
export interface RowFootprint {
  /** Bytes of one row's weights. */
  readonly weightBytes: number;
  /** Bytes of one row's optimizer state (the state block's row stride). */
  readonly stateBytes: number;
  /** `weightBytes + stateBytes`. */
  readonly bytesPerRow: number;
  /** Byte offset of each state slot within the row's state block, in slot order. */
  readonly stateOffsets: readonly number[];
}

/** The state slots of a table with declaration `d` and options `o`, in kernel slot order. */
export function tableStateSlots(d: AnyDeclaration, o: CommonResolved, dim: number): TableStateSlot[] {
  const perRow = d.rowState ?? [];
  return stateNames(d, o).map((name) => ({ name, width: perRow.includes(name) ? 1 : dim }));
}

/**
 * The bytes a row of `dim` weights and these state slots takes, for weights of `weightElementBytes`
 * and state of `stateElementBytes` bytes an element (float32: 4 and 4). Slots are packed in order
 * with no padding. Adam (two per-element slots), 64-dim float32: 256 + 512 = 768 bytes.
 */
export function rowFootprint(
  dim: number,
  slots: readonly Pick<TableStateSlot, 'width'>[],
  weightElementBytes = 4,
  stateElementBytes = 4,
): RowFootprint {
  const stateOffsets: number[] = [];
  let stateBytes = 0;
  for (const s of slots) {
    stateOffsets.push(stateBytes);
    stateBytes += s.width * stateElementBytes;
  }
  const weightBytes = dim * weightElementBytes;
  return { weightBytes, stateBytes, bytesPerRow: weightBytes + stateBytes, stateOffsets };
}

/** A table's footprint in engine memory (`Embedding#memoryStats`). */
export interface TableMemoryStats {
  /** Number of rows. */
  rows: number;
  /** Bytes of one row's weights. */
  weightBytesPerRow: number;
  /** Bytes of one row's optimizer state. */
  stateBytesPerRow: number;
  /** Bytes of one row in all (`Embedding#bytesPerRow`). */
  bytesPerRow: number;
  /** `rows * bytesPerRow`: the weights and state blocks (scratch buffers not counted). */
  tableBytes: number;
}

/** The state tensors of a table that has not stepped (each row filled by the declaration's `initState`), by name. */
export function initialTableState(
  d: AnyDeclaration,
  o: CommonResolved,
  rows: number,
  dim: number,
): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const { name, width } of tableStateSlots(d, o, dim)) {
    const row = new Float32Array(width);
    d.initState?.(name, row, o);
    const t = new Float32Array(rows * width);
    if (row.some((v) => v !== 0)) for (let r = 0; r < rows; r++) t.set(row, r * width);
    out[name] = t;
  }
  return out;
}
