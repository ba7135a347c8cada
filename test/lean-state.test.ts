// Dense optimizers with 16- and 8-bit state (`stateType`, src/core/state-type.ts, docs/lean-state.md),
// against references written from bitsandbytes' 8-bit blockwise optimizers
// (bitsandbytes-foundation/bitsandbytes, csrc/kernels.cu `kOptimizerStatic8bit2StateBlockwise` and
// `kOptimizerStatic8bit1StateBlockwise`; bitsandbytes/optim/optimizer.py `Optimizer2State.init_state`:
// blocks of 256, one float32 absmax per block and state tensor, `create_dynamic_map(signed=True)` for
// the first moment and `signed=False` for the second, tensors under `min_8bit_size` = 4096 elements
// in float32): a step decodes `state = quantiles[code] * absmax[block]`, updates in float32, takes
// the block's new `absmax = max |state|` and stores the nearest code of `state / absmax`.
import { beforeAll, describe, expect, it } from 'vitest';
import { Adam, AdamW, CheckpointError, NAdam, RMSprop, memoryStats, type Engine } from '../src/index.js';
import { QUANT_OPTIMIZERS } from '../src/core/state-type.js';
import { OPTIMIZERS } from '../src/optimizers/registry.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { fillGrad, gaussian, REGIMES, rng } from './dense-util.js';
import { RefAdam } from './reference/adam.js';
import { type AnyOpt, BLOCK, MAPS, bitsOf, checkQuantSteps, firstDiff, quantize, storedBytes } from './quant-ref.js';

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
          const inits = SIZES.map((n) => Float32Array.from({ length: n }, () => gaussian(r)));
          checkQuantSteps(engine, kind, options, stateType, inits, STEPS, (t, i, g) => {
            fillGrad(g, REGIMES[(t + i) % REGIMES.length], r);
          });
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
