// Hyper-block slot numbers of the nadam kernels (f32 unless noted): written by the TypeScript side
// (src/optimizers/), read by the dense step, the hypergradient step and the embedding rows.

export const NADAM_GSCALE = 0;    // gradient scale; negative for maximize
export const NADAM_OMB1 = 1;      // 1 - beta1
export const NADAM_BETA2 = 2;
export const NADAM_OMB2 = 3;      // 1 - beta2
export const NADAM_INV_BC2 = 4;   // 1 / (1 - beta2^t)
export const NADAM_EPS = 5;
export const NADAM_CG = 6;        // lr (1 - mu_t) / (1 - mu_product_t)
export const NADAM_CM = 7;        // lr mu_{t+1} / (1 - mu_product_{t+1})
export const NADAM_L2 = 8;        // weight decay added to the gradient
export const NADAM_DECAY = 9;     // 1 - lr * weightDecay (decoupled)
export const NADAM_USE_L2 = 10;   // i32 flag
export const NADAM_USE_DECAY = 11; // i32 flag
