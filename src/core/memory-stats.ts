import { getEngine, type Engine } from './engine.js';

/** How much engine memory is in use (see `memoryStats()`). */
export interface MemoryStats {
  /** Bytes in live blocks (params, state, tables, hyperparameter blocks), as requested. */
  bytesInUse: number;
  /** Number of live blocks. */
  blocksInUse: number;
  /** Size of the engine's WebAssembly memory. It grows on demand and never shrinks; freed
   *  blocks are reused (and merged with free neighbours) by later allocations. */
  memoryBytes: number;
}

/**
 * The engine's memory in use: live bytes and blocks, and the size of its WebAssembly memory.
 * Without an argument it reports the engine `init()` created (and throws if there is none yet).
 * After every optimizer and table is disposed, `bytesInUse` and `blocksInUse` are back to 0.
 */
export function memoryStats(engine?: Engine): MemoryStats {
  const e = engine ?? getEngine();
  const s = e.memoryStats();
  return { bytesInUse: s.bytesInUse, blocksInUse: s.blocksInUse, memoryBytes: s.memoryBytes };
}
