// bitsandbytes' dynamic quantization maps (Dettmers et al. 2021, "8-bit Optimizers via Block-wise
// Quantization"; `create_dynamic_map` in bitsandbytes/functional.py with its defaults
// max_exponent_bits = 7, total_bits = 8), computed as PyTorch computes them in float32:
//   for i in 0..6: b = linspace(0.1, 1, n_i) (float32; n_i = 2^i + 1 signed, 2^(i+1) + 1 unsigned)
//                  means = (b[:-1] + b[1:]) / 2;  values += 10^(i-6) * means  (and their negatives, signed)
//   values += [0, 1];  sorted.
// The signed map (first moments) has 127 negative values, 0 and 128 positive ones ending at 1.0;
// the unsigned map (second moments) 0, 254 positive values and 1.0.

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

/** The index, in the ascending non-negative entries `q`, nearest to `x` (ties to the lower index). */
function nearestIndex(mids: Float32Array, x: number): number {
  let lo = 0,
    hi = mids.length; // count of midpoints < x
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (mids[m] < x) lo = m + 1;
    else hi = m;
  }
  return lo;
}

/** Midpoints (float32) of consecutive entries of `q`. */
function midpoints(q: Float32Array): Float32Array {
  const m = new Float32Array(q.length - 1);
  for (let i = 0; i + 1 < q.length; i++) m[i] = (q[i] + q[i + 1]) / 2;
  return m;
}

let mapsBlock: Uint8Array | null = null;

/**
 * @internal The maps block the int8 kernels read (layout: assembly/shared/maps.ts): both maps, the
 * midpoints of their non-negative entries, and for each bucket of |x| (its float32 bits >> 15, up
 * to 1.0) the index nearest to the bucket's lowest value. Checks that no bucket holds two
 * midpoints (one comparison then finds the nearest entry).
 */
export function dynamicMapsBlock(): Uint8Array {
  if (mapsBlock) return mapsBlock;
  const out = new Uint8Array(69632);
  const f32 = new Float32Array(out.buffer);
  const signed = dynamicMap(true),
    unsigned = dynamicMap(false);
  f32.set(signed, 0);
  f32.set(unsigned, 256);
  const qs = signed.subarray(127); // 0, then the 128 positive entries up to 1.0
  const ms = midpoints(qs),
    mu = midpoints(unsigned);
  // Each midpoint list ends with +Infinity: the kernel compares with mids[j] for every j, branch-free.
  f32.fill(Infinity, 512, 1024);
  f32.set(ms, 512);
  f32.set(mu, 768);
  const bits = new Uint32Array(1),
    val = new Float32Array(bits.buffer);
  for (let b = 0; b <= 0x7f00; b++) {
    bits[0] = b << 15;
    const lo = val[0];
    bits[0] = b === 0x7f00 ? 0x3f800000 : ((b + 1) << 15) - 1;
    const hi = val[0];
    for (const [at, mids] of [
      [4096, ms],
      [36864, mu],
    ] as const) {
      const j = nearestIndex(mids, lo);
      if (nearestIndex(mids, hi) > j + 1) throw new Error(`dynamicMapsBlock: bucket ${b} holds two midpoints`);
      out[at + b] = j;
    }
  }
  mapsBlock = out;
  return out;
}
