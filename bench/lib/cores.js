// How far apart the two cores a threaded contender runs on are: the round trip of one cache line
// between two threads (a store on one, seen by a load on the other and answered). On one chip a
// line passes between cores that share an L3 in tens of nanoseconds (a round trip of the order of 100 ns);
// between cores on different dies (AMD's CCDs) or sockets it goes through the fabric (several hundred;
// measured here, AMD EPYC family 26 model 2, 2026-12-06: 345-800 ns).
// A VM's vCPUs may sit on either and move between them, which the plain-loop machine check
// (groups/threads.js twoThreadScaling: no shared data) cannot see, but which decides whether a
// worker's reads can warm the rows the calling thread will use (a shared L3) or not.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';

const PONG = `
const { workerData, parentPort } = require('node:worker_threads');
const f = new Int32Array(workerData.sab);
const n = workerData.n;
parentPort.postMessage('ready');
for (let i = 0; i < n; i++) {
  while (Atomics.load(f, 16) !== 2 * i + 1);
  Atomics.store(f, 16, 2 * i + 2);
}
`;

/**
 * The median round trip (ns) of a cache line between this thread and a worker, over `batches`
 * batches of `n` round trips each (both threads spin: run it with two cores free).
 * @param {{ n?: number, batches?: number }} [o]
 * @returns {Promise<number>}
 */
export async function coreRoundTrip({ n = 20000, batches = 5 } = {}) {
  const sab = new SharedArrayBuffer(128);
  const f = new Int32Array(sab);
  const worker = new Worker(PONG, { eval: true, workerData: { sab, n: n * batches } });
  try {
    await once(worker, 'message'); // started: the batches time round trips, not the start-up
    const times = [];
    let i = 0;
    for (let b = 0; b < batches; b++) {
      const t0 = process.hrtime.bigint();
      for (let j = 0; j < n; j++, i++) {
        Atomics.store(f, 16, 2 * i + 1);
        while (Atomics.load(f, 16) !== 2 * i + 2);
      }
      times.push(Number(process.hrtime.bigint() - t0) / n);
    }
    return times.sort((a, b) => a - b)[times.length >> 1];
  } finally {
    await worker.terminate();
  }
}
