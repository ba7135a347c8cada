// One lane group (nadamVec, 4 floats) and one float (nadamOne) of the NAdam update, and nadamSpan,
// the loop over `n` floats that reads the NADAM_* hyper slots; shared by the dense kernel
// (assembly/nadam.ts: a span per tensor) and the embedding rows (assembly/embedding.ts: a span
// per row):
//   g = gscale * clamp(grad) (+ wd * p, L2);  p *= 1 - lr * wd (decoupled)
//   m += (1 - b1) (g - m);  v = b2 v + (1 - b2) g^2;  denom = sqrt(v * (1 / (1 - b2^t))) + eps
//   p -= (cg * g + cm * m) / denom
// The L2 gradient and the two moments are shared with RAdam (shared/moments.ts).
// PyTorch divides three times (v by the bias correction, then g and m by denom, in two addcdiv_);
// the same quantities with one division and one multiply by the reciprocal computed in float64
// differ from those by float32 rounding only, and the loop, bound by the divider, runs about
// twice as fast.
// The clamp to [CLIP_LO, CLIP_HI] stays in for the embedding rows (a table writes -Infinity and
// Infinity there, which changes no value, NaN included). `plain` skips the clamp and the scale: the
// dense kernel's default options take that loop, in a function of its own (step.ts; inlined beside
// the other variants, such a flag changed how Binaryen compiled them). `L` is the lane group's
// offset in an unrolled block (shared/lane.ts). Internal: not re-exported by index.ts, since a
// v128 signature cannot be exported from the scalar build.

import { hyperF32 } from "../../shared/common";
import { CLIP_LO, CLIP_HI } from "../../shared/clip";
import { l2GradVec, l2GradOne, lerpMomentVec, lerpMomentOne, squareMomentVec, squareMomentOne } from "../../shared/moments";
import { NADAM_GSCALE, NADAM_OMB1, NADAM_BETA2, NADAM_OMB2, NADAM_INV_BC2, NADAM_EPS, NADAM_CG, NADAM_CM, NADAM_L2, NADAM_DECAY } from "./slots";
import { Lane0, Lane1, Lane2, Lane3 } from "../../shared/lane";

@inline export function nadamVec<L = Lane0>(P: usize, G: usize, M: usize, V: usize, o: usize,
                                 gs: v128, lo: v128, hi: v128, b1c: v128, b2: v128, b2c: v128, ibc2: v128, eps: v128,
                                 cg: v128, cm: v128, wd: v128, dc: v128, l2: bool, dec: bool, plain: bool = false): void {
  let p = v128.load(P + o, offsetof<L>());
  const g = l2GradVec<L>(G, o, p, gs, lo, hi, wd, l2, plain);
  if (dec) p = f32x4.mul(p, dc);
  const m = lerpMomentVec<L>(M, o, g, b1c), v = squareMomentVec<L>(V, o, g, b2, b2c);
  const denom = f32x4.add(f32x4.sqrt(f32x4.mul(v, ibc2)), eps);
  v128.store(P + o, f32x4.sub(p, f32x4.div(f32x4.add(f32x4.mul(cg, g), f32x4.mul(cm, m)), denom)), offsetof<L>());
}

@inline export function nadamOne(P: usize, G: usize, M: usize, V: usize, o: usize,
                                 gs: f32, lo: f32, hi: f32, b1c: f32, b2: f32, b2c: f32, ibc2: f32, eps: f32,
                                 cg: f32, cm: f32, wd: f32, dc: f32, l2: bool, dec: bool, plain: bool = false): void {
  let p = load<f32>(P + o);
  const g = l2GradOne(G, o, p, gs, lo, hi, wd, l2, plain);
  if (dec) p = p * dc;
  const m = lerpMomentOne(load<f32>(M + o), g, b1c), v = squareMomentOne(load<f32>(V + o), g, b2, b2c);
  store<f32>(M + o, m), store<f32>(V + o, v);
  const denom = sqrt<f32>(v * ibc2) + eps;
  store<f32>(P + o, p - (cg * g + cm * m) / denom);
}

/** NAdam over `n` floats at P (gradients G, exp_avg M, exp_avg_sq V), hyper block `h`. */
@inline export function nadamSpan(P: usize, G: usize, M: usize, V: usize, n: usize, h: usize, l2: bool, dec: bool, plain: bool = false): void {
  const gs = hyperF32(h, NADAM_GSCALE);
  const lo = hyperF32(h, CLIP_LO), hi = hyperF32(h, CLIP_HI);
  const b1c = hyperF32(h, NADAM_OMB1), b2 = hyperF32(h, NADAM_BETA2), b2c = hyperF32(h, NADAM_OMB2);
  const ibc2 = hyperF32(h, NADAM_INV_BC2), eps = hyperF32(h, NADAM_EPS), cg = hyperF32(h, NADAM_CG), cm = hyperF32(h, NADAM_CM);
  const wd = hyperF32(h, NADAM_L2), dc = hyperF32(h, NADAM_DECAY);
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vgs = f32x4.splat(gs), vlo = f32x4.splat(lo), vhi = f32x4.splat(hi), vb1c = f32x4.splat(b1c);
    const vb2 = f32x4.splat(b2), vb2c = f32x4.splat(b2c), vibc2 = f32x4.splat(ibc2), veps = f32x4.splat(eps);
    const vcg = f32x4.splat(cg), vcm = f32x4.splat(cm), vwd = f32x4.splat(wd), vdc = f32x4.splat(dc);
    const n16 = n & ~(<usize>15);
    for (; i < n16; i += 16) {
      const o = i << 2;
      nadamVec(P, G, M, V, o, vgs, vlo, vhi, vb1c, vb2, vb2c, vibc2, veps, vcg, vcm, vwd, vdc, l2, dec, plain);
      nadamVec<Lane1>(P, G, M, V, o, vgs, vlo, vhi, vb1c, vb2, vb2c, vibc2, veps, vcg, vcm, vwd, vdc, l2, dec, plain);
      nadamVec<Lane2>(P, G, M, V, o, vgs, vlo, vhi, vb1c, vb2, vb2c, vibc2, veps, vcg, vcm, vwd, vdc, l2, dec, plain);
      nadamVec<Lane3>(P, G, M, V, o, vgs, vlo, vhi, vb1c, vb2, vb2c, vibc2, veps, vcg, vcm, vwd, vdc, l2, dec, plain);
    }
    const n4 = n & ~(<usize>3);
    for (; i < n4; i += 4) nadamVec(P, G, M, V, i << 2, vgs, vlo, vhi, vb1c, vb2, vb2c, vibc2, veps, vcg, vcm, vwd, vdc, l2, dec, plain);
  }
  for (; i < n; i++) nadamOne(P, G, M, V, i << 2, gs, lo, hi, b1c, b2, b2c, ibc2, eps, cg, cm, wd, dc, l2, dec, plain);
}
