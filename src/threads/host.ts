// What the pool needs from its host besides the module: the worker handles of Node and browsers,
// whether the calling thread may block in Atomics.wait, and calling an export by name (./pool.ts).

import type { ExportName } from '../core/abi.js';
import type { Engine } from '../core/engine.js';

/** Calls export `fn` of the engine's module with numeric arguments (a job's kernel). */
export function callExport(engine: Engine, fn: ExportName, args: readonly number[]): number {
  const r = (engine.exports[fn] as (...a: number[]) => unknown)(...args);
  return typeof r === 'number' ? r : 0;
}

/** The part of Node's `worker_threads.Worker` the pool uses (the package does not depend on @types/node). */
export interface NodeWorker {
  postMessage(m: unknown): void;
  terminate(): Promise<number>;
  unref(): void;
  once(event: 'message', f: (m: unknown) => void): void;
  once(event: 'error', f: (e: Error) => void): void;
  once(event: 'exit', f: (code: number) => void): void;
}
/** Node's `Worker` constructor, as the pool calls it (an eval'd script and its workerData). */
export type NodeWorkerClass = new (code: string, options: { eval: true; workerData: unknown }) => NodeWorker;

/** A worker of either host: what the pool does with it after start-up. */
export interface WorkerHandle {
  postMessage(m: unknown): void;
  terminate(): unknown;
}

/** True where the calling thread may block in Atomics.wait (not a browser page's main thread). */
export function mainCanBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false; // a browser page's main thread: spin instead
  }
}
