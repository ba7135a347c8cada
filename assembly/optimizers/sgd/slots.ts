// Hyper-block slot numbers of the sgd kernels (f32 unless noted): written by the TypeScript side
// (src/optimizers/), read by the dense step, the hypergradient step and the embedding rows.

export const SGD_GSCALE = 0;     // gradient scale; negative for maximize
export const SGD_LR = 1;
export const SGD_MOMENTUM = 2;
export const SGD_OMD = 3;        // 1 - dampening
export const SGD_WD = 4;
export const SGD_USE_MOMENTUM = 5; // i32 flag
export const SGD_FIRST = 6;      // i32 flag: the momentum buffer starts as the first gradient
export const SGD_NESTEROV = 7;   // i32 flag
export const SGD_USE_WD = 8;     // i32 flag
