// Hyper-block slot numbers of the adam kernels (f32 unless noted): written by the TypeScript side
// (src/optimizers/), read by the dense step, the hypergradient step and the embedding rows.

export const ADAM_GSCALE = 0;      // gradient scale; negative for maximize
export const ADAM_BETA1 = 1;
export const ADAM_OMB1 = 2;        // 1 - beta1
export const ADAM_BETA2 = 3;
export const ADAM_OMB2 = 4;        // 1 - beta2
export const ADAM_STEP_SIZE = 5;   // lr / (1 - beta1^t)
export const ADAM_INV_BC2_SQRT = 6; // 1 / sqrt(1 - beta2^t)
export const ADAM_EPS = 7;
export const ADAM_L2 = 8;          // weight decay added to the gradient (Adam)
export const ADAM_DECAY = 9;       // 1 - lr * weightDecay (AdamW), 1 otherwise
export const ADAM_AMSGRAD = 10;    // i32 flag
export const ADAM_USE_L2 = 11;     // i32 flag
export const ADAM_USE_DECAY = 12;  // i32 flag
