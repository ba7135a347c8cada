// Integer powers b^t for the bias corrections, cheaper than Math.pow on the step path, and the
// small cache of per-step series they (and NAdam's mu products) are kept in.

/** How many series a `Series` keeps: one per cohort of params (params added at different steps
 *  have different t), and a hypergradient optimizer's previous-step values. */
const SERIES = 8;

/**
 * @internal Up to 8 values keyed by (k0, k1, t), the oldest replaced first: the values a step
 * asks for, one series per cohort of params, each moving from t - 1 to t once per step.
 */
export class Series {
  private readonly keys = new Float64Array(3 * SERIES).fill(NaN);
  private readonly values = new Float64Array(SERIES);
  private next = 0;
  private last = 0;

  /** The entry holding (k0, k1, t), else -1 (the last entry found is tried first). */
  find(k0: number, k1: number, t: number): number {
    const k = this.keys;
    let i = this.last;
    if (k[3 * i + 2] === t && k[3 * i] === k0 && k[3 * i + 1] === k1) return i;
    for (i = 0; i < SERIES; i++) {
      if (k[3 * i + 2] === t && k[3 * i] === k0 && k[3 * i + 1] === k1) return (this.last = i);
    }
    return -1;
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

  /** Keeps `v` under (k0, k1, t), in place of the oldest entry, and returns it. */
  put(k0: number, k1: number, t: number, v: number): number {
    const i = this.next;
    this.next = (i + 1) % SERIES;
    this.last = i;
    this.keys[3 * i] = k0;
    this.keys[3 * i + 1] = k1;
    this.keys[3 * i + 2] = t;
    this.values[i] = v;
    return v;
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

  /** b^t. */
  at(b: number, t: number): number {
    const s = this.series;
    // The usual request first: the step after one asked before.
    let i = t % 64 !== 0 ? s.find(b, 0, t - 1) : -1;
    if (i >= 0) return s.advance(i, t, b);
    if ((i = s.find(b, 0, t)) >= 0) return s.value(i);
    const anchor = t - (t % 64);
    let v = Math.pow(b, anchor);
    for (let k = anchor; k < t; k++) v *= b;
    return s.put(b, 0, t, v);
  }
}

/** @internal beta1^t and beta2^t of one optimizer's bias corrections (two `Powers`). */
export class BetaPowers {
  readonly b1 = new Powers();
  readonly b2 = new Powers();
}

/** mu_t = beta1 (1 - 0.5 * 0.96^(t psi)), PyTorch's NAdam momentum schedule. */
function muAt(b1: number, psi: number, t: number): number {
  return b1 * (1 - 0.5 * Math.pow(0.96, t * psi));
}

/**
 * @internal mu_t and the products mu_1 ... mu_t in float64 (NAdam's `mu_product`, a function of
 * the step count and of (beta1, momentumDecay); also used by `Embedding`). A step asks each cohort
 * of params for mu_t, mu_{t+1} and the product at t; up to 8 series are kept (src/powers.ts's
 * Series), so a step costs one Math.pow per cohort, no Map and no string key (building a key from
 * two floats cost more than the rest of a small tensor's step). Past 8 series, or after a jump
 * (a loaded state dict), recent products are looked up in a Map per (beta1, momentumDecay), else
 * computed from mu_1. Every value is the same function of (beta1, momentumDecay, t) whichever way
 * it is found.
 */
export class MuProducts {
  private readonly mus = new Series();
  private readonly products = new Series();
  // Products found the slow way, per pair, in two generations (the older is dropped when the newer fills).
  private readonly found = new Map<string, { recent: Map<number, number>; older: Map<number, number> }>();
  /** mu_t (computed by muAt once and kept). */
  mu(b1: number, psi: number, t: number): number {
    const i = this.mus.find(b1, psi, t);
    return i >= 0 ? this.mus.value(i) : this.mus.put(b1, psi, t, muAt(b1, psi, t));
  }

  /** mu_1 mu_2 ... mu_t. */
  product(b1: number, psi: number, t: number): number {
    const s = this.products;
    // The usual request first: the step after one asked before.
    let i = s.find(b1, psi, t - 1);
    if (i >= 0) return s.advance(i, t, this.mu(b1, psi, t));
    if ((i = s.find(b1, psi, t)) >= 0) return s.value(i);
    const key = `${b1}/${psi}`;
    let f = this.found.get(key);
    if (!f) {
      if (this.found.size >= 16) this.found.clear();
      f = { recent: new Map(), older: new Map() };
      this.found.set(key, f);
    }
    let p = f.recent.get(t) ?? f.older.get(t);
    if (p === undefined) {
      const prev = f.recent.get(t - 1) ?? f.older.get(t - 1);
      if (prev !== undefined) p = prev * this.mu(b1, psi, t);
      else {
        p = 1;
        for (let i = 1; i <= t; i++) p *= muAt(b1, psi, i);
      }
    }
    if (f.recent.size >= 128) {
      f.older = f.recent;
      f.recent = new Map();
    }
    f.recent.set(t, p);
    return this.products.put(b1, psi, t, p);
  }
}
