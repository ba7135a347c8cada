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
