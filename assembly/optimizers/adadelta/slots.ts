// Hyper-block slot numbers of the adadelta kernels (f32 unless noted): written by the TypeScript side
// (src/optimizers/), read by the dense step, the hypergradient step and the embedding rows.

export const ADADELTA_GSCALE = 0;  // gradient scale; negative for maximize
export const ADADELTA_LR = 1;
export const ADADELTA_RHO = 2;
export const ADADELTA_OMR = 3;     // 1 - rho
export const ADADELTA_EPS = 4;
export const ADADELTA_WD = 5;      // L2 weight decay added to the gradient
export const ADADELTA_USE_WD = 6;  // i32 flag
