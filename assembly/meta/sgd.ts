// SGD (momentum, dampening, Nesterov, L2 decay) fused with the forward-mode tangents of the param
// and the momentum buffer with respect to each tracked hyperparameter (docs/meta-gradients.md):
//   d = gs raw (+ wd p);  b = d (first step) | mu b0 + omd d;  q = d + mu b (Nesterov) | b | d;  p -= lr q
// and for each h (dlr, dmu, domd, dwd from the meta hyper block; omd = 1 - dampening):
//   dd = gs hv + (dwd p + wd dp)
//   db = dd (first step) | (dmu b0 + mu db0) + (domd d + omd dd)
//   dq = dd + (dmu b + mu db) (Nesterov) | db (momentum) | dd
//   dp = dp - (dlr q + lr dq)

import { DESC_BYTES, descParam, descGrad, descState0, descLength, descHyper, hyperF32, hyperFlag } from "../shared/common";
import { SGD_GSCALE, SGD_LR, SGD_MOMENTUM, SGD_OMD, SGD_WD, SGD_USE_MOMENTUM, SGD_FIRST, SGD_NESTEROV, SGD_USE_WD } from "../optimizers/sgd/slots";
import { META_DESC_BYTES, META_HYPER_SLOTS, MSGD_DLR, MSGD_DMU, MSGD_DOMD, MSGD_DWD, metaTangents, metaHvp, metaStride, metaCount, metaHyper, metaSlots } from "./layout";
import { mhVec, mhOne } from "./lanes";

@inline function sgdMetaVec(P: usize, G: usize, B: usize, o: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
                            gs: v128, lr: v128, mu: v128, omd: v128, wd: v128,
                            useMom: bool, first: bool, nest: bool, useWd: bool, hvp: bool): void {
  const p0 = v128.load(P + o);
  let d = f32x4.mul(v128.load(G + o), gs);
  if (useWd) d = f32x4.add(d, f32x4.mul(wd, p0));
  let b0 = d, b = d, q = d;
  if (useMom) {
    if (!first) {
      b0 = v128.load(B + o);
      b = f32x4.add(f32x4.mul(b0, mu), f32x4.mul(omd, d));
    }
    v128.store(B + o, b);
    q = nest ? f32x4.add(d, f32x4.mul(mu, b)) : b;
  }
  v128.store(P + o, f32x4.sub(p0, f32x4.mul(lr, q)));
  for (let k: usize = 0; k < K; k++) {
    const h = MH + k * (META_HYPER_SLOTS << 2), t = T + k * span + o;
    const dp0 = v128.load(t);
    let dd = f32x4.add(f32x4.mul(mhVec(h, MSGD_DWD), p0), f32x4.mul(wd, dp0));
    if (hvp) dd = f32x4.add(f32x4.mul(v128.load(HV + k * stride + o), gs), dd);
    let dq = dd;
    if (useMom) {
      let db = dd;
      if (!first) {
        const dmv = f32x4.add(f32x4.mul(mhVec(h, MSGD_DMU), b0), f32x4.mul(mu, v128.load(t + stride)));
        db = f32x4.add(dmv, f32x4.add(f32x4.mul(mhVec(h, MSGD_DOMD), d), f32x4.mul(omd, dd)));
      }
      v128.store(t + stride, db);
      dq = nest ? f32x4.add(dd, f32x4.add(f32x4.mul(mhVec(h, MSGD_DMU), b), f32x4.mul(mu, db))) : db;
    }
    v128.store(t, f32x4.sub(dp0, f32x4.add(f32x4.mul(mhVec(h, MSGD_DLR), q), f32x4.mul(lr, dq))));
  }
}

@inline function sgdMetaOne(P: usize, G: usize, B: usize, o: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
                            gs: f32, lr: f32, mu: f32, omd: f32, wd: f32,
                            useMom: bool, first: bool, nest: bool, useWd: bool, hvp: bool): void {
  const p0 = load<f32>(P + o);
  let d = load<f32>(G + o) * gs;
  if (useWd) d = d + wd * p0;
  let b0 = d, b = d, q = d;
  if (useMom) {
    if (!first) {
      b0 = load<f32>(B + o);
      b = b0 * mu + omd * d;
    }
    store<f32>(B + o, b);
    q = nest ? d + mu * b : b;
  }
  store<f32>(P + o, p0 - lr * q);
  for (let k: usize = 0; k < K; k++) {
    const h = MH + k * (META_HYPER_SLOTS << 2), t = T + k * span + o;
    const dp0 = load<f32>(t);
    let dd = mhOne(h, MSGD_DWD) * p0 + wd * dp0;
    if (hvp) dd = load<f32>(HV + k * stride + o) * gs + dd;
    let dq = dd;
    if (useMom) {
      let db = dd;
      if (!first) {
        const dmv = mhOne(h, MSGD_DMU) * b0 + mu * load<f32>(t + stride);
        db = dmv + (mhOne(h, MSGD_DOMD) * d + omd * dd);
      }
      store<f32>(t + stride, db);
      dq = nest ? dd + (mhOne(h, MSGD_DMU) * b + mu * db) : db;
    }
    store<f32>(t, dp0 - (mhOne(h, MSGD_DLR) * q + lr * dq));
  }
}

@inline function sgdMetaTensor(d: usize, e: usize, useMom: bool, first: bool, nest: bool, useWd: bool, hvp: bool): void {
  const P = descParam(d), G = descGrad(d), B = descState0(d), n = descLength(d), h = descHyper(d);
  const T = metaTangents(e), HV = metaHvp(e), stride = metaStride(e), K = metaCount(e), MH = metaHyper(e);
  const span = metaSlots(e) * stride;
  const gs = hyperF32(h, SGD_GSCALE), lr = hyperF32(h, SGD_LR), mu = hyperF32(h, SGD_MOMENTUM), omd = hyperF32(h, SGD_OMD), wd = hyperF32(h, SGD_WD);
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vgs = f32x4.splat(gs), vlr = f32x4.splat(lr), vmu = f32x4.splat(mu), vomd = f32x4.splat(omd), vwd = f32x4.splat(wd);
    const n4 = n & ~(<usize>3);
    for (; i < n4; i += 4) sgdMetaVec(P, G, B, i << 2, T, HV, stride, K, span, MH, vgs, vlr, vmu, vomd, vwd, useMom, first, nest, useWd, hvp);
    if (i < n) sgdMetaTail(P, G, B, i, n, T, HV, stride, K, span, MH, gs, lr, mu, omd, wd, useMom, first, nest, useWd, hvp);
  } else {
    for (; i < n; i++) sgdMetaOne(P, G, B, i << 2, T, HV, stride, K, span, MH, gs, lr, mu, omd, wd, useMom, first, nest, useWd, hvp);
  }
}

// In the SIMD build the scalar elements after the SIMD loop (at most 3 per tensor) go through one
// function with run-time flags instead of a copy in every variant: the same operations, so the same
// bits, in a fraction of the code that init() validates (docs/browser-and-bundlers.md).
function sgdMetaTail(P: usize, G: usize, B: usize, i: usize, n: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
                     gs: f32, lr: f32, mu: f32, omd: f32, wd: f32, useMom: bool, first: bool, nest: bool, useWd: bool, hvp: bool): void {
  for (; i < n; i++) sgdMetaOne(P, G, B, i << 2, T, HV, stride, K, span, MH, gs, lr, mu, omd, wd, useMom, first, nest, useWd, hvp);
}

@inline function sgdMetaMomentum(d: usize, e: usize, first: bool, nest: bool, useWd: bool, hvp: bool): void {
  if (first) {
    if (nest) sgdMetaTensor(d, e, true, true, true, useWd, hvp);
    else sgdMetaTensor(d, e, true, true, false, useWd, hvp);
  } else {
    if (nest) sgdMetaTensor(d, e, true, false, true, useWd, hvp);
    else sgdMetaTensor(d, e, true, false, false, useWd, hvp);
  }
}

@inline function sgdMetaVariant(d: usize, e: usize, hvp: bool): void {
  const h = descHyper(d);
  const useWd = hyperFlag(h, SGD_USE_WD), first = hyperFlag(h, SGD_FIRST), nest = hyperFlag(h, SGD_NESTEROV);
  if (!hyperFlag(h, SGD_USE_MOMENTUM)) {
    if (useWd) sgdMetaTensor(d, e, false, false, false, true, hvp);
    else sgdMetaTensor(d, e, false, false, false, false, hvp);
  } else if (useWd) sgdMetaMomentum(d, e, first, nest, true, hvp);
  else sgdMetaMomentum(d, e, first, nest, false, hvp);
}

/** One SGD step (without clipping) over every tensor of the step table, with the tangents of the
 *  meta table updated in the same pass. */
export function sgdMetaStep(table: usize, meta: usize, count: i32): void {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES, e = meta + <usize>t * META_DESC_BYTES;
    if (metaHvp(e) != 0) sgdMetaVariant(d, e, true);
    else sgdMetaVariant(d, e, false);
  }
}
