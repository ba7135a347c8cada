// Raw allocation over the runtime's TLSF allocator (16-byte aligned blocks, freed blocks are
// reused and coalesced with free neighbours). The TypeScript side owns every block it gets.

/** Allocates `bytes` bytes, 16-byte aligned. Grows memory when needed; traps when it cannot. */
export function alloc(bytes: usize): usize {
  return heap.alloc(bytes);
}

/** Returns a block from `alloc` to the allocator. */
export function free(ptr: usize): void {
  heap.free(ptr);
}

/** Shrinks a block from `alloc` to `bytes` in place (the allocator takes back the rest); returns
 *  `ptr` (0 if the allocator moved it, which it does not do when shrinking). */
export function shrink(ptr: usize, bytes: usize): usize {
  const out = heap.realloc(ptr, bytes);
  return out == ptr ? ptr : 0;
}

/** 1 when this build uses 128-bit SIMD kernels, 0 for the scalar build. */
export function simdEnabled(): i32 {
  return ASC_FEATURE_SIMD ? 1 : 0;
}
