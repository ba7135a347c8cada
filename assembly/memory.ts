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

/** 1 when this build uses 128-bit SIMD kernels, 0 for the scalar build. */
export function simdEnabled(): i32 {
  return ASC_FEATURE_SIMD ? 1 : 0;
}
