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

/** A chunk job as the pool runs it (ThreadJob in ./pool.ts). */
interface Job {
  fn: ExportName;
  args: number[];
}

/**
 * The chunks of a list kernel (ThreadPool.runList): `parts` contiguous item ranges, each with a
 * copy of the descriptor at `scratch + k * descBytes` whose list offsets are advanced to its range.
 */
export function listJobs(
  u32: Uint32Array,
  job: Pick<ListJob, 'fn' | 'desc' | 'descBytes' | 'listWords' | 'n' | 'args'>,
  parts: number,
  scratch: number,
): Job[] {
  const { fn, desc, descBytes, listWords, n, args } = job;
  const u8 = new Uint8Array(u32.buffer);
  const jobs: Job[] = [];
  for (let k = 0; k < parts; k++) {
    const from = Math.floor((n * k) / parts);
    const to = Math.floor((n * (k + 1)) / parts);
    const copy = scratch + k * descBytes;
    u8.copyWithin(copy, desc, desc + descBytes);
    for (const w of listWords) u32[(copy >>> 2) + w] = u32[(desc >>> 2) + w] + from * 4;
    jobs.push({ fn, args: [copy, ...args(to - from)] });
  }
  return jobs;
}

/**
 * The pool's last element split and its chunk jobs, reused while nothing they depend on changed:
 * the same table (its descriptor words compared: pointers, lengths, hyper blocks), the same number
 * of parts and the same scratch, which then still holds exactly the sub-tables a new split would
 * write. A dense step of a training loop splits the same table every step: this skips the split,
 * the jobs' allocation and (with `owns`) rewriting the chunks into the control block. The calls it
 * saves run on the calling thread before the workers start, with caches that the previous
 * memory-bound step flushed (docs/threads.md, "Measured").
 */
export class SplitMemo {
  private table = -1;
  private parts = 0;
  private base = 0;
  private words = new Uint32Array(0);
  private result: ElementPart[] = [];
  private readonly jobs = new Map<string, Job[]>();

  /** splitElements(u32, table, count, total, parts, base), or the previous result when it would be the same. */
  split(u32: Uint32Array, table: number, count: number, total: number, parts: number, base: number): ElementPart[] {
    const w = table >>> 2;
    const words = this.words;
    let same = this.table === table && this.parts === parts && this.base === base && words.length === count * 8;
    for (let i = 0; same && i < words.length; i++) same = u32[w + i] === words[i];
    if (same) return this.result;
    this.result = splitElements(u32, table, count, total, parts, base);
    this.table = table;
    this.parts = parts;
    this.base = base;
    this.words = u32.slice(w, w + count * 8);
    this.jobs.clear();
    return this.result;
  }

  /** The jobs `fn(sub-table, count)` over `split` (a result of split()): one array per split and kernel. */
  jobsFor(fn: ExportName, split: readonly { at: number; count: number }[]): Job[] {
    const known = split === this.result ? this.jobs.get(fn) : undefined;
    if (known !== undefined) return known;
    const jobs = split.map((p) => ({ fn, args: [p.at, p.count] }));
    if (split === this.result) this.jobs.set(fn, jobs);
    return jobs;
  }

  /** True when `jobs` is an array jobsFor() keeps (never a caller's: its contents are fixed). */
  owns(jobs: readonly Job[]): boolean {
    return jobs.length > 0 && this.jobs.get(jobs[0].fn) === jobs;
  }

  /** Forgets the split (the scratch it lives in is freed or rewritten). */
  clear(): void {
    this.table = -1;
    this.words = new Uint32Array(0);
    this.result = [];
    this.jobs.clear();
  }
}
