// Gradient clamping helpers for the step kernels (internal: not re-exported by index.ts, since
// a v128 signature cannot be exported from the scalar build).
//
// Both use the pseudo-min/max select form (`x < lo ? lo : x`, then `hi < y ? hi : y`): one
// instruction per lane group on x86 (f32x4.min/max cost several), NaN stays NaN (every compare
// with it is false), and the scalar build selects exactly the same values, so the builds agree.

/** `x` clamped to [lo, hi]. */
@inline export function clampVec(x: v128, lo: v128, hi: v128): v128 {
  return f32x4.pmin(f32x4.pmax(x, lo), hi);
}

/** `x` clamped to [lo, hi]. */
@inline export function clampOne(x: f32, lo: f32, hi: f32): f32 {
  const y = x < lo ? lo : x;
  return hi < y ? hi : y;
}

/** True when clamping to [lo, hi] and scaling by `gs` change no gradient (no clipping, scale 1):
 *  the kernels then take a loop without either. That loop gives the same bits (x * 1 = x, and the
 *  clamp to [-Infinity, Infinity] returns x, NaN included) and is faster for the light kernels. */
@inline export function plainGrad(gs: f32, lo: f32, hi: f32): bool {
  // The same test on the bits (1.0, -Infinity and Infinity each have one): integer compares and
  // no unordered-compare branches in every kernel's prologue (V8 on x64 gives a float == three
  // instructions and a branch for NaN).
  return ((reinterpret<u32>(gs) ^ 0x3f800000) | (reinterpret<u32>(lo) ^ 0xff800000) | (reinterpret<u32>(hi) ^ 0x7f800000)) == 0;
}

/** The gradient as a kernel uses it: clamped to [lo, hi] and scaled by `gs`, or as it is when `plain`. */
@inline export function gradVec(x: v128, gs: v128, lo: v128, hi: v128, plain: bool): v128 {
  return plain ? x : f32x4.mul(clampVec(x, lo, hi), gs);
}

/** The scalar form of `gradVec`. */
@inline export function gradOne(x: f32, gs: f32, lo: f32, hi: f32, plain: bool): f32 {
  return plain ? x : clampOne(x, lo, hi) * gs;
}
