// The clocks a benchmark can time with. On a machine shared with other work, a process waits for a
// core as often as it runs, and wall-clock samples measure the queue as much as the code; the
// process's CPU time (user + system, every thread of the process) counts only the time it ran.
// On an idle machine the two agree. Multi-threaded groups (threads vs one thread) must use the wall
// clock, since CPU time adds up the threads.

/** Milliseconds of CPU time this process has used (microsecond resolution). */
export function cpuNow() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Milliseconds of wall-clock time. */
export function wallNow() {
  return performance.now();
}

/**
 * The clock named `kind` ('cpu' or 'wall'), with the least time one sample should take so that the
 * clock's resolution and cost do not count (reading the CPU clock is a system call).
 * @param {'cpu' | 'wall'} kind
 */
export function clockFor(kind) {
  if (kind === 'cpu') return { kind, now: cpuNow, batchMs: 5 };
  if (kind === 'wall') return { kind, now: wallNow, batchMs: 1 };
  throw new TypeError(`bench: unknown clock ${kind}; use 'cpu' or 'wall'`);
}
