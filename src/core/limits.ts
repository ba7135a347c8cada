// The documented limits of the library's guarantees (docs/guarantees.md).

/**
 * The largest step count a dense optimizer takes or loads: 2^40 (about 1.1e12 steps, 35 years
 * at 1000 steps a second). Below it every step count, power and schedule position is an exact
 * float64 integer with room to spare, and `stepCount` keeps incrementing; a step past it, or a
 * state dict or checkpoint beyond it, is refused.
 */
export const MAX_STEP_COUNT = 2 ** 40;

/**
 * The largest update count of an `Embedding` table: 0xfffff000 (about 4.29e9). The kernels keep
 * per-row step numbers in 32 bits; an update past it, or a state dict or checkpoint beyond it,
 * is refused. Exact mode is checked against dense updates far below it (docs/guarantees.md).
 */
export const TABLE_MAX_STEPS = 0xfffff000;

/** The first index of a non-finite value in `values` (NaN or ±Infinity), else -1. */
export function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    if (x - x !== 0) return i;
  }
  return -1;
}
