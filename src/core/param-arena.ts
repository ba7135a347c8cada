import type { Engine } from './engine.js';

/**
 * Bytes of an optimizer's first chunk per tensor kind (or twice its first tensor, if larger);
 * each new chunk doubles the last one (as trimmed) or the tensor, up to CHUNK_MAX. Small, so that a small
 * optimizer stays small: a 3-float Adam param holds 4 x 256 bytes, not 4 x 64 KiB, and thousands
 * of tiny optimizers fit in the engine. Many small params still land in few chunks (the sizes
 * grow geometrically: 4096 params of 1K floats take a dozen chunks per kind).
 */
const CHUNK_MIN = 256;
/**
 * The largest chunk (4 MiB: a million floats). A step's stream of one tensor kind restarts once
 * per chunk, which costs nothing at that length, and a chunk's unused tail is at most this.
 */
const CHUNK_MAX = 4 * 1024 * 1024;

interface Chunk {
  ptr: number;
  /** Bytes usable for tensors from ptr (the leading guard included, the trailing one not). */
  size: number;
  used: number;
  /** Spare bytes at each end (16 with the engine's poisonFreed debug option, else 0). */
  guard: number;
}

/** @internal where an arena stood before a `take` (to undo it with `rollback`). */
export interface ArenaMark {
  readonly chunks: readonly number[];
  readonly used: readonly number[];
  readonly solo: number;
}

/**
 * @internal Where an optimizer's tensors live: one arena per tensor kind (slot 0 the values,
 * 1 the gradients, 2.. each optimizer state), so that the values of consecutive params sit one
 * after the other in memory, their gradients likewise, and so on.
 *
 * Why: a step reads each kind as one stream. With a block per param (values, gradient, state side
 * by side) every param boundary jumps all the streams to a new place and the CPU's prefetchers
 * start again; 500 params of 8K floats then stepped in 1.16-1.18x the time of one 4M param here,
 * 4096 params of 1K floats in 1.39x. With each kind contiguous both are 0.99-1.00x (measured
 * on this project's benchmark machine, AMD EPYC, with the kernel called directly).
 *
 * Every chunk is an engine block (zeroed by `Engine.alloc`, 16-byte aligned); a tensor's stride
 * is a multiple of 16 bytes, so every tensor stays 16-byte aligned. A tensor larger than half the
 * largest chunk gets a block of its own. Chunks are freed together by `release()`.
 */
export class ParamArena {
  private readonly kinds: Chunk[][] = [];
  /** Blocks of one tensor each (tensors larger than half the next chunk). */
  private readonly solo: number[] = [];
  private readonly engine: Engine;

  constructor(engine: Engine) {
    this.engine = engine;
  }

  /**
   * Byte offsets of `slots` tensors of `stride` bytes (or `stride[k]` for kind k: state stored in
   * fewer bits), one from each kind 0..slots-1. On an allocation failure nothing is kept (the chunks
   * this call made are freed) and the error is rethrown.
   */
  take(stride: number | readonly number[], slots: number): number[] {
    const mark = this.mark();
    try {
      const out: number[] = [];
      for (let k = 0; k < slots; k++) out.push(this.takeOne(k, typeof stride === 'number' ? stride : stride[k]));
      return out;
    } catch (e) {
      this.rollback(mark);
      throw e;
    }
  }

  private takeOne(kind: number, stride: number): number {
    while (this.kinds.length <= kind) this.kinds.push([]);
    const chunks = this.kinds[kind];
    const last = chunks[chunks.length - 1];
    if (last !== undefined && last.size - last.used >= stride) {
      const at = last.ptr + last.used;
      last.used += stride;
      return at;
    }
    // With the engine's poisonFreed debug option, 16 spare bytes at each end of a block: the
    // allocator keeps its free-list links there once the block is freed, so every float of every
    // tensor can read NaN after dispose (see Engine.free).
    const guard = this.engine.poisonFreed ? 16 : 0;
    if (stride > CHUNK_MAX / 2) {
      // A block of its own (at this length a stream's restart costs nothing); the current chunk
      // stays current for the smaller tensors.
      const ptr = this.engine.alloc(stride + 2 * guard);
      this.solo.push(ptr);
      return ptr + guard;
    }
    // Twice the tensor or the last chunk (strides here are at most CHUNK_MAX / 2).
    const next = Math.min(CHUNK_MAX, Math.max(CHUNK_MIN, 2 * stride, 2 * (last?.size ?? 0)));
    if (last !== undefined) this.trimChunk(last);
    const ptr = this.engine.alloc(next + 2 * guard);
    chunks.push({ ptr, size: next + guard, used: guard + stride, guard });
    return ptr + guard;
  }

  /**
   * Gives the unused tail of each kind's current chunk back to the engine (the optimizer calls
   * this when a step follows new params); later params start new chunks.
   */
  trim(): void {
    for (const chunks of this.kinds) {
      const last = chunks[chunks.length - 1];
      if (last !== undefined) this.trimChunk(last);
    }
  }

  private trimChunk(c: Chunk): void {
    if (c.used < c.size) {
      this.engine.shrink(c.ptr, c.used + c.guard);
      c.size = Math.max(16, c.used);
    }
  }

  /** Where the arena stands now. */
  mark(): ArenaMark {
    return {
      chunks: this.kinds.map((c) => c.length),
      used: this.kinds.map((c) => c[c.length - 1]?.used ?? 0),
      solo: this.solo.length,
    };
  }

  /**
   * Gives back everything taken since `mark` (the chunks made since are freed; space taken in the
   * chunks that were current then is reused, and is zeroed again first).
   */
  rollback(mark: ArenaMark): void {
    for (const ptr of this.solo.splice(mark.solo)) this.engine.free(ptr);
    this.kinds.forEach((chunks, k) => {
      const keep = mark.chunks[k] ?? 0;
      for (const c of chunks.splice(keep)) this.engine.free(c.ptr);
      const current = chunks[keep - 1];
      const used = mark.used[k] ?? 0;
      if (current !== undefined && current.used > used) {
        this.engine.heapF32.fill(0, (current.ptr + used) >>> 2, (current.ptr + current.used) >>> 2);
        current.used = used;
      }
    });
  }

  /** Frees every chunk. */
  release(): void {
    for (const chunks of this.kinds) for (const c of chunks) this.engine.free(c.ptr);
    for (const ptr of this.solo) this.engine.free(ptr);
    this.kinds.length = 0;
    this.solo.length = 0;
  }
}
