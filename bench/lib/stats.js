// Statistics of one benchmark task's samples (milliseconds per operation).

/**
 * The q-quantile (0..1) of ascending `sorted` values, linearly interpolated.
 * @param {number[]} sorted
 * @param {number} q
 * @returns {number}
 */
export function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Summary of per-operation times: median, quartiles, and the spread as half the interquartile
 * range relative to the median (so "±3%" means the middle half of the samples lie within about
 * 3% of the median).
 * @param {number[]} samples milliseconds per operation
 * @returns {{ count: number, medianMs: number, p25Ms: number, p75Ms: number, minMs: number, spread: number }}
 */
export function summarize(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const medianMs = quantile(sorted, 0.5);
  const p25Ms = quantile(sorted, 0.25);
  const p75Ms = quantile(sorted, 0.75);
  return {
    count: sorted.length,
    medianMs,
    p25Ms,
    p75Ms,
    minMs: sorted[0],
    spread: (p75Ms - p25Ms) / 2 / medianMs,
  };
}

/**
 * Millions of elements per second for `elems` elements per operation taking `ms` milliseconds.
 * @param {number} elems
 * @param {number} ms
 */
export function melemPerSec(elems, ms) {
  return elems / ms / 1e3;
}

/**
 * Rounds to `digits` significant digits (keeps the JSON small without losing what matters).
 * @param {number} x
 * @param {number} [digits]
 */
export function sig(x, digits = 4) {
  if (!Number.isFinite(x) || x === 0) return x;
  return Number(x.toPrecision(digits));
}
