// Hyper-block slot numbers of the adagrad kernels (f32 unless noted): written by the TypeScript side
// (src/optimizers/), read by the dense step, the hypergradient step and the embedding rows.

export const ADAGRAD_GSCALE = 0;
export const ADAGRAD_CLR = 1;
export const ADAGRAD_EPS = 2;
export const ADAGRAD_WD = 3;
export const ADAGRAD_USE_WD = 4; // i32 flag
