// Hyper-block slot numbers of the radam kernels (f32 unless noted): written by the TypeScript side
// (src/optimizers/), read by the dense step, the hypergradient step and the embedding rows.

export const RADAM_GSCALE = 0;    // gradient scale; negative for maximize
export const RADAM_OMB1 = 1;      // 1 - beta1
export const RADAM_BETA2 = 2;
export const RADAM_OMB2 = 3;      // 1 - beta2
export const RADAM_EPS = 4;
export const RADAM_COEF = 5;      // cr (rectified) or cp (not)
export const RADAM_L2 = 6;        // weight decay added to the gradient
export const RADAM_DECAY = 7;     // 1 - lr * weightDecay (decoupled)
export const RADAM_RECT = 8;      // i32 flag: rho_t > 5
export const RADAM_USE_L2 = 9;    // i32 flag
export const RADAM_USE_DECAY = 10; // i32 flag
