// Dense optimizers with 16- or 8-bit state (`stateType: 'bf16' | 'int8'`, src/core/state-type.ts):
// the layout of what the quantized step kernels (./step.ts) read besides the usual descriptor.
//
// Descriptor word QUANT_DESC_WORD (the reserved word 7) of each tensor:
//   bits 0-1: how its state tensors are stored (QUANT_F32, QUANT_BF16, QUANT_INT8),
//   bits 2-4: state slot s takes the signed map (int8) when bit 2 + s is set,
//   bits 5-31: the tensor's index in the optimizer (the "row" of its stochastic rounding keys).
// A state slot's pointer then points at: f32: length floats; bf16: length u16; int8: length codes
// (u8), then, at the next multiple of 16 bytes, one float32 absmax per block of QUANT_BLOCK elements.
export const QUANT_DESC_WORD = 7;
export const QUANT_F32 = 0;
export const QUANT_BF16 = 1;
export const QUANT_INT8 = 2;
export const QUANT_SIGNED_SHIFT = 2;
export const QUANT_INDEX_SHIFT = 5;
// bitsandbytes' block size of its blockwise 8-bit optimizers (bitsandbytes/optim/optimizer.py,
// Optimizer2State.init_state: blocksize = 256) and its min_8bit_size default (smaller tensors
// keep float32 state).
export const QUANT_BLOCK = 256;
export const QUANT_MIN_SIZE = 4096;
// Hyper-block slots (u32) the quantized kernels read, above every family's own slots.
export const QUANT_T = 25;        // the tensor's step t (stochastic rounding key of bf16 state)
export const QUANT_SEED_LO = 26;
export const QUANT_SEED_HI = 27;
export const QUANT_MAPS = 28;     // the maps block (shared/maps.ts), int8 only
export const QUANT_SCRATCH = 29;  // QUANT_SCRATCH_BYTES of scratch, one per optimizer:
// a shadow descriptor (32 bytes), 64 bytes for the int8 encoder (./codec.ts), and 3 float32 blocks
// (QUANT_BUF + s * 4 * QUANT_BLOCK: state slot s).
export const QUANT_TMP = 32;
export const QUANT_BUF = 96;
export const QUANT_SCRATCH_BYTES = 96 + 3 * 4 * 256;
