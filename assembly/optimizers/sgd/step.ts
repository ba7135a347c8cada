// SGD with momentum, dampening, Nesterov and L2 weight decay (PyTorch 2.x torch.optim.SGD):
//   d = gscale * grad + wd * p
//   buf = d (first step) | momentum * buf + (1 - dampening) * d
//   d = d + momentum * buf (Nesterov) | buf
//   p -= lr * d
// State: state0 = momentum_buffer (when momentum != 0).

import { DESC_BYTES, descParam, descGrad, descState0, descLength, descHyper, hyperF32, hyperFlag } from "../../shared/common";
import { CLIP_LO, CLIP_HI } from "../../shared/clip";
import { gradVec, gradOne, plainGrad } from "../../shared/clamp";
import { Lane0, Lane1, Lane2, Lane3 } from "../../shared/lane";
import { sgdDirVec, sgdDirOne } from "./lanes";
import { SGD_GSCALE, SGD_LR, SGD_MOMENTUM, SGD_OMD, SGD_WD, SGD_USE_MOMENTUM, SGD_FIRST, SGD_NESTEROV, SGD_USE_WD } from "./slots";
export * from "./slots";

@inline function sgdVec<L = Lane0>(P: usize, G: usize, B: usize, o: usize, gs: v128, lo: v128, hi: v128, lr: v128, mu: v128, omd: v128, wd: v128,
                        useMom: bool, first: bool, nest: bool, useWd: bool, plain: bool): void {
  const p = v128.load(P + o, offsetof<L>());
  const d = sgdDirVec<L>(gradVec(v128.load(G + o, offsetof<L>()), gs, lo, hi, plain), p, B, o, mu, omd, wd, useMom, first, nest, useWd);
  v128.store(P + o, f32x4.sub(p, f32x4.mul(lr, d)), offsetof<L>());
}

@inline function sgdOne(P: usize, G: usize, B: usize, o: usize, gs: f32, lo: f32, hi: f32, lr: f32, mu: f32, omd: f32, wd: f32,
                        useMom: bool, first: bool, nest: bool, useWd: bool, plain: bool): void {
  const p = load<f32>(P + o);
  const d = sgdDirOne(gradOne(load<f32>(G + o), gs, lo, hi, plain), p, B, o, mu, omd, wd, useMom, first, nest, useWd);
  store<f32>(P + o, p - lr * d);
}

@inline function sgdLoop(P: usize, G: usize, B: usize, n: usize, gs: f32, lo: f32, hi: f32, lr: f32, mu: f32, omd: f32, wd: f32,
                         useMom: bool, first: bool, nest: bool, useWd: bool, plain: bool): void {
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vgs = f32x4.splat(gs), vlo = f32x4.splat(lo), vhi = f32x4.splat(hi), vlr = f32x4.splat(lr), vmu = f32x4.splat(mu), vomd = f32x4.splat(omd), vwd = f32x4.splat(wd);
    const n16 = n & ~(<usize>15);
    for (; i < n16; i += 16) {
      const o = i << 2;
      sgdVec(P, G, B, o, vgs, vlo, vhi, vlr, vmu, vomd, vwd, useMom, first, nest, useWd, plain);
      sgdVec<Lane1>(P, G, B, o, vgs, vlo, vhi, vlr, vmu, vomd, vwd, useMom, first, nest, useWd, plain);
      sgdVec<Lane2>(P, G, B, o, vgs, vlo, vhi, vlr, vmu, vomd, vwd, useMom, first, nest, useWd, plain);
      sgdVec<Lane3>(P, G, B, o, vgs, vlo, vhi, vlr, vmu, vomd, vwd, useMom, first, nest, useWd, plain);
    }
    const n4 = n & ~(<usize>3);
    for (; i < n4; i += 4) sgdVec(P, G, B, i << 2, vgs, vlo, vhi, vlr, vmu, vomd, vwd, useMom, first, nest, useWd, plain);
  }
  for (; i < n; i++) sgdOne(P, G, B, i << 2, gs, lo, hi, lr, mu, omd, wd, useMom, first, nest, useWd, plain);
}

@inline function sgdTensor(d: usize, useMom: bool, first: bool, nest: bool, useWd: bool): void {
  const P = descParam(d), G = descGrad(d), B = descState0(d), n = descLength(d), h = descHyper(d);
  const gs = hyperF32(h, SGD_GSCALE), lo = hyperF32(h, CLIP_LO), hi = hyperF32(h, CLIP_HI), lr = hyperF32(h, SGD_LR), mu = hyperF32(h, SGD_MOMENTUM);
  const omd = hyperF32(h, SGD_OMD), wd = hyperF32(h, SGD_WD);
  // Without clipping and with a gradient scale of 1, a loop that neither clamps nor scales.
  if (plainGrad(gs, lo, hi)) {
    if (useMom && !first && !nest && !useWd) sgdMomentumPlain(P, G, B, n, lr, mu, omd);
    else if (useMom && !first && nest && !useWd) sgdNesterovPlain(P, G, B, n, lr, mu, omd);
    else if (!useMom && !useWd) sgdPlain(P, G, n, lr);
    else sgdLoop(P, G, B, n, gs, lo, hi, lr, mu, omd, wd, useMom, first, nest, useWd, true);
  } else sgdLoop(P, G, B, n, gs, lo, hi, lr, mu, omd, wd, useMom, first, nest, useWd, false);
}

// The most common configurations (momentum or Nesterov momentum after the first step, and plain
// SGD, all without weight decay or clipping) get functions of their own. Inlined into sgdStep with
// the others, their loops were merged by the optimizer into one loop that selects between the
// variants at run time, computing every variant's arithmetic for every element.
//
// SGD with momentum's unrolled block runs in two passes: the momentum buffer of its four lane
// groups first (g and buf read, buf written; both kept), then the param's read-modify-write with
// the direction (buf, or g + mu * buf for Nesterov), as clang's 4x-interleaved loop orders it. Lane group after lane group (sgdLoop)
// ran at 0.88-0.95x of this order at 1K-64K (the same loops built by clang in one module, AMD EPYC
// family 26, 2026-12-06). Only here, for the momentum and Nesterov steps after the first without
// weight decay or clipping: the same two passes in sgdLoop let binaryen merge the other variants'
// loops in sgdStep into one that selects at run time (SGD with Nesterov momentum at 0.7x).
@inline function momBuf<L = Lane0>(B: usize, o: usize, g: v128, mu: v128, omd: v128): v128 {
  const b = f32x4.add(f32x4.mul(v128.load(B + o, offsetof<L>()), mu), f32x4.mul(omd, g));
  v128.store(B + o, b, offsetof<L>());
  return b;
}

@inline function momParam<L = Lane0>(P: usize, o: usize, lr: v128, mu: v128, g: v128, b: v128, nest: bool): void {
  const d = nest ? f32x4.add(g, f32x4.mul(mu, b)) : b;
  v128.store(P + o, f32x4.sub(v128.load(P + o, offsetof<L>()), f32x4.mul(lr, d)), offsetof<L>());
}

@inline function momLoop(P: usize, G: usize, B: usize, n: usize, lr: f32, mu: f32, omd: f32, nest: bool): void {
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vlr = f32x4.splat(lr), vmu = f32x4.splat(mu), vomd = f32x4.splat(omd);
    const n16 = n & ~(<usize>15);
    for (; i < n16; i += 16) {
      const o = i << 2;
      const g0 = v128.load(G + o), g1 = v128.load(G + o, offsetof<Lane1>());
      const g2 = v128.load(G + o, offsetof<Lane2>()), g3 = v128.load(G + o, offsetof<Lane3>());
      const b0 = momBuf(B, o, g0, vmu, vomd), b1 = momBuf<Lane1>(B, o, g1, vmu, vomd);
      const b2 = momBuf<Lane2>(B, o, g2, vmu, vomd), b3 = momBuf<Lane3>(B, o, g3, vmu, vomd);
      momParam(P, o, vlr, vmu, g0, b0, nest);
      momParam<Lane1>(P, o, vlr, vmu, g1, b1, nest);
      momParam<Lane2>(P, o, vlr, vmu, g2, b2, nest);
      momParam<Lane3>(P, o, vlr, vmu, g3, b3, nest);
    }
  }
  // The tail (fewer than 16 elements) as sgdLoop does it.
  const o = i << 2;
  sgdLoop(P + o, G + o, B + o, n - i, 1, -Infinity, Infinity, lr, mu, omd, 0, true, false, nest, false, true);
}

function sgdMomentumPlain(P: usize, G: usize, B: usize, n: usize, lr: f32, mu: f32, omd: f32): void {
  momLoop(P, G, B, n, lr, mu, omd, false);
}

function sgdNesterovPlain(P: usize, G: usize, B: usize, n: usize, lr: f32, mu: f32, omd: f32): void {
  momLoop(P, G, B, n, lr, mu, omd, true);
}

function sgdPlain(P: usize, G: usize, n: usize, lr: f32): void {
  sgdLoop(P, G, 0, n, 1, -Infinity, Infinity, lr, 0, 1, 0, false, false, false, false, true);
}

@inline function sgdMomentum(d: usize, first: bool, nest: bool, useWd: bool): void {
  if (first) {
    if (nest) sgdTensor(d, true, true, true, useWd);
    else sgdTensor(d, true, true, false, useWd);
  } else {
    if (nest) sgdTensor(d, true, false, true, useWd);
    else sgdTensor(d, true, false, false, useWd);
  }
}

/** One SGD step over every tensor of the table. */
export function sgdStep(table: usize, count: i32): void {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    const h = descHyper(d);
    const useWd = hyperFlag(h, SGD_USE_WD), first = hyperFlag(h, SGD_FIRST), nest = hyperFlag(h, SGD_NESTEROV);
    if (!hyperFlag(h, SGD_USE_MOMENTUM)) {
      if (useWd) sgdTensor(d, false, false, false, true);
      else sgdTensor(d, false, false, false, false);
    } else if (useWd) sgdMomentum(d, first, nest, true);
    else sgdMomentum(d, first, nest, false);
  }
}
