// bitsandbytes' dynamic quantization maps (Dettmers et al. 2021, "8-bit Optimizers via Block-wise
// Quantization"; `create_dynamic_map` in bitsandbytes/functional.py with its defaults
// max_exponent_bits = 7, total_bits = 8), computed as PyTorch computes them in float32:
//   for i in 0..6: b = linspace(0.1, 1, n_i) (float32; n_i = 2^i + 1 signed, 2^(i+1) + 1 unsigned)
//                  means = (b[:-1] + b[1:]) / 2;  values += 10^(i-6) * means  (and their negatives, signed)
//   values += [0, 1];  sorted.
// The signed map (first moments) has 127 negative values, 0 and 128 positive ones ending at 1.0;
// the unsigned map (second moments) 0, 254 positive values and 1.0.

import { SLOT as S } from '../core/abi.js';

const f = Math.fround;

/** float32 fma(a, b, c): a * b is exact in float64 (24 + 24 bits); the sum is rounded once more to float32. */
function fmaF32(a: number, b: number, c: number): number {
  return f(a * b + c);
}

/**
 * torch.linspace(start, end, steps) in float32 as PyTorch 1.13's CPU kernel computes it (checked
 * bit for bit against its output): `step = (end - start) / (steps - 1)`; element i is
 * `start + step * i` below `steps / 2` and `end - step * (steps - 1 - i)` from there; in blocks
 * of 16 it takes a base element so (a multiply-add the compiler fused) and then
 * `base + j * step` for j = 0..7 (Vectorized<float>::arange, 8 lanes).
 */
function linspaceF32(start: number, end: number, steps: number): number[] {
  const s = f(start),
    e = f(end);
  const step = f(f(e - s) / (steps - 1));
  const half = Math.floor(steps / 2);
  const at = (i: number): number => (i < half ? fmaF32(step, i, s) : fmaF32(-step, steps - 1 - i, e));
  const out: number[] = [];
  let i = 0;
  for (; i + 16 <= steps; i += 8) {
    const base = at(i);
    for (let j = 0; j < 8; j++) out.push(f(base + f(j * step)));
    i += 8;
    const base2 = at(i);
    for (let j = 0; j < 8; j++) out.push(f(base2 + f(j * step)));
  }
  for (; i < steps; i++) out.push(at(i));
  return out;
}

/**
 * The 256 values of bitsandbytes' dynamic map (`create_dynamic_map(signed)`), ascending, as float32.
 * Code `c` of a block with absolute maximum `absmax` stands for `map[c] * absmax`.
 */
export function dynamicMap(signed: boolean): Float32Array {
  const data: number[] = [];
  for (let i = 0; i < 7; i++) {
    const items = signed ? 2 ** i + 1 : 2 ** (i + 1) + 1;
    const b = linspaceF32(0.1, 1, items);
    const scale = f(10 ** (i - 6));
    for (let j = 0; j + 1 < items; j++) {
      const mean = f(f(b[j] + b[j + 1]) / 2);
      data.push(f(scale * mean));
      if (signed) data.push(f(-scale * mean));
    }
  }
  data.push(0, 1);
  data.sort((a, b) => a - b);
  return new Float32Array(data);
}

/**
 * The midpoints of consecutive entries of `q`, each rounded down to float32: for a float32 x,
 * `x > floor32(m)` holds exactly when `x > m` (m = (a + b) / 2 is exact in float64), so the
 * kernel's float32 comparison finds the nearest entry, ties to the lower one.
 */
function midpoints(q: Float32Array): Float32Array {
  const m = new Float32Array(q.length - 1);
  const bits = new Uint32Array(m.buffer);
  for (let i = 0; i + 1 < q.length; i++) {
    const exact = (q[i] + q[i + 1]) / 2;
    m[i] = exact;
    if (m[i] > exact) bits[i]--; // positive: one float32 step down
  }
  return m;
}

/**
 * The encoder's bucket table of one map (layout and meaning: assembly/shared/maps.ts): a u32 per
 * bucket of float32 bits, (number of midpoints below its smallest float) << 16 | the low 16 bits of
 * the midpoint inside it (0xffff if none). `mids`: the midpoints' float32 bits, ascending. Throws if
 * a bucket holds two midpoints, or the clamped first or last bucket one.
 */
function buckets(mids: Uint32Array): Uint32Array {
  const out = new Uint32Array(S.BKT_COUNT);
  const width = 2 ** S.BKT_SHIFT;
  let k = 0;
  for (let b = 0; b < S.BKT_COUNT; b++) {
    const lo = (b + S.BKT_FIRST) * width;
    while (k < mids.length && mids[k] < lo) k++;
    let inside = 0;
    while (k + inside < mids.length && mids[k + inside] < lo + width) inside++;
    const clamped = b === 0 || b === S.BKT_COUNT - 1;
    if (inside > 1 || (clamped && k + inside > (b === 0 ? 0 : mids.length)) || (clamped && inside > 0))
      throw new Error(`dynamic map: encoder bucket ${b} holds ${inside} midpoints`);
    out[b] = k * 0x10000 + (inside ? mids[k] % width : 0xffff);
  }
  return out;
}

let mapsBlock: Uint8Array | null = null;

/**
 * @internal The maps block the int8 kernels read (layout: assembly/shared/maps.ts): both maps and
 * the float32 midpoints of their non-negative entries between -Infinity and +Infinity, and the
 * encoder's bucket tables.
 */
export function dynamicMapsBlock(): Uint8Array {
  if (mapsBlock) return mapsBlock;
  const out = new Uint8Array(S.MAPS_BYTES);
  const f32 = new Float32Array(out.buffer);
  const signed = dynamicMap(true),
    unsigned = dynamicMap(false);
  f32.set(signed, 0);
  f32.set(unsigned, 256);
  for (const [at, q] of [
    [512, signed.subarray(127)], // 0, then the 128 positive entries up to 1.0
    [656, unsigned],
  ] as const) {
    f32[at] = -Infinity;
    f32.set(midpoints(q), at + 1);
    f32[at + q.length] = Infinity;
    const mids = new Uint32Array(f32.buffer, (at + 1) * 4, q.length - 1);
    new Uint32Array(out.buffer, q === unsigned ? S.BKT_UNSIGNED : S.BKT_SIGNED, S.BKT_COUNT).set(buckets(mids));
  }
  mapsBlock = out;
  return out;
}
