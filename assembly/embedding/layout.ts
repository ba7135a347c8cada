// The embedding table's descriptor: a 256-byte block the TypeScript side fills once (and again
// when scratch buffers grow). u32 words EMB_* from byte 0, f64 words EMBF_* from byte 128.
// Slot numbers are exported so that TypeScript reads them with engine.slot(name).

// Descriptor: u32 words.
export const EMB_WEIGHTS = 0;   // f32 rows*dim
// The state tensors are interleaved by row: row r's state i starts at EMB_STATE<i> + r * EMB_SROW
// (so a row's exp_avg and exp_avg_sq share a memory page: one TLB miss fewer per touched row).
export const EMB_STATE0 = 1;    // exp_avg | momentum_buffer | sum | square_avg (Adadelta)
export const EMB_STATE1 = 2;    // exp_avg_sq | exp_inf (Adamax) | acc_delta (Adadelta)
export const EMB_STATE2 = 3;    // max_exp_avg_sq
export const EMB_ROWS = 4;
export const EMB_DIM = 5;
export const EMB_HYPER = 6;     // 32 f32 slots, the dense optimizers' layout (ADAM_*, SGD_*, ADAGRAD_*, ADAMAX_*, LION_*, ADADELTA_*, NADAM_*, RADAM_*)
export const EMB_KIND = 7;      // EMB_KIND_*: which row kernel embApply runs
export const EMB_KEYS = 8;      // u64 per id: coalescing's hash table (with EMB_KEYS2, right after it)
export const EMB_KEYS2 = 9;     // u64 per id: the second half of the hash table; must follow EMB_KEYS (coalesce.ts)
export const EMB_LINK = 10;     // u32 per id: coalescing's chains of the positions of a row's ids (coalesce.ts)
export const EMB_UNIQ = 11;     // u32 per id: the unique rows, in the order of their first id in the batch
export const EMB_GPTR = 12;     // u32 per id: byte offset of each unique row's gradient
export const EMB_SUM = 13;      // f32 (cap/2 + 1) * dim: sums of duplicate ids' gradient rows
export const EMB_BAD = 14;      // out: the id whose summed gradient is not finite
export const EMB_LAST = 15;     // u32 per row: the step each row is up to date with (exact mode)
export const EMB_RING = 16;     // per-step history, EMB_RING_BYTES per step (exact mode)
export const EMB_RING_MASK = 17;
export const EMB_WINDOW = 18;   // J: missed steps whose drift is summed (beyond it b1^j is negligible)
export const EMB_POW = 19;      // f64 powers j = 0 .. H-1 of b1 (SGD: mu), then of b2, then j = 0 .. J of sqrt(b2); H = ring size
export const EMB_EXACT = 20;    // EMB_EXACT_NONE | EMB_EXACT_ADAM | EMB_EXACT_SGD
export const EMB_EX_DECAY = 21; // i32 flag: missed steps shrink the weights (AdamW / SGD weight decay)
export const EMB_EX_AMS = 22;   // i32 flag: AMSGrad (the denominator uses the constant vmax)
export const EMB_EX_MOM = 23;   // i32 flag: SGD momentum buffers decay in missed steps
export const EMB_BASE = 24;
export const EMB_SROW = 25;     // bytes of state per row (dim * 4 per per-element state tensor, 4 per per-row one)     // first step of the ring's history (0, or the step a state dict was loaded at)
export const EMB_SINK = 26;     // receives the prefetch loads' values (so that they are not optimized away)
export const EMB_GMAX = 27;     // out (embCoalesce with check): the bits of max |g| over the rows it will apply
export const EMB_TOUCH_G = 28;  // i32 flag: the row loops' block burst reads the gradient rows too (a split update's ranges, touch.ts)
// Words 29-31 are free (28-31 held the state of a coalescing in pieces until 2026-12-06).
// Descriptor: f64 words from byte 128.
export const EMBF_EPS = 0;      // eps (Adam)
export const EMBF_THR = 1;      // sqrt(v) below which the closed-form series is not used
export const EMBF_B1 = 2;       // per-step decay of the first moment (SGD: of the momentum buffer)
export const EMBF_B2 = 3;       // per-step decay of the second moment
export const EMBF_BETA2 = 4;    // beta2 as given (for 1/sqrt(1 - beta2^t) of future steps)
export const EMBF_RHO = 5;      // largest spread ratio of a window's c_j for the centred series

export const EMB_KIND_SGD = 0;
export const EMB_KIND_ADAGRAD = 1;
export const EMB_KIND_ADAM = 2;
export const EMB_KIND_ADAMAX = 3; // lazy mode only
export const EMB_KIND_LION = 4;   // lazy mode only
export const EMB_KIND_ADADELTA = 5; // lazy mode only
export const EMB_KIND_NADAM = 6;  // lazy mode only
export const EMB_KIND_RADAM = 7;  // lazy mode only
// The memory-lean kinds (rows stepped by lean.ts): one float of state per row, or FTRL.
export const EMB_KIND_ROWWISE_ADAGRAD = 8; // exact mode: decoupled weight decay (or none) only
export const EMB_KIND_PARTIAL_ROWWISE_ADAM = 9; // lazy mode only
export const EMB_KIND_FTRL = 10; // lazy mode only
export const EMB_EXACT_NONE = 0;
export const EMB_EXACT_ADAM = 1;
export const EMB_EXACT_SGD = 2;
export const EMB_DESC_BYTES = 256;
export const EMB_RING_BYTES = 256;

@inline export function embU32(d: usize, slot: i32): usize { return <usize>load<u32>(d + (<usize>slot << 2)); }
@inline export function embF64(d: usize, slot: i32): f64 { return load<f64>(d + 128 + (<usize>slot << 3)); }

