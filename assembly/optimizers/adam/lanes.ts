// One lane group (adamVec, 4 floats) and one float (adamOne) of the Adam/AdamW/AMSGrad update,
// shared by the dense kernel (assembly/adam.ts) and the embedding rows (assembly/embedding.ts).
// Internal: not re-exported by index.ts, since a v128 signature cannot be exported from the
// scalar build. `clip` false skips the clamp to [lo, hi] (the embedding rows have none); `plain`
// skips the clamp and the gradient scale (the dense loop of the default options). `L` is the lane
// group's offset in an unrolled block (shared/lane.ts).

import { clampVec, clampOne } from "../../shared/clamp";
import { Lane0 } from "../../shared/lane";

// AMSGrad's running maximum max(x, v) of the stored maximum x and the new second moment v, as
// `v < x ? x : v`: f32x4.pmax, one instruction, where V8 lowers f32x4.max (NaN and signed-zero
// handling) to about eight. It equals PyTorch's torch.maximum for every pair the step can meet: v
// is never -0 (a sum of products with +0 terms), a NaN v is kept, and x is NaN only after a NaN v,
// which then stays NaN (NaN state is refused by loadStateDict and setState). The scalar form is the
// same select, so both builds store the same bits, NaN payloads included.
@inline export function amsMax4(x: v128, v: v128): v128 { return f32x4.pmax(v, x); }
@inline export function amsMax1(x: f32, v: f32): f32 { return select<f32>(x, v, v < x); }

@inline export function adamVec<L = Lane0>(
  P: usize, G: usize, M: usize, V: usize, X: usize, o: usize,
  gs: v128, lo: v128, hi: v128, b1: v128, b1c: v128, b2: v128, b2c: v128, ss: v128, ib: v128, eps: v128, wd: v128, dc: v128,
  ams: bool, l2: bool, dec: bool, clip: bool = true, plain: bool = false,
): void {
  let p = v128.load(P + o, offsetof<L>());
  const raw = v128.load(G + o, offsetof<L>());
  let g = plain ? raw : f32x4.mul(clip ? clampVec(raw, lo, hi) : raw, gs);
  if (l2) g = f32x4.add(g, f32x4.mul(wd, p));
  if (dec) p = f32x4.mul(p, dc);
  let m = v128.load(M + o, offsetof<L>());
  m = f32x4.add(f32x4.mul(m, b1), f32x4.mul(b1c, g));
  let v = f32x4.add(f32x4.mul(v128.load(V + o, offsetof<L>()), b2), f32x4.mul(f32x4.mul(b2c, g), g));
  v128.store(M + o, m, offsetof<L>());
  v128.store(V + o, v, offsetof<L>());
  if (ams) {
    v = amsMax4(v128.load(X + o, offsetof<L>()), v);
    v128.store(X + o, v, offsetof<L>());
  }
  const denom = f32x4.add(f32x4.mul(f32x4.sqrt(v), ib), eps);
  v128.store(P + o, f32x4.sub(p, f32x4.mul(ss, f32x4.div(m, denom))), offsetof<L>());
}

@inline export function adamOne(
  P: usize, G: usize, M: usize, V: usize, X: usize, o: usize,
  gs: f32, lo: f32, hi: f32, b1: f32, b1c: f32, b2: f32, b2c: f32, ss: f32, ib: f32, eps: f32, wd: f32, dc: f32,
  ams: bool, l2: bool, dec: bool, clip: bool = true, plain: bool = false,
): void {
  let p = load<f32>(P + o);
  const raw = load<f32>(G + o);
  let g = plain ? raw : (clip ? clampOne(raw, lo, hi) : raw) * gs;
  if (l2) g = g + wd * p;
  if (dec) p = p * dc;
  let m = load<f32>(M + o);
  m = m * b1 + b1c * g;
  let v = load<f32>(V + o) * b2 + (b2c * g) * g;
  store<f32>(M + o, m);
  store<f32>(V + o, v);
  if (ams) {
    v = amsMax1(load<f32>(X + o), v);
    store<f32>(X + o, v);
  }
  const denom = sqrt<f32>(v) * ib + eps;
  store<f32>(P + o, p - ss * (m / denom));
}
