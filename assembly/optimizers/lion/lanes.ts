// One lane group (lionVec, 4 floats) and one float (lionOne) of the Lion update (optax.lion), and
// lionSpan, the loop over `n` floats that reads the LION_* hyper slots; shared by the dense kernel
// (assembly/lion.ts: a span per tensor) and the embedding rows (assembly/embedding.ts: a span per
// row, with clamp bounds -Infinity and Infinity, which change no value, NaN included):
//   g = gscale * clamp(grad);  c = b1 m + (1 - b1) g;  m = b2 m + (1 - b2) g
//   p -= lr * (sign(c) + wd * p)
// sign(0) = 0 and sign(NaN) = NaN as in jnp.sign. Internal: not re-exported by index.ts, since a
// v128 signature cannot be exported from the scalar build. `clip` false skips the clamp to
// [lo, hi] (the embedding rows have none); `plain` skips the clamp and the scale (the dense loops
// of the default options). `L` is the lane group's offset in an unrolled block (shared/lane.ts).

import { hyperF32 } from "../../shared/common";
import { CLIP_LO, CLIP_HI } from "../../shared/clip";
import { clampVec, clampOne } from "../../shared/clamp";
import { LION_GSCALE, LION_LR, LION_BETA1, LION_OMB1, LION_BETA2, LION_OMB2, LION_WD } from "./slots";
import { Lane0, Lane1, Lane2, Lane3 } from "../../shared/lane";

@inline export function lionVec<L = Lane0>(P: usize, G: usize, M: usize, o: usize,
                                gs: v128, lo: v128, hi: v128, lr: v128, b1: v128, b1c: v128, b2: v128, b2c: v128, wd: v128,
                                useWd: bool, clip: bool = true, plain: bool = false): void {
  const p = v128.load(P + o, offsetof<L>());
  const raw = v128.load(G + o, offsetof<L>());
  const g = plain ? raw : f32x4.mul(clip ? clampVec(raw, lo, hi) : raw, gs);
  const m = v128.load(M + o, offsetof<L>());
  const c = f32x4.add(f32x4.mul(b1, m), f32x4.mul(b1c, g));
  v128.store(M + o, f32x4.add(f32x4.mul(b2, m), f32x4.mul(b2c, g)), offsetof<L>());
  const zero = f32x4.splat(0), one = f32x4.splat(1);
  // sign(c): 1, -1 or 0; adding c * 0 turns it into NaN when c is NaN (and changes nothing else).
  let u = f32x4.sub(v128.and(f32x4.gt(c, zero), one), v128.and(f32x4.lt(c, zero), one));
  u = f32x4.add(u, f32x4.mul(c, zero));
  if (useWd) u = f32x4.add(u, f32x4.mul(wd, p));
  v128.store(P + o, f32x4.sub(p, f32x4.mul(lr, u)), offsetof<L>());
}

@inline export function lionOne(P: usize, G: usize, M: usize, o: usize,
                                gs: f32, lo: f32, hi: f32, lr: f32, b1: f32, b1c: f32, b2: f32, b2c: f32, wd: f32,
                                useWd: bool, clip: bool = true, plain: bool = false): void {
  const p = load<f32>(P + o);
  const raw = load<f32>(G + o);
  const g = plain ? raw : (clip ? clampOne(raw, lo, hi) : raw) * gs;
  const m = load<f32>(M + o);
  const c = b1 * m + b1c * g;
  store<f32>(M + o, b2 * m + b2c * g);
  let u: f32 = c > 0 ? 1 : c < 0 ? -1 : 0;
  u = u + c * 0;
  if (useWd) u = u + wd * p;
  store<f32>(P + o, p - lr * u);
}

/** Lion over `n` floats at P (gradients G, exp_avg M), hyper block `h`. */
@inline export function lionSpan(P: usize, G: usize, M: usize, n: usize, h: usize, useWd: bool, clip: bool = true, plain: bool = false): void {
  const gs = hyperF32(h, LION_GSCALE), lo = hyperF32(h, CLIP_LO), hi = hyperF32(h, CLIP_HI);
  const lr = hyperF32(h, LION_LR), b1 = hyperF32(h, LION_BETA1), b1c = hyperF32(h, LION_OMB1);
  const b2 = hyperF32(h, LION_BETA2), b2c = hyperF32(h, LION_OMB2), wd = hyperF32(h, LION_WD);
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vgs = f32x4.splat(gs), vlo = f32x4.splat(lo), vhi = f32x4.splat(hi), vlr = f32x4.splat(lr);
    const vb1 = f32x4.splat(b1), vb1c = f32x4.splat(b1c), vb2 = f32x4.splat(b2), vb2c = f32x4.splat(b2c);
    const vwd = f32x4.splat(wd);
    const n16 = n & ~(<usize>15);
    for (; i < n16; i += 16) {
      const o = i << 2;
      lionVec(P, G, M, o, vgs, vlo, vhi, vlr, vb1, vb1c, vb2, vb2c, vwd, useWd, clip, plain);
      lionVec<Lane1>(P, G, M, o, vgs, vlo, vhi, vlr, vb1, vb1c, vb2, vb2c, vwd, useWd, clip, plain);
      lionVec<Lane2>(P, G, M, o, vgs, vlo, vhi, vlr, vb1, vb1c, vb2, vb2c, vwd, useWd, clip, plain);
      lionVec<Lane3>(P, G, M, o, vgs, vlo, vhi, vlr, vb1, vb1c, vb2, vb2c, vwd, useWd, clip, plain);
    }
    const n4 = n & ~(<usize>3);
    for (; i < n4; i += 4) lionVec(P, G, M, i << 2, vgs, vlo, vhi, vlr, vb1, vb1c, vb2, vb2c, vwd, useWd, clip, plain);
  }
  for (; i < n; i++) lionOne(P, G, M, i << 2, gs, lo, hi, lr, b1, b1c, b2, b2c, wd, useWd, clip, plain);
}
