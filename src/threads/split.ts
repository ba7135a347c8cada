// How the pool cuts work into chunks: a table of tensor descriptors (32 bytes each: param, grad,
// three state pointers, length, hyper block, 0) into sub-tables of element ranges (elementwise
// kernels: any cut gives the same bits) or into runs of whole tensors (reductions, combined in
// tensor order); and the list kernels' job (an embedding update's unique rows, cut into ranges).
// The pool that runs the chunks is ./pool.ts.

import type { ExportName } from '../core/abi.js';

/**
 * A kernel `fn(desc, ...args)` that walks `n` items listed in arrays whose byte offsets sit in the
 * u32 words `listWords` of a `descBytes`-byte descriptor at `desc`. It must touch only what its
 * items own (an embedding update's unique rows are distinct, so its parts touch disjoint rows).
 */
export interface ListJob {
  /** The kernel. */
  fn: ExportName;
  /** Its descriptor. */
  desc: number;
  /** The descriptor's size (a multiple of 16). */
  descBytes: number;
  /** The descriptor's words that hold the byte offsets of the item lists (u32 per item). */
  listWords: readonly number[];
  /** How many items. */
  n: number;
  /** Elements of work per item. */
  work: number;
  /** The kernel's arguments after the descriptor, for a range of `count` items. */
  args: (count: number) => number[];
  /** Scales the pool's minParallelElements, for work that needs more to pay for waking a worker. Default 1. */
  minFactor?: number;
  /** Items a chunk should hold at least, when the workers are awake already (then the list is cut finer for balance). Default: by elements, as tables. */
  minItems?: number;
}

/** A sub-table of element ranges: its byte offset, its descriptors, and each one's original tensor. */
export interface ElementPart {
  at: number;
  count: number;
  origin: number[];
}

/** Total elements of a table (descriptor word 5). */
export function tableElements(u32: Uint32Array, table: number, count: number): number {
  let total = 0;
  for (let t = 0; t < count; t++) total += u32[(table >>> 2) + t * 8 + 5];
  return total;
}

/**
 * Sub-tables that cut every tensor into `parts` element ranges, written from `base` (room for
 * `(count + parts) * 32` bytes). Returns, per part, the sub-table's offset, its descriptor count, and for each descriptor the index of its tensor.
 */
export function splitElements(
  u32: Uint32Array,
  table: number,
  count: number,
  total: number,
  parts: number,
  base: number,
): ElementPart[] {
  const chunk = Math.ceil(total / parts / 16) * 16;
  const out: ElementPart[] = [];
  let w = base >>> 2;
  let t = 0;
  let off = 0; // elements of tensor t already given out
  for (let k = 0; k < parts; k++) {
    const at = w << 2;
    const origin: number[] = [];
    let room = k === parts - 1 ? Infinity : chunk;
    while (room > 0 && t < count) {
      const d = (table >>> 2) + t * 8;
      const len = u32[d + 5];
      const take = Math.min(len - off, room);
      if (take > 0 || len === 0) {
        const bytes = off * 4;
        u32[w] = u32[d] + bytes;
        u32[w + 1] = u32[d + 1] + bytes;
        for (let s = 2; s < 5; s++) u32[w + s] = u32[d + s] === 0 ? 0 : u32[d + s] + bytes;
        u32[w + 5] = take;
        u32[w + 6] = u32[d + 6];
        u32[w + 7] = u32[d + 7];
        origin.push(t);
        w += 8;
      }
      off += take;
      room -= take;
      if (off >= len) {
        t++;
        off = 0;
      }
    }
    if (origin.length > 0) out.push({ at, count: origin.length, origin });
  }
  return out;
}

/** Contiguous runs of whole tensors, up to `parts` of them, balanced by element count. */
export function splitTensors(
  u32: Uint32Array,
  table: number,
  count: number,
  total: number,
  parts: number,
): { at: number; count: number; first: number }[] {
  const out: { at: number; count: number; first: number }[] = [];
  let t = 0;
  let acc = 0;
  for (let k = 0; k < parts && t < count; k++) {
    const first = t;
    const goal = (total * (k + 1)) / parts;
    if (k === parts - 1) t = count;
    else {
      do acc += u32[(table >>> 2) + t++ * 8 + 5];
      while (t < count && acc + u32[(table >>> 2) + t * 8 + 5] / 2 <= goal);
    }
    out.push({ at: table + first * 32, count: t - first, first });
  }
  return out;
}
