// Integer powers b^t for the bias corrections, cheaper than Math.pow on the step path.

/** How many (b, t) series a `Powers` follows at once: one per cohort of params (params added at
 *  different steps have different t), and a hypergradient optimizer's previous-step values. */
const SERIES = 8;

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
  private readonly bases = new Float64Array(SERIES).fill(NaN);
  private readonly steps = new Float64Array(SERIES).fill(-1);
  private readonly values = new Float64Array(SERIES);
  private next = 0;

  /** b^t. */
  at(b: number, t: number): number {
    for (let i = 0; i < SERIES; i++) {
      if (this.bases[i] !== b) continue;
      const s = this.steps[i];
      if (s === t) return this.values[i];
      if (s === t - 1 && t % 64 !== 0) {
        this.steps[i] = t;
        return (this.values[i] *= b);
      }
    }
    const anchor = t - (t % 64);
    let v = Math.pow(b, anchor);
    for (let k = anchor; k < t; k++) v *= b;
    const i = this.next;
    this.next = (i + 1) % SERIES;
    this.bases[i] = b;
    this.steps[i] = t;
    this.values[i] = v;
    return v;
  }
}

/** @internal beta1^t and beta2^t of one optimizer's bias corrections (two `Powers`). */
export class BetaPowers {
  readonly b1 = new Powers();
  readonly b2 = new Powers();
}
