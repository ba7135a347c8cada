// Lean tables (docs/lean-storage.md): bitsandbytes' dynamic maps, int8 codes, stochastic rounding
// to bf16/f16, updates against float32 tables, checkpoints. Every suite runs on both builds.
import { beforeAll, describe, expect, it } from 'vitest';
import { createEngine, decodeSafetensors, Embedding, memoryStats, type Engine } from '../src/index.js';
import { dynamicMap, dynamicMapsBlock } from '../src/embedding/dynamic-map.js';
import { LeanEmbedding, leanLayout } from '../src/embedding/lean.js';
import { SLOT as S } from '../src/core/abi.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { rng } from './rng.js';

/** The maps as bitsandbytes' create_dynamic_map(signed) returned them under PyTorch 1.13.0 (CPU, AVX2), float32 bits. */
const TORCH_SIGNED = [
  'bf7e3333 bf7a9999 bf770000 bf736666 bf6fcccc bf6c3333 bf68999a bf650000 bf616666 bf5dcccc bf5a3333',
  'bf569999 bf530000 bf4f6666 bf4bcccc bf483333 bf44999a bf410000 bf3d6667 bf39cccd bf363334 bf32999a',
  'bf2f0000 bf2b6667 bf27cccd bf243333 bf20999a bf1d0000 bf196666 bf15cccd bf123334 bf0e999a bf0b0000',
  'bf076666 bf03cccd bf003333 bef93334 bef20000 beeacccc bee3999a bedc6666 bed53332 bece0000 bec6cccc',
  'bebf999a beb86666 beb13332 beaa0000 bea2cccc be9b999a be946666 be8d3334 be860000 be7d999a be6f3334',
  'be60cccd be526666 be440000 be359999 be273333 be18cccd be0a6666 bdf80000 bddb3334 bdc9eb85 bdc428f5',
  'bdbe6667 bdb8a3d7 bdb2e148 bdad1eb8 bda75c28 bda1999a bd9bd70a bd96147b bd9051eb bd8a8f5d bd84cccd',
  'bd7e147a bd728f5d bd670a3d bd5b851f bd500000 bd447ae1 bd38f5c3 bd2d70a3 bd21eb85 bd166667 bd0ae147',
  'bcfeb852 bce7ae13 bcd0a3d7 bcb9999a bca28f5c bc8b851f bc68f5c3 bc3ae148 bc1f3b64 bc160418 bc0ccccd',
  'bc039581 bbf4bc6a bbe24dd3 bbcfdf3b bbbd70a4 bbab020d bb989374 bb8624dd bb676c8a bb428f5c bb1db22d',
  'baf1a9fc baa7ef9d ba7765ff ba59e83e ba3c6a80 ba1eecc1 ba016f01 b9c7e283 b98ce705 b923d70b b8ba1f4b',
  'b88aefb3 b8378034 b7b24206 b70205ff b65a1a94 b513a3b7 00000000 3513a3b7 365a1a94 370205ff 37b24206',
  '38378034 388aefb3 38ba1f4b 3923d70b 398ce705 39c7e283 3a016f01 3a1eecc1 3a3c6a80 3a59e83e 3a7765ff',
  '3aa7ef9d 3af1a9fc 3b1db22d 3b428f5c 3b676c8a 3b8624dd 3b989374 3bab020d 3bbd70a4 3bcfdf3b 3be24dd3',
  '3bf4bc6a 3c039581 3c0ccccd 3c160418 3c1f3b64 3c3ae148 3c68f5c3 3c8b851f 3ca28f5c 3cb9999a 3cd0a3d7',
  '3ce7ae13 3cfeb852 3d0ae147 3d166667 3d21eb85 3d2d70a3 3d38f5c3 3d447ae1 3d500000 3d5b851f 3d670a3d',
  '3d728f5d 3d7e147a 3d84cccd 3d8a8f5d 3d9051eb 3d96147b 3d9bd70a 3da1999a 3da75c28 3dad1eb8 3db2e148',
  '3db8a3d7 3dbe6667 3dc428f5 3dc9eb85 3ddb3334 3df80000 3e0a6666 3e18cccd 3e273333 3e359999 3e440000',
  '3e526666 3e60cccd 3e6f3334 3e7d999a 3e860000 3e8d3334 3e946666 3e9b999a 3ea2cccc 3eaa0000 3eb13332',
  '3eb86666 3ebf999a 3ec6cccc 3ece0000 3ed53332 3edc6666 3ee3999a 3eeacccc 3ef20000 3ef93334 3f003333',
  '3f03cccd 3f076666 3f0b0000 3f0e999a 3f123334 3f15cccd 3f196666 3f1d0000 3f20999a 3f243333 3f27cccd',
  '3f2b6667 3f2f0000 3f32999a 3f363334 3f39cccd 3f3d6667 3f410000 3f44999a 3f483333 3f4bcccc 3f4f6666',
  '3f530000 3f569999 3f5a3333 3f5dcccc 3f616666 3f650000 3f68999a 3f6c3333 3f6fcccc 3f736666 3f770000',
  '3f7a9999 3f7e3333 3f800000',
].join(' ');
const TORCH_UNSIGNED = [
  '00000000 34ae7baa 35500998 360e9b38 3692ccf6 36de4c51 3714e5d5 3783126e 37e171a0 381fe868 384f1800',
  '387e479a 3896bb99 38ae5364 38c5eb31 3906594b 394154ca 397c5048 399ba5e4 39b923a2 39d6a162 39f41f22',
  '3a08ce71 3a178d50 3a264c30 3a350b10 3a43c9ef 3a5288d0 3a6147af 3a70068e 3a7ec56e 3a958106 3aba5e35',
  '3adf3b64 3b020c49 3b147ae1 3b26e978 3b39580f 3b4bc6a7 3b5e353e 3b70a3d7 3b818937 3b8ac082 3b93f7cf',
  '3b9d2f1a 3ba66666 3baf9db2 3bb8d4fd 3bc20c4a 3bcb4394 3bd47ae1 3bddb22e 3be6e978 3bf020c5 3bf9580f',
  '3c0147ae 3c05e353 3c0a7ef9 3c0f1aa0 3c13b645 3c1851eb 3c1ced90 3c218937 3c2f5c2a 3c466667 3c5d70a3',
  '3c747ae2 3c85c28f 3c9147ae 3c9ccccd 3ca851eb 3cb3d70b 3cbf5c2a 3ccae148 3cd66667 3ce1eb87 3ced70a3',
  '3cf8f5c3 3d023d70 3d080000 3d0dc28f 3d13851f 3d1947af 3d1f0a3d 3d24cccd 3d2a8f5b 3d3051eb 3d36147b',
  '3d3bd70a 3d41999a 3d475c2a 3d4d1eb8 3d52e148 3d58a3d7 3d5e6667 3d6428f7 3d69eb87 3d6fae15 3d7570a3',
  '3d7b3333 3d807ae2 3d835c29 3d863d71 3d891eb9 3d8c0000 3d8ee148 3d91c290 3d94a3d7 3d97851f 3d9a6667',
  '3d9d47af 3da028f6 3da30a3d 3da5eb85 3da8cccd 3dabae14 3dae8f5c 3db170a3 3db451eb 3db73333 3dba147b',
  '3dbcf5c3 3dbfd70a 3dc2b852 3dc5999a 3dc87ae1 3dcb5c29 3dd40000 3de26666 3df0cccd 3dff3333 3e06cccc',
  '3e0e0000 3e153334 3e1c6666 3e23999a 3e2acccc 3e320000 3e393334 3e406666 3e47999a 3e4ecccc 3e560000',
  '3e5d3334 3e646666 3e6b999a 3e72ccce 3e7a0000 3e80999a 3e843333 3e87cccd 3e8b6667 3e8f0000 3e92999a',
  '3e963334 3e99cccd 3e9d6667 3ea10000 3ea4999a 3ea83333 3eabcccc 3eaf6666 3eb30000 3eb69999 3eba3333',
  '3ebdcccc 3ec16666 3ec50000 3ec8999a 3ecc3333 3ecfcccc 3ed36666 3ed70000 3eda9999 3ede3333 3ee1cccd',
  '3ee56666 3ee90000 3eec999a 3ef03333 3ef3cccd 3ef76666 3efb0000 3efe9999 3f01199a 3f02e666 3f04b332',
  '3f068000 3f084ccc 3f0a199a 3f0be666 3f0db334 3f0f8000 3f114ccd 3f13199a 3f14e666 3f16b334 3f188000',
  '3f1a4ccd 3f1c199a 3f1de666 3f1fb333 3f218000 3f234ccc 3f25199a 3f26e666 3f28b334 3f2a8000 3f2c4cce',
  '3f2e199a 3f2fe666 3f31b334 3f338000 3f354cce 3f37199a 3f38e666 3f3ab334 3f3c8000 3f3e4ccc 3f40199a',
  '3f41e666 3f43b334 3f458000 3f474ccc 3f49199a 3f4ae666 3f4cb332 3f4e8000 3f504ccc 3f52199a 3f53e666',
  '3f55b334 3f578000 3f594ccd 3f5b199a 3f5ce666 3f5eb334 3f608000 3f624ccd 3f64199a 3f65e666 3f67b333',
  '3f698000 3f6b4ccc 3f6d199a 3f6ee666 3f70b334 3f728000 3f744cce 3f76199a 3f77e666 3f79b334 3f7b8000',
  '3f7d4cce 3f7f199a 3f800000',
].join(' ');

/** Zipf-like ids (a few rows often, most rarely). */
function zipfIds(rand: () => number, k: number, rows: number): Int32Array {
  return Int32Array.from({ length: k }, () => Math.min(rows - 1, Math.floor(rows * rand() ** 3)));
}

/**
 * bitsandbytes' create_dynamic_map (max_exponent_bits 7, total_bits 8) in float64: linspace(0.1,
 * 1, n) as 0.1 + i (0.9 / (n - 1)), means of neighbours, times 10^(i - 6); plus 0 and 1; sorted.
 */
function dynamicMapF64(signed: boolean): number[] {
  const data: number[] = [];
  for (let i = 0; i < 7; i++) {
    const n = signed ? 2 ** i + 1 : 2 ** (i + 1) + 1;
    const b = Array.from({ length: n }, (_, j) => 0.1 + (j * 0.9) / (n - 1));
    for (let j = 0; j + 1 < n; j++) {
      const v = 10 ** (i - 6) * ((b[j] + b[j + 1]) / 2);
      data.push(v);
      if (signed) data.push(-v);
    }
  }
  data.push(0, 1);
  return data.sort((a, b) => a - b);
}

const bitsOf = (a: Float32Array): string[] =>
  Array.from(new Uint32Array(a.slice().buffer), (x) => x.toString(16).padStart(8, '0'));

describe('bitsandbytes dynamic maps', () => {
  for (const signed of [true, false]) {
    const name = signed ? 'signed' : 'unsigned';
    it(`the ${name} map is bitsandbytes' create_dynamic_map(${signed ? 'True' : 'False'}) bit for bit`, () => {
      expect(bitsOf(dynamicMap(signed)).join(' ')).toBe(signed ? TORCH_SIGNED : TORCH_UNSIGNED);
    });
    it(`the ${name} map is the float64 formula to float32 rounding`, () => {
      const m = dynamicMap(signed);
      const ref = dynamicMapF64(signed);
      expect(m.length).toBe(256);
      for (let c = 0; c < 256; c++) {
        // PyTorch computes it in float32: linspace's step, multiply-add and add, the mean and the
        // product with 10^(i-6) each round once (half an ulp, 2^-24 relative, apiece).
        expect(Math.abs(m[c] - ref[c])).toBeLessThanOrEqual(6 * 2 ** -24 * Math.abs(ref[c]));
        if (c > 0) expect(m[c]).toBeGreaterThan(m[c - 1]);
      }
      expect(m[255]).toBe(1);
      if (signed) {
        expect(m[127]).toBe(0);
        for (let j = 1; j < 128; j++) expect(m[127 - j]).toBe(-m[127 + j]);
      } else expect(m[0]).toBe(0);
    });
  }
});

const BUILDS: Record<string, Engine> = {};
beforeAll(async () => {
  for (const b of BUILD_NAMES) BUILDS[b] = await engineFor(b);
});

/** The nearest entry of `map` to x (ties: the one nearer zero), signed maps without -1. */
function nearestCode(map: Float32Array, x: number): number[] {
  let best = Infinity;
  for (let c = 0; c < 256; c++) best = Math.min(best, Math.abs(map[c] - x));
  const all: number[] = [];
  for (let c = 0; c < 256; c++) if (Math.abs(map[c] - x) === best) all.push(c);
  return all;
}

for (const build of BUILD_NAMES) {
  describe(`int8 codes (${build})`, () => {
    it('every code is the nearest map entry, and a round trip is within half the gap around the value', () => {
      const e = BUILDS[build];
      const rand = rng(7);
      const n = 20000;
      const maps = e.alloc(S.MAPS_BYTES);
      const src = e.alloc(n * 4);
      const dst = e.alloc(n);
      try {
        new Uint8Array(e.memory.buffer, maps, S.MAPS_BYTES).set(dynamicMapsBlock());
        // Values over every decade of the map, and the hard cases: each entry, each midpoint
        // between neighbours, the decade bounds 10^-k, each with its float32 neighbours.
        const xs = new Float32Array(n);
        for (let i = 0; i < n; i++) {
          const mag = 10 ** (-8 * rand());
          xs[i] = (rand() < 0.5 ? -1 : 1) * mag;
        }
        const hard: number[] = [1, -1, 0, -0];
        for (const m of [dynamicMap(true), dynamicMap(false)])
          for (let c = 0; c < 256; c++) {
            hard.push(m[c]);
            if (c < 255) hard.push(Math.fround((m[c] + m[c + 1]) / 2));
          }
        for (let k = 1; k <= 7; k++) hard.push(10 ** -k);
        const near = new Float32Array(1),
          bits = new Uint32Array(near.buffer);
        let at = 0;
        for (const h of hard) {
          near[0] = h;
          const b = bits[0];
          for (const d of [-1, 0, 1]) {
            bits[0] = b + d;
            if (at < n && Math.abs(near[0]) <= 1) xs[at++] = (at & 1 ? -1 : 1) * near[0];
          }
        }
        for (const signed of [true, false]) {
          const map = dynamicMap(signed);
          const x = signed ? xs : xs.map(Math.abs);
          e.heapF32.set(x, src >>> 2);
          e.exports.leanEncodeTest(maps, dst, src, n, 1, signed ? 1 : 0);
          const codes = new Uint8Array(e.memory.buffer, dst, n).slice();
          for (let i = 0; i < n; i++) {
            const c = codes[i];
            const want = nearestCode(map, x[i]);
            if (!want.includes(c))
              expect.fail(`x = ${x[i]} (${signed ? 'signed' : 'unsigned'}): code ${c}, nearest ${want.join('/')}`);
            // The map's bound: half the gap to the neighbour on the value's side.
            const lo = c > 0 ? map[c - 1] : map[c],
              hi = c < 255 ? map[c + 1] : map[c];
            const bound = Math.max(map[c] - lo, hi - map[c]) / 2;
            expect(Math.abs(map[c] - x[i])).toBeLessThanOrEqual(bound + 1e-12);
          }
        }
      } finally {
        e.free(maps);
        e.free(src);
        e.free(dst);
      }
    });
  });

  describe(`stochastic rounding (${build})`, () => {
    const N = 1_000_000;
    for (const type of ['bf16', 'f16'] as const) {
      it(`${type}: unbiased over 10^6 roundings (mean error within 3 sigma of 0), always a neighbour`, () => {
        const e = BUILDS[build];
        const code = type === 'bf16' ? S.LEAN_BF16 : S.LEAN_F16;
        const src = e.alloc(N * 4),
          enc = e.alloc(N * 2),
          dec = e.alloc(N * 4);
        try {
          // A normal value, one in f16's subnormal range, a negative one.
          for (const x of [Math.fround(1 + 1 / 3), Math.fround(3.1e-6), Math.fround(-0.0123)]) {
            e.heapF32.fill(x, src >>> 2, (src >>> 2) + N);
            e.exports.leanEncodeWeightsTest(enc, src, N, code, 12345, 0, 7, 3, 1);
            e.exports.leanDecodeWeightsTest(dec, enc, N, code);
            const y = e.f32(dec, N);
            let lo = Infinity,
              hi = -Infinity,
              sum = 0;
            for (let i = 0; i < N; i++) {
              lo = Math.min(lo, y[i]);
              hi = Math.max(hi, y[i]);
              sum += y[i] - x;
            }
            expect(lo).toBeLessThanOrEqual(x);
            expect(hi).toBeGreaterThanOrEqual(x);
            // Two neighbours at most, one gap apart.
            const p = (x - lo) / (hi - lo);
            const sigma = (hi - lo) * Math.sqrt(p * (1 - p));
            expect(p).toBeGreaterThan(0);
            expect(p).toBeLessThan(1);
            expect(Math.abs(sum / N)).toBeLessThanOrEqual((3 * sigma) / Math.sqrt(N));
          }
        } finally {
          e.free(src);
          e.free(enc);
          e.free(dec);
        }
      });
    }
  });
}

const MAPS = { signed: dynamicMap(true), unsigned: dynamicMap(false) };

/**
 * A row quantized and decoded as bitsandbytes' blockwise quantization does it, with the row as the
 * block: absmax = max |x|; each x / absmax (float32) takes the nearest map entry (ties to the one
 * nearer zero); decoded = map[code] * absmax. The signed map has no -1.
 */
function quantizeRow(x: Float32Array, signed: boolean): Float32Array {
  const map = signed ? MAPS.signed : MAPS.unsigned;
  const q = signed ? map.subarray(127) : map;
  const mids = Array.from({ length: q.length - 1 }, (_, i) => (q[i] + q[i + 1]) / 2); // exact in float64
  let absmax = 0;
  for (const v of x) absmax = Math.max(absmax, Math.abs(v));
  const out = new Float32Array(x.length);
  if (absmax === 0) return out;
  x.forEach((v, i) => {
    const y = Math.fround(v / absmax);
    let j = 0;
    while (j < mids.length && mids[j] < Math.abs(y)) j++;
    const code = signed ? (y < 0 ? 127 - Math.min(j, 127) : 127 + j) : j;
    out[i] = Math.fround(map[code] * absmax);
  });
  return out;
}

/** The raw checkpoint of a table (stored types, bit for bit). */
const raw = (emb: Embedding): Buffer => Buffer.from(emb.save());

function train(emb: Embedding, steps: number, seed: number, k = 64): void {
  const rand = rng(seed);
  for (let s = 0; s < steps; s++) {
    const ids = zipfIds(rand, k, emb.rows);
    const g = Float32Array.from({ length: k * emb.dim }, () => (2 * rand() - 1) * 0.5);
    emb.update(ids, g);
  }
}

describe('lean tables', () => {
  it('the same bits in the SIMD and the scalar build, on 1, 2 or 3 threads, and whatever the split of the rows', async () => {
    const outs: Buffer[] = [];
    const threaded: Engine[] = [];
    for (const build of BUILD_NAMES) {
      const simd = build === 'simd';
      const two = await createEngine({ simd, threads: 2, minParallelElements: 0 });
      const three = await createEngine({ simd, threads: 3, minParallelElements: 0 });
      (three.parallel as unknown as { workersOnly: boolean }).workersOnly = true;
      threaded.push(two, three);
      for (const [engine, split] of [
        [BUILDS[build], false],
        [BUILDS[build], true],
        [two, false],
        [three, false],
      ] as const) {
        expect(engine.threads).toBe(engine === two ? 2 : engine === three ? 3 : 1);
        const emb = new Embedding(500, 20, {
          optimizer: 'adam',
          lr: 0.01,
          weightType: 'bf16',
          stateType: 'int8',
          seed: 3,
          engine,
        });
        if (split) {
          const t = emb.table as LeanEmbedding;
          const orig = t.applyRows.bind(t);
          t.applyRows = (step: number, u: number) => orig(step, u, [Math.floor(u / 3), u - Math.floor(u / 3)]);
        }
        train(emb, 40, 11, 256);
        outs.push(raw(emb));
        emb.dispose();
      }
    }
    for (const e of threaded) await e.shutdownThreads();
    expect(outs.length).toBe(8);
    for (const o of outs.slice(1)) expect(o.equals(outs[0])).toBe(true);
  });

  for (const build of BUILD_NAMES) {
    it(`bf16 weights, f32 state: equals a float32 table up to unbiased rounding noise (${build})`, () => {
      const e = BUILDS[build];
      const lean = new Embedding(300, 16, { optimizer: 'adam', lr: 0.003, weightType: 'bf16', seed: 5, engine: e });
      const init = lean.stateDict().weights;
      const ref = new Embedding(300, 16, { optimizer: 'adam', lr: 0.003, init, engine: e });
      const counts = new Float64Array(300);
      const rand = rng(21);
      for (let s = 0; s < 300; s++) {
        const ids = zipfIds(rand, 32, 300);
        const seen = new Set(ids);
        seen.forEach((r) => counts[r]++);
        const g = Float32Array.from({ length: 32 * 16 }, () => 2 * rand() - 1);
        lean.update(ids, g);
        ref.update(ids, g);
      }
      const a = lean.stateDict(),
        b = ref.stateDict();
      // Adam's state sees the same gradients: identical.
      expect(Buffer.from(a.state.exp_avg.buffer).equals(Buffer.from(b.state.exp_avg.buffer))).toBe(true);
      let sum = 0,
        sumVar = 0;
      for (let r = 0; r < 300; r++) {
        for (let j = 0; j < 16; j++) {
          const i = r * 16 + j;
          const d = a.weights[i] - b.weights[i];
          // Each of the row's n updates rounds once: independent, zero-mean errors of at most one
          // bf16 step (2^-7 relative), so |d| <= 5 sqrt(n) steps / 2 with overwhelming probability.
          // The largest |w| along the way: at most the larger end plus lr per update (Adam's step).
          const top = Math.max(Math.abs(init[i]), Math.abs(b.weights[i])) + 0.003 * counts[r];
          const step = 2 ** (Math.floor(Math.log2(top)) - 7);
          expect(Math.abs(d)).toBeLessThanOrEqual((5 * Math.sqrt(counts[r]) * step) / 2 + step);
          sum += d;
          sumVar += (counts[r] * step * step) / 4;
        }
      }
      // Unbiased: the summed difference over the table is within 4 sigma of 0.
      expect(Math.abs(sum)).toBeLessThanOrEqual(4 * Math.sqrt(sumVar));
      lean.dispose();
      ref.dispose();
    });

    it(`int8 state: each update is the float32 update of the decoded state, then encoded as bitsandbytes does (${build})`, () => {
      // bitsandbytes' 8-bit blockwise step: decode (map[code] * absmax), the float32 update, then
      // per block absmax = max |x| and the nearest code of x / absmax. Here a block is a row.
      const e = BUILDS[build];
      const rows = 120,
        dim = 12;
      for (const [optimizer, keys] of [
        ['adam', ['exp_avg', 'exp_avg_sq']],
        ['sgd', ['momentum_buffer']],
        ['adagrad', ['sum']],
      ] as const) {
        const o = { optimizer, lr: 0.01, ...(optimizer === 'sgd' ? { momentum: 0.9 } : {}), engine: e } as const;
        const rand = rng(31);
        const init = Float32Array.from({ length: rows * dim }, () => 2 * rand() - 1);
        const lean = new Embedding(rows, dim, { ...o, stateType: 'int8', init, seed: 2 });
        const ref = new Embedding(rows, dim, { ...o, init });
        for (let step = 0; step < 40; step++) {
          const ids = zipfIds(rand, 24, rows);
          const g = Float32Array.from({ length: 24 * dim }, () => (2 * rand() - 1) * 10 ** (-3 * rand()));
          lean.update(ids, g);
          ref.update(ids, g);
          const a = lean.stateDict(),
            b = ref.stateDict();
          expect(Buffer.from(a.weights.buffer).equals(Buffer.from(b.weights.buffer))).toBe(true);
          const touched = new Set(ids);
          for (const k of keys) {
            const signed = k === 'exp_avg' || k === 'momentum_buffer';
            for (let r = 0; r < rows; r++) {
              const got = a.state[k].subarray(r * dim, (r + 1) * dim);
              const f32 = b.state[k].subarray(r * dim, (r + 1) * dim);
              const want = touched.has(r) ? quantizeRow(f32, signed) : f32;
              expect(Array.from(got)).toEqual(Array.from(want));
            }
          }
          // The float32 table goes on from the state the int8 one holds.
          ref.loadStateDict({ ...b, state: a.state });
        }
        lean.dispose();
        ref.dispose();
      }
    });
  }

  it('initial values: a float32 table of the same seed, rounded to nearest; lookup returns float32', () => {
    const e = BUILDS.simd;
    for (const weightType of ['bf16', 'f16'] as const) {
      const lean = new Embedding(101, 7, { optimizer: 'sgd', weightType, seed: 9, engine: e });
      const ref = new Embedding(101, 7, { optimizer: 'sgd', seed: 9, engine: e });
      const ids = Int32Array.from({ length: 101 }, (_, i) => i);
      const got = lean.lookup(ids),
        want = ref.lookup(ids);
      const f16 = new Float32Array(1);
      for (let i = 0; i < want.length; i++) {
        if (weightType === 'bf16') {
          const b = new Uint32Array(new Float32Array([want[i]]).buffer)[0];
          const r = ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) << 16;
          expect(got[i]).toBe(new Float32Array(new Uint32Array([r >>> 0]).buffer)[0]);
        } else {
          // nearest f16: within half an f16 step, and exactly an f16 value
          f16[0] = got[i];
          const step = 2 ** (Math.max(Math.floor(Math.log2(Math.abs(want[i]))), -14) - 10);
          expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(step / 2);
          expect(Number.isInteger(got[i] / 2 ** -24)).toBe(true);
        }
      }
      lean.dispose();
      ref.dispose();
    }
  });

  it('checkpoints in the stored types: save, fromCheckpoint, continue: bit for bit; state dicts too', () => {
    const e = BUILDS.simd;
    for (const [weightType, stateType] of [
      ['bf16', 'int8'],
      ['f16', 'bf16'],
      ['f32', 'int8'],
    ] as const) {
      const a = new Embedding(200, 12, { optimizer: 'adamw', lr: 0.01, weightType, stateType, seed: 4, engine: e });
      train(a, 20, 1);
      const bytes = a.save();
      const b = Embedding.fromCheckpoint(bytes, { engine: e });
      expect(b.weightType).toBe(weightType);
      expect(b.stateType).toBe(stateType);
      expect(raw(b).equals(Buffer.from(bytes))).toBe(true);
      // A state dict holds decoded float32 values: 16-bit values come back bit for bit; an int8 row
      // is encoded anew (its absmax is that of the decoded values), to the same decoded values
      // within the map's resolution.
      const c = new Embedding(200, 12, {
        optimizer: 'adamw',
        weightType,
        stateType,
        seed: 4,
        init: 'zeros',
        engine: e,
      });
      const dict = a.stateDict();
      c.loadStateDict(dict);
      if (stateType !== 'int8') expect(raw(c).equals(Buffer.from(bytes))).toBe(true);
      else {
        const back = c.stateDict();
        expect(Array.from(back.weights)).toEqual(Array.from(dict.weights));
        for (const k of c.stateKeys) {
          const x = dict.state[k],
            y = back.state[k];
          for (let r = 0; r < 200; r++) {
            let m = 0;
            for (let j = 0; j < 12; j++) m = Math.max(m, Math.abs(x[r * 12 + j]));
            for (let j = 0; j < 12; j++) expect(Math.abs(y[r * 12 + j] - x[r * 12 + j])).toBeLessThanOrEqual(0.02 * m);
          }
        }
      }
      train(a, 10, 2);
      train(b, 10, 2);
      expect(raw(b).equals(raw(a))).toBe(true);
      for (const t of [a, b, c]) t.dispose();
    }
  });

  it('safetensors: the weights in their stored dtype (BF16, F16), state decoded to F32; loads back bit for bit', () => {
    const e = BUILDS.simd;
    for (const [weightType, dtype] of [
      ['bf16', 'BF16'],
      ['f16', 'F16'],
    ] as const) {
      const a = new Embedding(50, 8, {
        optimizer: 'adam',
        lr: 0.01,
        weightType,
        stateType: 'bf16',
        seed: 6,
        engine: e,
      });
      train(a, 5, 3, 16);
      const file = a.saveSafetensors();
      const t = decodeSafetensors(file).tensors;
      expect(t.weight.dtype).toBe(dtype);
      expect(t['state.0.exp_avg'].dtype).toBe('F32');
      const b = new Embedding(50, 8, {
        optimizer: 'adam',
        weightType,
        stateType: 'bf16',
        seed: 6,
        init: 'zeros',
        engine: e,
      });
      b.loadSafetensors(file);
      expect(raw(b).equals(raw(a))).toBe(true);
      // A float32 table takes the same file: the 16-bit weights widen exactly.
      const c = new Embedding(50, 8, { optimizer: 'adam', init: 'zeros', engine: e });
      c.loadSafetensors(file);
      expect(Array.from(c.weights)).toEqual(Array.from(a.stateDict().weights));
      for (const x of [a, b, c]) x.dispose();
    }
  });

  it('bytesPerRow: 64-dim Adam 768 B as float32, 264 B with bf16 weights and int8 state; memoryStats counts the records', () => {
    const e = BUILDS.simd;
    const f32 = new Embedding(1000, 64, { optimizer: 'adam', engine: e, init: 'zeros' });
    expect(f32.bytesPerRow).toBe(768);
    const before = memoryStats(e).bytesInUse;
    const lean = new Embedding(100000, 64, {
      optimizer: 'adam',
      weightType: 'bf16',
      stateType: 'int8',
      engine: e,
      init: 'zeros',
    });
    expect(lean.bytesPerRow).toBe(128 + 8 + 128);
    expect(lean.bytesPerRow).toBeLessThanOrEqual(320);
    const used = memoryStats(e).bytesInUse - before;
    expect(used).toBeGreaterThanOrEqual(100000 * 264);
    expect(used).toBeLessThan(100000 * 264 + 2 ** 20);
    expect(new Embedding(10, 64, { optimizer: 'sgd', weightType: 'bf16', engine: e }).bytesPerRow).toBe(128);
    // Per-row slots (one float32 per row, e.g. row-wise Adagrad's sum): after the absmax words, before
    // the per-element tensors. bf16 weights + a row-wise sum: 132 bytes; + an int8 first moment: 200.
    expect(leanLayout(64, [1], 'bf16', 'f32')).toEqual({
      record: 132,
      stateOffsets: [128],
      absmaxOffsets: [-1],
      widths: [1],
    });
    expect(leanLayout(64, [64, 1], 'bf16', 'int8')).toEqual({
      record: 200,
      stateOffsets: [136, 132],
      absmaxOffsets: [128, -1],
      widths: [64, 1],
    });
    expect(leanLayout(7, 2, 'f16', 'bf16')).toEqual({
      record: 44,
      stateOffsets: [16, 30],
      absmaxOffsets: [-1, -1],
      widths: [7, 7],
    });
    f32.dispose();
    lean.dispose();
  });

  it('bad storage options throw before anything is allocated', () => {
    const e = BUILDS.simd;
    const before = memoryStats(e);
    expect(() => new Embedding(10, 4, { weightType: 'f8' as never, engine: e })).toThrow(/weightType.*f8/);
    expect(() => new Embedding(10, 4, { stateType: 'int4' as never, engine: e })).toThrow(/stateType.*int4/);
    expect(() => new Embedding(10, 4, { weightType: 'bf16', mode: 'exact', engine: e })).toThrow(/lazy/);
    expect(() => new Embedding(2 ** 27, 64, { weightType: 'bf16', stateType: 'bf16', engine: e })).toThrow(/4 GiB/);
    expect(memoryStats(e)).toEqual(before);
    const lean = new Embedding(10, 4, { weightType: 'bf16', engine: e });
    expect(() => lean.weights).toThrow(/lookup/);
    // A gradient whose square overflows float32 (Adam squares it) is refused with nothing changed.
    const before2 = Buffer.from(lean.save());
    expect(() => lean.update([3], [1e20, 0, 0, 0])).toThrow(/square/);
    expect(Buffer.from(lean.save()).equals(before2)).toBe(true);
    const skip = new Embedding(10, 4, { weightType: 'bf16', stateType: 'int8', nonFinite: 'skip', engine: e });
    expect(skip.update([3], [1e20, 0, 0, 0])).toBe(false);
    expect(skip.stepCount).toBe(0);
    skip.dispose();
    lean.dispose();
  });
});
