// One lane group (radamVec, 4 floats) and one float (radamOne) of the RAdam update, and radamSpan,
// the loop over `n` floats that reads the RADAM_* hyper slots; shared by the dense kernel
// (assembly/radam.ts: a span per tensor) and the embedding rows (assembly/embedding.ts: a span
// per row):
//   g = gscale * clamp(grad) (+ wd * p, L2);  p *= 1 - lr * wd (decoupled)
//   m += (1 - b1) (g - m);  v = b2 v + (1 - b2) g^2
//   rect (rho_t > 5): p -= c * m / (sqrt(v) + eps);  otherwise: p -= c * m
// The L2 gradient and the two moments are shared with NAdam (shared/moments.ts).
// The clamp to [CLIP_LO, CLIP_HI] stays in (an embedding table writes -Infinity and Infinity
// there, which changes no value, NaN included): a flag to skip it changes how Binaryen compiles the
// dense kernel. Internal: not re-exported by index.ts, since a v128 signature cannot be exported
// from the scalar build.

import { hyperF32 } from "../../shared/common";
import { CLIP_LO, CLIP_HI } from "../../shared/clip";
import { l2GradVec, l2GradOne, lerpMomentVec, lerpMomentOne, squareMomentVec, squareMomentOne } from "../../shared/moments";
import { RADAM_GSCALE, RADAM_OMB1, RADAM_BETA2, RADAM_OMB2, RADAM_EPS, RADAM_COEF, RADAM_L2, RADAM_DECAY } from "./slots";
import { Lane0, Lane1, Lane2, Lane3 } from "../../shared/lane";

@inline export function radamVec<L = Lane0>(P: usize, G: usize, M: usize, V: usize, o: usize,
                                 gs: v128, lo: v128, hi: v128, b1c: v128, b2: v128, b2c: v128, eps: v128, c: v128,
                                 wd: v128, dc: v128, rect: bool, l2: bool, dec: bool, plain: bool = false): void {
  let p = v128.load(P + o, offsetof<L>());
  const g = l2GradVec<L>(G, o, p, gs, lo, hi, wd, l2, plain);
  if (dec) p = f32x4.mul(p, dc);
  const m = lerpMomentVec<L>(M, o, g, b1c), v = squareMomentVec<L>(V, o, g, b2, b2c);
  if (rect) p = f32x4.sub(p, f32x4.mul(c, f32x4.div(m, f32x4.add(f32x4.sqrt(v), eps))));
  else p = f32x4.sub(p, f32x4.mul(c, m));
  v128.store(P + o, p, offsetof<L>());
}

@inline export function radamOne(P: usize, G: usize, M: usize, V: usize, o: usize,
                                 gs: f32, lo: f32, hi: f32, b1c: f32, b2: f32, b2c: f32, eps: f32, c: f32,
                                 wd: f32, dc: f32, rect: bool, l2: bool, dec: bool, plain: bool = false): void {
  let p = load<f32>(P + o);
  const g = l2GradOne(G, o, p, gs, lo, hi, wd, l2, plain);
  if (dec) p = p * dc;
  const m = lerpMomentOne(load<f32>(M + o), g, b1c), v = squareMomentOne(load<f32>(V + o), g, b2, b2c);
  store<f32>(M + o, m), store<f32>(V + o, v);
  if (rect) p = p - c * (m / (sqrt<f32>(v) + eps));
  else p = p - c * m;
  store<f32>(P + o, p);
}

/** RAdam over `n` floats at P (gradients G, exp_avg M, exp_avg_sq V), hyper block `h`. */
@inline export function radamSpan(P: usize, G: usize, M: usize, V: usize, n: usize, h: usize,
                                  rect: bool, l2: bool, dec: bool, plain: bool = false): void {
  const gs = hyperF32(h, RADAM_GSCALE);
  const lo = hyperF32(h, CLIP_LO), hi = hyperF32(h, CLIP_HI);
  const b1c = hyperF32(h, RADAM_OMB1), b2 = hyperF32(h, RADAM_BETA2), b2c = hyperF32(h, RADAM_OMB2);
  const eps = hyperF32(h, RADAM_EPS), c = hyperF32(h, RADAM_COEF), wd = hyperF32(h, RADAM_L2), dc = hyperF32(h, RADAM_DECAY);
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vgs = f32x4.splat(gs), vlo = f32x4.splat(lo), vhi = f32x4.splat(hi), vb1c = f32x4.splat(b1c);
    const vb2 = f32x4.splat(b2), vb2c = f32x4.splat(b2c), veps = f32x4.splat(eps), vc = f32x4.splat(c);
    const vwd = f32x4.splat(wd), vdc = f32x4.splat(dc);
    const n16 = n & ~(<usize>15);
    for (; i < n16; i += 16) {
      const o = i << 2;
      radamVec(P, G, M, V, o, vgs, vlo, vhi, vb1c, vb2, vb2c, veps, vc, vwd, vdc, rect, l2, dec, plain);
      radamVec<Lane1>(P, G, M, V, o, vgs, vlo, vhi, vb1c, vb2, vb2c, veps, vc, vwd, vdc, rect, l2, dec, plain);
      radamVec<Lane2>(P, G, M, V, o, vgs, vlo, vhi, vb1c, vb2, vb2c, veps, vc, vwd, vdc, rect, l2, dec, plain);
      radamVec<Lane3>(P, G, M, V, o, vgs, vlo, vhi, vb1c, vb2, vb2c, veps, vc, vwd, vdc, rect, l2, dec, plain);
    }
    const n4 = n & ~(<usize>3);
    for (; i < n4; i += 4) radamVec(P, G, M, V, i << 2, vgs, vlo, vhi, vb1c, vb2, vb2c, veps, vc, vwd, vdc, rect, l2, dec, plain);
  }
  for (; i < n; i++) radamOne(P, G, M, V, i << 2, gs, lo, hi, b1c, b2, b2c, eps, c, wd, dc, rect, l2, dec, plain);
}
