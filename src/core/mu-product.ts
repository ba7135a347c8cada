// NAdam's mu_product, mu_1 mu_2 ... mu_t with mu_i = b1 (1 - 0.5 * 0.96^(i psi)), at any t in
// O(1) time: no walk over the past steps after a checkpoint with a large step count is loaded.

/** The product is computed in closed form at multiples of this, and by multiplying the mu_i in order between them. */
export const MU_ANCHOR = 256;

/**
 * prod_{i=1}^{a} mu_i in closed form: b1^a * exp(S) with
 * S = sum_{i=1}^{a} log(1 - 0.5 x^i), x = 0.96^psi, summed by expanding the logarithm,
 * S = -sum_{k>=1} (0.5^k / k) x^k (1 - x^(k a)) / (1 - x^k), whose terms shrink at least as 0.5^k
 * (about 55 terms for float64). Its relative error is a few float64 ulps times (1 + |S|), the
 * same order as the plain running product's.
 */
export function muProductClosed(b1: number, psi: number, a: number): number {
  if (a === 0) return 1;
  const L = psi * Math.log(0.96); // ln x <= 0
  // Per term, x^k, 1 - x^k and 1 - x^(k a) by recurrences from their k = 1 values (only
  // multiplications and additions of positive numbers: 1 - y^k = y (1 - y^(k-1)) + (1 - y)).
  const x = Math.exp(L),
    xa = Math.exp(a * L);
  const d1 = -Math.expm1(L),
    c1 = -Math.expm1(a * L);
  let xk = 1,
    dk = 0,
    ck = 0;
  let s = 0;
  let half = 1;
  for (let k = 1; k <= 200; k++) {
    half *= 0.5;
    xk *= x;
    dk = x * dk + d1;
    ck = xa * ck + c1;
    // x^k (1 - x^(k a)) / (1 - x^k), whose limit is a as x -> 1 (psi = 0).
    const geo = dk === 0 ? a : xk * (ck / dk);
    const term = (half / k) * geo;
    s -= term;
    if (term <= 1e-18 * -s) break;
  }
  return Math.pow(b1, a) * Math.exp(s);
}
