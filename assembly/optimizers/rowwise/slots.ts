// Hyper-block slot numbers of the row-wise table optimizers (f32 unless noted), FBGEMM's
// EXACT_ROWWISE_ADAGRAD and PARTIAL_ROWWISE_ADAM (pytorch/FBGEMM,
// fbgemm_gpu/codegen/genscript/optimizers.py): written by src/optimizers/rowwise.ts, read by the
// embedding rows (assembly/embedding/lean.ts). Table-only: they have no dense kernel.

// Row-wise Adagrad.
export const RWADAGRAD_GSCALE = 0;  // gradient scale; negative for maximize
export const RWADAGRAD_LR = 1;
export const RWADAGRAD_EPS = 2;
export const RWADAGRAD_WD = 3;      // weight decay (L2: added to the gradient of the row statistic)
export const RWADAGRAD_DECAY = 4;   // decoupled mode: the correction 1 - lr * wd
export const RWADAGRAD_USE_L2 = 5;  // i32 flag: weight_decay_mode L2
export const RWADAGRAD_USE_DEC = 6; // i32 flag: weight_decay_mode DECOUPLE

// Partial row-wise Adam.
export const PRADAM_GSCALE = 0;
export const PRADAM_BETA1 = 1;
export const PRADAM_OMB1 = 2;       // 1 - beta1
export const PRADAM_BETA2 = 3;
export const PRADAM_OMB2 = 4;       // 1 - beta2
export const PRADAM_STEP_SIZE = 5;  // lr / (1 - beta1^t)
export const PRADAM_INV_BC2_SQRT = 6; // 1 / sqrt(1 - beta2^t)
export const PRADAM_EPS = 7;
export const PRADAM_LWD = 8;        // lr * weight_decay
export const PRADAM_USE_WD = 9;     // i32 flag
