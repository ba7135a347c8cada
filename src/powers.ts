// Integer powers b^t for the bias corrections, cheaper than Math.pow on the step path.

/**
 * b^t for an integer t >= 0, as a fixed function of (b, t): Math.pow(b, 64 * floor(t / 64)), then
 * multiplied by b one factor at a time up to t (at most 63 products, a relative error under 1e-14,
 * far below float32's). An instance remembers its last (b, t), so asking for t + 1 next costs one
 * multiply instead of a Math.pow (about 50 ns, which shows on a small tensor's step), and asking for
 * the same t again costs nothing; any other
 * request recomputes from the anchor and gives the same bits. A resumed run therefore continues
 * bit-identically whatever the instance was asked before.
 */
export class Powers {
  private base = NaN;
  private t = -1;
  private value = 1;

  /** b^t. */
  at(b: number, t: number): number {
    if (b === this.base && t === this.t) return this.value;
    if (b === this.base && t === this.t + 1 && t % 64 !== 0) {
      this.t = t;
      return (this.value *= b);
    }
    const anchor = t - (t % 64);
    let v = Math.pow(b, anchor);
    for (let k = anchor; k < t; k++) v *= b;
    this.base = b;
    this.t = t;
    this.value = v;
    return v;
  }
}

/** @internal beta1^t and beta2^t of one optimizer's bias corrections (two `Powers`). */
export class BetaPowers {
  readonly b1 = new Powers();
  readonly b2 = new Powers();
}
