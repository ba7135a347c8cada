// One lane group (adamaxVec, 4 floats) and one float (adamaxOne) of the Adamax update, and
// adamaxSpan, the loop over `n` floats that reads the ADAMAX_* hyper slots; shared by the dense
// kernel (assembly/adamax.ts: a span per tensor) and the embedding rows (assembly/embedding.ts: a
// span per row, with clamp bounds -Infinity and Infinity, which change no value, NaN included):
//   g = gscale * clamp(grad) (+ wd * p, L2);  m += (1 - b1) (g - m);  u = max(b2 u, |g| + eps)
//   p -= clr * m / u,  clr = lr / (1 - b1^t)
// Internal: not re-exported by index.ts, since a v128 signature cannot be exported from the
// scalar build. `clip` false skips the clamp to [lo, hi] (the embedding rows have none); `plain`
// uses the gradient as it is (no clamp, no scale: the dense kernel's default options).

import { hyperF32 } from "../../shared/common";
import { CLIP_LO, CLIP_HI } from "../../shared/clip";
import { clampVec, clampOne } from "../../shared/clamp";
import { ADAMAX_GSCALE, ADAMAX_OMB1, ADAMAX_BETA2, ADAMAX_CLR, ADAMAX_EPS, ADAMAX_WD } from "./slots";
import { Lane0, Lane1, Lane2, Lane3 } from "../../shared/lane";

// max(a, b) with a NaN on either side giving NaN, as torch.maximum, for a = b2 u and b = |g| + eps
// (never -0, so the order of signed zeros does not arise). f32x4.max gives the same values but
// costs eight instructions on x86; pmax(b, a) (b < a ? a : b) is one and keeps a NaN b, and the
// select keeps a NaN a. The scalar form selects exactly the same values.
@inline function maxVec(a: v128, b: v128): v128 {
  return v128.bitselect(a, f32x4.pmax(b, a), f32x4.ne(a, a));
}

@inline function maxOne(a: f32, b: f32): f32 {
  return a != a ? a : b < a ? a : b;
}

@inline export function adamaxVec<L = Lane0>(P: usize, G: usize, M: usize, U: usize, o: usize,
                                  gs: v128, lo: v128, hi: v128, b1c: v128, b2: v128, clr: v128, eps: v128, wd: v128, absMask: v128,
                                  useWd: bool, clip: bool, plain: bool): void {
  const p = v128.load(P + o, offsetof<L>());
  const raw = v128.load(G + o, offsetof<L>());
  let g = plain ? raw : f32x4.mul(clip ? clampVec(raw, lo, hi) : raw, gs);
  if (useWd) g = f32x4.add(g, f32x4.mul(wd, p));
  let m = v128.load(M + o, offsetof<L>());
  m = f32x4.add(m, f32x4.mul(b1c, f32x4.sub(g, m)));
  const u = maxVec(f32x4.mul(v128.load(U + o, offsetof<L>()), b2), f32x4.add(v128.and(g, absMask), eps));
  v128.store(M + o, m, offsetof<L>());
  v128.store(U + o, u, offsetof<L>());
  v128.store(P + o, f32x4.sub(p, f32x4.mul(clr, f32x4.div(m, u))), offsetof<L>());
}

@inline export function adamaxOne(P: usize, G: usize, M: usize, U: usize, o: usize,
                                  gs: f32, lo: f32, hi: f32, b1c: f32, b2: f32, clr: f32, eps: f32, wd: f32,
                                  useWd: bool, clip: bool, plain: bool): void {
  const p = load<f32>(P + o);
  const raw = load<f32>(G + o);
  let g = plain ? raw : (clip ? clampOne(raw, lo, hi) : raw) * gs;
  if (useWd) g = g + wd * p;
  let m = load<f32>(M + o);
  m = m + b1c * (g - m);
  const u = maxOne(load<f32>(U + o) * b2, abs<f32>(g) + eps);
  store<f32>(M + o, m);
  store<f32>(U + o, u);
  store<f32>(P + o, p - clr * (m / u));
}

/** Adamax over `n` floats at P (gradients G, exp_avg M, exp_inf U), hyper block `h`. */
@inline export function adamaxSpan(P: usize, G: usize, M: usize, U: usize, n: usize, h: usize, useWd: bool, clip: bool = true, plain: bool = false): void {
  const gs = hyperF32(h, ADAMAX_GSCALE), lo = hyperF32(h, CLIP_LO), hi = hyperF32(h, CLIP_HI);
  const b1c = hyperF32(h, ADAMAX_OMB1), b2 = hyperF32(h, ADAMAX_BETA2), clr = hyperF32(h, ADAMAX_CLR);
  const eps = hyperF32(h, ADAMAX_EPS), wd = hyperF32(h, ADAMAX_WD);
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vgs = f32x4.splat(gs), vlo = f32x4.splat(lo), vhi = f32x4.splat(hi), vb1c = f32x4.splat(b1c);
    const vb2 = f32x4.splat(b2), vclr = f32x4.splat(clr), veps = f32x4.splat(eps), vwd = f32x4.splat(wd);
    const vabs = i32x4.splat(0x7fffffff); // |x|: the sign bit cleared (f32x4.abs makes this mask anew each time)
    const n16 = n & ~(<usize>15);
    for (; i < n16; i += 16) {
      const o = i << 2;
      adamaxVec(P, G, M, U, o, vgs, vlo, vhi, vb1c, vb2, vclr, veps, vwd, vabs, useWd, clip, plain);
      adamaxVec<Lane1>(P, G, M, U, o, vgs, vlo, vhi, vb1c, vb2, vclr, veps, vwd, vabs, useWd, clip, plain);
      adamaxVec<Lane2>(P, G, M, U, o, vgs, vlo, vhi, vb1c, vb2, vclr, veps, vwd, vabs, useWd, clip, plain);
      adamaxVec<Lane3>(P, G, M, U, o, vgs, vlo, vhi, vb1c, vb2, vclr, veps, vwd, vabs, useWd, clip, plain);
    }
    const n4 = n & ~(<usize>3);
    for (; i < n4; i += 4) adamaxVec(P, G, M, U, i << 2, vgs, vlo, vhi, vb1c, vb2, vclr, veps, vwd, vabs, useWd, clip, plain);
  }
  for (; i < n; i++) adamaxOne(P, G, M, U, i << 2, gs, lo, hi, b1c, b2, clr, eps, wd, useWd, clip, plain);
}
