// The pieces NAdam's and RAdam's lanes share (optimizers/nadam/lanes.ts, optimizers/radam/lanes.ts):
// the gradient with the L2 term, and the two moments in PyTorch's order of operations
//   g = gscale * clamp(grad) (+ wd * p, L2)
//   m += (1 - b1) (g - m)             (exp_avg.lerp_(grad, 1 - beta1))
//   v = b2 v + (1 - b2) g^2           (exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2))
// The lane-group helpers load and store their moment; the one-float helpers take the loaded moments
// and leave both stores to the caller, after both loads. In these forms Binaryen compiles the scalar
// build and the SIMD lane-group loops to the same bytes as when each lanes file had its own copy
// (with the scalar stores inside, the scalar build's RAdam loop ran 2-4% slower). Adam's
// first moment is m * b1 + (1 - b1) g (other bits), so Adam keeps its own (optimizers/adam/lanes.ts).
// `L` is the lane group's offset in an unrolled block (shared/lane.ts). Internal: not re-exported by
// index.ts, since a v128 signature cannot be exported from the scalar build.

import { gradVec, gradOne } from "./clamp";
import { Lane0 } from "./lane";

/** The gradient at G + o, clamped and scaled unless `plain`, plus `wd * p` when `l2`. */
@inline export function l2GradVec<L = Lane0>(G: usize, o: usize, p: v128, gs: v128, lo: v128, hi: v128, wd: v128, l2: bool, plain: bool): v128 {
  const g = gradVec(v128.load(G + o, offsetof<L>()), gs, lo, hi, plain);
  return l2 ? f32x4.add(g, f32x4.mul(wd, p)) : g;
}

/** exp_avg at M + o moved toward g by `b1c` (1 - beta1), stored and returned. */
@inline export function lerpMomentVec<L = Lane0>(M: usize, o: usize, g: v128, b1c: v128): v128 {
  const m0 = v128.load(M + o, offsetof<L>());
  const m = f32x4.add(m0, f32x4.mul(b1c, f32x4.sub(g, m0)));
  v128.store(M + o, m, offsetof<L>());
  return m;
}

/** exp_avg_sq at V + o times `b2` plus `b2c` (1 - beta2) g^2, stored and returned. */
@inline export function squareMomentVec<L = Lane0>(V: usize, o: usize, g: v128, b2: v128, b2c: v128): v128 {
  const v = f32x4.add(f32x4.mul(v128.load(V + o, offsetof<L>()), b2), f32x4.mul(f32x4.mul(b2c, g), g));
  v128.store(V + o, v, offsetof<L>());
  return v;
}

/** One float of l2GradVec. */
@inline export function l2GradOne(G: usize, o: usize, p: f32, gs: f32, lo: f32, hi: f32, wd: f32, l2: bool, plain: bool): f32 {
  const g = gradOne(load<f32>(G + o), gs, lo, hi, plain);
  return l2 ? g + wd * p : g;
}

/** One float of lerpMomentVec, from the loaded exp_avg `m`; the caller stores it. */
@inline export function lerpMomentOne(m: f32, g: f32, b1c: f32): f32 {
  return m + b1c * (g - m);
}

/** One float of squareMomentVec, from the loaded exp_avg_sq `v`; the caller stores it. */
@inline export function squareMomentOne(v: f32, g: f32, b2: f32, b2c: f32): f32 {
  return v * b2 + (b2c * g) * g;
}
