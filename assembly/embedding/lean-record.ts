// The row records of lean tables (assembly/embedding/storage.ts; the block's words: lean-block.ts): where a row's record is, its state
// slots' words, bf16 stochastic rounding of eight lanes, and the prefetch of a block's records.
// Shared by the update paths of storage.ts and the fused rows (lean-adam.ts). Not re-exported by
// assembly/index.ts (v128 signatures cannot be exported from the scalar build).

import { LEAN_SHIFT, LEAN_CHUNKS, LEAN_REC, LEAN_SLOT0, LEAN_BLOCK } from "./lean-block";
import { srBits4 } from "../shared/lowp";

/** Word `slot` of the lean block at `d`. */
@inline export function w32(d: usize, slot: i32): u32 { return load<u32>(d + (<usize>slot << 2)); }

/** Address of row `r`'s record. */
@inline export function recAddr(ld: usize, r: u32): usize {
  const shift = w32(ld, LEAN_SHIFT);
  const chunk = <usize>load<u32>(<usize>w32(ld, LEAN_CHUNKS) + (<usize>(r >> shift) << 2));
  return chunk + <usize>(r & ((1 << shift) - 1)) * <usize>w32(ld, LEAN_REC);
}

/** Word `k` of state slot `s`: 0 its offset in a shadow row, 1 in a record, 2 its absmax word's, 3 its width. */
@inline export function slotWord(ld: usize, s: u32, k: u32): usize {
  return <usize>load<u32>(ld + (<usize>(LEAN_SLOT0 + 4 * s + k) << 2));
}

/** Eight f32 (`a`, `b`: elements e .. e + 7, e even) rounded stochastically to bf16 at `dst` (srBits4's bits). */
@inline export function bf16Sr8(dst: usize, a: v128, b: v128, rk: u32, e: u32): void {
  const r = srBits4(rk, e >> 1); // 8 x 16 bits, element order
  const lo = i32x4.shr_u(i32x4.add(a, i32x4.extend_low_i16x8_u(r)), 16);
  const hi = i32x4.shr_u(i32x4.add(b, i32x4.extend_high_i16x8_u(r)), 16);
  v128.store(dst, i16x8.narrow_i32x4_u(lo, hi));
}

/**
 * One word of every cache line of the `bytes` (> 0) at `base`: the first line, the next three
 * without a branch when the span has 256 bytes or more (immediate offsets), then a loop for the rest.
 */
@inline export function touchSpan(base: usize, bytes: usize): u32 {
  let acc = load<u32>(base);
  let o: usize = 64;
  if (bytes >= 256) {
    acc ^= load<u32>(base, 64) ^ load<u32>(base, 128) ^ load<u32>(base, 192);
    o = 256;
  }
  for (; o < bytes; o += 64) acc ^= load<u32>(base + o);
  return acc;
}

/** One load of every cache line of the `bytes` (> 0) at `base` (touchSpan's lines), the values
 *  dropped: a burst's loads then hold no dependent instruction waiting on the misses (an xor of
 *  every loaded word into one accumulator kept ~200 such instructions in the schedulers, which
 *  held up the burst's later loads). Binaryen and V8 keep a dropped load, which may trap. */
@inline export function touchDrop(base: usize, bytes: usize): void {
  load<u32>(base);
  let o: usize = 64;
  if (bytes >= 256) {
    load<u32>(base, 64);
    load<u32>(base, 128);
    load<u32>(base, 192);
    o = 256;
  }
  for (; o < bytes; o += 64) load<u32>(base + o);
}

// Prefetching: one word of every cache line of a block's records (see touch.ts; touchDrop: few
// instructions a record and none waiting on the loads, so that the misses of the block are in flight together).
@inline export function touchRecords(ld: usize, rows: usize, u: i32, n: i32): void {
  const rec = <usize>w32(ld, LEAN_REC);
  const end = u + LEAN_BLOCK < n ? u + LEAN_BLOCK : n;
  for (let q = u; q < end; q++) touchDrop(recAddr(ld, load<u32>(rows + (<usize>q << 2))), rec);
}
