// f32 lanes widened to f64 for the passes that accumulate in double precision (norms, clipping,
// hypergradient dots). Internal: not re-exported by index.ts (a v128 signature cannot be exported
// from the scalar build).

/** The low two f32 lanes of `x` as f64. */
@inline export function lo64(x: v128): v128 {
  return f64x2.promote_low_f32x4(x);
}

/** The high two f32 lanes of `x` as f64. */
@inline export function hi64(x: v128): v128 {
  return f64x2.promote_low_f32x4(v128.swizzle(x, i8x16(8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7)));
}
