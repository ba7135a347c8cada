// One lane group (adamaxVec, 4 floats) and one float (adamaxOne) of the Adamax update, shared by
// the dense kernel (assembly/adamax.ts) and the embedding rows (assembly/embedding.ts):
//   g = gscale * clamp(grad) (+ wd * p, L2);  m += (1 - b1) (g - m);  u = max(b2 u, |g| + eps)
//   p -= clr * m / u,  clr = lr / (1 - b1^t)
// Internal: not re-exported by index.ts, since a v128 signature cannot be exported from the
// scalar build. `clip` false skips the clamp to [lo, hi] (the embedding rows have none).

import { clampVec, clampOne } from "./clamp";

@inline export function adamaxVec(P: usize, G: usize, M: usize, U: usize, o: usize,
                                  gs: v128, lo: v128, hi: v128, b1c: v128, b2: v128, clr: v128, eps: v128, wd: v128,
                                  useWd: bool, clip: bool = true): void {
  const p = v128.load(P + o);
  const raw = v128.load(G + o);
  let g = f32x4.mul(clip ? clampVec(raw, lo, hi) : raw, gs);
  if (useWd) g = f32x4.add(g, f32x4.mul(wd, p));
  let m = v128.load(M + o);
  m = f32x4.add(m, f32x4.mul(b1c, f32x4.sub(g, m)));
  const u = f32x4.max(f32x4.mul(v128.load(U + o), b2), f32x4.add(f32x4.abs(g), eps));
  v128.store(M + o, m);
  v128.store(U + o, u);
  v128.store(P + o, f32x4.sub(p, f32x4.mul(clr, f32x4.div(m, u))));
}

@inline export function adamaxOne(P: usize, G: usize, M: usize, U: usize, o: usize,
                                  gs: f32, lo: f32, hi: f32, b1c: f32, b2: f32, clr: f32, eps: f32, wd: f32,
                                  useWd: bool, clip: bool = true): void {
  const p = load<f32>(P + o);
  const raw = load<f32>(G + o);
  let g = (clip ? clampOne(raw, lo, hi) : raw) * gs;
  if (useWd) g = g + wd * p;
  let m = load<f32>(M + o);
  m = m + b1c * (g - m);
  const u = max<f32>(load<f32>(U + o) * b2, abs<f32>(g) + eps);
  store<f32>(M + o, m);
  store<f32>(U + o, u);
  store<f32>(P + o, p - clr * (m / u));
}
