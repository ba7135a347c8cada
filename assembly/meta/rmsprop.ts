// RMSprop (centered, momentum, L2 decay) fused with the forward-mode tangents of the param and its
// state with respect to each tracked hyperparameter (docs/meta-gradients.md):
//   g = gs raw (+ wd p);  sq = al sq0 + (1-al) g^2;  ga = al ga0 + (1-al) g (centered)
//   w = sq - ga^2 (centered) | sq;  r = sqrt w;  avg = r + eps;  q = g / avg
//   b = mu b0 + q, p -= lr b (momentum) | p -= lr q
// and for each h (dlr, dal, deps, dwd, dmu from the meta hyper block):
//   dg = gs hv + (dwd p + wd dp)
//   dsq = (dal (sq0 - g^2) + al dsq0) + 2 (1-al) g dg;  dga = (dal (ga0 - g) + al dga0) + (1-al) dg
//   dw = dsq - 2 ga dga (centered) | dsq;  dr = dw / (2 r) (0 where r = 0);  davg = dr + deps
//   dq = (dg - q davg) / avg;  db = (dmu b0 + mu db0) + dq;  dp = dp - (dlr b + lr db) | dp - (dlr q + lr dq)
// Tangent slots: 1 = square_avg, 2 = momentum_buffer, 3 = grad_avg (the step table's state slots).

import { DESC_BYTES, descParam, descGrad, descState0, descState1, descState2, descLength, descHyper, hyperF32, hyperFlag } from "../shared/common";
import { RMSPROP_GSCALE, RMSPROP_LR, RMSPROP_ALPHA, RMSPROP_OMA, RMSPROP_EPS, RMSPROP_WD, RMSPROP_MOMENTUM, RMSPROP_USE_WD, RMSPROP_CENTERED, RMSPROP_USE_MOMENTUM } from "../optimizers/rmsprop/slots";
import { META_DESC_BYTES, META_HYPER_SLOTS, MRMS_DLR, MRMS_DAL, MRMS_DEPS, MRMS_DWD, MRMS_DMU, metaTangents, metaHvp, metaStride, metaCount, metaHyper, metaSlots } from "./layout";
import { mhVec, mhOne, dsqrtVec, dsqrtOne } from "./lanes";

@inline function rmsMetaVec(P: usize, G: usize, S: usize, B: usize, A: usize, o: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
                            gs: v128, lr: v128, al: v128, oma: v128, eps: v128, wd: v128, mu: v128,
                            useWd: bool, cen: bool, useMom: bool, hvp: bool): void {
  const p0 = v128.load(P + o);
  let g = f32x4.mul(v128.load(G + o), gs);
  if (useWd) g = f32x4.add(g, f32x4.mul(wd, p0));
  const sq0 = v128.load(S + o);
  const sq = f32x4.add(f32x4.mul(sq0, al), f32x4.mul(f32x4.mul(oma, g), g));
  v128.store(S + o, sq);
  let ga0 = sq0, ga = sq0, w = sq;
  if (cen) {
    ga0 = v128.load(A + o);
    ga = f32x4.add(f32x4.mul(ga0, al), f32x4.mul(oma, g));
    v128.store(A + o, ga);
    w = f32x4.sub(sq, f32x4.mul(ga, ga));
  }
  const r = f32x4.sqrt(w);
  const avg = f32x4.add(r, eps);
  const q = f32x4.div(g, avg);
  let b0 = q, b = q;
  if (useMom) {
    b0 = v128.load(B + o);
    b = f32x4.add(f32x4.mul(b0, mu), q);
    v128.store(B + o, b);
    v128.store(P + o, f32x4.sub(p0, f32x4.mul(lr, b)));
  } else {
    v128.store(P + o, f32x4.sub(p0, f32x4.mul(lr, q)));
  }
  const sg = f32x4.sub(sq0, f32x4.mul(g, g)), g2 = f32x4.mul(f32x4.add(oma, oma), g);
  for (let k: usize = 0; k < K; k++) {
    const h = MH + k * (META_HYPER_SLOTS << 2), t = T + k * span + o;
    const dp0 = v128.load(t), dal = mhVec(h, MRMS_DAL);
    let dg = f32x4.add(f32x4.mul(mhVec(h, MRMS_DWD), p0), f32x4.mul(wd, dp0));
    if (hvp) dg = f32x4.add(f32x4.mul(v128.load(HV + k * stride + o), gs), dg);
    const dsq = f32x4.add(f32x4.add(f32x4.mul(dal, sg), f32x4.mul(al, v128.load(t + stride))), f32x4.mul(g2, dg));
    v128.store(t + stride, dsq);
    let dw = dsq;
    if (cen) {
      const dga = f32x4.add(f32x4.add(f32x4.mul(dal, f32x4.sub(ga0, g)), f32x4.mul(al, v128.load(t + 3 * stride))), f32x4.mul(oma, dg));
      v128.store(t + 3 * stride, dga);
      dw = f32x4.sub(dsq, f32x4.mul(f32x4.add(ga, ga), dga));
    }
    const davg = f32x4.add(dsqrtVec(dw, r), mhVec(h, MRMS_DEPS));
    const dq = f32x4.div(f32x4.sub(dg, f32x4.mul(q, davg)), avg);
    if (useMom) {
      const db = f32x4.add(f32x4.add(f32x4.mul(mhVec(h, MRMS_DMU), b0), f32x4.mul(mu, v128.load(t + 2 * stride))), dq);
      v128.store(t + 2 * stride, db);
      v128.store(t, f32x4.sub(dp0, f32x4.add(f32x4.mul(mhVec(h, MRMS_DLR), b), f32x4.mul(lr, db))));
    } else {
      v128.store(t, f32x4.sub(dp0, f32x4.add(f32x4.mul(mhVec(h, MRMS_DLR), q), f32x4.mul(lr, dq))));
    }
  }
}

@inline function rmsMetaOne(P: usize, G: usize, S: usize, B: usize, A: usize, o: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
                            gs: f32, lr: f32, al: f32, oma: f32, eps: f32, wd: f32, mu: f32,
                            useWd: bool, cen: bool, useMom: bool, hvp: bool): void {
  const p0 = load<f32>(P + o);
  let g = load<f32>(G + o) * gs;
  if (useWd) g = g + wd * p0;
  const sq0 = load<f32>(S + o);
  const sq = sq0 * al + (oma * g) * g;
  store<f32>(S + o, sq);
  let ga0 = sq0, ga = sq0, w = sq;
  if (cen) {
    ga0 = load<f32>(A + o);
    ga = ga0 * al + oma * g;
    store<f32>(A + o, ga);
    w = sq - ga * ga;
  }
  const r = sqrt<f32>(w);
  const avg = r + eps;
  const q = g / avg;
  let b0 = q, b = q;
  if (useMom) {
    b0 = load<f32>(B + o);
    b = b0 * mu + q;
    store<f32>(B + o, b);
    store<f32>(P + o, p0 - lr * b);
  } else {
    store<f32>(P + o, p0 - lr * q);
  }
  const sg = sq0 - g * g, g2 = (oma + oma) * g;
  for (let k: usize = 0; k < K; k++) {
    const h = MH + k * (META_HYPER_SLOTS << 2), t = T + k * span + o;
    const dp0 = load<f32>(t), dal = mhOne(h, MRMS_DAL);
    let dg = mhOne(h, MRMS_DWD) * p0 + wd * dp0;
    if (hvp) dg = load<f32>(HV + k * stride + o) * gs + dg;
    const dsq = (dal * sg + al * load<f32>(t + stride)) + g2 * dg;
    store<f32>(t + stride, dsq);
    let dw = dsq;
    if (cen) {
      const dga = (dal * (ga0 - g) + al * load<f32>(t + 3 * stride)) + oma * dg;
      store<f32>(t + 3 * stride, dga);
      dw = dsq - (ga + ga) * dga;
    }
    const davg = dsqrtOne(dw, r) + mhOne(h, MRMS_DEPS);
    const dq = (dg - q * davg) / avg;
    if (useMom) {
      const db = (mhOne(h, MRMS_DMU) * b0 + mu * load<f32>(t + 2 * stride)) + dq;
      store<f32>(t + 2 * stride, db);
      store<f32>(t, dp0 - (mhOne(h, MRMS_DLR) * b + lr * db));
    } else {
      store<f32>(t, dp0 - (mhOne(h, MRMS_DLR) * q + lr * dq));
    }
  }
}

@inline function rmsMetaTensor(d: usize, e: usize, useWd: bool, cen: bool, useMom: bool, hvp: bool): void {
  const P = descParam(d), G = descGrad(d), S = descState0(d), B = descState1(d), A = descState2(d);
  const n = descLength(d), h = descHyper(d);
  const T = metaTangents(e), HV = metaHvp(e), stride = metaStride(e), K = metaCount(e), MH = metaHyper(e);
  const span = metaSlots(e) * stride;
  const gs = hyperF32(h, RMSPROP_GSCALE), lr = hyperF32(h, RMSPROP_LR), al = hyperF32(h, RMSPROP_ALPHA), oma = hyperF32(h, RMSPROP_OMA);
  const eps = hyperF32(h, RMSPROP_EPS), wd = hyperF32(h, RMSPROP_WD), mu = hyperF32(h, RMSPROP_MOMENTUM);
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vgs = f32x4.splat(gs), vlr = f32x4.splat(lr), val = f32x4.splat(al), voma = f32x4.splat(oma);
    const veps = f32x4.splat(eps), vwd = f32x4.splat(wd), vmu = f32x4.splat(mu);
    const n4 = n & ~(<usize>3);
    for (; i < n4; i += 4) rmsMetaVec(P, G, S, B, A, i << 2, T, HV, stride, K, span, MH, vgs, vlr, val, voma, veps, vwd, vmu, useWd, cen, useMom, hvp);
    if (i < n) rmsMetaTail(P, G, S, B, A, i, n, T, HV, stride, K, span, MH, gs, lr, al, oma, eps, wd, mu, useWd, cen, useMom, hvp);
  } else {
    for (; i < n; i++) rmsMetaOne(P, G, S, B, A, i << 2, T, HV, stride, K, span, MH, gs, lr, al, oma, eps, wd, mu, useWd, cen, useMom, hvp);
  }
}

// In the SIMD build the scalar elements after the SIMD loop (at most 3 per tensor) go through one
// function with run-time flags instead of a copy in every variant: the same operations, so the same
// bits, in a fraction of the code that init() validates (docs/browser-and-bundlers.md).
function rmsMetaTail(P: usize, G: usize, S: usize, B: usize, A: usize, i: usize, n: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
                     gs: f32, lr: f32, al: f32, oma: f32, eps: f32, wd: f32, mu: f32, useWd: bool, cen: bool, useMom: bool, hvp: bool): void {
  for (; i < n; i++) rmsMetaOne(P, G, S, B, A, i << 2, T, HV, stride, K, span, MH, gs, lr, al, oma, eps, wd, mu, useWd, cen, useMom, hvp);
}

@inline function rmsMetaVariant(d: usize, e: usize, cen: bool, useMom: bool, hvp: bool): void {
  if (hyperFlag(descHyper(d), RMSPROP_USE_WD)) rmsMetaTensor(d, e, true, cen, useMom, hvp);
  else rmsMetaTensor(d, e, false, cen, useMom, hvp);
}

@inline function rmsMetaKind(d: usize, e: usize, hvp: bool): void {
  const h = descHyper(d);
  const cen = hyperFlag(h, RMSPROP_CENTERED), useMom = hyperFlag(h, RMSPROP_USE_MOMENTUM);
  if (cen) {
    if (useMom) rmsMetaVariant(d, e, true, true, hvp);
    else rmsMetaVariant(d, e, true, false, hvp);
  } else {
    if (useMom) rmsMetaVariant(d, e, false, true, hvp);
    else rmsMetaVariant(d, e, false, false, hvp);
  }
}

/** One RMSprop step (without clipping) over every tensor of the step table, with the tangents of
 *  the meta table updated in the same pass. */
export function rmspropMetaStep(table: usize, meta: usize, count: i32): void {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES, e = meta + <usize>t * META_DESC_BYTES;
    if (metaHvp(e) != 0) rmsMetaKind(d, e, true);
    else rmsMetaKind(d, e, false);
  }
}
