// Meta-gradients (forward-mode tangents of the params and state with respect to hyperparameters):
// the meta table the meta kernels walk beside the step table, and the per-hyperparameter blocks.
//
// A meta table holds one descriptor of 8 u32 words per param, in the order of the step table:
//   [tangents, hvp, stride, count, hyper, slots, zeroMoments, 0]
// `tangents` points at `count` groups (one per tracked hyperparameter k) of `slots` tensors of
// `stride` bytes: slot 0 is d(param)/dh_k, slot j >= 1 is d(state_{j-1})/dh_k (the step table's
// state0..state2). `hvp` points at `count` tensors of `stride` bytes, the tangents of the raw
// gradient (H . d(param)/dh_k, from the user's Hessian-vector product or finite differences), or
// is 0 in first-order mode (the gradient's tangent is taken as zero). `hyper` points at `count`
// blocks of META_HYPER_SLOTS f32: the derivatives of the family's per-step scalars with respect
// to h_k (layout per family below). Derivations: docs/meta-gradients.md.

export const META_DESC_BYTES: usize = 32;
export const META_TANGENTS = 0;
export const META_HVP = 1;
export const META_STRIDE = 2;
export const META_COUNT = 3;
export const META_HYPER = 4;
export const META_SLOTS = 5;
/** 1 while every state tangent (slots >= 1) of the param is +0 in every bit: set by the tracker when
 *  it makes or loads the tangents, cleared by a kernel step that may make one nonzero. A kernel whose
 *  step keeps them +0 (Adam's first-order d/dlr without L2 decay) then neither reads nor writes them. */
export const META_ZERO_MOMENTS = 6;
/** Slots (4 bytes each) of one hyperparameter's block of scalar derivatives. */
export const META_HYPER_SLOTS = 8;

// Adam / AdamW: d(stepSize), d(1/sqrt(bc2)), d(beta1), d(beta2), d(eps), d(L2 decay), d(decay factor).
export const MADAM_DSS = 0;
export const MADAM_DIB = 1;
export const MADAM_DB1 = 2;
export const MADAM_DB2 = 3;
export const MADAM_DEPS = 4;
export const MADAM_DWD = 5;
export const MADAM_DDC = 6;
// SGD: d(lr), d(momentum), d(1 - dampening), d(weight decay).
export const MSGD_DLR = 0;
export const MSGD_DMU = 1;
export const MSGD_DOMD = 2;
export const MSGD_DWD = 3;
// RMSprop: d(lr), d(alpha), d(eps), d(weight decay), d(momentum).
export const MRMS_DLR = 0;
export const MRMS_DAL = 1;
export const MRMS_DEPS = 2;
export const MRMS_DWD = 3;
export const MRMS_DMU = 4;
// Adagrad: d(lr / (1 + (t-1) lrDecay)), d(eps), d(weight decay).
export const MADAGRAD_DCLR = 0;
export const MADAGRAD_DEPS = 1;
export const MADAGRAD_DWD = 2;

@inline export function metaTangents(d: usize): usize { return <usize>load<u32>(d, META_TANGENTS << 2); }
@inline export function metaHvp(d: usize): usize { return <usize>load<u32>(d, META_HVP << 2); }
@inline export function metaStride(d: usize): usize { return <usize>load<u32>(d, META_STRIDE << 2); }
@inline export function metaCount(d: usize): usize { return <usize>load<u32>(d, META_COUNT << 2); }
@inline export function metaHyper(d: usize): usize { return <usize>load<u32>(d, META_HYPER << 2); }
@inline export function metaSlots(d: usize): usize { return <usize>load<u32>(d, META_SLOTS << 2); }
@inline export function metaZeroMoments(d: usize): bool { return load<u32>(d, META_ZERO_MOMENTS << 2) != 0; }
@inline export function clearZeroMoments(d: usize): void { store<u32>(d, 0, META_ZERO_MOMENTS << 2); }
