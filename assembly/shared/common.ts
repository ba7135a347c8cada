// The tensor table every step kernel walks, and passes shared by all optimizers.
//
// A table is `count` descriptors of 8 u32 slots (32 bytes) in engine memory:
//   [param, grad, state0, state1, state2, length (elements), hyper, reserved]
// `hyper` points at a block of f32 hyperparameters (bits read as i32 for flags) whose layout
// belongs to the kernel family. Every tensor pointer is 16-byte aligned.

export const DESC_BYTES: usize = 32;
// The descriptor's u32 words (the TypeScript side writes them: src/core/optimizer.ts, src/threads/).
export const DESC_PARAM = 0;
export const DESC_GRAD = 1;
export const DESC_STATE0 = 2; // state1, state2 follow
export const DESC_LENGTH = 5;
export const DESC_HYPER = 6;
/** Slots (4 bytes each) of a hyper block; the last two are CLIP_LO and CLIP_HI (shared/clip.ts). */
export const HYPER_SLOTS = 32;

@inline export function descParam(d: usize): usize { return <usize>load<u32>(d, DESC_PARAM << 2); }
@inline export function descGrad(d: usize): usize { return <usize>load<u32>(d, DESC_GRAD << 2); }
@inline export function descState0(d: usize): usize { return <usize>load<u32>(d, DESC_STATE0 << 2); }
@inline export function descState1(d: usize): usize { return <usize>load<u32>(d, (DESC_STATE0 + 1) << 2); }
@inline export function descState2(d: usize): usize { return <usize>load<u32>(d, (DESC_STATE0 + 2) << 2); }
@inline export function descLength(d: usize): usize { return <usize>load<u32>(d, DESC_LENGTH << 2); }
@inline export function descHyper(d: usize): usize { return <usize>load<u32>(d, DESC_HYPER << 2); }

/** The f32 hyperparameter in slot `i` of a hyper block. */
@inline export function hyperF32(h: usize, i: usize): f32 { return load<f32>(h + (i << 2)); }
/** The i32 flag in slot `i` of a hyper block. */
@inline export function hyperFlag(h: usize, i: usize): bool { return load<i32>(h + (i << 2)) != 0; }

const EXP_MASK: u32 = 0x7f800000;

/** 1 when `n` f32 values at `ptr` hold a NaN or an infinity (exponent bits all set). */
export function hasNonFinite(ptr: usize, n: usize): i32 {
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    // The largest |x| bit pattern (sign cleared) of each lane: a NaN or an infinity is one with
    // every exponent bit set, i.e. unsigned >= EXP_MASK. Two operations per lane group.
    const abs = i32x4.splat(0x7fffffff);
    let a0 = i32x4.splat(0), a1 = i32x4.splat(0);
    const n16 = n & ~(<usize>15);
    for (; i < n16; i += 16) {
      const o = ptr + (i << 2);
      a0 = i32x4.max_u(a0, i32x4.max_u(v128.and(v128.load(o), abs), v128.and(v128.load(o, 16), abs)));
      a1 = i32x4.max_u(a1, i32x4.max_u(v128.and(v128.load(o, 32), abs), v128.and(v128.load(o, 48), abs)));
    }
    if (v128.any_true(i32x4.ge_u(i32x4.max_u(a0, a1), i32x4.splat(EXP_MASK)))) return 1;
  }
  for (; i < n; i++) {
    if ((load<u32>(ptr + (i << 2)) & EXP_MASK) == EXP_MASK) return 1;
  }
  return 0;
}

/** Index + 1 of the first tensor in the table whose gradient is not all finite, else 0. */
export function firstNonFiniteGrad(table: usize, count: i32): i32 {
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    if (hasNonFinite(descGrad(d), descLength(d))) return t + 1;
  }
  return 0;
}

/** Sum of squares of every gradient in the table, accumulated in f64 (for norms and clipping). */
export function gradSumSquares(table: usize, count: i32): f64 {
  let total: f64 = 0;
  for (let t = 0; t < count; t++) {
    const d = table + <usize>t * DESC_BYTES;
    total += sumSquares(descGrad(d), descLength(d));
  }
  return total;
}

/** The high two f32 lanes of `x` as f64 (the low two: f64x2.promote_low_f32x4). */
@inline function promoteHigh(x: v128): v128 {
  return f64x2.promote_low_f32x4(v128.swizzle(x, i8x16(8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7)));
}

/** Sum of squares of `n` f32 values, accumulated in f64. Both builds add in the same order, so
 *  the SIMD and scalar engines agree to the bit: sixteen running sums s0..s15 (element i + k of
 *  each block of 16 goes to s_k; a last block of 4 to s0..s3), combined as
 *  ((s0+s8)+(s4+s12)) + ((s2+s10)+(s6+s14)) + (((s1+s9)+(s5+s13)) + ((s3+s11)+(s7+s15)))
 *  (eight f64x2 accumulators: enough independent additions to keep up with memory), then the
 *  tail in order. */
export function sumSquares(ptr: usize, n: usize): f64 {
  let i: usize = 0;
  let total: f64 = 0;
  const n16 = n & ~(<usize>15);
  const n4 = n & ~(<usize>3);
  if (ASC_FEATURE_SIMD) {
    let a0 = f64x2.splat(0), a1 = f64x2.splat(0), a2 = f64x2.splat(0), a3 = f64x2.splat(0);
    let a4 = f64x2.splat(0), a5 = f64x2.splat(0), a6 = f64x2.splat(0), a7 = f64x2.splat(0);
    for (; i < n16; i += 16) {
      const o = ptr + (i << 2);
      const x0 = v128.load(o), x1 = v128.load(o, 16), x2 = v128.load(o, 32), x3 = v128.load(o, 48);
      const l0 = f64x2.promote_low_f32x4(x0), h0 = promoteHigh(x0);
      const l1 = f64x2.promote_low_f32x4(x1), h1 = promoteHigh(x1);
      const l2 = f64x2.promote_low_f32x4(x2), h2 = promoteHigh(x2);
      const l3 = f64x2.promote_low_f32x4(x3), h3 = promoteHigh(x3);
      a0 = f64x2.add(a0, f64x2.mul(l0, l0)); a1 = f64x2.add(a1, f64x2.mul(h0, h0));
      a2 = f64x2.add(a2, f64x2.mul(l1, l1)); a3 = f64x2.add(a3, f64x2.mul(h1, h1));
      a4 = f64x2.add(a4, f64x2.mul(l2, l2)); a5 = f64x2.add(a5, f64x2.mul(h2, h2));
      a6 = f64x2.add(a6, f64x2.mul(l3, l3)); a7 = f64x2.add(a7, f64x2.mul(h3, h3));
    }
    for (; i < n4; i += 4) {
      const x = v128.load(ptr + (i << 2));
      const l = f64x2.promote_low_f32x4(x), h = promoteHigh(x);
      a0 = f64x2.add(a0, f64x2.mul(l, l)); a1 = f64x2.add(a1, f64x2.mul(h, h));
    }
    const c0 = f64x2.add(f64x2.add(a0, a4), f64x2.add(a2, a6));
    const c1 = f64x2.add(f64x2.add(a1, a5), f64x2.add(a3, a7));
    const d = f64x2.add(c0, c1);
    total = f64x2.extract_lane(d, 0) + f64x2.extract_lane(d, 1);
  } else {
    let s0: f64 = 0, s1: f64 = 0, s2: f64 = 0, s3: f64 = 0, s4: f64 = 0, s5: f64 = 0, s6: f64 = 0, s7: f64 = 0;
    let s8: f64 = 0, s9: f64 = 0, s10: f64 = 0, s11: f64 = 0, s12: f64 = 0, s13: f64 = 0, s14: f64 = 0, s15: f64 = 0;
    for (; i < n16; i += 16) {
      const o = ptr + (i << 2);
      let x: f64;
      x = <f64>load<f32>(o); s0 += x * x; x = <f64>load<f32>(o, 4); s1 += x * x;
      x = <f64>load<f32>(o, 8); s2 += x * x; x = <f64>load<f32>(o, 12); s3 += x * x;
      x = <f64>load<f32>(o, 16); s4 += x * x; x = <f64>load<f32>(o, 20); s5 += x * x;
      x = <f64>load<f32>(o, 24); s6 += x * x; x = <f64>load<f32>(o, 28); s7 += x * x;
      x = <f64>load<f32>(o, 32); s8 += x * x; x = <f64>load<f32>(o, 36); s9 += x * x;
      x = <f64>load<f32>(o, 40); s10 += x * x; x = <f64>load<f32>(o, 44); s11 += x * x;
      x = <f64>load<f32>(o, 48); s12 += x * x; x = <f64>load<f32>(o, 52); s13 += x * x;
      x = <f64>load<f32>(o, 56); s14 += x * x; x = <f64>load<f32>(o, 60); s15 += x * x;
    }
    for (; i < n4; i += 4) {
      const o = ptr + (i << 2);
      let x: f64;
      x = <f64>load<f32>(o); s0 += x * x; x = <f64>load<f32>(o, 4); s1 += x * x;
      x = <f64>load<f32>(o, 8); s2 += x * x; x = <f64>load<f32>(o, 12); s3 += x * x;
    }
    // Lane 0 of the SIMD combination, then lane 1 (a_k holds s_{2k}, s_{2k+1}).
    const l0 = ((s0 + s8) + (s4 + s12)) + ((s2 + s10) + (s6 + s14));
    const l1 = ((s1 + s9) + (s5 + s13)) + ((s3 + s11) + (s7 + s15));
    total = l0 + l1;
  }
  for (; i < n; i++) {
    const x = <f64>load<f32>(ptr + (i << 2));
    total += x * x;
  }
  return total;
}

/** Multiplies `n` f32 values at `ptr` by `s` (used to scale gradients in place). */
export function scaleInPlace(ptr: usize, n: usize, s: f32): void {
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const sv = f32x4.splat(s);
    const n4 = n & ~(<usize>3);
    for (; i < n4; i += 4) {
      v128.store(ptr + (i << 2), f32x4.mul(v128.load(ptr + (i << 2)), sv));
    }
  }
  for (; i < n; i++) store<f32>(ptr + (i << 2), load<f32>(ptr + (i << 2)) * s);
}
