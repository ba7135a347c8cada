// Hyper-block slot numbers of the rmsprop kernels (f32 unless noted): written by the TypeScript side
// (src/optimizers/), read by the dense step, the hypergradient step and the embedding rows.

export const RMSPROP_GSCALE = 0;
export const RMSPROP_LR = 1;
export const RMSPROP_ALPHA = 2;
export const RMSPROP_OMA = 3;      // 1 - alpha
export const RMSPROP_EPS = 4;
export const RMSPROP_WD = 5;
export const RMSPROP_MOMENTUM = 6;
export const RMSPROP_USE_WD = 7;       // i32 flag
export const RMSPROP_CENTERED = 8;     // i32 flag
export const RMSPROP_USE_MOMENTUM = 9; // i32 flag
