// The control block of a thread pool in shared memory (bytes): a header, a status line per worker,
// then the chunk table. The calling thread (./pool.ts) and the workers (./worker.ts) both read
// this layout; nothing else restates it.

/** Most threads a pool may have. */
export const MAX_THREADS = 64;
/** Most chunks one call may be cut into. */
export const MAX_CHUNKS = 256;

export const H_SEQ = 0; // bumped to wake the workers
export const H_CLAIM = 4; // (end << 16) | next: chunks [next, end) are unclaimed (workers take next, the calling thread end - 1)
export const H_DONE = 8; // chunks finished
export const H_QUIT = 12; // 1: workers exit
export const H_ERR = 16; // 0, or 1 + the first chunk that threw
export const H_ERRLEN = 20;
export const H_HOT = 24; // 1 between ThreadPool.wake() and rest(): idle workers spin instead of sleeping
export const H_ERRMSG = 64; // UTF-8 message of that error, up to 128 bytes
export const WORKERS_AT = 256;
export const W_BYTES = 16;
export const W_STATUS = 0; // ST_*
export const W_FAULT = 4; // test hook: FAULTS
export const CHUNKS_AT = WORKERS_AT + MAX_THREADS * W_BYTES;
export const C_BYTES = 96;
export const C_FN = 0; // index of the export to call
export const C_NARGS = 4;
export const C_OWNER = 8; // the thread that claimed the chunk (0 = the calling thread), -1 unclaimed
export const C_STATE = 12; // CS_*
export const C_ARGS = 16; // 8 f64 arguments
export const C_RESULT = 80; // f64 result
export const CTRL_BYTES = CHUNKS_AT + MAX_CHUNKS * C_BYTES;
export const MAX_ARGS = 8;

/**
 * Longest a worker spins on H_HOT without work (ms): the pool clears it when the work it announced
 * is done, so this bounds only what a caller that never clears it costs.
 */
export const HOT_SPIN_MS = 5;

export const ST_OK = 1;
export const ST_DEAD = 3;
export const CS_PENDING = 1;
export const CS_DONE = 2;
export const CS_ERROR = 3;

/** Internal: test hooks: what a worker does in the next chunk it runs. */
export type FaultKind = 'throw' | 'exit' | 'hang';
export const FAULTS: Record<FaultKind, number> = { throw: 1, exit: 2, hang: 3 };

/** The offsets a worker needs, in the units its typed arrays index (i32 words, f64 words, bytes). */
export interface WorkerLayout {
  SEQ: number;
  CLAIM: number;
  DONE: number;
  QUIT: number;
  ERR: number;
  ERRLEN: number;
  HOT: number;
  HOT_MS: number;
  ERRMSG: number;
  WORKERS: number;
  WB: number;
  STATUS: number;
  FAULT: number;
  CHUNKS: number;
  CB: number;
  FN: number;
  NARGS: number;
  OWNER: number;
  STATE: number;
  ARGS: number;
  RESULT: number;
  OK: number;
  DEAD: number;
  CDONE: number;
  CERROR: number;
}

/** The layout as a worker reads it. */
export const WORKER_LAYOUT: WorkerLayout = {
  SEQ: H_SEQ >> 2,
  CLAIM: H_CLAIM >> 2,
  DONE: H_DONE >> 2,
  QUIT: H_QUIT >> 2,
  ERR: H_ERR >> 2,
  ERRLEN: H_ERRLEN >> 2,
  HOT: H_HOT >> 2,
  HOT_MS: HOT_SPIN_MS,
  ERRMSG: H_ERRMSG,
  WORKERS: WORKERS_AT,
  WB: W_BYTES,
  STATUS: W_STATUS >> 2,
  FAULT: W_FAULT >> 2,
  CHUNKS: CHUNKS_AT,
  CB: C_BYTES,
  FN: C_FN >> 2,
  NARGS: C_NARGS >> 2,
  OWNER: C_OWNER >> 2,
  STATE: C_STATE >> 2,
  ARGS: C_ARGS >> 3,
  RESULT: C_RESULT >> 3,
  OK: ST_OK,
  DEAD: ST_DEAD,
  CDONE: CS_DONE,
  CERROR: CS_ERROR,
};
