// Adagrad's arithmetic on one vector (or one element), after the gradient is formed (scaled and
// clamped by the caller): the dense step and the embedding rows use it.
//   g += wd * p;  sum += g^2;  p -= clr * g / (sqrt(sum) + eps)
// `L` is the lane group's offset in an unrolled block (shared/lane.ts).

import { Lane0 } from "../../shared/lane";

/** Adagrad's update of four elements at byte offset `o` (p at P + o, sum at S + o). */
@inline export function adagradApplyVec<L = Lane0>(g: v128, P: usize, S: usize, o: usize, clr: v128, eps: v128, wd: v128, useWd: bool): void {
  const p = v128.load(P + o, offsetof<L>());
  if (useWd) g = f32x4.add(g, f32x4.mul(wd, p));
  const s = f32x4.add(v128.load(S + o, offsetof<L>()), f32x4.mul(g, g));
  v128.store(S + o, s, offsetof<L>());
  v128.store(P + o, f32x4.sub(p, f32x4.mul(clr, f32x4.div(g, f32x4.add(f32x4.sqrt(s), eps)))), offsetof<L>());
}

/** Adagrad's update of the element at byte offset `o`. */
@inline export function adagradApplyOne(g: f32, P: usize, S: usize, o: usize, clr: f32, eps: f32, wd: f32, useWd: bool): void {
  const p = load<f32>(P + o);
  if (useWd) g = g + wd * p;
  const s = load<f32>(S + o) + g * g;
  store<f32>(S + o, s);
  store<f32>(P + o, p - clr * (g / (sqrt<f32>(s) + eps)));
}
