// Hyper-block slot numbers of the adamax kernels (f32 unless noted): written by the TypeScript side
// (src/optimizers/), read by the dense step, the hypergradient step and the embedding rows.

export const ADAMAX_GSCALE = 0;   // gradient scale; negative for maximize
export const ADAMAX_OMB1 = 1;     // 1 - beta1
export const ADAMAX_BETA2 = 2;
export const ADAMAX_CLR = 3;      // lr / (1 - beta1^t)
export const ADAMAX_EPS = 4;
export const ADAMAX_WD = 5;       // L2 weight decay added to the gradient
export const ADAMAX_USE_WD = 6;   // i32 flag
