// The tensor table every step kernel walks, and passes shared by all optimizers.
//
// A table is `count` descriptors of 8 u32 slots (32 bytes) in engine memory:
//   [param, grad, state0, state1, state2, length (elements), hyper, reserved]
// `hyper` points at a block of f32 hyperparameters (bits read as i32 for flags) whose layout
// belongs to the kernel family. Every tensor pointer is 16-byte aligned.

export const DESC_BYTES: usize = 32;

@inline export function descParam(d: usize): usize { return <usize>load<u32>(d, 0); }
@inline export function descGrad(d: usize): usize { return <usize>load<u32>(d, 4); }
@inline export function descState0(d: usize): usize { return <usize>load<u32>(d, 8); }
@inline export function descState1(d: usize): usize { return <usize>load<u32>(d, 12); }
@inline export function descState2(d: usize): usize { return <usize>load<u32>(d, 16); }
@inline export function descLength(d: usize): usize { return <usize>load<u32>(d, 20); }
@inline export function descHyper(d: usize): usize { return <usize>load<u32>(d, 24); }

/** The f32 hyperparameter in slot `i` of a hyper block. */
@inline export function hyperF32(h: usize, i: usize): f32 { return load<f32>(h + (i << 2)); }
/** The i32 flag in slot `i` of a hyper block. */
@inline export function hyperFlag(h: usize, i: usize): bool { return load<i32>(h + (i << 2)) != 0; }

const EXP_MASK: u32 = 0x7f800000;

/** 1 when `n` f32 values at `ptr` hold a NaN or an infinity (exponent bits all set). */
export function hasNonFinite(ptr: usize, n: usize): i32 {
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const mask = i32x4.splat(EXP_MASK);
    let acc = i32x4.splat(0);
    const n16 = n & ~(<usize>15);
    for (; i < n16; i += 16) {
      const a = v128.and(v128.load(ptr + (i << 2)), mask);
      const b = v128.and(v128.load(ptr + (i << 2), 16), mask);
      const c = v128.and(v128.load(ptr + (i << 2), 32), mask);
      const d = v128.and(v128.load(ptr + (i << 2), 48), mask);
      acc = v128.or(acc, v128.or(v128.or(i32x4.eq(a, mask), i32x4.eq(b, mask)),
                                 v128.or(i32x4.eq(c, mask), i32x4.eq(d, mask))));
    }
    if (v128.any_true(acc)) return 1;
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

/** Sum of squares of `n` f32 values, accumulated in f64. Both builds add in the same order
 *  (four running sums, one per lane, then (s0 + s2) + (s1 + s3), then the tail), so the SIMD and
 *  scalar engines agree to the bit. */
export function sumSquares(ptr: usize, n: usize): f64 {
  let i: usize = 0;
  let total: f64 = 0;
  const n4 = n & ~(<usize>3);
  if (ASC_FEATURE_SIMD) {
    let a01 = f64x2.splat(0);
    let a23 = f64x2.splat(0);
    for (; i < n4; i += 4) {
      const x = v128.load(ptr + (i << 2));
      const lo = f64x2.promote_low_f32x4(x);
      const hi = f64x2.promote_low_f32x4(v128.swizzle(x, i8x16(8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7)));
      a01 = f64x2.add(a01, f64x2.mul(lo, lo));
      a23 = f64x2.add(a23, f64x2.mul(hi, hi));
    }
    const s = f64x2.add(a01, a23);
    total = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
  } else {
    let s0: f64 = 0, s1: f64 = 0, s2: f64 = 0, s3: f64 = 0;
    for (; i < n4; i += 4) {
      const x0 = <f64>load<f32>(ptr + (i << 2));
      const x1 = <f64>load<f32>(ptr + (i << 2), 4);
      const x2 = <f64>load<f32>(ptr + (i << 2), 8);
      const x3 = <f64>load<f32>(ptr + (i << 2), 12);
      s0 += x0 * x0; s1 += x1 * x1; s2 += x2 * x2; s3 += x3 * x3;
    }
    total = (s0 + s2) + (s1 + s3);
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
