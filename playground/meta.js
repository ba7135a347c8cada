// The playground's meta-gradient panel, without a browser: Adam on a 2-D landscape for a fixed
// number of steps, tracking dθ/dlr and dθ/dβ1 in the engine ('finite-difference' mode: the
// landscape's gradient is all it needs), and the meta-gradient of the final loss,
// dL(θ_T)/dlr and dL(θ_T)/dβ1. The Node tests import it too.

/** Steps of the run whose final loss the panel differentiates. */
export const META_STEPS = 100;

/**
 * Adam on landscape `L` from its start for `steps` steps with the settings `s` (lrAdaptive, beta1,
 * beta2, eps); returns the path, the final loss and its meta-gradients (NaN when the run left the
 * float32 range).
 * @param {any} api the package
 * @param {any} engine
 * @param {import('./landscapes.js').Landscape} L
 * @param {{ lrAdaptive: number, beta1: number, beta2: number, eps: number }} s
 * @param {number} [steps]
 * @param {boolean} [track] false: a plain run (the loss only)
 */
export function metaRun(api, engine, L, s, steps = META_STEPS, track = true) {
  const opt = new api.Adam({ engine, lr: s.lrAdaptive, betas: [s.beta1, s.beta2], eps: s.eps, nonFinite: 'ignore' });
  try {
    const p = opt.param(L.start);
    if (track) opt.trackMetaGradients(['lr', 'beta1'], { mode: 'finite-difference' });
    const path = [[L.start[0], L.start[1]]];
    const gradFn = ([q]) => [L.grad(q[0], q[1])];
    for (let t = 0; t < steps; t++) {
      const [x, y] = p.data;
      const g = L.grad(x, y);
      if (!Number.isFinite(g[0]) || !Number.isFinite(g[1]) || Math.abs(x) > 1e6 || Math.abs(y) > 1e6) break;
      p.grad.set(g);
      if (track) opt.step({ gradFn });
      else opt.step();
      path.push([p.data[0], p.data[1]]);
    }
    const [x, y] = p.data;
    const loss = L.f(x, y);
    const ok = path.length === steps + 1 && Number.isFinite(loss);
    const mg = track && ok ? opt.metaGradient([L.grad(x, y)]) : { lr: NaN, beta1: NaN };
    return { path, loss: ok ? loss : NaN, dLdlr: mg.lr, dLdbeta1: mg.beta1 };
  } finally {
    opt.dispose();
  }
}

/**
 * The final loss as a function of the learning rate around `s.lrAdaptive` (plain runs at each of
 * `n` rates log-spaced over one decade either side): what the panel draws under the tangent.
 */
export function lossAlongLr(api, engine, L, s, steps = META_STEPS, n = 25) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const lr = s.lrAdaptive * 10 ** (-1 + (2 * i) / (n - 1));
    out.push({ lr, loss: metaRun(api, engine, L, { ...s, lrAdaptive: lr }, steps, false).loss });
  }
  return out;
}

/**
 * One meta-gradient descent step on (log lr, logit β1): a step of `size` along the normalized
 * negative meta-gradient. Returns the new lr and β1 (β1 kept in [0, 0.999]).
 */
export function metaStep(s, dLdlr, dLdbeta1, size = 0.3) {
  const b = Math.min(Math.max(s.beta1, 1e-3), 0.999);
  const g = [dLdlr * s.lrAdaptive, dLdbeta1 * b * (1 - b)];
  const norm = Math.hypot(g[0], g[1]);
  if (!(norm > 0) || !Number.isFinite(norm)) return { lrAdaptive: s.lrAdaptive, beta1: s.beta1 };
  const logit = Math.log(b / (1 - b)) - (size * g[1]) / norm;
  return {
    lrAdaptive: Math.exp(Math.log(s.lrAdaptive) - (size * g[0]) / norm),
    beta1: Math.min(0.999, Math.max(0, 1 / (1 + Math.exp(-logit)))),
  };
}
