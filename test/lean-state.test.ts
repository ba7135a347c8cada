// Dense optimizers with 16- and 8-bit state (`stateType`, src/core/state-type.ts, docs/lean-state.md),
// against references written from bitsandbytes' 8-bit blockwise optimizers
// (bitsandbytes-foundation/bitsandbytes, csrc/kernels.cu `kOptimizerStatic8bit2StateBlockwise` and
// `kOptimizerStatic8bit1StateBlockwise`; bitsandbytes/optim/optimizer.py `Optimizer2State.init_state`:
// blocks of 256, one float32 absmax per block and state tensor, `create_dynamic_map(signed=True)` for
// the first moment and `signed=False` for the second, tensors under `min_8bit_size` = 4096 elements
// in float32): a step decodes `state = quantiles[code] * absmax[block]`, updates in float32, takes
// the block's new `absmax = max |state|` and stores the nearest code of `state / absmax`.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Adam,
  AdamW,
  Adagrad,
  CheckpointError,
  Lion,
  NAdam,
  RMSprop,
  SGD,
  memoryStats,
  type Engine,
} from '../src/index.js';
import type { Optimizer } from '../src/core/optimizer.js';
import { dynamicMap } from '../src/embedding/dynamic-map.js';
import { QUANT_OPTIMIZERS } from '../src/core/state-type.js';
import { OPTIMIZERS } from '../src/optimizers/registry.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { fillGrad, gaussian, REGIMES, rng } from './dense-util.js';
import { RefAdam } from './reference/adam.js';

type AnyOpt = Optimizer<Record<string, unknown>>;
const CLASSES = { Adam, AdamW, SGD, RMSprop, Adagrad, Lion } as unknown as Record<
  string,
  new (o: Record<string, unknown>) => AnyOpt
>;
const MAPS = { signed: dynamicMap(true), unsigned: dynamicMap(false) };
const SIGNED = new Set(['exp_avg', 'momentum_buffer', 'grad_avg']);
const BLOCK = 256;

/** The nearest entry of `map` to q (float64 distance), ties to the entry nearer zero. */
function nearest(map: Float32Array, q: number): number {
  let lo = 0,
    hi = 255;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (map[mid] <= q) lo = mid;
    else hi = mid;
  }
  const dl = Math.abs(q - map[lo]),
    dh = Math.abs(map[hi] - q);
  if (dl !== dh) return dl < dh ? lo : hi;
  return Math.abs(map[lo]) < Math.abs(map[hi]) ? lo : hi;
}

/** bitsandbytes' blockwise quantization of `x`: per block of 256 its absmax (float32) and the nearest codes of x / absmax (float32 division). */
function quantize(x: Float32Array, signed: boolean): { codes: Uint8Array; absmax: Float32Array } {
  const map = signed ? MAPS.signed : MAPS.unsigned;
  const codes = new Uint8Array(x.length);
  const absmax = new Float32Array(Math.ceil(x.length / BLOCK));
  for (let b = 0; b < absmax.length; b++) {
    const end = Math.min(x.length, (b + 1) * BLOCK);
    let a = 0;
    for (let j = b * BLOCK; j < end; j++) a = Math.max(a, Math.abs(x[j]));
    absmax[b] = a;
    for (let j = b * BLOCK; j < end; j++) codes[j] = a === 0 ? (signed ? 127 : 0) : nearest(map, Math.fround(x[j] / a));
  }
  return { codes, absmax };
}

/** The values codes stand for: map[code] * absmax (one float32 multiply; absmax 0 gives +0). */
function dequantize(q: { codes: Uint8Array; absmax: Float32Array }, signed: boolean): Float32Array {
  const map = signed ? MAPS.signed : MAPS.unsigned;
  const out = new Float32Array(q.codes.length);
  for (let j = 0; j < out.length; j++) {
    const a = q.absmax[Math.floor(j / BLOCK)];
    out[j] = a === 0 ? 0 : Math.fround(map[q.codes[j]] * a);
  }
  return out;
}

/** The stored bytes of an int8 tensor: codes, zeros to 16 bytes, then the absmax words. */
function storedBytes(q: { codes: Uint8Array; absmax: Float32Array }): Uint8Array {
  const pad = Math.ceil(q.codes.length / 16) * 16;
  const out = new Uint8Array(pad + 4 * q.absmax.length);
  out.set(q.codes);
  out.set(new Uint8Array(q.absmax.buffer), pad);
  return out;
}

// lean-storage.md's counter-based rounding bits (MurmurHash3's fmix32), for bf16 state: tensor
// `index`, slot `s` is the row `index * 4 + s` of step t's key.
const mul = Math.imul;
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = mul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = mul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
function bf16Sr(x: Float32Array, seed: number, t: number, row: number): Uint16Array {
  const key = fmix32((seed >>> 0) ^ fmix32((t + mul(Math.floor(seed / 2 ** 32), 0x9e3779b9)) >>> 0));
  const rk = fmix32((key + mul(row, 0x9e3779b9)) >>> 0);
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let e = 0; e < x.length; e++) {
    const h = fmix32((rk ^ mul((e >>> 1) + 1, 0x85ebca77)) >>> 0);
    const r16 = e & 1 ? h >>> 16 : h & 0xffff;
    out[e] = ((bits[e] + r16) >>> 0) >>> 16;
  }
  return out;
}

const bitsOf = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);
function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

interface Case {
  kind: string;
  options: Record<string, unknown>;
}
const CASES: Case[] = [
  { kind: 'Adam', options: {} },
  { kind: 'Adam', options: { lr: 0.05, weightDecay: 0.1, amsgrad: true, maximize: true } },
  { kind: 'AdamW', options: { lr: 0.01, weightDecay: 0.05 } },
  { kind: 'SGD', options: { lr: 0.01, momentum: 0.9 } },
  { kind: 'SGD', options: { lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 0.01 } },
  { kind: 'RMSprop', options: { lr: 0.01, momentum: 0.5, weightDecay: 0.01 } },
  { kind: 'Adagrad', options: { lr: 0.05, initialAccumulatorValue: 0.1, lrDecay: 0.01 } },
  { kind: 'Lion', options: { lr: 1e-3, weightDecay: 0.1 } },
];
/** Under, at and past the 4096 threshold; one block, partial blocks, SIMD tails (4099 = 16 blocks + 3). */
const SIZES = [7, 4095, 4096, 4097, 4099, 4359];
const STEPS = 6;

for (const build of BUILD_NAMES) {
  describe(`stateType int8 and bf16, ${build} build`, () => {
    let engine: Engine;
    beforeAll(async () => {
      engine = await engineFor(build);
    });

    for (const { kind, options } of CASES)
      for (const stateType of ['int8', 'bf16'] as const)
        it(`${kind} ${JSON.stringify(options)} ${stateType}: a step is the float32 step of the decoded state, then encoded`, () => {
          const r = rng(7);
          const q = new CLASSES[kind]({ ...options, stateType, seed: 12345, engine });
          const inits = SIZES.map((n) => Float32Array.from({ length: n }, () => gaussian(r)));
          const ps = inits.map((x) => q.param(x));
          // The kernel's state slots (the rounding keys and the maps go by slot).
          const decl = (q.constructor as unknown as { declaration: { stateLayout(o: object): (string | null)[] } })
            .declaration;
          const layout = decl.stateLayout(q.options);
          for (let t = 1; t <= STEPS; t++) {
            const grads = SIZES.map((n, i) => fillGrad(new Float32Array(n), REGIMES[(t + i) % REGIMES.length], r));
            // The float32 optimizer from the decoded state and the same params.
            const f = new CLASSES[kind]({ ...options, engine });
            const fps = ps.map((p) => f.param(p.data.slice()));
            f.loadStateDict(q.stateDict());
            fps.forEach((p, i) => p.grad.set(grads[i]));
            ps.forEach((p, i) => p.grad.set(grads[i]));
            f.step();
            q.step();
            ps.forEach((p, i) => {
              const where = `${kind} step ${t} size ${SIZES[i]}`;
              expect(firstDiff(bitsOf(p.data), bitsOf(fps[i].data)), `${where}: params`).toBe(-1);
              const stored = stateType === 'bf16' || SIZES[i] >= 4096;
              for (const k of p.stateKeys) {
                const want = fps[i].state(k);
                if (!stored) {
                  expect(p.storedState(k), where).toBeNull();
                  expect(firstDiff(bitsOf(p.state(k)), bitsOf(want)), `${where}: ${k} (float32 below 4096)`).toBe(-1);
                } else if (stateType === 'int8') {
                  const qz = quantize(want, SIGNED.has(k));
                  expect(firstDiff(p.storedState(k)!, storedBytes(qz)), `${where}: ${k} codes`).toBe(-1);
                  expect(firstDiff(bitsOf(p.state(k)), bitsOf(dequantize(qz, SIGNED.has(k)))), `${where}: ${k}`).toBe(
                    -1,
                  );
                } else {
                  const sr = bf16Sr(want, 12345, t, i * 4 + layout.indexOf(k));
                  const got = new Uint16Array(p.storedState(k)!.buffer);
                  expect(firstDiff(got, sr), `${where}: ${k} bf16 bits`).toBe(-1);
                }
              }
            });
            f.dispose();
          }
          q.dispose();
        });

    it('int8 round trip: each value decodes to its nearest map entry times its block absmax, within half the gap', () => {
      const r = rng(3);
      for (const name of ['exp_avg', 'exp_avg_sq'] as const) {
        const signed = name === 'exp_avg';
        const map = signed ? MAPS.signed : MAPS.unsigned;
        const opt = new Adam({ stateType: 'int8', engine });
        const n = 4096 + 2 * 256 + 5;
        const p = opt.param(n);
        for (const regime of ['normal', 'tiny', 'huge', 'mixed', 'sparse'] as const) {
          const x = fillGrad(new Float32Array(n), regime, r);
          if (!signed) for (let j = 0; j < n; j++) x[j] = Math.abs(x[j]);
          p.setState(name, x);
          const got = p.state(name);
          const qz = quantize(x, signed);
          expect(firstDiff(p.storedState(name)!, storedBytes(qz)), `${name} ${regime}`).toBe(-1);
          for (let j = 0; j < n; j++) {
            const a = qz.absmax[Math.floor(j / BLOCK)];
            const c = qz.codes[j];
            // The bound: half the gap to the neighbouring entry on the value's side, times absmax (+ 2 float32 roundings).
            const qv = x[j] / a;
            const other = qv >= map[c] ? map[Math.min(255, c + 1)] : map[Math.max(0, c - 1)];
            const bound = (Math.abs(other - map[c]) / 2) * a + 2 ** -22 * a;
            const err = Math.abs(got[j] - x[j]);
            // Past the map's ends (the signed map has no -1: the block's most negative value when it is the largest).
            const beyond = qv < map[0] ? (map[0] - qv) * a : qv > map[255] ? (qv - map[255]) * a : 0;
            if (!(err <= bound + beyond))
              expect.fail(`${name} ${regime} [${j}]: ${x[j]} -> ${got[j]}, error ${err} > ${bound}`);
          }
        }
        opt.dispose();
      }
    });

    it('int8 Adam stays near the float64 Adam of the same gradients (quantization noise only)', () => {
      const r = rng(11);
      const n = 6000;
      const init = Float32Array.from({ length: n }, () => gaussian(r));
      const q = new Adam({ lr: 1e-2, stateType: 'int8', engine });
      const f = new Adam({ lr: 1e-2, engine });
      const ref = new RefAdam({ lr: 1e-2 });
      const p = q.param(init),
        fp = f.param(init);
      ref.addParam(init);
      const rp = ref.params[0];
      for (let t = 0; t < 40; t++) {
        const g = fillGrad(new Float32Array(n), 'normal', r);
        p.grad.set(g);
        fp.grad.set(g);
        q.step();
        f.step();
        ref.step([g]);
      }
      let e8 = 0,
        e32 = 0;
      for (let j = 0; j < n; j++) {
        e8 = Math.max(e8, Math.abs(p.data[j] - rp[j]));
        e32 = Math.max(e32, Math.abs(fp.data[j] - rp[j]));
      }
      // 40 steps of at most lr each: the float32 run is within rounding, the int8 run within a few % of lr per step.
      expect(e32).toBeLessThan(1e-5);
      expect(e8).toBeGreaterThan(e32);
      expect(e8).toBeLessThan(40 * 1e-2 * 0.05);
      q.dispose();
      f.dispose();
    });

    it('bf16 state: stochastic rounding lets v decay where round-to-nearest would stall it', () => {
      // b2 = 0.999 moves v by 1e-3 of itself, less than half a bf16 step (2^-9): nearest rounding keeps v.
      const v = Math.fround(0.123);
      const rne = (x: number): number => {
        const b = new Uint32Array(new Float32Array([x]).buffer)[0];
        return new Float32Array(new Uint32Array([((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) << 16]).buffer)[0];
      };
      expect(rne(rne(v) * 0.999)).toBe(rne(v));
      const n = 4096;
      const q = new Adam({ stateType: 'bf16', seed: 3, engine });
      const f = new Adam({ engine });
      const p = q.param(n),
        fp = f.param(n);
      const r = rng(5);
      const g = fillGrad(new Float32Array(n), 'normal', r);
      p.grad.set(g);
      fp.grad.set(g);
      q.step();
      f.step();
      p.grad.fill(0);
      fp.grad.fill(0);
      for (let t = 0; t < 300; t++) {
        q.step();
        f.step();
      }
      const a = p.state('exp_avg_sq'),
        b = fp.state('exp_avg_sq');
      let sa = 0,
        sb = 0;
      for (let j = 0; j < n; j++) {
        sa += a[j];
        sb += b[j];
      }
      expect(sb).toBeLessThan(0.75 * n * 0.001 * 1.2); // decayed by 0.999^300 = 0.74
      expect(Math.abs(sa / sb - 1)).toBeLessThan(0.01);
      q.dispose();
      f.dispose();
    });

    for (const stateType of ['int8', 'bf16'] as const)
      it(`${stateType}: a checkpoint stores the codes bit for bit, and a resumed run equals an uninterrupted one`, () => {
        const r = rng(9);
        const sizes = [5000, 100, 4096];
        const inits = sizes.map((n) => Float32Array.from({ length: n }, () => gaussian(r)));
        const grads = Array.from({ length: 12 }, () => sizes.map((n) => fillGrad(new Float32Array(n), 'normal', r)));
        const run = (opt: AnyOpt, from: number, to: number): void => {
          for (let t = from; t < to; t++) {
            opt.params.forEach((p, i) => p.grad.set(grads[t][i]));
            opt.step();
          }
        };
        const a = new AdamW({ lr: 0.01, stateType, seed: 77, engine });
        sizes.forEach((_, i) => a.param(inits[i]));
        run(a as AnyOpt, 0, 12);
        const b = new AdamW({ lr: 0.01, stateType, seed: 77, engine });
        sizes.forEach((_, i) => b.param(inits[i]));
        run(b as AnyOpt, 0, 6);
        const bytes = b.save();
        const c = new AdamW({ stateType, engine }); // seed 0: the checkpoint's is restored
        c.load(bytes);
        expect(c.seed).toBe(77);
        run(c as AnyOpt, 6, 12);
        a.params.forEach((p, i) => {
          expect(firstDiff(bitsOf(c.params[i].data), bitsOf(p.data)), `param ${i}`).toBe(-1);
          for (const k of p.stateKeys) {
            const want = p.storedState(k);
            if (want === null) expect(firstDiff(bitsOf(c.params[i].state(k)), bitsOf(p.state(k)))).toBe(-1);
            else expect(firstDiff(c.params[i].storedState(k)!, want), `param ${i} ${k}`).toBe(-1);
          }
        });
        // Into an optimizer of the same params and another stateType: refused, nothing changed.
        const d = new AdamW({ lr: 0.01, engine });
        sizes.forEach((_, i) => d.param(inits[i]));
        const before = d.stateDict();
        expect(() => d.load(bytes)).toThrow(CheckpointError);
        try {
          d.load(bytes);
        } catch (e) {
          expect((e as CheckpointError).reason).toBe('layout');
          expect((e as Error).message).toContain(`{ stateType: '${stateType}' }`);
        }
        expect(d.stateDict()).toEqual(before);
        for (const o of [a, b, c, d]) o.dispose();
      });

    it('the SIMD and scalar builds store the same bits', async () => {
      const other = await engineFor(build === 'simd' ? 'scalar' : 'simd');
      const stored = (e: Engine, stateType: 'int8' | 'bf16'): Uint8Array[] => {
        const r = rng(21);
        const opt = new RMSprop({ lr: 0.01, momentum: 0.9, stateType, engine: e });
        const p = opt.param(Float32Array.from({ length: 4099 }, () => gaussian(r)));
        for (let t = 0; t < 5; t++) {
          fillGrad(p.grad, REGIMES[t], r);
          opt.step();
        }
        const out = [new Uint8Array(p.data.buffer.slice(p.data.byteOffset, p.data.byteOffset + 4 * 4099))];
        for (const k of p.stateKeys) out.push(p.storedState(k)!);
        opt.dispose();
        return out;
      };
      for (const t of ['int8', 'bf16'] as const) expect(stored(engine, t)).toEqual(stored(other, t));
    });

    it('int8 state takes about a quarter of float32 state, and dispose gives it all back', () => {
      const before = memoryStats(engine).bytesInUse;
      const n = 1 << 20;
      const f = new Adam({ engine });
      f.param(n);
      f.step();
      const f32 = memoryStats(engine).bytesInUse - before;
      f.dispose();
      const q = new Adam({ stateType: 'int8', engine });
      q.param(n);
      q.step();
      const i8 = memoryStats(engine).bytesInUse - before;
      q.dispose();
      expect(memoryStats(engine).bytesInUse).toBe(before);
      // f32: values, gradient, exp_avg, exp_avg_sq = 16 n bytes; int8: 8 n + 2 (n + 4 n / 256) + the maps (27 KB).
      expect(f32).toBeGreaterThanOrEqual(16 * n);
      expect(i8).toBeLessThan(8 * n + 2 * (n + n / 64) + 64 * 1024);
    });

    it('QUANT_OPTIMIZERS names exactly the optimizers of the registry whose declaration has a quantKernel', () => {
      const withKernel = Object.values(OPTIMIZERS)
        .filter((c) => c.declaration.quantKernel !== undefined)
        .map((c) => c.declaration.name);
      expect([...QUANT_OPTIMIZERS].sort()).toEqual(withKernel.sort());
    });

    it('setState refuses a wrong length and NaN/Infinity for every storage type, and changes nothing', () => {
      for (const stateType of ['f32', 'bf16', 'int8'] as const) {
        const opt = new Adam({ stateType, engine });
        const p = opt.param(4096 + 300);
        const good = Float32Array.from({ length: p.length }, (_, j) => Math.sin(j) * 0.1);
        p.setState('exp_avg', good);
        const before = p.state('exp_avg').slice();
        for (const bad of [NaN, Infinity, -Infinity]) {
          const v = good.slice();
          v[4100] = bad; // in the second int8 block: its absmax would take the whole block with it
          expect(() => p.setState('exp_avg', v), `${stateType} ${bad}`).toThrow(
            new RegExp(`setState\\('exp_avg'\\) got ${bad} at index 4100; optimizer state must be finite`),
          );
          expect(p.state('exp_avg'), `${stateType} ${bad}`).toEqual(before);
        }
        expect(() => p.setState('exp_avg', good.subarray(1))).toThrow(/expects 4396 values, got 4395/);
        expect(p.state('exp_avg')).toEqual(before);
        opt.dispose();
      }
    });

    it('refuses what it cannot store, naming what is supported, and changes nothing', () => {
      expect(() => new NAdam({ stateType: 'int8', engine })).toThrow(
        /stateType 'int8' is supported by Adam, AdamW, SGD, RMSprop, Adagrad, Lion/,
      );
      expect(() => new Adam({ stateType: 'fp8' as never, engine })).toThrow(/'f32', 'bf16', 'int8'/);
      expect(() => new Adam({ stateType: 'bf16', seed: -1, engine })).toThrow(/seed/);
      expect(() => new Adam({ stateType: 'bf16', seed: 1.5, engine })).toThrow(/seed/);
      const opt = new Adam({ stateType: 'int8', engine });
      expect(() => opt.addParamGroup({ stateType: 'bf16' } as never)).toThrow(/whole optimizer/);
      expect(() => opt.trackMetaGradients(['lr'])).toThrow(/float32 state/);
      expect(() => new RMSprop({ centered: true, stateType: 'bf16', engine })).toThrow(/centered: false/);
      const rms = new RMSprop({ stateType: 'int8', engine });
      expect(() => rms.addParamGroup({ centered: true })).toThrow(/centered: false/);
      const dict = rms.stateDict();
      expect(() => rms.loadStateDict({ ...dict, options: { ...dict.options, centered: true } })).toThrow(
        /centered: false/,
      );
      expect(rms.paramGroups.length).toBe(1);
      expect(rms.options.centered).toBe(false);
      rms.dispose();
      expect(opt.paramGroups.length).toBe(1);
      expect(opt.metaGradientNames).toEqual([]);
      expect(new NAdam({ stateType: 'f32', engine }).stateType).toBe('f32');
      opt.dispose();
    });
  });
}
