// Fused rows of lean tables for plain Adam with bf16 weights and int8 state (no AMSGrad, no L2 or
// decoupled decay; maximize is the gradient scale's sign), dim a multiple of 8, SIMD build: the
// common case of lean-adam.ts's adamRows, written for fewer instructions a row (those rows are bound
// by instructions, not by memory). Each element sees the same float32 operations in the same order
// as in adamRows (and so as decode -> adamVec -> encode), with the same codes, absmax and random
// bits: the same stored bits (test/lean-fused.test.ts). What differs:
//   - the flags are constants (adamRows tests AMSGrad, L2 and decay in its loop: branches, and V8
//     spills the splats around them);
//   - each tensor's new absmax is kept in the first pass (an integer max of |x|'s bits per lane, as
//     lean-codec.ts absMax computes it), not in a second pass over the scratch rows;
//   - the state's gathers run as four chains side by side, and the encoder passes its bucket indices
//     through memory with four gathers side by side (optimizers/quant/codec.ts encodeInt8Block: the
//     codes of encodeInt8);
//   - srBits4's first product is carried from one group of eight to the next (quant/codec.ts
//     encodeBf16Block's way: the same u32, wrapping);
//   - the record addressing words are read once, and a record's prefetch touches its last word too
//     (a 264-byte record can span six lines).
// Only bf16 weights (each form is ~4 KB of wasm that init() compiles); f32 weights with int8 state
// take adamRows.

import { EMB_HYPER } from "./layout";
import { hyperF32 } from "../shared/common";
import { ADAM_GSCALE, ADAM_BETA1, ADAM_OMB1, ADAM_BETA2, ADAM_OMB2, ADAM_STEP_SIZE, ADAM_INV_BC2_SQRT, ADAM_EPS } from "../optimizers/adam/slots";
import { LEAN_UNIQ, LEAN_GPTR, LEAN_ROW0, LEAN_MAPS, LEAN_DIM, LEAN_SHIFT, LEAN_CHUNKS, LEAN_REC, LEAN_SHADOW_AT, LEAN_SCRATCH_AT,
  LEAN_BLOCK } from "./lean-block";
import { w32, slotWord } from "./lean-record";
import { srRowKey } from "../shared/lowp";
import { encodeInt8Block } from "../optimizers/quant/codec";
import { MAP_SIGNED, MAP_UNSIGNED } from "../shared/maps";

@inline function gidx(map: usize, c: usize, k: i32): usize { return map + (<usize>load<u8>(c + <usize>k) << 2); }

/**
 * The fused rows of a plain-Adam lean table with bf16 weights and int8 state (the caller checks: no
 * AMSGrad, L2 or decoupled decay, no f16 guard, dim a multiple of 8, the SIMD build):
 * entries [from, end) of the unique rows at step key `key`; returns the prefetch loop's sink.
 */
export function adam8FusedRows(ld: usize, key: u32, from: i32, end: i32): u32 {
  const dim = <usize>w32(ld, LEAN_DIM);
  const uniq = <usize>w32(ld, LEAN_UNIQ), gptr = <usize>w32(ld, LEAN_GPTR);
  const h = <usize>load<u32>(ld + LEAN_SHADOW_AT + (<usize>EMB_HYPER << 2));
  const row0 = w32(ld, LEAN_ROW0);
  const maps = <usize>w32(ld, LEAN_MAPS);
  const mapS = maps + MAP_SIGNED, mapU = maps + MAP_UNSIGNED;
  const oM = slotWord(ld, 0, 1), oV = slotWord(ld, 1, 1), aM = slotWord(ld, 0, 2), aV = slotWord(ld, 1, 2);
  // The scratch: the (unused) f16 weights row holds the encoder's 64 bytes of bucket indices.
  const tmp = ld + LEAN_SCRATCH_AT, SS = tmp + <usize>LEAN_BLOCK * dim * 4;
  const bM = SS + slotWord(ld, 0, 0), bV = SS + slotWord(ld, 1, 0);
  const shift = w32(ld, LEAN_SHIFT), chunks = <usize>w32(ld, LEAN_CHUNKS), rb = <usize>w32(ld, LEAN_REC);
  const rmask = (<u32>1 << shift) - 1;
  let sink: u32 = 0;
  if (ASC_FEATURE_SIMD) {
    const vgs = f32x4.splat(hyperF32(h, ADAM_GSCALE)), vb1 = f32x4.splat(hyperF32(h, ADAM_BETA1)), vb1c = f32x4.splat(hyperF32(h, ADAM_OMB1));
    const vb2 = f32x4.splat(hyperF32(h, ADAM_BETA2)), vb2c = f32x4.splat(hyperF32(h, ADAM_OMB2));
    const vss = f32x4.splat(hyperF32(h, ADAM_STEP_SIZE)), vib = f32x4.splat(hyperF32(h, ADAM_INV_BC2_SQRT)), veps = f32x4.splat(hyperF32(h, ADAM_EPS));
    const abs = i32x4.splat(0x7fffffff), ecStep = i32x4.splat(<i32>(4 * 0x85ebca77));
    for (let u = from; u < end; u++) {
      if (((u - from) & (LEAN_BLOCK - 1)) == 0) {
        // One word of every line of the block's records (lean-record.ts touchRecords), and each one's last word.
        const e = u + LEAN_BLOCK < end ? u + LEAN_BLOCK : end;
        for (let q = u; q < e; q++) {
          const r = load<u32>(uniq + (<usize>q << 2));
          const a = <usize>load<u32>(chunks + (<usize>(r >> shift) << 2)) + <usize>(r & rmask) * rb;
          sink ^= load<u32>(a) ^ load<u32>(a, 64) ^ load<u32>(a, 128) ^ load<u32>(a, 192) ^ load<u32>(a + rb - 4);
          for (let o: usize = 256; o < rb; o += 64) sink ^= load<u32>(a + o);
        }
      }
      const r = load<u32>(uniq + (<usize>u << 2));
      const rec = <usize>load<u32>(chunks + (<usize>(r >> shift) << 2)) + <usize>(r & rmask) * rb;
      const G = <usize>load<u32>(gptr + (<usize>u << 2));
      const rk = srRowKey(key, r + row0);
      const M = rec + oM, V = rec + oV;
      const am = load<f32>(rec + aM), av = load<f32>(rec + aV);
      const vam = f32x4.splat(am), vav = f32x4.splat(av);
      const lm = i32x4.splat(am == 0 ? 0 : -1), lv = i32x4.splat(av == 0 ? 0 : -1);
      let xm = i32x4.splat(0), xv = i32x4.splat(0);
      // srBits4(rk, i >> 1) of the group of eight at i: fmix32(rk ^ ((i / 2 + k + 1) * C)), k = 0..3.
      const vrk = i32x4.splat(rk);
      let ec = i32x4.mul(i32x4(1, 2, 3, 4), i32x4.splat(0x85ebca77));
      for (let i: usize = 0; i < dim; i += 8) {
        const o = i << 2;
        // The state's codes: four gathers side by side (decodeCodes' values: map[code] * absmax, +0 when absmax is 0).
        const cm = M + i, cv = V + i;
        let ma = v128.load32_zero(gidx(mapS, cm, 0)), mb = v128.load32_zero(gidx(mapS, cm, 4));
        let va = v128.load32_zero(gidx(mapU, cv, 0)), vb = v128.load32_zero(gidx(mapU, cv, 4));
        ma = v128.load32_lane(gidx(mapS, cm, 1), ma, 1); mb = v128.load32_lane(gidx(mapS, cm, 5), mb, 1);
        va = v128.load32_lane(gidx(mapU, cv, 1), va, 1); vb = v128.load32_lane(gidx(mapU, cv, 5), vb, 1);
        ma = v128.load32_lane(gidx(mapS, cm, 2), ma, 2); mb = v128.load32_lane(gidx(mapS, cm, 6), mb, 2);
        va = v128.load32_lane(gidx(mapU, cv, 2), va, 2); vb = v128.load32_lane(gidx(mapU, cv, 6), vb, 2);
        ma = v128.load32_lane(gidx(mapS, cm, 3), ma, 3); mb = v128.load32_lane(gidx(mapS, cm, 7), mb, 3);
        va = v128.load32_lane(gidx(mapU, cv, 3), va, 3); vb = v128.load32_lane(gidx(mapU, cv, 7), vb, 3);
        ma = v128.and(f32x4.mul(ma, vam), lm); mb = v128.and(f32x4.mul(mb, vam), lm);
        va = v128.and(f32x4.mul(va, vav), lv); vb = v128.and(f32x4.mul(vb, vav), lv);
        const w = v128.load(rec + (i << 1));
        const pa = i32x4.shl(i32x4.extend_low_i16x8_u(w), 16), pb = i32x4.shl(i32x4.extend_high_i16x8_u(w), 16);
        const ga = f32x4.mul(v128.load(G + o), vgs), gb = f32x4.mul(v128.load(G + o, 16), vgs);
        // Adam (lean-adam.ts adam4, without AMSGrad and decay: the same operations in the same order).
        ma = f32x4.add(f32x4.mul(ma, vb1), f32x4.mul(vb1c, ga));
        mb = f32x4.add(f32x4.mul(mb, vb1), f32x4.mul(vb1c, gb));
        va = f32x4.add(f32x4.mul(va, vb2), f32x4.mul(f32x4.mul(vb2c, ga), ga));
        vb = f32x4.add(f32x4.mul(vb, vb2), f32x4.mul(f32x4.mul(vb2c, gb), gb));
        v128.store(bM + o, ma); v128.store(bM + o, mb, 16);
        v128.store(bV + o, va); v128.store(bV + o, vb, 16);
        xm = i32x4.max_u(xm, i32x4.max_u(v128.and(ma, abs), v128.and(mb, abs)));
        xv = i32x4.max_u(xv, i32x4.max_u(v128.and(va, abs), v128.and(vb, abs)));
        const na = f32x4.sub(pa, f32x4.mul(vss, f32x4.div(ma, f32x4.add(f32x4.mul(f32x4.sqrt(va), vib), veps))));
        const nb = f32x4.sub(pb, f32x4.mul(vss, f32x4.div(mb, f32x4.add(f32x4.mul(f32x4.sqrt(vb), vib), veps))));
        // lean-record.ts bf16Sr8 with srBits4's first product carried from one group to the next (the same u32, wrapping).
        let hh = v128.xor(vrk, ec);
        hh = v128.xor(hh, i32x4.shr_u(hh, 16));
        hh = i32x4.mul(hh, i32x4.splat(0x85ebca6b));
        hh = v128.xor(hh, i32x4.shr_u(hh, 13));
        hh = i32x4.mul(hh, i32x4.splat(0xc2b2ae35));
        hh = v128.xor(hh, i32x4.shr_u(hh, 16)); // 8 x 16 bits, element order
        ec = i32x4.add(ec, ecStep);
        const lo = i32x4.shr_u(i32x4.add(na, i32x4.extend_low_i16x8_u(hh)), 16);
        const hi = i32x4.shr_u(i32x4.add(nb, i32x4.extend_high_i16x8_u(hh)), 16);
        v128.store(rec + (i << 1), i16x8.narrow_i32x4_u(lo, hi));
      }
      // The new absmax of each tensor (lean-codec.ts absMax's value), then its codes (lean-adam.ts int8Row).
      const nm = reinterpret<f32>(max<u32>(max<u32>(i32x4.extract_lane(xm, 0), i32x4.extract_lane(xm, 1)),
                                           max<u32>(i32x4.extract_lane(xm, 2), i32x4.extract_lane(xm, 3))));
      const nv = reinterpret<f32>(max<u32>(max<u32>(i32x4.extract_lane(xv, 0), i32x4.extract_lane(xv, 1)),
                                           max<u32>(i32x4.extract_lane(xv, 2), i32x4.extract_lane(xv, 3))));
      store<f32>(rec + aM, nm);
      store<f32>(rec + aV, nv);
      if (nm == 0) memory.fill(M, 127, dim);
      else encodeInt8Block(M, bM, dim, nm, maps, true, tmp);
      if (nv == 0) memory.fill(V, 0, dim);
      else encodeInt8Block(V, bV, dim, nv, maps, false, tmp);
    }
  }
  return sink;
}
