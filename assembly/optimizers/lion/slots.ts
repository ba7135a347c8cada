// Hyper-block slot numbers of the lion kernels (f32 unless noted): written by the TypeScript side
// (src/optimizers/), read by the dense step, the hypergradient step and the embedding rows.

export const LION_GSCALE = 0;   // gradient scale; negative for maximize
export const LION_LR = 1;
export const LION_BETA1 = 2;
export const LION_OMB1 = 3;     // 1 - beta1
export const LION_BETA2 = 4;
export const LION_OMB2 = 5;     // 1 - beta2
export const LION_WD = 6;
export const LION_USE_WD = 7;   // i32 flag
