// The project's one seeded generator (mulberry32), shared by the tests, the demo, the examples,
// the benchmarks and the browser workload (plain JavaScript, so a page loads it as it is): a seed
// means the same numbers everywhere.

/**
 * A seeded uniform generator on [0, 1): each call returns the next value, a 32-bit unsigned
 * integer over 2^32, so every value is exact in float32 and float64.
 * @param {number} seed
 * @returns {() => number}
 */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
