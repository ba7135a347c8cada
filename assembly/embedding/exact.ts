// Exact mode of embedding tables: a row that missed steps (its gradient was zero in them) is
// brought up to date in closed form when it is touched, looked up, swept or flushed.
//
// Adam/AdamW/AMSGrad, row last updated at step s0, caught up to step T = s0 + K. In a missed step
// s (j = s - s0) the dense optimizer does, with g = 0:
//   p *= dc_s (AdamW);  m = b1 m;  v = b2 v;  p -= ss_s m / (sqrt(v) ib_s + eps)
// so m_T = b1^K m0, v_T = b2^K v0 (vmax unchanged) and, with D(a..b) the product of dc over
// steps a..b and x = sqrt(v0) (AMSGrad: sqrt(vmax0)), c_j = b2^(j/2) ib_s (AMSGrad: ib_s),
//   p_T = D(s0+1..T) (p0 - m0 F(x)),   F(x) = sum_j w_j / (x c_j + eps),
//   w_j = ss_s b1^j / D(s0+1..s),  j = 1 .. min(K, J)
// (terms beyond J are below 2^-40 of the first: b1^j vanishes). Expanding in z = eps / x,
//   F(x) = (B0 - z (B1 - z (B2 - z B3))) / x,   B_n = sum_j w_j / c_j^(n+1),
// which is exact to float32 rounding when x >= EMBF_THR (then eps / (x c_j) <= 1/128). The B_n
// depend only on s0 and on the steps since, so they live in a ring indexed by step and each new
// step adds its term to the last J entries (exactAdvance). Elements with a smaller x (tiny
// gradients) sum the J terms one by one instead (fixElement). The per-step values are the float32
// numbers the dense kernel uses (ss, ib, dc, b1 = 1 - fround(1 - beta1), b2 = fround(beta2)).
//
// The series above fails for tiny gradients (x near eps). A second expansion covers every x >= 0:
// around the centre cb of the window's c_j (they decrease with j, so they lie in [c_J, c_1]),
// with y = x cb + eps and q = x / y,
//   F(x) = (E0 - q (E1 - q (E2 - ... - q E15))) / y,   E_n = sum_j w_j (c_j - cb)^n,
// whose ratio |x (c_j - cb) / y| stays below rho = (c_1 - c_J) / (c_1 + c_J) for every x; it is
// used for the windows where rho <= EMBF_RHO (16 terms: rho^16 < 1e-7), i.e. all but those that
// start in the first few hundred steps, while bias correction still moves ib_s a lot. cb is 0
// in the ring entries of windows that do not qualify.
//
// Partial row-wise Adam (FBGEMM's PARTIAL_ROWWISE_ADAM; its decay p -= lr wd p in the update is
// AdamW's factor dc_s = 1 - lr_s wd): the same ring and F, with x = sqrt(v) of the row's one second
// moment, so F is evaluated once per row, in float64, and each element in float64 (rowAdamCatchUp).
//
// SGD with momentum (no weight decay): buf_T = mu^K buf0, p_T = p0 - buf0 sum_j lr_s mu^j
// (Nesterov: lr_s mu^(j+1)). SGD with weight decay (no momentum): p_T = D p0.
//
// Ring entry for step s (EMB_RING_BYTES = 256): f64 [logD(..s), coef_s, ib_s, B0..B3, cb, E0..E15]
// where cb, the B_n and the E_n are those of rows whose last step is s. The table sweeps every row often enough
// that no row lags the ring (see src/embedding.ts).

import { EMB_WEIGHTS, EMB_STATE0, EMB_STATE1, EMB_STATE2, EMB_SROW, EMB_DIM, EMB_LAST, EMB_RING, EMB_RING_MASK, EMB_WINDOW, EMB_POW,
  EMB_EXACT, EMB_EX_DECAY, EMB_EX_AMS, EMB_EX_MOM, EMB_BASE, EMBF_EPS, EMBF_THR, EMBF_B1, EMBF_B2, EMBF_BETA2, EMBF_RHO, EMB_EXACT_ADAM,
  EMB_EXACT_SGD, EMB_KIND, EMB_KIND_PARTIAL_ROWWISE_ADAM, embU32, embF64 } from "./layout";

@inline function slotOf(ring: usize, mask: u32, s: u32): usize {
  return ring + (<usize>(s & mask) << 8);
}

const SLOT_CB: usize = 56;  // byte offset of cb in a ring entry
const SLOT_E: usize = 64;   // byte offset of E0
const E_TERMS: i32 = 16;

@inline function centredElement(P: usize, M: usize, V: usize, X: usize, o: usize, Df: f32, md: f32, vd: f32, cb: f32, eps32: f32,
                                E0: f32, E1: f32, E2: f32, E3: f32, E4: f32, E5: f32, E6: f32, E7: f32, E8: f32, E9: f32, E10: f32, E11: f32, E12: f32, E13: f32, E14: f32, E15: f32, ams: bool): void {
  const p0 = load<f32>(P + o), m0 = load<f32>(M + o), v0 = load<f32>(V + o);
  const x = sqrt<f32>(ams ? load<f32>(X + o) : v0);
  const y = x * cb + eps32;
  const q = x / y;
  let h = E15;
  h = E14 - q * h;
  h = E13 - q * h;
  h = E12 - q * h;
  h = E11 - q * h;
  h = E10 - q * h;
  h = E9 - q * h;
  h = E8 - q * h;
  h = E7 - q * h;
  h = E6 - q * h;
  h = E5 - q * h;
  h = E4 - q * h;
  h = E3 - q * h;
  h = E2 - q * h;
  h = E1 - q * h;
  h = E0 - q * h;
  store<f32>(P + o, Df * (p0 - m0 * (h / y)));
  store<f32>(M + o, m0 * md);
  store<f32>(V + o, v0 * vd);
}


/** F(x), the drift sum of the n missed steps after s0, term by term in float64. */
function termSum(xd: f64, s0: u32, n: u32, ring: usize, mask: u32, pw: usize, eps: f64, decay: bool, ams: bool): f64 {
  const L0 = load<f64>(slotOf(ring, mask, s0));
  let F: f64 = 0;
  for (let j: u32 = 1; j <= n; j++) {
    const sl = slotOf(ring, mask, s0 + j);
    const e = decay ? Math.exp(L0 - load<f64>(sl)) : 1.0;
    const c = (ams ? 1.0 : load<f64>(pw + (<usize>(2 * (mask + 1) + j) << 3))) * load<f64>(sl, 16);
    F += e * load<f64>(sl, 8) * load<f64>(pw + (<usize>j << 3)) / (xd * c + eps);
  }
  return F;
}

/** The drift sum of one element, term by term (elements whose sqrt(v) is too small for the series). */
function fixElement(p0: f32, m0: f32, x: f32, Df: f32, s0: u32, n: u32, ring: usize, mask: u32, pw: usize, J: u32,
                    eps: f64, decay: bool, ams: bool): f32 {
  if (m0 == 0) return Df * p0;
  return Df * (p0 - m0 * <f32>termSum(<f64>x, s0, n, ring, mask, pw, eps, decay, ams));
}

@inline function adamElement(P: usize, M: usize, V: usize, X: usize, o: usize, Df: f32, md: f32, vd: f32,
                             B0: f32, B1: f32, B2: f32, B3: f32, eps32: f32, thr: f32,
                             s0: u32, n: u32, ring: usize, mask: u32, pw: usize, J: u32, eps: f64, decay: bool, ams: bool): void {
  const p0 = load<f32>(P + o), m0 = load<f32>(M + o), v0 = load<f32>(V + o);
  const x = sqrt<f32>(ams ? load<f32>(X + o) : v0);
  let p: f32;
  if (x < thr) {
    p = fixElement(p0, m0, x, Df, s0, n, ring, mask, pw, J, eps, decay, ams);
  } else {
    const z = eps32 / x;
    const F = (B0 - z * (B1 - z * (B2 - z * B3))) / x;
    p = Df * (p0 - m0 * F);
  }
  store<f32>(P + o, p);
  store<f32>(M + o, m0 * md);
  store<f32>(V + o, v0 * vd);
}

/** F(x) = (B0 - z (B1 - z (B2 - z B3))) / x with z = eps / x, for four elements. */
@inline function driftVec(x: v128, vB0: v128, vB1: v128, vB2: v128, vB3: v128, veps: v128): v128 {
  const z = f32x4.div(veps, x);
  return f32x4.div(f32x4.sub(vB0, f32x4.mul(z, f32x4.sub(vB1, f32x4.mul(z, f32x4.sub(vB2, f32x4.mul(z, vB3)))))), x);
}

/** p = D (p0 - m0 F) (no multiply without decay: D = 1), m = m0 b1^K, v = v0 b2^K for four elements at byte offset `o`. */
@inline function applyDriftVec(P: usize, M: usize, V: usize, o: usize, v0: v128, F: v128, vD: v128, vmd: v128, vvd: v128, decay: bool): void {
  const m0 = v128.load(M + o);
  const p = f32x4.sub(v128.load(P + o), f32x4.mul(m0, F));
  v128.store(P + o, decay ? f32x4.mul(vD, p) : p);
  v128.store(M + o, f32x4.mul(m0, vmd));
  v128.store(V + o, f32x4.mul(v0, vvd));
}

@inline function adamCatchUp(desc: usize, r: u32, s0: u32, K: u32, D: f64, decay: bool, ams: bool): void {
  const dim = embU32(desc, EMB_DIM);
  const o0 = <usize>r * (dim << 2), os = <usize>r * embU32(desc, EMB_SROW);
  const P = embU32(desc, EMB_WEIGHTS) + o0, M = embU32(desc, EMB_STATE0) + os, V = embU32(desc, EMB_STATE1) + os;
  const X = ams ? embU32(desc, EMB_STATE2) + os : V;
  const ring = embU32(desc, EMB_RING), mask = <u32>embU32(desc, EMB_RING_MASK);
  const J = <u32>embU32(desc, EMB_WINDOW), pw = embU32(desc, EMB_POW);
  const n = K < J ? K : J;
  const s = slotOf(ring, mask, s0);
  const B0 = <f32>load<f64>(s, 24), B1 = <f32>load<f64>(s, 32), B2 = <f32>load<f64>(s, 40), B3 = <f32>load<f64>(s, 48);
  const H = mask + 1;
  const md = <f32>(K < H ? load<f64>(pw + (<usize>K << 3)) : Math.pow(embF64(desc, EMBF_B1), <f64>K));
  const vd = <f32>(K < H ? load<f64>(pw + (<usize>(H + K) << 3)) : Math.pow(embF64(desc, EMBF_B2), <f64>K));
  const Df = <f32>D;
  const eps = embF64(desc, EMBF_EPS), eps32 = <f32>eps, thr = <f32>embF64(desc, EMBF_THR);
  // Groups of 4 elements whose sqrt(v) are all >= thr use the 4-term series in eps / sqrt(v); a
  // group with a smaller one uses the centred series when the window has one (else the term-by-term
  // sum for those elements). Both builds decide per group of 4, so they agree to the bit.
  let i: usize = 0;
  const n4 = dim & ~(<usize>3);
  if (ASC_FEATURE_SIMD) {
    const vB0 = f32x4.splat(B0), vB1 = f32x4.splat(B1), vB2 = f32x4.splat(B2), vB3 = f32x4.splat(B3);
    const vD = f32x4.splat(Df), vmd = f32x4.splat(md), vvd = f32x4.splat(vd), veps = f32x4.splat(eps32), vthr = f32x4.splat(thr);
    // 16 elements at a time, each step of the four groups' chains (sqrt, two divisions) side by side
    // so that they overlap; a block with a tiny element takes its groups one by one.
    const n16 = dim & ~(<usize>15);
    for (; i < n16; i += 16) {
      const o = i << 2;
      const va = v128.load(V + o), vb = v128.load(V + o, 16), vc = v128.load(V + o, 32), ve = v128.load(V + o, 48);
      const xa = f32x4.sqrt(ams ? v128.load(X + o) : va), xb = f32x4.sqrt(ams ? v128.load(X + o, 16) : vb);
      const xc = f32x4.sqrt(ams ? v128.load(X + o, 32) : vc), xe = f32x4.sqrt(ams ? v128.load(X + o, 48) : ve);
      if (v128.any_true(v128.or(v128.or(f32x4.lt(xa, vthr), f32x4.lt(xb, vthr)), v128.or(f32x4.lt(xc, vthr), f32x4.lt(xe, vthr))))) break;
      const Fa = driftVec(xa, vB0, vB1, vB2, vB3, veps), Fb = driftVec(xb, vB0, vB1, vB2, vB3, veps);
      const Fc = driftVec(xc, vB0, vB1, vB2, vB3, veps), Fe = driftVec(xe, vB0, vB1, vB2, vB3, veps);
      applyDriftVec(P, M, V, o, va, Fa, vD, vmd, vvd, decay);
      applyDriftVec(P, M, V, o + 16, vb, Fb, vD, vmd, vvd, decay);
      applyDriftVec(P, M, V, o + 32, vc, Fc, vD, vmd, vvd, decay);
      applyDriftVec(P, M, V, o + 48, ve, Fe, vD, vmd, vvd, decay);
    }
    // The rest of the row (all of it after a block with a tiny element), group by group: a group
    // with a tiny element takes the centred series when the window has one, else element by element.
    if (i < n4) {
      const centred = load<f64>(s, SLOT_CB) > 0;
      const vzero = f32x4.splat(0);
      const vcb = f32x4.splat(<f32>load<f64>(s, SLOT_CB));
      const vE0 = f32x4.splat(<f32>load<f64>(s, SLOT_E + 0));
      const vE1 = f32x4.splat(<f32>load<f64>(s, SLOT_E + 8));
      const vE2 = f32x4.splat(<f32>load<f64>(s, SLOT_E + 16));
      const vE3 = f32x4.splat(<f32>load<f64>(s, SLOT_E + 24));
      const vE4 = f32x4.splat(<f32>load<f64>(s, SLOT_E + 32));
      const vE5 = f32x4.splat(<f32>load<f64>(s, SLOT_E + 40));
      const vE6 = f32x4.splat(<f32>load<f64>(s, SLOT_E + 48));
      const vE7 = f32x4.splat(<f32>load<f64>(s, SLOT_E + 56));
      const vE8 = f32x4.splat(<f32>load<f64>(s, SLOT_E + 64));
      const vE9 = f32x4.splat(<f32>load<f64>(s, SLOT_E + 72));
      const vE10 = f32x4.splat(<f32>load<f64>(s, SLOT_E + 80));
      const vE11 = f32x4.splat(<f32>load<f64>(s, SLOT_E + 88));
      const vE12 = f32x4.splat(<f32>load<f64>(s, SLOT_E + 96));
      const vE13 = f32x4.splat(<f32>load<f64>(s, SLOT_E + 104));
      const vE14 = f32x4.splat(<f32>load<f64>(s, SLOT_E + 112));
      const vE15 = f32x4.splat(<f32>load<f64>(s, SLOT_E + 120));
      for (; i < n4; i += 4) {
        const o = i << 2;
        const v0 = v128.load(V + o);
        const x = f32x4.sqrt(ams ? v128.load(X + o) : v0);
        if (!v128.any_true(f32x4.lt(x, vthr))) {
          applyDriftVec(P, M, V, o, v0, driftVec(x, vB0, vB1, vB2, vB3, veps), vD, vmd, vvd, decay);
        } else if (!v128.any_true(v128.load(M + o))) {
          // m = +0 in all four (a row never stepped, or one whose m vanished over a long gap): every
          // path gives p = D (p0 - m0 F) with m0 F = +0 (F >= +0 and finite: lr >= 0), so F = 0 gives
          // their bits without the series (here, where it would be the long one: sqrt(v) < thr).
          applyDriftVec(P, M, V, o, v0, vzero, vD, vmd, vvd, decay);
        } else if (centred) {
          const y = f32x4.add(f32x4.mul(x, vcb), veps);
          const q = f32x4.div(x, y);
          let h = vE15;
          h = f32x4.sub(vE14, f32x4.mul(q, h));
          h = f32x4.sub(vE13, f32x4.mul(q, h));
          h = f32x4.sub(vE12, f32x4.mul(q, h));
          h = f32x4.sub(vE11, f32x4.mul(q, h));
          h = f32x4.sub(vE10, f32x4.mul(q, h));
          h = f32x4.sub(vE9, f32x4.mul(q, h));
          h = f32x4.sub(vE8, f32x4.mul(q, h));
          h = f32x4.sub(vE7, f32x4.mul(q, h));
          h = f32x4.sub(vE6, f32x4.mul(q, h));
          h = f32x4.sub(vE5, f32x4.mul(q, h));
          h = f32x4.sub(vE4, f32x4.mul(q, h));
          h = f32x4.sub(vE3, f32x4.mul(q, h));
          h = f32x4.sub(vE2, f32x4.mul(q, h));
          h = f32x4.sub(vE1, f32x4.mul(q, h));
          h = f32x4.sub(vE0, f32x4.mul(q, h));
          const m0 = v128.load(M + o);
          v128.store(P + o, f32x4.mul(vD, f32x4.sub(v128.load(P + o), f32x4.mul(m0, f32x4.div(h, y)))));
          v128.store(M + o, f32x4.mul(m0, vmd));
          v128.store(V + o, f32x4.mul(v0, vvd));
        } else {
          for (let l: usize = 0; l < 4; l++) {
            adamElement(P, M, V, X, o + (l << 2), Df, md, vd, B0, B1, B2, B3, eps32, thr, s0, n, ring, mask, pw, J, eps, decay, ams);
          }
        }
      }
    }
  }
  if (!ASC_FEATURE_SIMD || i < dim) {
    const centred = load<f64>(s, SLOT_CB) > 0;
    const cb = <f32>load<f64>(s, SLOT_CB);
    const E0 = <f32>load<f64>(s, SLOT_E + 0);
    const E1 = <f32>load<f64>(s, SLOT_E + 8);
    const E2 = <f32>load<f64>(s, SLOT_E + 16);
    const E3 = <f32>load<f64>(s, SLOT_E + 24);
    const E4 = <f32>load<f64>(s, SLOT_E + 32);
    const E5 = <f32>load<f64>(s, SLOT_E + 40);
    const E6 = <f32>load<f64>(s, SLOT_E + 48);
    const E7 = <f32>load<f64>(s, SLOT_E + 56);
    const E8 = <f32>load<f64>(s, SLOT_E + 64);
    const E9 = <f32>load<f64>(s, SLOT_E + 72);
    const E10 = <f32>load<f64>(s, SLOT_E + 80);
    const E11 = <f32>load<f64>(s, SLOT_E + 88);
    const E12 = <f32>load<f64>(s, SLOT_E + 96);
    const E13 = <f32>load<f64>(s, SLOT_E + 104);
    const E14 = <f32>load<f64>(s, SLOT_E + 112);
    const E15 = <f32>load<f64>(s, SLOT_E + 120);
    if (!ASC_FEATURE_SIMD) {
      for (; i < n4; i += 4) {
        const o = i << 2;
        let tiny = false;
        for (let l: usize = 0; l < 4; l++) {
          if (sqrt<f32>(load<f32>((ams ? X : V) + o + (l << 2))) < thr) tiny = true;
        }
        for (let l: usize = 0; l < 4; l++) {
          if (tiny && centred) centredElement(P, M, V, X, o + (l << 2), Df, md, vd, cb, eps32, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9, E10, E11, E12, E13, E14, E15, ams);
          else adamElement(P, M, V, X, o + (l << 2), Df, md, vd, B0, B1, B2, B3, eps32, thr, s0, n, ring, mask, pw, J, eps, decay, ams);
        }
      }
    }
    for (; i < dim; i++) {
      const o = i << 2;
      if (centred && sqrt<f32>(load<f32>((ams ? X : V) + o)) < thr) centredElement(P, M, V, X, o, Df, md, vd, cb, eps32, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9, E10, E11, E12, E13, E14, E15, ams);
      else adamElement(P, M, V, X, o, Df, md, vd, B0, B1, B2, B3, eps32, thr, s0, n, ring, mask, pw, J, eps, decay, ams);
    }
  }
}

/**
 * F(x) of a row whose second moment is one float (partial row-wise Adam, x = sqrt(v) of the row),
 * in float64 from the ring entry `s` of its last step s0: the 4-term series in eps / x when x >= thr,
 * else the centred series when the window has one, else the terms one by one. One value per row,
 * so both builds take the same branch.
 */
function rowDrift(x: f64, s: usize, s0: u32, n: u32, ring: usize, mask: u32, pw: usize, eps: f64, thr: f64, decay: bool): f64 {
  if (x >= thr) {
    const z = eps / x;
    return (load<f64>(s, 24) - z * (load<f64>(s, 32) - z * (load<f64>(s, 40) - z * load<f64>(s, 48)))) / x;
  }
  const cb = load<f64>(s, SLOT_CB);
  if (cb > 0) {
    const y = x * cb + eps;
    const q = x / y;
    const e = s + SLOT_E;
    let h = load<f64>(e + (<usize>(E_TERMS - 1) << 3));
    for (let k = E_TERMS - 2; k >= 0; k--) h = load<f64>(e + (<usize>k << 3)) - q * h;
    return h / y;
  }
  return termSum(x, s0, n, ring, mask, pw, eps, decay, false);
}

/**
 * Partial row-wise Adam (EMB_KIND_PARTIAL_ROWWISE_ADAM): Adam's closed form with the row's one
 * second moment v (at EMB_STATE1), so one F(sqrt(v)) per row. A missed step of the row kernel
 * (assembly/optimizers/rowwise/lanes.ts) with g = 0 is m = b1 m; v = b2 v;
 * p -= ss_s m / (sqrt(v) ib_s + eps) + lwd_s p, i.e. p = dc_s p - ss_s m / (...) with
 * dc_s = 1 - lwd_s (FBGEMM's decay inside the update): AdamW's recurrence.
 */
@inline function rowAdamCatchUp(desc: usize, r: u32, s0: u32, K: u32, D: f64, decay: bool): void {
  const dim = embU32(desc, EMB_DIM);
  const os = <usize>r * embU32(desc, EMB_SROW);
  const P = embU32(desc, EMB_WEIGHTS) + <usize>r * (dim << 2), M = embU32(desc, EMB_STATE0) + os, V = embU32(desc, EMB_STATE1) + os;
  const ring = embU32(desc, EMB_RING), mask = <u32>embU32(desc, EMB_RING_MASK);
  const J = <u32>embU32(desc, EMB_WINDOW), pw = embU32(desc, EMB_POW);
  const H = mask + 1;
  const md = K < H ? load<f64>(pw + (<usize>K << 3)) : Math.pow(embF64(desc, EMBF_B1), <f64>K);
  const vd = K < H ? load<f64>(pw + (<usize>(H + K) << 3)) : Math.pow(embF64(desc, EMBF_B2), <f64>K);
  const v0 = load<f32>(V);
  const F = rowDrift(<f64>sqrt<f32>(v0), slotOf(ring, mask, s0), s0, K < J ? K : J, ring, mask, pw,
                     <f64><f32>embF64(desc, EMBF_EPS), embF64(desc, EMBF_THR), decay);
  store<f32>(V, <f32>(<f64>v0 * vd));
  // Each element in float64, rounded once: p = D (p0 - m0 F), m = b1^K m0. (Rounding the factor D to
  // float32 instead would round every catch-up of a row the same way: with a constant rate a row
  // touched every few updates drifts by that rounding times the number of catch-ups.)
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vD = f64x2.splat(D), vF = f64x2.splat(F), vmd = f64x2.splat(md);
    const n2 = dim & ~(<usize>1);
    for (; i < n2; i += 2) {
      const o = i << 2;
      const m0 = f64x2.promote_low_f32x4(v128.load64_zero(M + o));
      const p0 = f64x2.promote_low_f32x4(v128.load64_zero(P + o));
      v128.store64_lane(P + o, f32x4.demote_f64x2_zero(f64x2.mul(vD, f64x2.sub(p0, f64x2.mul(m0, vF)))), 0);
      v128.store64_lane(M + o, f32x4.demote_f64x2_zero(f64x2.mul(m0, vmd)), 0);
    }
  }
  for (; i < dim; i++) {
    const o = i << 2;
    const m0 = <f64>load<f32>(M + o);
    store<f32>(P + o, <f32>(D * (<f64>load<f32>(P + o) - m0 * F)));
    store<f32>(M + o, <f32>(m0 * md));
  }
}

@inline function sgdCatchUp(desc: usize, r: u32, s0: u32, K: u32, D: f64, mom: bool): void {
  const dim = embU32(desc, EMB_DIM);
  const o0 = <usize>r * (dim << 2);
  const P = embU32(desc, EMB_WEIGHTS) + o0, B = embU32(desc, EMB_STATE0) + <usize>r * embU32(desc, EMB_SROW);
  const ring = embU32(desc, EMB_RING), mask = <u32>embU32(desc, EMB_RING_MASK);
  const J = <u32>embU32(desc, EMB_WINDOW), pw = embU32(desc, EMB_POW);
  const Df = <f32>D;
  const W0 = mom ? <f32>load<f64>(slotOf(ring, mask, s0), 24) : <f32>0;
  const bd = mom ? <f32>(K <= mask ? load<f64>(pw + (<usize>K << 3)) : Math.pow(embF64(desc, EMBF_B1), <f64>K)) : <f32>0;
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vD = f32x4.splat(Df), vW0 = f32x4.splat(W0), vbd = f32x4.splat(bd);
    const n4 = dim & ~(<usize>3);
    for (; i < n4; i += 4) {
      const o = i << 2;
      if (mom) {
        const b0 = v128.load(B + o);
        v128.store(P + o, f32x4.mul(vD, f32x4.sub(v128.load(P + o), f32x4.mul(b0, vW0))));
        v128.store(B + o, f32x4.mul(b0, vbd));
      } else {
        v128.store(P + o, f32x4.mul(vD, v128.load(P + o)));
      }
    }
  }
  for (; i < dim; i++) {
    const o = i << 2;
    if (mom) {
      const b0 = load<f32>(B + o);
      store<f32>(P + o, Df * (load<f32>(P + o) - b0 * W0));
      store<f32>(B + o, b0 * bd);
    } else {
      store<f32>(P + o, Df * load<f32>(P + o));
    }
  }
}

/** Brings row `r` from its last step up to step `T` (the latest step the ring holds). Does not
 *  record the new last step: the caller does. @internal (called by apply.ts and lean.ts) */
export function catchUpRow(desc: usize, r: u32, T: u32): void {
  const s0 = load<u32>(embU32(desc, EMB_LAST) + (<usize>r << 2));
  if (s0 >= T) return;
  const K = T - s0;
  const ring = embU32(desc, EMB_RING), mask = <u32>embU32(desc, EMB_RING_MASK);
  const decay = embU32(desc, EMB_EX_DECAY) != 0;
  const D = decay ? Math.exp(load<f64>(slotOf(ring, mask, T)) - load<f64>(slotOf(ring, mask, s0))) : 1.0;
  const kind = <i32>embU32(desc, EMB_EXACT);
  if (kind == EMB_EXACT_ADAM && <i32>embU32(desc, EMB_KIND) == EMB_KIND_PARTIAL_ROWWISE_ADAM) {
    if (decay) rowAdamCatchUp(desc, r, s0, K, D, true);
    else rowAdamCatchUp(desc, r, s0, K, D, false);
  } else if (kind == EMB_EXACT_ADAM) {
    const ams = embU32(desc, EMB_EX_AMS) != 0;
    if (ams) {
      if (decay) adamCatchUp(desc, r, s0, K, D, true, true);
      else adamCatchUp(desc, r, s0, K, D, false, true);
    } else {
      if (decay) adamCatchUp(desc, r, s0, K, D, true, false);
      else adamCatchUp(desc, r, s0, K, D, false, false);
    }
  } else if (kind == EMB_EXACT_SGD) {
    if (embU32(desc, EMB_EX_MOM) != 0) sgdCatchUp(desc, r, s0, K, D, true);
    else sgdCatchUp(desc, r, s0, K, D, false);
  }
}

/** Sets cb in ring entry `st` for the window of rows last updated at step t (0: no centred series). */
function setCentre(desc: usize, st: usize, t: u32): void {
  const J = <u32>embU32(desc, EMB_WINDOW), pw = embU32(desc, EMB_POW), mask = <u32>embU32(desc, EMB_RING_MASK);
  const ams = embU32(desc, EMB_EX_AMS) != 0;
  if (J == 0) return;
  // The c_j of the window that starts at t decrease from c_1 to c_J.
  const beta2 = embF64(desc, EMBF_BETA2);
  const ib1 = <f64><f32>(1.0 / Math.sqrt(1.0 - Math.pow(beta2, <f64>(t + 1))));
  const ibJ = <f64><f32>(1.0 / Math.sqrt(1.0 - Math.pow(beta2, <f64>(t + J))));
  const c1 = (ams ? 1.0 : load<f64>(pw + (<usize>(2 * (mask + 1) + 1) << 3))) * ib1;
  const cJ = (ams ? 1.0 : load<f64>(pw + (<usize>(2 * (mask + 1) + J) << 3))) * ibJ;
  const cb = <f64><f32>((c1 + cJ) * 0.5);
  const rho = max(c1 - cb, cb - cJ) / cb;
  store<f64>(st, rho <= embF64(desc, EMBF_RHO) ? cb : 0.0, SLOT_CB);
}

/** E_n += w d^n, n = 0 .. 15, at `at` (E0's address): the powers by repeated multiplication as the
 *  sums always took them, written out so that the 16 read-add-writes carry no loop test between them
 *  (the ring entries of the J steps before are out of the cache after the row loop; with fewer
 *  instructions per entry more of them are in flight at once). */
@inline function addCentredTerms(at: usize, w: f64, d: f64): void {
  let e = w;
  store<f64>(at, load<f64>(at, 0) + e, 0); e *= d;
  store<f64>(at, load<f64>(at, 8) + e, 8); e *= d;
  store<f64>(at, load<f64>(at, 16) + e, 16); e *= d;
  store<f64>(at, load<f64>(at, 24) + e, 24); e *= d;
  store<f64>(at, load<f64>(at, 32) + e, 32); e *= d;
  store<f64>(at, load<f64>(at, 40) + e, 40); e *= d;
  store<f64>(at, load<f64>(at, 48) + e, 48); e *= d;
  store<f64>(at, load<f64>(at, 56) + e, 56); e *= d;
  store<f64>(at, load<f64>(at, 64) + e, 64); e *= d;
  store<f64>(at, load<f64>(at, 72) + e, 72); e *= d;
  store<f64>(at, load<f64>(at, 80) + e, 80); e *= d;
  store<f64>(at, load<f64>(at, 88) + e, 88); e *= d;
  store<f64>(at, load<f64>(at, 96) + e, 96); e *= d;
  store<f64>(at, load<f64>(at, 104) + e, 104); e *= d;
  store<f64>(at, load<f64>(at, 112) + e, 112); e *= d;
  store<f64>(at, load<f64>(at, 120) + e, 120);
}

/**
 * Records step `t` in the ring (sum of log decay factors up to t, the step's coefficient and
 * 1/sqrt(1 - b2^t)) and adds its drift term to the sums of the rows last updated at t - j,
 * j = 1 .. J. @internal (called by apply.ts)
 */
export function exactAdvance(desc: usize, t: u32, logDecay: f64, coef: f64, ib: f64): void {
  const ring = embU32(desc, EMB_RING), mask = <u32>embU32(desc, EMB_RING_MASK);
  const J = <u32>embU32(desc, EMB_WINDOW), pw = embU32(desc, EMB_POW);
  const base = <u32>embU32(desc, EMB_BASE);
  const decay = embU32(desc, EMB_EX_DECAY) != 0, ams = embU32(desc, EMB_EX_AMS) != 0;
  const adam = <i32>embU32(desc, EMB_EXACT) == EMB_EXACT_ADAM;
  const st = slotOf(ring, mask, t);
  memory.fill(st, 0, 256);
  store<f64>(st, logDecay);
  store<f64>(st, coef, 8);
  store<f64>(st, ib, 16);
  if (adam) setCentre(desc, st, t);
  const span = t - base;
  const jmax = span < J ? span : J;
  for (let j: u32 = 1; j <= jmax; j++) {
    const s = slotOf(ring, mask, t - j);
    const e = decay ? Math.exp(load<f64>(s) - logDecay) : 1.0;
    const w = e * coef * load<f64>(pw + (<usize>j << 3));
    if (adam) {
      const c = (ams ? 1.0 : load<f64>(pw + (<usize>(2 * (mask + 1) + j) << 3))) * ib;
      const ic = 1.0 / c;
      let q = w * ic;
      store<f64>(s, load<f64>(s, 24) + q, 24);
      q *= ic;
      store<f64>(s, load<f64>(s, 32) + q, 32);
      q *= ic;
      store<f64>(s, load<f64>(s, 40) + q, 40);
      q *= ic;
      store<f64>(s, load<f64>(s, 48) + q, 48);
      const cb = load<f64>(s, SLOT_CB);
      if (cb > 0) addCentredTerms(s + SLOT_E, w, c - cb);
    } else {
      store<f64>(s, load<f64>(s, 24) + w, 24);
    }
  }
}

/** Exact mode after loading a state dict at step `t`: every row is up to date at t, the ring restarts. */
export function embExactReset(desc: usize, t: u32, rows: u32): void {
  const last = embU32(desc, EMB_LAST);
  for (let r: u32 = 0; r < rows; r++) store<u32>(last + (<usize>r << 2), t);
  const st = slotOf(embU32(desc, EMB_RING), <u32>embU32(desc, EMB_RING_MASK), t);
  memory.fill(st, 0, 256);
  if (<i32>embU32(desc, EMB_EXACT) == EMB_EXACT_ADAM) setCentre(desc, st, t);
  store<u32>(desc + (<usize>EMB_BASE << 2), t);
}
