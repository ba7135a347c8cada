// Hyper-block slot numbers of the FTRL kernels (f32 unless noted): written by src/optimizers/ftrl.ts,
// read by the dense step (./step.ts) and the embedding rows (assembly/embedding/lean.ts).

export const FTRL_GSCALE = 0;      // gradient scale; negative for maximize
export const FTRL_LR = 1;
export const FTRL_L1 = 2;
export const FTRL_L2X2 = 3;        // 2 * l2 + beta / lr: TensorFlow's 2 * l2 with beta folded in
export const FTRL_SHRINK2 = 4;     // 2 * l2_shrinkage_regularization_strength
export const FTRL_NEG_POWER = 5;   // -learning_rate_power
export const FTRL_USE_SHRINK = 6;  // i32 flag: l2Shrinkage > 0 (ApplyFtrlV2's grad_with_shrinkage)
export const FTRL_SQRT = 7;        // i32 flag: learning_rate_power == -0.5 (square roots, SIMD)
