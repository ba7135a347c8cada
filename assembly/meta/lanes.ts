// Helpers of the meta kernels (internal: not re-exported by index.ts, since a v128 signature
// cannot be exported from the scalar build).

/** The f32 in slot `i` of hyperparameter k's block at `h`, splatted to four lanes. */
@inline export function mhVec(h: usize, i: usize): v128 { return v128.load32_splat(h + (i << 2)); }
/** The f32 in slot `i` of hyperparameter k's block at `h`. */
@inline export function mhOne(h: usize, i: usize): f32 { return load<f32>(h + (i << 2)); }

/** `dx / (2 r)` where r > 0, else 0: the tangent of r = sqrt(x) (at x = 0 the square root has no
 *  derivative; its state and gradient there are zero, and so is the tangent taken). */
@inline export function dsqrtVec(dx: v128, r: v128): v128 {
  const z = f32x4.splat(0);
  return v128.bitselect(f32x4.div(f32x4.mul(f32x4.splat(0.5), dx), r), z, f32x4.gt(r, z));
}

/** The scalar form of `dsqrtVec`. */
@inline export function dsqrtOne(dx: f32, r: f32): f32 {
  return r > 0 ? (<f32>0.5 * dx) / r : <f32>0;
}
