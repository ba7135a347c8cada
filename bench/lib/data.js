// Deterministic inputs for the benchmarks: the same values in every run and every contender.

import { rng } from '../../scripts/rng.mjs';

export { rng };

/**
 * Fills `out` with values uniform in [-scale, scale).
 * @param {Float32Array} out
 * @param {number} scale
 * @param {number} seed
 */
export function fillUniform(out, scale, seed) {
  const r = rng(seed);
  for (let i = 0; i < out.length; i++) out[i] = (r() * 2 - 1) * scale;
  return out;
}

// Generating 16M values takes longer than copying them: keep the last few arrays made and hand out
// copies (callers may write into what they get).
const made = new Map();
function cached(key, n, make) {
  let a = made.get(key);
  if (!a) {
    a = make();
    made.set(key, a);
    let bytes = 0;
    for (const v of made.values()) bytes += v.byteLength;
    for (const [k, v] of made) {
      if (bytes <= 512 << 20 || k === key) continue;
      made.delete(k);
      bytes -= v.byteLength;
    }
  }
  return a.slice();
}

/** Parameters: uniform in [-1, 1) (a fresh copy). */
export function params(n, seed = 1) {
  return cached(`p${n}:${seed}`, n, () => fillUniform(new Float32Array(n), 1, seed));
}

/** Gradients: uniform in [-0.01, 0.01) (a fresh copy). */
export function grads(n, seed = 2) {
  return cached(`g${n}:${seed}`, n, () => fillUniform(new Float32Array(n), 0.01, seed));
}

/**
 * `count` sizes that follow Zipf's law (size of rank r proportional to 1/r) and add up to exactly
 * `total`, each at least 1, largest first.
 * @param {number} count
 * @param {number} total
 * @returns {number[]}
 */
export function zipfSizes(count, total) {
  let h = 0;
  for (let r = 1; r <= count; r++) h += 1 / r;
  const sizes = [];
  for (let r = 1; r <= count; r++) sizes.push(Math.max(1, Math.round(total / h / r)));
  const sum = sizes.reduce((a, b) => a + b, 0);
  sizes[0] += total - sum;
  return sizes;
}

/**
 * `k` ids in [0, rows) drawn Zipf-like (probability of rank r proportional to 1/r^s), mapped to
 * rows by a fixed permutation so that frequent ids are spread over the table as words are.
 * Sampling is by binary search in the cumulative distribution.
 */
export class ZipfIds {
  /**
   * @param {number} rows
   * @param {number} [s] exponent (default 1.05)
   * @param {number} [seed]
   */
  constructor(rows, s = 1.05, seed = 7) {
    this.rows = rows;
    this.cdf = new Float64Array(rows);
    let acc = 0;
    for (let r = 0; r < rows; r++) {
      acc += 1 / Math.pow(r + 1, s);
      this.cdf[r] = acc;
    }
    for (let r = 0; r < rows; r++) this.cdf[r] /= acc;
    // Multiplying by an odd constant modulo a power of two is a permutation; for other row counts
    // fall back to the identity.
    this.pow2 = (rows & (rows - 1)) === 0;
    this.next = rng(seed);
  }

  /** Row of rank `r`. */
  row(r) {
    return this.pow2 ? Math.imul(r, 0x9e3779b1) & (this.rows - 1) : r;
  }

  /** A new Int32Array of `k` ids. */
  draw(k) {
    const out = new Int32Array(k);
    for (let i = 0; i < k; i++) {
      const u = this.next();
      let lo = 0;
      let hi = this.rows - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.cdf[mid] < u) lo = mid + 1;
        else hi = mid;
      }
      out[i] = this.row(lo);
    }
    return out;
  }
}

/**
 * Hot ids: each id is, with probability `hotShare`, one of `hot` rows (spread over the table as
 * ZipfIds spreads its ranks), else uniform over the table. Heavy duplication: at 4096 ids, 90% from
 * 256 rows, about 650 distinct rows per batch, so coalescing dominates an update.
 */
export class HotIds {
  /**
   * @param {number} rows
   * @param {number} [hot] how many hot rows (default 256)
   * @param {number} [hotShare] the share of ids drawn from them (default 0.9)
   * @param {number} [seed]
   */
  constructor(rows, hot = 256, hotShare = 0.9, seed = 11) {
    this.rows = rows;
    this.hotShare = hotShare;
    const pow2 = (rows & (rows - 1)) === 0;
    this.hot = Array.from({ length: Math.min(hot, rows) }, (_, r) =>
      pow2 ? Math.imul(r, 0x9e3779b1) & (rows - 1) : r,
    );
    this.next = rng(seed);
  }

  /** A new Int32Array of `k` ids. */
  draw(k) {
    const out = new Int32Array(k);
    for (let i = 0; i < k; i++) {
      out[i] =
        this.next() < this.hotShare
          ? this.hot[Math.floor(this.next() * this.hot.length)]
          : Math.floor(this.next() * this.rows);
    }
    return out;
  }
}
