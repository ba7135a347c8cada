// Hyper-block slot numbers of the hypergrad kernels (f32 unless noted): written by the TypeScript side
// (src/optimizers/), read by the dense step, the hypergradient step and the embedding rows.

export const HD_PREV_IB = 20;
export const HD_SKIP = 21;
export const HD_USE_P = 22;
export const HD_MODE_STORED = 0;
export const HD_MODE_ADAM = 1;
