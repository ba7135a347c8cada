// Adagrad (lrDecay, L2 decay) fused with the forward-mode tangents of the param and its sum of
// squares with respect to each tracked hyperparameter (docs/meta-gradients.md):
//   g = gs raw (+ wd p);  s = s0 + g^2;  r = sqrt s;  den = r + eps;  q = g / den;  p -= clr q
// and for each h (dclr, deps, dwd from the meta hyper block; clr = lr / (1 + (t-1) lrDecay)):
//   dg = gs hv + (dwd p + wd dp);  ds = ds0 + 2 g dg;  dr = ds / (2 r) (0 where r = 0)
//   dq = (dg - q (dr + deps)) / den;  dp = dp - (dclr q + clr dq)

import { DESC_BYTES, descParam, descGrad, descState0, descLength, descHyper, hyperF32, hyperFlag } from "../shared/common";
import { ADAGRAD_GSCALE, ADAGRAD_CLR, ADAGRAD_EPS, ADAGRAD_WD, ADAGRAD_USE_WD } from "../optimizers/adagrad/slots";
import { META_DESC_BYTES, META_HYPER_SLOTS, MADAGRAD_DCLR, MADAGRAD_DEPS, MADAGRAD_DWD, metaTangents, metaHvp, metaStride, metaCount, metaHyper, metaSlots } from "./layout";
import { mhVec, mhOne, dsqrtVec, dsqrtOne } from "./lanes";

@inline function adagradMetaVec(P: usize, G: usize, S: usize, o: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
                                gs: v128, clr: v128, eps: v128, wd: v128, useWd: bool, hvp: bool): void {
  const p0 = v128.load(P + o);
  let g = f32x4.mul(v128.load(G + o), gs);
  if (useWd) g = f32x4.add(g, f32x4.mul(wd, p0));
  const s = f32x4.add(v128.load(S + o), f32x4.mul(g, g));
  v128.store(S + o, s);
  const r = f32x4.sqrt(s);
  const den = f32x4.add(r, eps);
  const q = f32x4.div(g, den);
  v128.store(P + o, f32x4.sub(p0, f32x4.mul(clr, q)));
  const g2 = f32x4.add(g, g);
  for (let k: usize = 0; k < K; k++) {
    const h = MH + k * (META_HYPER_SLOTS << 2), t = T + k * span + o;
    const dp0 = v128.load(t);
    let dg = f32x4.add(f32x4.mul(mhVec(h, MADAGRAD_DWD), p0), f32x4.mul(wd, dp0));
    if (hvp) dg = f32x4.add(f32x4.mul(v128.load(HV + k * stride + o), gs), dg);
    const ds = f32x4.add(v128.load(t + stride), f32x4.mul(g2, dg));
    v128.store(t + stride, ds);
    const dden = f32x4.add(dsqrtVec(ds, r), mhVec(h, MADAGRAD_DEPS));
    const dq = f32x4.div(f32x4.sub(dg, f32x4.mul(q, dden)), den);
    v128.store(t, f32x4.sub(dp0, f32x4.add(f32x4.mul(mhVec(h, MADAGRAD_DCLR), q), f32x4.mul(clr, dq))));
  }
}

@inline function adagradMetaOne(P: usize, G: usize, S: usize, o: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
                                gs: f32, clr: f32, eps: f32, wd: f32, useWd: bool, hvp: bool): void {
  const p0 = load<f32>(P + o);
  let g = load<f32>(G + o) * gs;
  if (useWd) g = g + wd * p0;
  const s = load<f32>(S + o) + g * g;
  store<f32>(S + o, s);
  const r = sqrt<f32>(s);
  const den = r + eps;
  const q = g / den;
  store<f32>(P + o, p0 - clr * q);
  const g2 = g + g;
  for (let k: usize = 0; k < K; k++) {
    const h = MH + k * (META_HYPER_SLOTS << 2), t = T + k * span + o;
    const dp0 = load<f32>(t);
    let dg = mhOne(h, MADAGRAD_DWD) * p0 + wd * dp0;
    if (hvp) dg = load<f32>(HV + k * stride + o) * gs + dg;
    const ds = load<f32>(t + stride) + g2 * dg;
    store<f32>(t + stride, ds);
    const dden = dsqrtOne(ds, r) + mhOne(h, MADAGRAD_DEPS);
    const dq = (dg - q * dden) / den;
    store<f32>(t, dp0 - (mhOne(h, MADAGRAD_DCLR) * q + clr * dq));
  }
}

@inline function adagradMetaTensor(d: usize, e: usize, useWd: bool, hvp: bool): void {
  const P = descParam(d), G = descGrad(d), S = descState0(d), n = descLength(d), h = descHyper(d);
  const T = metaTangents(e), HV = metaHvp(e), stride = metaStride(e), K = metaCount(e), MH = metaHyper(e);
  const span = metaSlots(e) * stride;
  const gs = hyperF32(h, ADAGRAD_GSCALE), clr = hyperF32(h, ADAGRAD_CLR), eps = hyperF32(h, ADAGRAD_EPS), wd = hyperF32(h, ADAGRAD_WD);
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vgs = f32x4.splat(gs), vclr = f32x4.splat(clr), veps = f32x4.splat(eps), vwd = f32x4.splat(wd);
    const n4 = n & ~(<usize>3);
    for (; i < n4; i += 4) adagradMetaVec(P, G, S, i << 2, T, HV, stride, K, span, MH, vgs, vclr, veps, vwd, useWd, hvp);
    if (i < n) adagradMetaTail(P, G, S, i, n, T, HV, stride, K, span, MH, gs, clr, eps, wd, useWd, hvp);
  } else {
    for (; i < n; i++) adagradMetaOne(P, G, S, i << 2, T, HV, stride, K, span, MH, gs, clr, eps, wd, useWd, hvp);
  }
}

// In the SIMD build the scalar elements after the SIMD loop (at most 3 per tensor) go through one
// function with run-time flags instead of a copy in every variant: the same operations, so the same
// bits, in a fraction of the code that init() validates (docs/browser-and-bundlers.md).
function adagradMetaTail(P: usize, G: usize, S: usize, i: usize, n: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
                         gs: f32, clr: f32, eps: f32, wd: f32, useWd: bool, hvp: bool): void {
  for (; i < n; i++) adagradMetaOne(P, G, S, i << 2, T, HV, stride, K, span, MH, gs, clr, eps, wd, useWd, hvp);
}

/** One Adagrad step (without clipping) over every tensor of the step table, with the tangents of
 *  the meta table updated in the same pass. */
export function adagradMetaStep(table: usize, meta: usize, count: i32): void {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES, e = meta + <usize>t * META_DESC_BYTES;
    const useWd = hyperFlag(descHyper(d), ADAGRAD_USE_WD);
    if (metaHvp(e) != 0) {
      if (useWd) adagradMetaTensor(d, e, true, true);
      else adagradMetaTensor(d, e, false, true);
    } else if (useWd) adagradMetaTensor(d, e, true, false);
    else adagradMetaTensor(d, e, false, false);
  }
}
