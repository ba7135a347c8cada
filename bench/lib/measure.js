// Timing one task with tinybench. A task's function does one operation (one optimizer step, one
// embedding update); operations shorter than a millisecond are batched so that the clock's
// resolution and tinybench's per-iteration overhead do not count, and every sample is reported as
// milliseconds per operation.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Bench } from 'tinybench';
import { clockFor } from './clock.js';

/**
 * A full, synchronous garbage collection, or null where it cannot be had. The contenders of one
 * size run interleaved in one process, and tfjs leaves megabytes of garbage behind: V8 collects it
 * on its helper threads while the next contender runs, which takes a core from it and, under the
 * CPU-time clock (the whole process's time), is charged to it. Measured on the benchmark machine:
 * the engine's and the plain JS loop's Adam at 4K-256K read 25-40% slower after tfjs rounds.
 * Collecting before each task's timing leaves nothing behind to collect.
 */
const fullGc = (() => {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc');
    return typeof gc === 'function' ? gc : null;
  } catch {
    return null;
  }
})();

/**
 * @typedef {object} MeasureOptions
 * @property {number} timeMs tinybench's time budget for the task
 * @property {'cpu' | 'wall'} [clock] what to time with (default 'wall'; see clock.js)
 * @property {number} [batchMs] the least time one sample should take (default: the clock's)
 * @property {number} [warmupMs] the least time to call `fn` before calibrating (default 0: one call)
 * @property {number} [minSamples] the least number of samples (default 5; 3 for operations over
 *   half a second, 2 over 2 s: those are contenders 100 times slower, where precision matters less)
 */

/**
 * Measures `fn` (synchronous, one operation per call). Returns milliseconds per operation.
 * @param {string} name task name (for tinybench)
 * @param {() => unknown} fn
 * @param {MeasureOptions} options
 * @returns {{ samples: number[], reps: number }}
 */
export function measure(name, fn, options) {
  const clock = clockFor(options.clock ?? 'wall');
  const now = clock.now;
  fullGc?.();
  const batchMs = options.batchMs ?? clock.batchMs;
  // Warm up (JIT tiers, first-touch page faults) and calibrate the batch size.
  const t0 = now();
  fn();
  const cold = now() - t0;
  // Keep warming up for at least `warmupMs` and until the time per call settles (the last three
  // batches within 10%), at most four times as long: a large JS closure (the plain-JS loops) can
  // take hundreds of calls, and a deoptimization or two, to reach its final optimized code.
  if (cold < 500 && options.warmupMs) {
    const w0 = now();
    const recent = [];
    let r = 1;
    for (;;) {
      const c0 = now();
      for (let i = 0; i < r; i++) fn();
      const dt = now() - c0;
      recent.push(dt / r);
      if (dt < batchMs) r *= 2;
      if (recent.length > 3) recent.shift();
      const spent = now() - w0;
      const settled = recent.length === 3 && Math.max(...recent) <= 1.1 * Math.min(...recent);
      if ((spent >= options.warmupMs && settled) || spent >= 4 * options.warmupMs) break;
    }
  }
  let reps = 1;
  let one = cold;
  // An operation slower than half a second is its own batch, and the cold call was its warm-up.
  // eslint-disable-next-line no-unmodified-loop-condition -- cold gates the loop; break ends it
  while (cold < 500) {
    const batchOf = () => {
      const t1 = now();
      for (let r = 0; r < reps; r++) fn();
      return now() - t1;
    };
    let dt = batchOf();
    // A stall in a short batch (a GC, or a background compile: the CPU clock counts every thread)
    // must not end the calibration with batches of a few calls, whose samples the CPU clock's
    // overhead, subtracted, turns into zeros (a task read Infinity Melem/s): such a batch is
    // timed twice and the lesser kept.
    if (dt >= batchMs / 4 && reps <= 16) dt = Math.min(dt, batchOf());
    one = dt / reps;
    if (dt >= batchMs / 4 || reps >= 1 << 20) break;
    reps *= 4;
  }
  reps = Math.max(1, Math.ceil(batchMs / Math.max(one, 1e-6)));
  const minSamples = options.minSamples ?? (one > 2000 ? 2 : one > 500 ? 3 : 5);
  const bench = new Bench({
    time: options.timeMs,
    iterations: minSamples,
    warmup: one * reps < 200,
    warmupIterations: 2,
    warmupTime: Math.min(50, options.timeMs / 4),
    retainSamples: true,
    throws: true,
    now,
    subtractTimerOverhead: clock.kind === 'cpu',
  });
  const batch =
    reps === 1
      ? fn
      : () => {
          for (let r = 0; r < reps; r++) fn();
        };
  bench.add(name, batch);
  bench.runSync();
  const result = bench.tasks[0].result;
  if (result.state !== 'completed') {
    throw result.error ?? new Error(`${name}: tinybench finished in state ${result.state}`);
  }
  const samples = Array.from(result.latency.samples ?? [], (ms) => ms / reps);
  return { samples, reps };
}
