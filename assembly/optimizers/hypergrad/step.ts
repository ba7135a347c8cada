// Hypergradient descent (Baydin et al. 2018, "Online Learning Rate Adaptation with Hypergradient
// Descent"): the learning rate follows alpha_t = alpha_{t-1} + beta * g_t . D_{t-1}, where D_{t-1}
// is the direction of the previous update (p_{t-1} = p_{t-2} - alpha_{t-1} D_{t-1}).
//
// `hdDots` is the one pass before the update: per tensor it writes three f64 sums (the squared norm
// of the clamped gradient, NaN if a raw gradient is not finite; clamp(g) . D; p . D for L2 weight
// decay), so the non-finite check, norm clipping and the hypergradient share one read of the
// gradients. The TS side combines them in float64 per param group, sets alpha_t, then runs the
// update kernel: `hdSgdStep` (SGD that also stores its direction) or Adam's own `adamStep`, whose
// direction m / (sqrt(v) / sqrt(1 - b2^(t-1)) + eps) / (1 - b1^(t-1)) is recomputed from its state.

import { DESC_BYTES, descParam, descGrad, descState0, descState1, descState2, descLength, descHyper, hyperF32, hyperFlag } from "../../shared/common";
import { CLIP_LO, CLIP_HI } from "../../shared/clip";
import { clampVec, clampOne } from "../../shared/clamp";
import { lo64, hi64 } from "../../shared/widen";
import { SGD_GSCALE, SGD_LR, SGD_MOMENTUM, SGD_OMD, SGD_WD, SGD_USE_MOMENTUM, SGD_FIRST, SGD_NESTEROV, SGD_USE_WD } from "../sgd/slots";
import { sgdDirVec, sgdDirOne } from "../sgd/lanes";
import { ADAM_EPS, ADAM_AMSGRAD } from "../adam/slots";
import { HD_PREV_IB, HD_SKIP, HD_USE_P, HD_MODE_ADAM } from "./slots";
export * from "./slots";

const EXP_MASK: u32 = 0x7f800000;

@inline function dirVec(A: usize, B: usize, o: usize, adam: bool, ib: v128, eps: v128): v128 {
  if (adam) return f32x4.div(v128.load(A + o), f32x4.add(f32x4.mul(f32x4.sqrt(v128.load(B + o)), ib), eps));
  return v128.load(A + o);
}

@inline function dirOne(A: usize, B: usize, o: usize, adam: bool, ib: f32, eps: f32): f32 {
  if (adam) return load<f32>(A + o) / (sqrt<f32>(load<f32>(B + o)) * ib + eps);
  return load<f32>(A + o);
}

// The three sums of one tensor into out[0..2]. A, B: the direction's sources (stored: A = D;
// Adam: A = m, B = v). Both builds add in the same order, so they agree to the bit: eight running
// sums per quantity (element k of each block of 8 goes to s_k; a last block of 4 to s0..s3),
// combined as ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7)), then the tail in order.
@inline function dotsTensor(G: usize, P: usize, A: usize, B: usize, n: usize, out: usize,
                            lo: f32, hi: f32, ib: f32, eps: f32, adam: bool, useP: bool): void {
  let i: usize = 0;
  let sq: f64 = 0, dg: f64 = 0, dp: f64 = 0;
  let bad = false;
  const n8 = n & ~(<usize>7);
  const n4 = n & ~(<usize>3);
  if (ASC_FEATURE_SIMD) {
    const vlo = f32x4.splat(lo), vhi = f32x4.splat(hi), vib = f32x4.splat(ib), veps = f32x4.splat(eps);
    const mask = i32x4.splat(EXP_MASK);
    let acc = i32x4.splat(0);
    const z = f64x2.splat(0);
    let sqA = z, sqB = z, sqC = z, sqD = z, dgA = z, dgB = z, dgC = z, dgD = z, dpA = z, dpB = z, dpC = z, dpD = z;
    for (; i < n8; i += 8) {
      const o = i << 2;
      const r0 = v128.load(G + o), r1 = v128.load(G + o, 16);
      acc = v128.or(acc, v128.or(i32x4.eq(v128.and(r0, mask), mask), i32x4.eq(v128.and(r1, mask), mask)));
      const g0 = clampVec(r0, vlo, vhi), g1 = clampVec(r1, vlo, vhi);
      const d0 = dirVec(A, B, o, adam, vib, veps), d1 = dirVec(A, B, o + 16, adam, vib, veps);
      const gl0 = lo64(g0), gh0 = hi64(g0), gl1 = lo64(g1), gh1 = hi64(g1);
      const dl0 = lo64(d0), dh0 = hi64(d0), dl1 = lo64(d1), dh1 = hi64(d1);
      sqA = f64x2.add(sqA, f64x2.mul(gl0, gl0)); sqB = f64x2.add(sqB, f64x2.mul(gh0, gh0));
      sqC = f64x2.add(sqC, f64x2.mul(gl1, gl1)); sqD = f64x2.add(sqD, f64x2.mul(gh1, gh1));
      dgA = f64x2.add(dgA, f64x2.mul(gl0, dl0)); dgB = f64x2.add(dgB, f64x2.mul(gh0, dh0));
      dgC = f64x2.add(dgC, f64x2.mul(gl1, dl1)); dgD = f64x2.add(dgD, f64x2.mul(gh1, dh1));
      if (useP) {
        const p0 = v128.load(P + o), p1 = v128.load(P + o, 16);
        dpA = f64x2.add(dpA, f64x2.mul(lo64(p0), dl0)); dpB = f64x2.add(dpB, f64x2.mul(hi64(p0), dh0));
        dpC = f64x2.add(dpC, f64x2.mul(lo64(p1), dl1)); dpD = f64x2.add(dpD, f64x2.mul(hi64(p1), dh1));
      }
    }
    for (; i < n4; i += 4) {
      const o = i << 2;
      const raw = v128.load(G + o);
      acc = v128.or(acc, i32x4.eq(v128.and(raw, mask), mask));
      const g = clampVec(raw, vlo, vhi);
      const dir = dirVec(A, B, o, adam, vib, veps);
      const gl = lo64(g), gh = hi64(g), dl = lo64(dir), dh = hi64(dir);
      sqA = f64x2.add(sqA, f64x2.mul(gl, gl)); sqB = f64x2.add(sqB, f64x2.mul(gh, gh));
      dgA = f64x2.add(dgA, f64x2.mul(gl, dl)); dgB = f64x2.add(dgB, f64x2.mul(gh, dh));
      if (useP) {
        const p = v128.load(P + o);
        dpA = f64x2.add(dpA, f64x2.mul(lo64(p), dl)); dpB = f64x2.add(dpB, f64x2.mul(hi64(p), dh));
      }
    }
    const s = f64x2.add(f64x2.add(sqA, sqC), f64x2.add(sqB, sqD));
    const a = f64x2.add(f64x2.add(dgA, dgC), f64x2.add(dgB, dgD));
    const b = f64x2.add(f64x2.add(dpA, dpC), f64x2.add(dpB, dpD));
    sq = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
    dg = f64x2.extract_lane(a, 0) + f64x2.extract_lane(a, 1);
    dp = f64x2.extract_lane(b, 0) + f64x2.extract_lane(b, 1);
    bad = v128.any_true(acc);
  } else {
    let s0: f64 = 0, s1: f64 = 0, s2: f64 = 0, s3: f64 = 0, s4: f64 = 0, s5: f64 = 0, s6: f64 = 0, s7: f64 = 0;
    let a0: f64 = 0, a1: f64 = 0, a2: f64 = 0, a3: f64 = 0, a4: f64 = 0, a5: f64 = 0, a6: f64 = 0, a7: f64 = 0;
    let b0: f64 = 0, b1: f64 = 0, b2: f64 = 0, b3: f64 = 0, b4: f64 = 0, b5: f64 = 0, b6: f64 = 0, b7: f64 = 0;
    for (; i < n4; i += 4) {
      // Blocks of 8 as two halves: the first half goes to s0..s3, the second to s4..s7; a last
      // block of 4 goes to s0..s3.
      const second = (i & 7) != 0 && i < n8;
      const o = i << 2;
      const r0 = load<f32>(G + o), r1 = load<f32>(G + o, 4), r2 = load<f32>(G + o, 8), r3 = load<f32>(G + o, 12);
      if (((reinterpret<u32>(r0) & EXP_MASK) == EXP_MASK) | ((reinterpret<u32>(r1) & EXP_MASK) == EXP_MASK)
        | ((reinterpret<u32>(r2) & EXP_MASK) == EXP_MASK) | ((reinterpret<u32>(r3) & EXP_MASK) == EXP_MASK)) bad = true;
      const g0 = <f64>clampOne(r0, lo, hi), g1 = <f64>clampOne(r1, lo, hi);
      const g2 = <f64>clampOne(r2, lo, hi), g3 = <f64>clampOne(r3, lo, hi);
      const d0 = <f64>dirOne(A, B, o, adam, ib, eps), d1 = <f64>dirOne(A, B, o + 4, adam, ib, eps);
      const d2 = <f64>dirOne(A, B, o + 8, adam, ib, eps), d3 = <f64>dirOne(A, B, o + 12, adam, ib, eps);
      let p0: f64 = 0, p1: f64 = 0, p2: f64 = 0, p3: f64 = 0;
      if (useP) {
        p0 = <f64>load<f32>(P + o) * d0; p1 = <f64>load<f32>(P + o, 4) * d1;
        p2 = <f64>load<f32>(P + o, 8) * d2; p3 = <f64>load<f32>(P + o, 12) * d3;
      }
      if (second) {
        s4 += g0 * g0; s5 += g1 * g1; s6 += g2 * g2; s7 += g3 * g3;
        a4 += g0 * d0; a5 += g1 * d1; a6 += g2 * d2; a7 += g3 * d3;
        if (useP) { b4 += p0; b5 += p1; b6 += p2; b7 += p3; }
      } else {
        s0 += g0 * g0; s1 += g1 * g1; s2 += g2 * g2; s3 += g3 * g3;
        a0 += g0 * d0; a1 += g1 * d1; a2 += g2 * d2; a3 += g3 * d3;
        if (useP) { b0 += p0; b1 += p1; b2 += p2; b3 += p3; }
      }
    }
    sq = ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7));
    dg = ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7));
    dp = ((b0 + b4) + (b2 + b6)) + ((b1 + b5) + (b3 + b7));
  }
  for (; i < n; i++) {
    const o = i << 2;
    const r = load<f32>(G + o);
    if ((reinterpret<u32>(r) & EXP_MASK) == EXP_MASK) bad = true;
    const g = <f64>clampOne(r, lo, hi);
    const dir = <f64>dirOne(A, B, o, adam, ib, eps);
    sq += g * g;
    dg += g * dir;
    if (useP) dp += <f64>load<f32>(P + o) * dir;
  }
  store<f64>(out, bad ? NaN : sq);
  store<f64>(out, dg, 8);
  store<f64>(out, dp, 16);
}

/**
 * For each tensor t of the table, writes three f64 at out + 24 t: the sum of squares of the
 * clamped gradient (NaN when a raw gradient is NaN or +-Infinity), clamp(g) . D and p . D (0
 * unless the tensor's HD_USE_P flag is set). `mode` says where D comes from (HD_MODE_*); a tensor
 * with its HD_SKIP flag set has no direction yet and gets 0 for both dots.
 */
export function hdDots(table: usize, count: i32, mode: i32, lo: f32, hi: f32, out: usize): void {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    const h = descHyper(d), o = out + <usize>t * 24;
    const G = descGrad(d), P = descParam(d), n = descLength(d);
    const skip = hyperFlag(h, HD_SKIP), useP = hyperFlag(h, HD_USE_P);
    if (skip) {
      // No direction yet: the norm still counts, the dots are 0 (a zero direction).
      dotsTensor(G, P, G, G, n, o, lo, hi, 0, 0, false, false);
      store<f64>(o, 0, 8);
    } else if (mode == HD_MODE_ADAM) {
      const M = descState0(d), V = hyperFlag(h, ADAM_AMSGRAD) ? descState2(d) : descState1(d);
      const ib = hyperF32(h, HD_PREV_IB), eps = hyperF32(h, ADAM_EPS);
      if (useP) dotsTensor(G, P, M, V, n, o, lo, hi, ib, eps, true, true);
      else dotsTensor(G, P, M, V, n, o, lo, hi, ib, eps, true, false);
    } else {
      const D = descState1(d);
      if (useP) dotsTensor(G, P, D, D, n, o, lo, hi, 0, 0, false, true);
      else dotsTensor(G, P, D, D, n, o, lo, hi, 0, 0, false, false);
    }
  }
}

// SGD-HD's update: PyTorch's SGD (momentum, dampening, Nesterov, L2), which also stores the
// direction it applied (the vector multiplied by -lr) in state1 for the next hypergradient.
@inline function hdSgdVec(P: usize, G: usize, B: usize, D: usize, o: usize, gs: v128, lo: v128, hi: v128,
                          lr: v128, mu: v128, omd: v128, wd: v128, useMom: bool, first: bool, nest: bool, useWd: bool): void {
  const p = v128.load(P + o);
  const d = sgdDirVec(f32x4.mul(clampVec(v128.load(G + o), lo, hi), gs), p, B, o, mu, omd, wd, useMom, first, nest, useWd);
  v128.store(D + o, d);
  v128.store(P + o, f32x4.sub(p, f32x4.mul(lr, d)));
}

@inline function hdSgdOne(P: usize, G: usize, B: usize, D: usize, o: usize, gs: f32, lo: f32, hi: f32,
                          lr: f32, mu: f32, omd: f32, wd: f32, useMom: bool, first: bool, nest: bool, useWd: bool): void {
  const p = load<f32>(P + o);
  const d = sgdDirOne(clampOne(load<f32>(G + o), lo, hi) * gs, p, B, o, mu, omd, wd, useMom, first, nest, useWd);
  store<f32>(D + o, d);
  store<f32>(P + o, p - lr * d);
}

@inline function hdSgdTensor(d: usize, useMom: bool, first: bool, nest: bool, useWd: bool): void {
  const P = descParam(d), G = descGrad(d), B = descState0(d), D = descState1(d), n = descLength(d), h = descHyper(d);
  const gs = hyperF32(h, SGD_GSCALE), lo = hyperF32(h, CLIP_LO), hi = hyperF32(h, CLIP_HI);
  const lr = hyperF32(h, SGD_LR), mu = hyperF32(h, SGD_MOMENTUM), omd = hyperF32(h, SGD_OMD), wd = hyperF32(h, SGD_WD);
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vgs = f32x4.splat(gs), vlo = f32x4.splat(lo), vhi = f32x4.splat(hi), vlr = f32x4.splat(lr);
    const vmu = f32x4.splat(mu), vomd = f32x4.splat(omd), vwd = f32x4.splat(wd);
    const n16 = n & ~(<usize>15);
    for (; i < n16; i += 16) {
      const o = i << 2;
      hdSgdVec(P, G, B, D, o, vgs, vlo, vhi, vlr, vmu, vomd, vwd, useMom, first, nest, useWd);
      hdSgdVec(P, G, B, D, o + 16, vgs, vlo, vhi, vlr, vmu, vomd, vwd, useMom, first, nest, useWd);
      hdSgdVec(P, G, B, D, o + 32, vgs, vlo, vhi, vlr, vmu, vomd, vwd, useMom, first, nest, useWd);
      hdSgdVec(P, G, B, D, o + 48, vgs, vlo, vhi, vlr, vmu, vomd, vwd, useMom, first, nest, useWd);
    }
    const n4 = n & ~(<usize>3);
    for (; i < n4; i += 4) hdSgdVec(P, G, B, D, i << 2, vgs, vlo, vhi, vlr, vmu, vomd, vwd, useMom, first, nest, useWd);
  }
  for (; i < n; i++) hdSgdOne(P, G, B, D, i << 2, gs, lo, hi, lr, mu, omd, wd, useMom, first, nest, useWd);
}

@inline function hdSgdMomentum(d: usize, first: bool, nest: bool, useWd: bool): void {
  if (first) {
    if (nest) hdSgdTensor(d, true, true, true, useWd);
    else hdSgdTensor(d, true, true, false, useWd);
  } else {
    if (nest) hdSgdTensor(d, true, false, true, useWd);
    else hdSgdTensor(d, true, false, false, useWd);
  }
}

/** One SGD-HD update over every tensor of the table (SGD's hyper slots; direction -> state1). */
export function hdSgdStep(table: usize, count: i32): void {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    const h = descHyper(d);
    const useWd = hyperFlag(h, SGD_USE_WD), first = hyperFlag(h, SGD_FIRST), nest = hyperFlag(h, SGD_NESTEROV);
    if (!hyperFlag(h, SGD_USE_MOMENTUM)) {
      if (useWd) hdSgdTensor(d, false, false, false, true);
      else hdSgdTensor(d, false, false, false, false);
    } else if (useWd) hdSgdMomentum(d, first, nest, true);
    else hdSgdMomentum(d, first, nest, false);
  }
}
