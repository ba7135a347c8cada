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
