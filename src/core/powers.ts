// Integer powers b^t for the bias corrections, cheaper than Math.pow on the step path, and the
// small cache of per-step series they (and NAdam's mu products) are kept in.

import { MU_ANCHOR, muProductClosed } from './mu-product.js';

/** How many series a `Series` keeps at first: one per cohort of params (params added at
 *  different steps have different t), and a hypergradient optimizer's previous-step values. */
const SERIES = 8;
/** The most series a `Series` grows to (an optimizer with more cohorts recomputes some each step). */
const SERIES_MAX = 4096;

/**
 * @internal Values keyed by (k0, k1, t), the oldest replaced first: the values a step asks for,
 * one series per cohort of params, each moving from t - 1 to t once per step. It starts with 8
 * entries and doubles (up to 4096) when the entries it replaces were never asked for since they
 * were put, three in a row (a sign of more live series than entries), so that an optimizer with
 * many cohorts keeps every series instead of recomputing them all on every step. A step asks for
 * its cohorts in the same order each time: the entry after the last one found is tried second.
 */
export class Series {
  private keys = new Float64Array(3 * SERIES).fill(NaN);
  private values = new Float64Array(SERIES);
  /** 1 for an entry not found by `find` since it was put. */
  private fresh = new Uint8Array(SERIES);
  private size = SERIES;
  private next = 0;
  private last = 0;
  /** Entries replaced in a row that nobody asked for since they were put. */
  private freshEvictions = 0;

  /** The entry holding (k0, k1, t), else -1 (the last entry found, then the one after it, are tried first). */
  find(k0: number, k1: number, t: number): number {
    const k = this.keys;
    const n = this.size;
    let i = this.last;
    if (k[3 * i + 2] === t && k[3 * i] === k0 && k[3 * i + 1] === k1) return this.hit(i);
    i = i + 1 === n ? 0 : i + 1;
    if (k[3 * i + 2] === t && k[3 * i] === k0 && k[3 * i + 1] === k1) return this.hit(i);
    for (i = 0; i < n; i++) {
      if (k[3 * i + 2] === t && k[3 * i] === k0 && k[3 * i + 1] === k1) return this.hit(i);
    }
    return -1;
  }

  /**
   * The usual request, kept small enough for V8 to inline into the step: when the entry found last
   * (or the one after it) holds (k0, k1, t - 1), moves it on to t, its value multiplied by
   * `factor`, and returns the new value; else NaN (no entry changed: ask `find`).
   */
  follow(k0: number, k1: number, t: number, factor: number): number {
    const k = this.keys;
    let i = this.last;
    if (!(k[3 * i + 2] === t - 1 && k[3 * i] === k0 && k[3 * i + 1] === k1)) {
      i = i + 1 === this.size ? 0 : i + 1;
      if (!(k[3 * i + 2] === t - 1 && k[3 * i] === k0 && k[3 * i + 1] === k1)) return NaN;
      this.hit(i);
    } else this.fresh[i] = 0;
    k[3 * i + 2] = t;
    return (this.values[i] *= factor);
  }

  private hit(i: number): number {
    this.fresh[i] = 0;
    return (this.last = i);
  }

  /** The value of entry `i` (from find). */
  value(i: number): number {
    return this.values[i];
  }

  /** Moves entry `i` on to step `t`, its value multiplied by `factor`; returns the new value. */
  advance(i: number, t: number, factor: number): number {
    this.keys[3 * i + 2] = t;
    return (this.values[i] *= factor);
  }

  /**
   * Keeps `v` under (k0, k1, t), in place of the oldest entry (or in a new one), and returns that
   * entry (read it with `value`: an index crosses a call that V8 does not inline as a small
   * integer, where a double is boxed in a new HeapNumber).
   */
  put(k0: number, k1: number, t: number, v: number): number {
    // Replacing entries nobody asked for since they were put, several times in a row: more live
    // series than entries. One such entry alone is a value asked once (NAdam's mu_1 at step 1):
    // growing for it doubled the entries at every wrap, up to 4096, and every miss then scanned
    // them all (NAdam's 16-float step 655 -> 17000 ns).
    if (this.fresh[this.next] === 1) {
      if (++this.freshEvictions >= 3 && this.size < SERIES_MAX) this.grow();
    } else this.freshEvictions = 0;
    const i = this.next;
    this.next = (i + 1) % this.size;
    this.last = i;
    this.fresh[i] = 1;
    this.keys[3 * i] = k0;
    this.keys[3 * i + 1] = k1;
    this.keys[3 * i + 2] = t;
    this.values[i] = v;
    return i;
  }

  /** Doubles the entries; the new ones are filled next. */
  private grow(): void {
    const n = this.size;
    const keys = new Float64Array(6 * n).fill(NaN);
    keys.set(this.keys);
    const values = new Float64Array(2 * n);
    values.set(this.values);
    const fresh = new Uint8Array(2 * n);
    fresh.set(this.fresh);
    this.keys = keys;
    this.values = values;
    this.fresh = fresh;
    this.size = 2 * n;
    this.next = n;
  }
}

/**
 * b^t for an integer t >= 0, as a fixed function of (b, t): Math.pow(b, 64 * floor(t / 64)), then
 * multiplied by b one factor at a time up to t (at most 63 products, a relative error under 1e-14,
 * far below float32's). An instance follows up to 8 series (b, t): asking for t again costs
 * nothing and asking for t + 1 costs one multiply instead of a Math.pow (about 50 ns, which shows
 * on a small tensor's step), so that an optimizer whose params were added at different steps
 * (several t per step) keeps that price. Any other request recomputes from the anchor and gives
 * the same bits, so a resumed run continues bit-identically whatever the instance was asked before.
 */
export class Powers {
  private readonly series = new Series();
  /** What `lookup` found, read by `at` without a call (see there). */
  private readonly found = new Float64Array(1);

  /** b^t. */
  at(b: number, t: number): number {
    // The usual request first: the step after the one asked last (b^t is never NaN).
    if (t % 64 !== 0) {
      const v = this.series.follow(b, 0, t, b);
      if (!Number.isNaN(v)) return v;
    }
    // Through a typed array, not a return value: a double returned by a call that V8 does not
    // inline is boxed, and the merge with the usual path then boxed that one too (a HeapNumber
    // per step, ~16 bytes, for Adam's b2^t).
    this.lookup(b, t);
    return this.found[0];
  }

  /** Puts b^t in `found`: from an entry that holds it or b^(t-1), else from the anchor. */
  private lookup(b: number, t: number): void {
    const s = this.series;
    let i = t % 64 !== 0 ? s.find(b, 0, t - 1) : -1;
    if (i >= 0) s.advance(i, t, b);
    else if ((i = s.find(b, 0, t)) < 0) {
      const anchor = t - (t % 64);
      let v = Math.pow(b, anchor);
      for (let k = anchor; k < t; k++) v *= b;
      i = s.put(b, 0, t, v);
    }
    this.found[0] = s.value(i);
  }
}

/**
 * Internal: a step from which `1 - b^t`, with b^t as `Powers.at` gives it, is exactly 1 in float64
 * (at least 2). From there on a bias correction `1 - b^t` no longer moves, so a hyper block built
 * from it stops changing (`steadyFrom` of Adam, AdamW and Adamax: StepTable.holds then skips the
 * writer). It is a step where b^t <= 2^-60 (the logarithms' rounding covered by one more step);
 * `Powers` is within a relative 1e-14 of b^t, so below 2^-54, and 1 - x rounds to 1 for any
 * 0 <= x <= 2^-54. With the default beta2 = 0.999: step 41570. Infinity for b outside [0, 1).
 */
export function vanishesFrom(b: number): number {
  if (!(b >= 0 && b < 1)) return Infinity;
  if (b === 0) return 2;
  return Math.max(2, Math.ceil((60 * Math.LN2) / -Math.log(b)) + 1);
}

/** Internal: beta1^t and beta2^t of one optimizer's bias corrections (two `Powers`). */
export class BetaPowers {
  readonly b1 = new Powers();
  readonly b2 = new Powers();
}

/** mu_t = beta1 (1 - 0.5 * 0.96^(t psi)), PyTorch's NAdam momentum schedule. */
function muAt(b1: number, psi: number, t: number): number {
  return b1 * (1 - 0.5 * Math.pow(0.96, t * psi));
}

/**
 * Internal: mu_t and the products mu_1 ... mu_t in float64 (NAdam's `mu_product`, a function of
 * the step count and of (beta1, momentumDecay); also used by `Embedding`). The product is a fixed
 * function of (beta1, momentumDecay, t): the closed form of src/core/mu-product.ts at the anchor
 * a = t - t mod 256, times mu_{a+1} ... mu_t in order. A step asks each cohort of params for mu_t,
 * mu_{t+1} and the product at t; the series are kept in a `Series` that grows with the number of
 * cohorts, so the usual step costs one multiply per cohort, and any other request (a loaded state
 * dict, a cohort not seen for a while) at most one closed form and 255 multiplies, never a walk
 * over every past step.
 */
export class MuProducts {
  private readonly mus = new Series();
  private readonly products = new Series();
  /** mu_t, mu_{t+1} and mu_1 ... mu_t, as `step` left them. */
  readonly out = new Float64Array(3);
  /** The (b1, psi, t) of the last `step`, whose values `out` holds (t NaN before the first). */
  private readonly last = new Float64Array([NaN, NaN, NaN]);

  /**
   * Puts mu_t, mu_{t+1} and mu_1 ... mu_t in `out` (NAdam's step): the values of `mu` and
   * `product`, bit for bit. The usual request, the step after the last one asked for the same
   * (b1, psi), takes mu_t from there, multiplies the product by it (at an anchor: the closed
   * form, as `product` computes it there) and computes mu_{t+1} (one Math.pow): the two series
   * searches and the misses it saves were a third of a 16-float step. Anything else goes through
   * the series (the other cohorts' steps, a jump). Results in a typed array: a double returned by
   * a call that V8 does not inline into the step is boxed in a new HeapNumber.
   *
   * Anchors stay off the series: through `lookup`, each put mu_t, mu_{t+1} and the product there,
   * never asked for again, and those evictions grew the series to 4096 entries (by ~400K steps),
   * whose misses then scanned them all at every anchor: ~150 ns a step on average (16-float
   * NAdam step 620-1140 ns instead of ~400).
   */
  step(b1: number, psi: number, t: number): void {
    const l = this.last;
    const out = this.out;
    if (l[2] === t - 1 && l[0] === b1 && l[1] === psi) {
      // product(t) = product(t - 1) * mu_t (Series.advance), mu_t = the mu_{t+1} of step t - 1.
      const mu = out[1];
      if (t % MU_ANCHOR !== 0) out[2] *= mu;
      else this.anchor(b1, psi, t);
      out[0] = mu;
      out[1] = muAt(b1, psi, t + 1);
      l[2] = t;
      return;
    }
    this.lookup(b1, psi, t);
  }

  /** `out[2]` = the product at anchor `t` (a multiple of MU_ANCHOR), as `product` gives it there. */
  private anchor(b1: number, psi: number, t: number): void {
    this.out[2] = muProductClosed(b1, psi, t);
  }

  /** `step` through the series. */
  private lookup(b1: number, psi: number, t: number): void {
    const l = this.last;
    const out = this.out;
    l[0] = b1;
    l[1] = psi;
    l[2] = t;
    out[0] = this.mu(b1, psi, t);
    out[1] = this.mu(b1, psi, t + 1);
    out[2] = this.product(b1, psi, t);
  }

  /** mu_t (computed by muAt once and kept). */
  mu(b1: number, psi: number, t: number): number {
    const i = this.mus.find(b1, psi, t);
    return this.mus.value(i >= 0 ? i : this.mus.put(b1, psi, t, muAt(b1, psi, t)));
  }

  /** mu_1 mu_2 ... mu_t. */
  product(b1: number, psi: number, t: number): number {
    const s = this.products;
    // The usual request first: the step after one asked before (within an anchor's span).
    let i = t % MU_ANCHOR !== 0 ? s.find(b1, psi, t - 1) : -1;
    if (i >= 0) return s.advance(i, t, this.mu(b1, psi, t));
    if ((i = s.find(b1, psi, t)) >= 0) return s.value(i);
    const anchor = t - (t % MU_ANCHOR);
    let p = muProductClosed(b1, psi, anchor);
    for (let k = anchor + 1; k <= t; k++) p *= muAt(b1, psi, k);
    return s.value(s.put(b1, psi, t, p));
  }
}
