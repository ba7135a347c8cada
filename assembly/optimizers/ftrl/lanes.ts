// FTRL-Proximal (McMahan et al. 2013) as TensorFlow's ApplyFtrlV2 CPU kernel computes it
// (tensorflow/core/kernels/training_ops.cc, functor::ApplyFtrlV2<CPUDevice>), with Keras' beta
// folded into l2 (tf.keras.optimizers.Ftrl: adjusted_l2 = l2 + beta / (2 lr)):
//   g = gscale * clamp(grad);  gs = g + 2 l2_shrinkage w;  n' = n + g^2
//   z += gs - (n'^(-p) - n^(-p)) / lr * w          (p = learning_rate_power; -0.5: square roots)
//   w = |z| > l1 ? (sign(z) l1 - z) / (n'^(-p) / lr + 2 l2 + beta / lr) : 0;  n = n'
// State: accumulator n (starts at initial_accumulator_value), linear z (starts at 0).
// ftrlVec/ftrlOne: four floats or one; ftrlSpan: the loop over `n` floats reading the FTRL_* hyper
// slots, shared by the dense kernel (./step.ts, a span per tensor) and the embedding rows
// (assembly/embedding/lean.ts, a span per row, `clip` false). A learning_rate_power other than
// -0.5 needs pow, which WebAssembly SIMD lacks: those spans run the scalar loop in both builds,
// with the powers and their difference in float64 (TensorFlow's float32 kernel loses most of the
// difference to cancellation for small gradients).
// Internal (v128 signatures): not re-exported by index.ts.

import { hyperF32 } from "../../shared/common";
import { CLIP_LO, CLIP_HI } from "../../shared/clip";
import { clampVec, clampOne } from "../../shared/clamp";
import { FTRL_GSCALE, FTRL_LR, FTRL_L1, FTRL_L2X2, FTRL_SHRINK2, FTRL_NEG_POWER } from "./slots";

@inline function ftrlVec(P: usize, G: usize, N: usize, Z: usize, o: usize, gs: v128, lo: v128, hi: v128, lr: v128, l1: v128,
                         l2x2: v128, sh2: v128, absMask: v128, signMask: v128, shrink: bool, clip: bool): void {
  const p = v128.load(P + o);
  const raw = v128.load(G + o);
  const g = f32x4.mul(clip ? clampVec(raw, lo, hi) : raw, gs);
  const gw = shrink ? f32x4.add(g, f32x4.mul(sh2, p)) : g;
  const n0 = v128.load(N + o);
  const n1 = f32x4.add(n0, f32x4.mul(g, g));
  const s1 = f32x4.sqrt(n1);
  const sigma = f32x4.div(f32x4.sub(s1, f32x4.sqrt(n0)), lr);
  const z = f32x4.add(v128.load(Z + o), f32x4.sub(gw, f32x4.mul(sigma, p)));
  const quad = f32x4.add(f32x4.div(s1, lr), l2x2);
  const w = f32x4.div(f32x4.sub(v128.or(v128.and(z, signMask), l1), z), quad);
  v128.store(N + o, n1);
  v128.store(Z + o, z);
  v128.store(P + o, v128.and(w, f32x4.gt(v128.and(z, absMask), l1)));
}

@inline function ftrlOne(P: usize, G: usize, N: usize, Z: usize, o: usize, gs: f32, lo: f32, hi: f32, lr: f32, l1: f32,
                         l2x2: f32, sh2: f32, negp: f32, shrink: bool, clip: bool, sqrtMode: bool): void {
  const p = load<f32>(P + o);
  const raw = load<f32>(G + o);
  const g = (clip ? clampOne(raw, lo, hi) : raw) * gs;
  const gw = shrink ? g + sh2 * p : g;
  const n0 = load<f32>(N + o);
  const n1 = n0 + g * g;
  let sigma: f32, quad: f32;
  if (sqrtMode) {
    const q1 = sqrt<f32>(n1);
    sigma = (q1 - sqrt<f32>(n0)) / lr;
    quad = q1 / lr + l2x2;
  } else {
    // pow in float64 (this path is scalar in both builds): n'^(-p) - n^(-p) cancels when g is
    // small, and float32 powers would leave little of the difference.
    const q1 = Math.pow(<f64>n1, <f64>negp);
    sigma = <f32>((q1 - Math.pow(<f64>n0, <f64>negp)) / <f64>lr);
    quad = <f32>(q1 / <f64>lr) + l2x2;
  }
  const z = load<f32>(Z + o) + (gw - sigma * p);
  store<f32>(N + o, n1);
  store<f32>(Z + o, z);
  store<f32>(P + o, abs<f32>(z) > l1 ? (copysign<f32>(l1, z) - z) / quad : <f32>0);
}

/** FTRL over `n` floats at P (gradients G, accumulator N, linear Z), hyper block `h`. */
@inline export function ftrlSpan(P: usize, G: usize, N: usize, Z: usize, n: usize, h: usize, shrink: bool, sqrtMode: bool, clip: bool): void {
  const gs = hyperF32(h, FTRL_GSCALE), lo = hyperF32(h, CLIP_LO), hi = hyperF32(h, CLIP_HI);
  const lr = hyperF32(h, FTRL_LR), l1 = hyperF32(h, FTRL_L1), l2x2 = hyperF32(h, FTRL_L2X2);
  const sh2 = hyperF32(h, FTRL_SHRINK2), negp = hyperF32(h, FTRL_NEG_POWER);
  let i: usize = 0;
  if (ASC_FEATURE_SIMD && sqrtMode) {
    const vgs = f32x4.splat(gs), vlo = f32x4.splat(lo), vhi = f32x4.splat(hi), vlr = f32x4.splat(lr), vl1 = f32x4.splat(l1);
    const vl2 = f32x4.splat(l2x2), vsh = f32x4.splat(sh2);
    const absMask = i32x4.splat(0x7fffffff), signMask = i32x4.splat(0x80000000);
    const n4 = n & ~(<usize>3);
    for (; i < n4; i += 4) ftrlVec(P, G, N, Z, i << 2, vgs, vlo, vhi, vlr, vl1, vl2, vsh, absMask, signMask, shrink, clip);
  }
  for (; i < n; i++) ftrlOne(P, G, N, Z, i << 2, gs, lo, hi, lr, l1, l2x2, sh2, negp, shrink, clip, sqrtMode);
}
