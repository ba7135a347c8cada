// The int8 codecs of the quantized steps (./step.ts): a block's codes decoded into float32, and
// float32 values encoded as the nearest codes of a block with a given absmax. The same values and
// codes as the lean tables' row codecs (embedding/storage.ts decodeCodes, encodeInt8; shared/lowp.ts
// dynCodes4, dynEncode, whose bucket tables they read), arranged for throughput on x64: sixteen
// elements at a time with four independent gathers in flight (a lane load waits on the one before
// it in the same vector), and the encoder's bucket indices passed through memory rather than
// extracted lane by lane. Timing-only experiments (AMD EPYC family 23, V8 in Node 20, one core):
// decoding 1.5x, encoding 1.2-1.4x the throughput of the row codecs.

import { dynEncode, srBits16, f32ToBf16Sr } from "../../shared/lowp";
import { BKT_SHIFT, BKT_FIRST, BKT_COUNT, BKT_SIGNED, BKT_UNSIGNED } from "../../shared/maps";

/** Where the absmax of block `b` of an int8 state tensor of `n` elements at `at` lives. */
@inline export function absmaxAddr(at: usize, n: usize, b: usize): usize {
  return at + ((n + 15) & ~(<usize>15)) + (b << 2);
}

@inline function gidx(map: usize, c: usize, k: i32): usize { return map + (<usize>load<u8>(c + <usize>k) << 2); }

/**
 * The `len` int8 codes at `codes` of a block with absmax `absmax` (> 0), decoded (map[code] * absmax)
 * into f32 at `dst`; `map`: the block's map.
 */
@inline export function decodeInt8Block(dst: usize, codes: usize, len: usize, absmax: f32, map: usize): void {
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    // Four vectors gathered side by side (each lane a load into its lane, as the lean tables decode):
    // four independent chains, where one vector at a time waits on each of its lane inserts.
    const va = f32x4.splat(absmax);
    const n16 = len & ~(<usize>15);
    for (; i < n16; i += 16) {
      const c = codes + i;
      const d = dst + (i << 2);
      let v0 = v128.load32_zero(gidx(map, c, 0)), v1 = v128.load32_zero(gidx(map, c, 4));
      let v2 = v128.load32_zero(gidx(map, c, 8)), v3 = v128.load32_zero(gidx(map, c, 12));
      v0 = v128.load32_lane(gidx(map, c, 1), v0, 1); v1 = v128.load32_lane(gidx(map, c, 5), v1, 1);
      v2 = v128.load32_lane(gidx(map, c, 9), v2, 1); v3 = v128.load32_lane(gidx(map, c, 13), v3, 1);
      v0 = v128.load32_lane(gidx(map, c, 2), v0, 2); v1 = v128.load32_lane(gidx(map, c, 6), v1, 2);
      v2 = v128.load32_lane(gidx(map, c, 10), v2, 2); v3 = v128.load32_lane(gidx(map, c, 14), v3, 2);
      v0 = v128.load32_lane(gidx(map, c, 3), v0, 3); v1 = v128.load32_lane(gidx(map, c, 7), v1, 3);
      v2 = v128.load32_lane(gidx(map, c, 11), v2, 3); v3 = v128.load32_lane(gidx(map, c, 15), v3, 3);
      v128.store(d, f32x4.mul(v0, va)); v128.store(d, f32x4.mul(v1, va), 16);
      v128.store(d, f32x4.mul(v2, va), 32); v128.store(d, f32x4.mul(v3, va), 48);
    }
  }
  for (; i < len; i++) store<f32>(dst + (i << 2), load<f32>(gidx(map, codes, <i32>i)) * absmax);
}

/** The bucket of each lane of x (|x| <= 1 or NaN), times 4: dynCodes4's index into its bucket table. */
@inline function bucket4(x: v128): v128 {
  const a = v128.and(x, i32x4.splat(0x7fffffff));
  return i32x4.shl(i32x4.min_s(i32x4.max_s(i32x4.sub(i32x4.shr_u(a, BKT_SHIFT), i32x4.splat(BKT_FIRST)), i32x4.splat(0)),
                               i32x4.splat(BKT_COUNT - 1)), 2);
}

/** dynCodes4's codes of the lanes of x, from their buckets' words `e`. */
@inline function codes4(x: v128, e: v128, signed: bool): v128 {
  const low = i32x4.splat(0xffff);
  let j = i32x4.sub(i32x4.shr_u(e, 16), i32x4.gt_s(v128.and(x, low), v128.and(e, low)));
  if (signed) {
    const c127 = i32x4.splat(127);
    j = v128.bitselect(i32x4.sub(c127, i32x4.min_s(j, c127)), i32x4.add(c127, j), i32x4.lt_s(x, i32x4.splat(0)));
  }
  return j;
}

@inline function gword(t: usize, tmp: usize, k: i32): usize { return t + <usize>load<u32>(tmp + (<usize>k << 2)); }

/**
 * The codes of `len` f32 at `src` divided by `absmax` (> 0), at `codes`: the codes of shared/lowp.ts
 * dynCodes4 / dynEncode (the nearest map entry, from the bucket table of shared/maps.ts). `tmp`: 64
 * bytes of scratch for the bucket indices.
 */
@inline export function encodeInt8Block(codes: usize, src: usize, len: usize, absmax: f32, maps: usize, signed: bool, tmp: usize): void {
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    // dynCodes4 sixteen at a time, its bucket indices stored and read back as scalars (on x64 an
    // i32x4.extract_lane costs two uops and a few cycles; a load from the store buffer one), then
    // the four gathers side by side. The same codes.
    const va = f32x4.splat(absmax);
    const t = maps + (signed ? BKT_SIGNED : BKT_UNSIGNED);
    const n16 = len & ~(<usize>15);
    for (; i < n16; i += 16) {
      const p = src + (i << 2);
      const x0 = f32x4.div(v128.load(p), va), x1 = f32x4.div(v128.load(p, 16), va);
      const x2 = f32x4.div(v128.load(p, 32), va), x3 = f32x4.div(v128.load(p, 48), va);
      v128.store(tmp, bucket4(x0)); v128.store(tmp, bucket4(x1), 16);
      v128.store(tmp, bucket4(x2), 32); v128.store(tmp, bucket4(x3), 48);
      let e0 = v128.load32_zero(gword(t, tmp, 0)), e1 = v128.load32_zero(gword(t, tmp, 4));
      let e2 = v128.load32_zero(gword(t, tmp, 8)), e3 = v128.load32_zero(gword(t, tmp, 12));
      e0 = v128.load32_lane(gword(t, tmp, 1), e0, 1); e1 = v128.load32_lane(gword(t, tmp, 5), e1, 1);
      e2 = v128.load32_lane(gword(t, tmp, 9), e2, 1); e3 = v128.load32_lane(gword(t, tmp, 13), e3, 1);
      e0 = v128.load32_lane(gword(t, tmp, 2), e0, 2); e1 = v128.load32_lane(gword(t, tmp, 6), e1, 2);
      e2 = v128.load32_lane(gword(t, tmp, 10), e2, 2); e3 = v128.load32_lane(gword(t, tmp, 14), e3, 2);
      e0 = v128.load32_lane(gword(t, tmp, 3), e0, 3); e1 = v128.load32_lane(gword(t, tmp, 7), e1, 3);
      e2 = v128.load32_lane(gword(t, tmp, 11), e2, 3); e3 = v128.load32_lane(gword(t, tmp, 15), e3, 3);
      const c0 = codes4(x0, e0, signed), c1 = codes4(x1, e1, signed), c2 = codes4(x2, e2, signed), c3 = codes4(x3, e3, signed);
      v128.store(codes + i, i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_u(c0, c1), i16x8.narrow_i32x4_u(c2, c3)));
    }
  }
  for (; i < len; i++) store<u8>(codes + i, <u8>dynEncode(maps, load<f32>(src + (i << 2)) / absmax, signed));
}

/**
 * The `len` f32 at `src` rounded stochastically to bf16 at `dst` (elements e0 .. e0 + len - 1 of
 * their tensor, e0 even): the lean tables' bits (shared/lowp.ts srBits16, row key `rk`), as
 * embedding/storage.ts encodeWeights rounds them. srBits4's first product (e + 1) * 0x85ebca77 is
 * carried from one group to the next by an addition (the same u32, wrapping), one multiply of its
 * three less per four hashes.
 */
@inline export function encodeBf16Block(dst: usize, src: usize, len: usize, rk: u32, e0: u32): void {
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vrk = i32x4.splat(rk);
    // Hash h of elements e0 + 2k, e0 + 2k + 1 (k = 0..3): fmix32(rk ^ ((e0 / 2 + k + 1) * C)).
    let ec = i32x4.mul(i32x4.add(i32x4.splat((e0 >> 1) + 1), i32x4(0, 1, 2, 3)), i32x4.splat(0x85ebca77));
    const step = i32x4.splat(<i32>(4 * 0x85ebca77));
    const n8 = len & ~(<usize>7);
    for (; i < n8; i += 8) {
      let h = v128.xor(vrk, ec);
      h = v128.xor(h, i32x4.shr_u(h, 16));
      h = i32x4.mul(h, i32x4.splat(0x85ebca6b));
      h = v128.xor(h, i32x4.shr_u(h, 13));
      h = i32x4.mul(h, i32x4.splat(0xc2b2ae35));
      h = v128.xor(h, i32x4.shr_u(h, 16)); // 8 x 16 bits, element order
      ec = i32x4.add(ec, step);
      const p = src + (i << 2);
      const lo = i32x4.shr_u(i32x4.add(v128.load(p), i32x4.extend_low_i16x8_u(h)), 16);
      const hi = i32x4.shr_u(i32x4.add(v128.load(p, 16), i32x4.extend_high_i16x8_u(h)), 16);
      v128.store(dst + (i << 1), i16x8.narrow_i32x4_u(lo, hi));
    }
  }
  for (; i < len; i++) store<u16>(dst + (i << 1), <u16>f32ToBf16Sr(load<f32>(src + (i << 2)), srBits16(rk, e0 + <u32>i)));
}
