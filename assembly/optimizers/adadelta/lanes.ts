// One lane group (adadeltaVec, 4 floats) and one float (adadeltaOne) of the Adadelta update, and
// adadeltaSpan, the loop over `n` floats that reads the ADADELTA_* hyper slots; shared by the
// dense kernel (assembly/adadelta.ts: a span per tensor) and the embedding rows
// (assembly/embedding.ts: a span per row):
//   g = gscale * clamp(grad) (+ wd * p, L2);  sq = rho sq + (1 - rho) g^2
//   delta = sqrt(acc + eps) / sqrt(sq + eps) * g;  acc = rho acc + (1 - rho) delta^2;  p -= lr delta
// The clamp to [CLIP_LO, CLIP_HI] stays in for the embedding rows (a table writes -Infinity and
// Infinity there, which changes no value, NaN included). `plain` skips the clamp and the scale: the
// dense kernel's default options take that loop, in a function of its own (step.ts; inlined beside
// the other variants, such a flag changed how Binaryen compiled them). `L` is the lane group's
// offset in an unrolled block (shared/lane.ts). Internal: not re-exported by index.ts, since a
// v128 signature cannot be exported from the scalar build.

import { hyperF32 } from "../../shared/common";
import { CLIP_LO, CLIP_HI } from "../../shared/clip";
import { gradVec, gradOne } from "../../shared/clamp";
import { ADADELTA_GSCALE, ADADELTA_LR, ADADELTA_RHO, ADADELTA_OMR, ADADELTA_EPS, ADADELTA_WD } from "./slots";
import { Lane0, Lane1, Lane2, Lane3 } from "../../shared/lane";

@inline export function adadeltaVec<L = Lane0>(P: usize, G: usize, S: usize, A: usize, o: usize,
                                    gs: v128, lo: v128, hi: v128, lr: v128, rho: v128, omr: v128, eps: v128, wd: v128,
                                    useWd: bool, plain: bool = false): void {
  const p = v128.load(P + o, offsetof<L>());
  let g = gradVec(v128.load(G + o, offsetof<L>()), gs, lo, hi, plain);
  if (useWd) g = f32x4.add(g, f32x4.mul(wd, p));
  const sq = f32x4.add(f32x4.mul(v128.load(S + o, offsetof<L>()), rho), f32x4.mul(f32x4.mul(omr, g), g));
  const std = f32x4.sqrt(f32x4.add(sq, eps));
  let acc = v128.load(A + o, offsetof<L>());
  const delta = f32x4.mul(f32x4.div(f32x4.sqrt(f32x4.add(acc, eps)), std), g);
  acc = f32x4.add(f32x4.mul(acc, rho), f32x4.mul(f32x4.mul(omr, delta), delta));
  v128.store(S + o, sq, offsetof<L>());
  v128.store(A + o, acc, offsetof<L>());
  v128.store(P + o, f32x4.sub(p, f32x4.mul(lr, delta)), offsetof<L>());
}

@inline export function adadeltaOne(P: usize, G: usize, S: usize, A: usize, o: usize,
                                    gs: f32, lo: f32, hi: f32, lr: f32, rho: f32, omr: f32, eps: f32, wd: f32,
                                    useWd: bool, plain: bool = false): void {
  const p = load<f32>(P + o);
  let g = gradOne(load<f32>(G + o), gs, lo, hi, plain);
  if (useWd) g = g + wd * p;
  const sq = load<f32>(S + o) * rho + (omr * g) * g;
  const std = sqrt<f32>(sq + eps);
  let acc = load<f32>(A + o);
  const delta = (sqrt<f32>(acc + eps) / std) * g;
  acc = acc * rho + (omr * delta) * delta;
  store<f32>(S + o, sq);
  store<f32>(A + o, acc);
  store<f32>(P + o, p - lr * delta);
}

/** Adadelta over `n` floats at P (gradients G, square_avg S, acc_delta A), hyper block `h`. */
@inline export function adadeltaSpan(P: usize, G: usize, S: usize, A: usize, n: usize, h: usize, useWd: bool, plain: bool = false): void {
  const gs = hyperF32(h, ADADELTA_GSCALE);
  const lo = hyperF32(h, CLIP_LO), hi = hyperF32(h, CLIP_HI);
  const lr = hyperF32(h, ADADELTA_LR), rho = hyperF32(h, ADADELTA_RHO), omr = hyperF32(h, ADADELTA_OMR);
  const eps = hyperF32(h, ADADELTA_EPS), wd = hyperF32(h, ADADELTA_WD);
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vgs = f32x4.splat(gs), vlo = f32x4.splat(lo), vhi = f32x4.splat(hi), vlr = f32x4.splat(lr);
    const vrho = f32x4.splat(rho), vomr = f32x4.splat(omr), veps = f32x4.splat(eps), vwd = f32x4.splat(wd);
    const n16 = n & ~(<usize>15);
    for (; i < n16; i += 16) {
      const o = i << 2;
      adadeltaVec(P, G, S, A, o, vgs, vlo, vhi, vlr, vrho, vomr, veps, vwd, useWd, plain);
      adadeltaVec<Lane1>(P, G, S, A, o, vgs, vlo, vhi, vlr, vrho, vomr, veps, vwd, useWd, plain);
      adadeltaVec<Lane2>(P, G, S, A, o, vgs, vlo, vhi, vlr, vrho, vomr, veps, vwd, useWd, plain);
      adadeltaVec<Lane3>(P, G, S, A, o, vgs, vlo, vhi, vlr, vrho, vomr, veps, vwd, useWd, plain);
    }
    const n4 = n & ~(<usize>3);
    for (; i < n4; i += 4) adadeltaVec(P, G, S, A, i << 2, vgs, vlo, vhi, vlr, vrho, vomr, veps, vwd, useWd, plain);
  }
  for (; i < n; i++) adadeltaOne(P, G, S, A, i << 2, gs, lo, hi, lr, rho, omr, eps, wd, useWd, plain);
}
