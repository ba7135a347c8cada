// Immediate offsets for the unrolled SIMD loops. A lane group's loads and stores take their byte
// offset within the unrolled block as a type argument, `Lane1` to `Lane3` (16, 32, 48 bytes;
// `Lane0`, the default, 0), read with offsetof<L>(): a compile-time constant, so the offset goes
// into the instruction's immediate (`v128.load offset=16`) and V8 folds it into the x64 addressing
// mode. Written as `v128.load(P + o + 16)`, every load and store of an unrolled body carried an
// i32.add of its own (wasm's 32-bit wrap-around keeps V8 from folding it), which the light kernels
// paid for: SGD with momentum ran at 0.7× of clang's 4×-interleaved loop, whose loads and stores
// use immediate offsets. Internal: not re-exported by index.ts.

/** Offset 0 within an unrolled block (the default). */
@unmanaged export class Lane0 {}
/** Offset 16 bytes (the second lane group of an unrolled block). */
@unmanaged export class Lane1 { a: v128; }
/** Offset 32 bytes (the third lane group). */
@unmanaged export class Lane2 { a: v128; b: v128; }
/** Offset 48 bytes (the fourth lane group). */
@unmanaged export class Lane3 { a: v128; b: v128; c: v128; }
