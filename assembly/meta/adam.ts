// Adam / AdamW step fused with the forward-mode tangents of the param and both moments with
// respect to each tracked hyperparameter h (docs/meta-gradients.md derives every line). Per element:
//   g = gs raw (+ wd p, Adam's L2);  p' = p dc (AdamW, dc = 1 - lr wd)
//   m = b1 m0 + (1-b1) g;  v = b2 v0 + (1-b2) g^2;  r = sqrt v;  den = r ib + eps;  u = m / den
//   p = p' - ss u                               (the same arithmetic, in the same order, as adamStep)
// and for each h (dX = dX/dh; dss, dib, db1, db2, deps, dwd, ddc from the meta hyper block):
//   dg  = gs hv + (dwd p + wd dp)               (hv = H dp: the user's HVP, finite differences, or 0)
//   dp' = dp dc + p ddc
//   dm  = db1 (m0 - g) + b1 dm0 + (1-b1) dg
//   dv  = db2 (v0 - g^2) + b2 dv0 + 2 (1-b2) g dg
//   dr  = dv / (2 r) (0 where r = 0);  dden = dr ib + r dib + deps
//   dp  = dp' - (dss u + ss (dm - u dden) / den)
// with one division per element for every tangent: q = 1 / (r den), 1/den = r q, 1/(2r) = den q / 2
// (where r = 0: 1/den = 1/eps).
// Tracking lr alone, first-order, without L2 decay: dg = 0 and the scalar derivatives of b1, b2, ib,
// eps are 0, so dm = b1 dm0 and dv = b2 dv0 stay +0 from +0 tangents (META_ZERO_MOMENTS); then
// du = +0 and the step reads and writes only dp: dp = dp' - (dss u + ss 0), the same bits.
// No clipping (the TypeScript side refuses it with tracking). Both builds give the same bits.

import { DESC_BYTES, descParam, descGrad, descState0, descState1, descLength, descHyper, hyperF32, hyperFlag } from "../shared/common";
import { ADAM_GSCALE, ADAM_BETA1, ADAM_OMB1, ADAM_BETA2, ADAM_OMB2, ADAM_STEP_SIZE, ADAM_INV_BC2_SQRT, ADAM_EPS, ADAM_L2, ADAM_DECAY, ADAM_USE_L2, ADAM_USE_DECAY } from "../optimizers/adam/slots";
import { META_DESC_BYTES, META_HYPER_SLOTS, MADAM_DSS, MADAM_DIB, MADAM_DB1, MADAM_DB2, MADAM_DEPS, MADAM_DWD, MADAM_DDC, metaTangents, metaHvp, metaStride, metaCount, metaHyper, metaSlots, metaZeroMoments, clearZeroMoments } from "./layout";
import { mhVec, mhOne } from "./lanes";

@inline function adamMetaVec(P: usize, G: usize, M: usize, V: usize, o: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
                             gs: v128, b1: v128, b1c: v128, b2: v128, b2c: v128, ss: v128, ib: v128, eps: v128, wd: v128, dc: v128, ieps: v128,
                             l2: bool, dec: bool, hvp: bool, one: bool, lr: bool, zero: bool,
                             cwd: v128, cdc: v128, cb1: v128, cb2: v128, cib: v128, ceps: v128, css: v128): void {
  const p0 = v128.load(P + o);
  let g = f32x4.mul(v128.load(G + o), gs);
  if (l2) g = f32x4.add(g, f32x4.mul(wd, p0));
  const p1 = dec ? f32x4.mul(p0, dc) : p0;
  const m0 = v128.load(M + o), v0 = v128.load(V + o);
  const m = f32x4.add(f32x4.mul(m0, b1), f32x4.mul(b1c, g));
  const v = f32x4.add(f32x4.mul(v0, b2), f32x4.mul(f32x4.mul(b2c, g), g));
  v128.store(M + o, m);
  v128.store(V + o, v);
  const r = f32x4.sqrt(v);
  const den = f32x4.add(f32x4.mul(r, ib), eps);
  const u = f32x4.div(m, den);
  v128.store(P + o, f32x4.sub(p1, f32x4.mul(ss, u)));
  if (zero) {
    // lr alone, first-order, no L2, moments' tangents +0: du = +0 (the header).
    const t = T + o, dp0 = v128.load(t);
    const dp1 = dec ? f32x4.add(f32x4.mul(dp0, dc), f32x4.mul(p0, cdc)) : dp0;
    v128.store(t, f32x4.sub(dp1, f32x4.add(f32x4.mul(css, u), f32x4.mul(ss, f32x4.splat(0)))));
    return;
  }
  const mg = f32x4.sub(m0, g), vg = f32x4.sub(v0, f32x4.mul(g, g)), g2 = f32x4.mul(f32x4.add(b2c, b2c), g);
  // One division for every tangent: q = 1/(r den), 1/den = r q, 1/(2r) = den q / 2 (r > 0; where
  // r = 0, 1/den = 1/eps and the square root's tangent is taken as 0).
  const z = f32x4.splat(0), live = f32x4.gt(r, z);
  const q = f32x4.div(f32x4.splat(1), f32x4.mul(r, den));
  const rden = v128.bitselect(f32x4.mul(r, q), ieps, live);
  const hr = v128.bitselect(f32x4.mul(f32x4.mul(f32x4.splat(0.5), den), q), z, live);
  if (lr) {
    // The one tracked name moves only the step size (and AdamW's decay factor): lr.
    const t = T + o;
    const dp0 = v128.load(t), dm0 = v128.load(t + stride), dv0 = v128.load(t + 2 * stride);
    let dg = z;
    if (l2) dg = f32x4.mul(wd, dp0);
    if (hvp) dg = l2 ? f32x4.add(f32x4.mul(v128.load(HV + o), gs), dg) : f32x4.mul(v128.load(HV + o), gs);
    const dp1 = dec ? f32x4.add(f32x4.mul(dp0, dc), f32x4.mul(p0, cdc)) : dp0;
    const dm = l2 || hvp ? f32x4.add(f32x4.mul(b1, dm0), f32x4.mul(b1c, dg)) : f32x4.mul(b1, dm0);
    const dv = l2 || hvp ? f32x4.add(f32x4.mul(b2, dv0), f32x4.mul(g2, dg)) : f32x4.mul(b2, dv0);
    const du = f32x4.mul(f32x4.sub(dm, f32x4.mul(u, f32x4.mul(f32x4.mul(dv, hr), ib))), rden);
    v128.store(t, f32x4.sub(dp1, f32x4.add(f32x4.mul(css, u), f32x4.mul(ss, du))));
    v128.store(t + stride, dm);
    v128.store(t + 2 * stride, dv);
    return;
  }
  for (let k: usize = 0; k < K; k++) {
    const h = MH + k * (META_HYPER_SLOTS << 2), t = T + k * span + o;
    const dp0 = v128.load(t), dm0 = v128.load(t + stride), dv0 = v128.load(t + 2 * stride);
    let dg = f32x4.add(f32x4.mul((one ? cwd : mhVec(h, MADAM_DWD)), p0), f32x4.mul(wd, dp0));
    if (hvp) dg = f32x4.add(f32x4.mul(v128.load(HV + k * stride + o), gs), dg);
    const dp1 = f32x4.add(f32x4.mul(dp0, dc), f32x4.mul(p0, (one ? cdc : mhVec(h, MADAM_DDC))));
    const dm = f32x4.add(f32x4.add(f32x4.mul((one ? cb1 : mhVec(h, MADAM_DB1)), mg), f32x4.mul(b1, dm0)), f32x4.mul(b1c, dg));
    const dv = f32x4.add(f32x4.add(f32x4.mul((one ? cb2 : mhVec(h, MADAM_DB2)), vg), f32x4.mul(b2, dv0)), f32x4.mul(g2, dg));
    const dr = f32x4.mul(dv, hr);
    const dden = f32x4.add(f32x4.add(f32x4.mul(dr, ib), f32x4.mul(r, (one ? cib : mhVec(h, MADAM_DIB)))), (one ? ceps : mhVec(h, MADAM_DEPS)));
    const du = f32x4.mul(f32x4.sub(dm, f32x4.mul(u, dden)), rden);
    v128.store(t, f32x4.sub(dp1, f32x4.add(f32x4.mul((one ? css : mhVec(h, MADAM_DSS)), u), f32x4.mul(ss, du))));
    v128.store(t + stride, dm);
    v128.store(t + 2 * stride, dv);
  }
}

@inline function adamMetaOne(P: usize, G: usize, M: usize, V: usize, o: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
                             gs: f32, b1: f32, b1c: f32, b2: f32, b2c: f32, ss: f32, ib: f32, eps: f32, wd: f32, dc: f32, ieps: f32,
                             l2: bool, dec: bool, hvp: bool, lr: bool, zero: bool): void {
  const p0 = load<f32>(P + o);
  let g = load<f32>(G + o) * gs;
  if (l2) g = g + wd * p0;
  const p1 = dec ? p0 * dc : p0;
  const m0 = load<f32>(M + o), v0 = load<f32>(V + o);
  const m = m0 * b1 + b1c * g;
  const v = v0 * b2 + (b2c * g) * g;
  store<f32>(M + o, m);
  store<f32>(V + o, v);
  const r = sqrt<f32>(v);
  const den = r * ib + eps;
  const u = m / den;
  store<f32>(P + o, p1 - ss * u);
  if (zero) {
    const t = T + o, dp0 = load<f32>(t);
    const dp1 = dec ? dp0 * dc + p0 * mhOne(MH, MADAM_DDC) : dp0;
    store<f32>(t, dp1 - (mhOne(MH, MADAM_DSS) * u + ss * <f32>0));
    return;
  }
  const mg = m0 - g, vg = v0 - g * g, g2 = (b2c + b2c) * g;
  const live = r > 0;
  const q = <f32>1 / (r * den);
  const rden = live ? r * q : ieps;
  const hr = live ? (<f32>0.5 * den) * q : <f32>0;
  if (lr) {
    const t = T + o;
    const dp0 = load<f32>(t), dm0 = load<f32>(t + stride), dv0 = load<f32>(t + 2 * stride);
    let dg: f32 = 0;
    if (l2) dg = wd * dp0;
    if (hvp) dg = l2 ? load<f32>(HV + o) * gs + dg : load<f32>(HV + o) * gs;
    const dp1 = dec ? dp0 * dc + p0 * mhOne(MH, MADAM_DDC) : dp0;
    const dm = l2 || hvp ? b1 * dm0 + b1c * dg : b1 * dm0;
    const dv = l2 || hvp ? b2 * dv0 + g2 * dg : b2 * dv0;
    const du = (dm - u * ((dv * hr) * ib)) * rden;
    store<f32>(t, dp1 - (mhOne(MH, MADAM_DSS) * u + ss * du));
    store<f32>(t + stride, dm);
    store<f32>(t + 2 * stride, dv);
    return;
  }
  for (let k: usize = 0; k < K; k++) {
    const h = MH + k * (META_HYPER_SLOTS << 2), t = T + k * span + o;
    const dp0 = load<f32>(t), dm0 = load<f32>(t + stride), dv0 = load<f32>(t + 2 * stride);
    let dg = mhOne(h, MADAM_DWD) * p0 + wd * dp0;
    if (hvp) dg = load<f32>(HV + k * stride + o) * gs + dg;
    const dp1 = dp0 * dc + p0 * mhOne(h, MADAM_DDC);
    const dm = (mhOne(h, MADAM_DB1) * mg + b1 * dm0) + b1c * dg;
    const dv = (mhOne(h, MADAM_DB2) * vg + b2 * dv0) + g2 * dg;
    const dr = dv * hr;
    const dden = (dr * ib + r * mhOne(h, MADAM_DIB)) + mhOne(h, MADAM_DEPS);
    const du = (dm - u * dden) * rden;
    store<f32>(t, dp1 - (mhOne(h, MADAM_DSS) * u + ss * du));
    store<f32>(t + stride, dm);
    store<f32>(t + 2 * stride, dv);
  }
}

@inline function adamMetaTensor(d: usize, e: usize, l2: bool, dec: bool, hvp: bool): void {
  const P = descParam(d), G = descGrad(d), M = descState0(d), V = descState1(d), n = descLength(d), h = descHyper(d);
  const T = metaTangents(e), HV = metaHvp(e), stride = metaStride(e), K = metaCount(e), MH = metaHyper(e);
  const span = metaSlots(e) * stride;
  const gs = hyperF32(h, ADAM_GSCALE), b1 = hyperF32(h, ADAM_BETA1), b1c = hyperF32(h, ADAM_OMB1);
  const b2 = hyperF32(h, ADAM_BETA2), b2c = hyperF32(h, ADAM_OMB2);
  const ss = hyperF32(h, ADAM_STEP_SIZE), ib = hyperF32(h, ADAM_INV_BC2_SQRT);
  const eps = hyperF32(h, ADAM_EPS), wd = hyperF32(h, ADAM_L2), dc = hyperF32(h, ADAM_DECAY), ieps = <f32>1 / eps;
  // One tracked name that moves only the step size (lr): a loop without the other terms.
  const lr = K == 1 && mhOne(MH, MADAM_DB1) == 0 && mhOne(MH, MADAM_DB2) == 0 && mhOne(MH, MADAM_DIB) == 0 &&
             mhOne(MH, MADAM_DEPS) == 0 && mhOne(MH, MADAM_DWD) == 0;
  // kind 3: lr alone with the moments' tangents still +0, a step that keeps them so.
  const zero = lr && !l2 && !hvp && metaZeroMoments(e);
  if (!zero) clearZeroMoments(e);
  const kind = zero ? 3 : lr ? 2 : K == 1 ? 1 : 0;
  const v = zero ? (dec ? 19 : 18) : ((l2 ? 1 : dec ? 2 : 0) * 2 + (hvp ? 1 : 0)) * 3 + kind;
  switch (v) {
    case 0: adamMeta0(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps); break;
    case 1: adamMeta1(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps); break;
    case 2: adamMeta2(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps); break;
    case 3: adamMeta3(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps); break;
    case 4: adamMeta4(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps); break;
    case 5: adamMeta5(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps); break;
    case 6: adamMeta6(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps); break;
    case 7: adamMeta7(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps); break;
    case 8: adamMeta8(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps); break;
    case 9: adamMeta9(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps); break;
    case 10: adamMeta10(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps); break;
    case 11: adamMeta11(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps); break;
    case 12: adamMeta12(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps); break;
    case 13: adamMeta13(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps); break;
    case 14: adamMeta14(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps); break;
    case 15: adamMeta15(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps); break;
    case 16: adamMeta16(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps); break;
    case 17: adamMeta17(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps); break;
    case 18: adamMeta18(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps); break;
    case 19: adamMeta19(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps); break;
  }
}

@inline function adamMetaLoop(P: usize, G: usize, M: usize, V: usize, n: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
                              gs: f32, b1: f32, b1c: f32, b2: f32, b2c: f32, ss: f32, ib: f32, eps: f32, wd: f32, dc: f32, ieps: f32,
                              l2: bool, dec: bool, hvp: bool, kind: i32): void {
  // kind 3: lr with the moments' tangents kept +0; 2: one tracked name that moves only the step
  // size (lr); 1: one name; 0: several.
  const lr = kind >= 2, zero = kind == 3;
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vgs = f32x4.splat(gs), vb1 = f32x4.splat(b1), vb1c = f32x4.splat(b1c), vb2 = f32x4.splat(b2), vb2c = f32x4.splat(b2c);
    const vss = f32x4.splat(ss), vib = f32x4.splat(ib), veps = f32x4.splat(eps), vwd = f32x4.splat(wd), vdc = f32x4.splat(dc), vieps = f32x4.splat(ieps);
    const n4 = n & ~(<usize>3);
    if (kind != 0) {
      // One tracked hyperparameter: its derivatives splatted once, out of the loop.
      const cwd = mhVec(MH, MADAM_DWD), cdc = mhVec(MH, MADAM_DDC), cb1 = mhVec(MH, MADAM_DB1), cb2 = mhVec(MH, MADAM_DB2);
      const cib = mhVec(MH, MADAM_DIB), ceps = mhVec(MH, MADAM_DEPS), css = mhVec(MH, MADAM_DSS);
      for (; i < n4; i += 4) {
        adamMetaVec(P, G, M, V, i << 2, T, HV, stride, 1, span, MH, vgs, vb1, vb1c, vb2, vb2c, vss, vib, veps, vwd, vdc, vieps, l2, dec, hvp,
                    true, lr, zero, cwd, cdc, cb1, cb2, cib, ceps, css);
      }
    } else {
      const z = f32x4.splat(0);
      for (; i < n4; i += 4) {
        adamMetaVec(P, G, M, V, i << 2, T, HV, stride, K, span, MH, vgs, vb1, vb1c, vb2, vb2c, vss, vib, veps, vwd, vdc, vieps, l2, dec, hvp,
                    false, false, false, z, z, z, z, z, z, z);
      }
    }
    if (i < n) adamMetaTail(P, G, M, V, i, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps, l2, dec, hvp, lr, zero);
  } else {
    for (; i < n; i++) {
      adamMetaOne(P, G, M, V, i << 2, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps, l2, dec, hvp, lr, zero);
    }
  }
}

// In the SIMD build the scalar elements after the SIMD loop (at most 3 per tensor) go through one
// function with run-time flags instead of a copy in every variant: the same operations, so the same
// bits, in a fraction of the code that init() validates (docs/browser-and-bundlers.md).
function adamMetaTail(P: usize, G: usize, M: usize, V: usize, i: usize, n: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
                      gs: f32, b1: f32, b1c: f32, b2: f32, b2c: f32, ss: f32, ib: f32, eps: f32, wd: f32, dc: f32, ieps: f32,
                      l2: bool, dec: bool, hvp: bool, lr: bool, zero: bool): void {
  for (; i < n; i++) {
    adamMetaOne(P, G, M, V, i << 2, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps, l2, dec, hvp, lr, zero);
  }
}

// Each variant a function of its own (not inlined): inlined together, the optimizer merged their
// loops into one that computes every variant's arithmetic (as sgdStep's comment tells).
function adamMeta0(P: usize, G: usize, M: usize, V: usize, n: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
    gs: f32, b1: f32, b1c: f32, b2: f32, b2c: f32, ss: f32, ib: f32, eps: f32, wd: f32, dc: f32, ieps: f32): void {
  adamMetaLoop(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps, false, false, false, 0);
}
function adamMeta1(P: usize, G: usize, M: usize, V: usize, n: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
    gs: f32, b1: f32, b1c: f32, b2: f32, b2c: f32, ss: f32, ib: f32, eps: f32, wd: f32, dc: f32, ieps: f32): void {
  adamMetaLoop(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps, false, false, false, 1);
}
function adamMeta2(P: usize, G: usize, M: usize, V: usize, n: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
    gs: f32, b1: f32, b1c: f32, b2: f32, b2c: f32, ss: f32, ib: f32, eps: f32, wd: f32, dc: f32, ieps: f32): void {
  adamMetaLoop(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps, false, false, false, 2);
}
function adamMeta3(P: usize, G: usize, M: usize, V: usize, n: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
    gs: f32, b1: f32, b1c: f32, b2: f32, b2c: f32, ss: f32, ib: f32, eps: f32, wd: f32, dc: f32, ieps: f32): void {
  adamMetaLoop(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps, false, false, true, 0);
}
function adamMeta4(P: usize, G: usize, M: usize, V: usize, n: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
    gs: f32, b1: f32, b1c: f32, b2: f32, b2c: f32, ss: f32, ib: f32, eps: f32, wd: f32, dc: f32, ieps: f32): void {
  adamMetaLoop(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps, false, false, true, 1);
}
function adamMeta5(P: usize, G: usize, M: usize, V: usize, n: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
    gs: f32, b1: f32, b1c: f32, b2: f32, b2c: f32, ss: f32, ib: f32, eps: f32, wd: f32, dc: f32, ieps: f32): void {
  adamMetaLoop(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps, false, false, true, 2);
}
function adamMeta6(P: usize, G: usize, M: usize, V: usize, n: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
    gs: f32, b1: f32, b1c: f32, b2: f32, b2c: f32, ss: f32, ib: f32, eps: f32, wd: f32, dc: f32, ieps: f32): void {
  adamMetaLoop(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps, true, false, false, 0);
}
function adamMeta7(P: usize, G: usize, M: usize, V: usize, n: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
    gs: f32, b1: f32, b1c: f32, b2: f32, b2c: f32, ss: f32, ib: f32, eps: f32, wd: f32, dc: f32, ieps: f32): void {
  adamMetaLoop(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps, true, false, false, 1);
}
function adamMeta8(P: usize, G: usize, M: usize, V: usize, n: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
    gs: f32, b1: f32, b1c: f32, b2: f32, b2c: f32, ss: f32, ib: f32, eps: f32, wd: f32, dc: f32, ieps: f32): void {
  adamMetaLoop(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps, true, false, false, 2);
}
function adamMeta9(P: usize, G: usize, M: usize, V: usize, n: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
    gs: f32, b1: f32, b1c: f32, b2: f32, b2c: f32, ss: f32, ib: f32, eps: f32, wd: f32, dc: f32, ieps: f32): void {
  adamMetaLoop(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps, true, false, true, 0);
}
function adamMeta10(P: usize, G: usize, M: usize, V: usize, n: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
    gs: f32, b1: f32, b1c: f32, b2: f32, b2c: f32, ss: f32, ib: f32, eps: f32, wd: f32, dc: f32, ieps: f32): void {
  adamMetaLoop(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps, true, false, true, 1);
}
function adamMeta11(P: usize, G: usize, M: usize, V: usize, n: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
    gs: f32, b1: f32, b1c: f32, b2: f32, b2c: f32, ss: f32, ib: f32, eps: f32, wd: f32, dc: f32, ieps: f32): void {
  adamMetaLoop(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps, true, false, true, 2);
}
function adamMeta12(P: usize, G: usize, M: usize, V: usize, n: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
    gs: f32, b1: f32, b1c: f32, b2: f32, b2c: f32, ss: f32, ib: f32, eps: f32, wd: f32, dc: f32, ieps: f32): void {
  adamMetaLoop(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps, false, true, false, 0);
}
function adamMeta13(P: usize, G: usize, M: usize, V: usize, n: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
    gs: f32, b1: f32, b1c: f32, b2: f32, b2c: f32, ss: f32, ib: f32, eps: f32, wd: f32, dc: f32, ieps: f32): void {
  adamMetaLoop(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps, false, true, false, 1);
}
function adamMeta14(P: usize, G: usize, M: usize, V: usize, n: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
    gs: f32, b1: f32, b1c: f32, b2: f32, b2c: f32, ss: f32, ib: f32, eps: f32, wd: f32, dc: f32, ieps: f32): void {
  adamMetaLoop(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps, false, true, false, 2);
}
function adamMeta15(P: usize, G: usize, M: usize, V: usize, n: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
    gs: f32, b1: f32, b1c: f32, b2: f32, b2c: f32, ss: f32, ib: f32, eps: f32, wd: f32, dc: f32, ieps: f32): void {
  adamMetaLoop(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps, false, true, true, 0);
}
function adamMeta16(P: usize, G: usize, M: usize, V: usize, n: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
    gs: f32, b1: f32, b1c: f32, b2: f32, b2c: f32, ss: f32, ib: f32, eps: f32, wd: f32, dc: f32, ieps: f32): void {
  adamMetaLoop(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps, false, true, true, 1);
}
function adamMeta17(P: usize, G: usize, M: usize, V: usize, n: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
    gs: f32, b1: f32, b1c: f32, b2: f32, b2c: f32, ss: f32, ib: f32, eps: f32, wd: f32, dc: f32, ieps: f32): void {
  adamMetaLoop(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps, false, true, true, 2);
}

function adamMeta18(P: usize, G: usize, M: usize, V: usize, n: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
    gs: f32, b1: f32, b1c: f32, b2: f32, b2c: f32, ss: f32, ib: f32, eps: f32, wd: f32, dc: f32, ieps: f32): void {
  adamMetaLoop(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps, false, false, false, 3);
}
function adamMeta19(P: usize, G: usize, M: usize, V: usize, n: usize, T: usize, HV: usize, stride: usize, K: usize, span: usize, MH: usize,
    gs: f32, b1: f32, b1c: f32, b2: f32, b2c: f32, ss: f32, ib: f32, eps: f32, wd: f32, dc: f32, ieps: f32): void {
  adamMetaLoop(P, G, M, V, n, T, HV, stride, K, span, MH, gs, b1, b1c, b2, b2c, ss, ib, eps, wd, dc, ieps, false, true, false, 3);
}

@inline function adamMetaVariant(d: usize, e: usize, hvp: bool): void {
  const h = descHyper(d);
  if (hyperFlag(h, ADAM_USE_L2)) adamMetaTensor(d, e, true, false, hvp);
  else if (hyperFlag(h, ADAM_USE_DECAY)) adamMetaTensor(d, e, false, true, hvp);
  else adamMetaTensor(d, e, false, false, hvp);
}

/** One Adam/AdamW step (without AMSGrad or clipping) over every tensor of the step table, with the
 *  tangents of the meta table (one descriptor per tensor) updated in the same pass. */
export function adamMetaStep(table: usize, meta: usize, count: i32): void {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES, e = meta + <usize>t * META_DESC_BYTES;
    if (metaHvp(e) != 0) adamMetaVariant(d, e, true);
    else adamMetaVariant(d, e, false);
  }
}
