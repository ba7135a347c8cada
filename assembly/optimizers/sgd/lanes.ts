// SGD's arithmetic on one vector (or one element), after the gradient is formed (scaled and
// clamped by the caller): the dense step, SGD-HD's step and the embedding rows all use it.
//   d = g + wd * p
//   buf = d (first step) | momentum * buf + (1 - dampening) * d
//   d = d + momentum * buf (Nesterov) | buf
// Returns d (the caller applies p -= lr * d); the momentum buffer at B + o is updated here (at the
// lane group's offset `L` in an unrolled block: shared/lane.ts).

import { Lane0 } from "../../shared/lane";

/** SGD's direction for four elements at byte offset `o`. */
@inline export function sgdDirVec<L = Lane0>(g: v128, p: v128, B: usize, o: usize, mu: v128, omd: v128, wd: v128,
                                  useMom: bool, first: bool, nest: bool, useWd: bool): v128 {
  let d = g;
  if (useWd) d = f32x4.add(d, f32x4.mul(wd, p));
  if (useMom) {
    let b: v128;
    if (first) b = d;
    else b = f32x4.add(f32x4.mul(v128.load(B + o, offsetof<L>()), mu), f32x4.mul(omd, d));
    v128.store(B + o, b, offsetof<L>());
    if (nest) d = f32x4.add(d, f32x4.mul(mu, b));
    else d = b;
  }
  return d;
}

/** SGD's direction for the element at byte offset `o`. */
@inline export function sgdDirOne(g: f32, p: f32, B: usize, o: usize, mu: f32, omd: f32, wd: f32,
                                  useMom: bool, first: bool, nest: bool, useWd: bool): f32 {
  let d = g;
  if (useWd) d = d + wd * p;
  if (useMom) {
    let b: f32;
    if (first) b = d;
    else b = load<f32>(B + o) * mu + omd * d;
    store<f32>(B + o, b);
    if (nest) d = d + mu * b;
    else d = b;
  }
  return d;
}
