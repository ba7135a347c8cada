// Hyper-block slot numbers of the hypergrad kernels (f32 unless noted): written by the TypeScript side
// (src/optimizers/), read by the dense step, the hypergradient step and the embedding rows.

/** Hyper slot (f32): 1 / sqrt(1 - beta2^(t-1)) for Adam-HD's previous direction. */
export const HD_PREV_IB = 20;
/** Hyper slot (i32 flag): the tensor has no previous direction yet (its first step): dots are 0. */
export const HD_SKIP = 21;
/** Hyper slot (i32 flag): also sum p . D (L2 weight decay is part of the gradient). */
export const HD_USE_P = 22;
/** hdDots mode: D is the stored direction in state1 (SGD-HD). */
export const HD_MODE_STORED = 0;
/** hdDots mode: D = m / (sqrt(v) * prevIb + eps) from Adam's state (v = state2 under AMSGrad). */
export const HD_MODE_ADAM = 1;
