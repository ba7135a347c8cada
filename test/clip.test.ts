// Gradient clipping (by global norm, by value) and gradient accumulation (step({ gradScale })),
// folded into the kernels: every optimizer against its float64 reference fed with the gradients
// PyTorch would see after `loss / k`, `clip_grad_value_` and `clip_grad_norm_`, in both builds.
import { beforeAll, describe, expect, it } from 'vitest';
import { Adam, SGD, NonFiniteGradientError, createEngine, type Engine } from '../src/index.js';
import { BUILD_NAMES, countEngineCalls, engineFor } from './engines.js';
import { bitDiffs, fillGrad, mismatches, randomF32, rng } from './dense-util.js';
import { KIND_OPTIONS, driveTransformed, freshGrads, makeAny, pairAny, transform } from './training-util.js';

const SIZES = [1, 7, 33, 1000, 4099];
const STEPS = 12;

describe.each(BUILD_NAMES)('clipping and accumulation against the float64 reference (%s)', (build) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await engineFor(build);
  });

  // Gradients ~N(0, 1) over 5173 elements: norm ~72, so clipGradNorm 10 always clips and 1000 never does.
  it.each(KIND_OPTIONS)(
    '%s %j: clipGradNorm scales by min(1, max / (norm + 1e-6)); lastGradNorm is the norm before',
    (kind, options) => {
      for (const clipNorm of [10, 1000]) {
        const { opt, ref } = pairAny(kind, { ...options, clipGradNorm: clipNorm }, engine, SIZES, 5);
        const bad = driveTransformed(opt, ref, `${kind} clipGradNorm ${clipNorm}`, {
          steps: STEPS,
          seed: 6,
          t: { clipNorm },
          check: (o, norm) => expect(Math.abs(o.lastGradNorm - norm) / norm).toBeLessThan(1e-12),
        });
        opt.dispose();
        expect(bad).toEqual([]);
      }
    },
  );

  it.each(KIND_OPTIONS)('%s %j: clipGradValue clamps every gradient into [-v, v]', (kind, options) => {
    const { opt, ref } = pairAny(kind, { ...options, clipGradValue: 0.5 }, engine, SIZES, 7);
    const bad = driveTransformed(opt, ref, `${kind} clipGradValue`, { steps: STEPS, seed: 8, t: { clipValue: 0.5 } });
    expect(opt.lastGradNorm).toBeNaN(); // not measured without clipGradNorm
    opt.dispose();
    expect(bad).toEqual([]);
  });

  it.each(KIND_OPTIONS.filter((_k, i) => i % 3 === 0))(
    '%s %j: value clipping, then norm clipping of the clamped gradients, on accumulated gradients',
    (kind, options) => {
      const { opt, ref } = pairAny(kind, { ...options, clipGradValue: 2, clipGradNorm: 20 }, engine, SIZES, 9);
      // Gradients ~N(0, 16) summed over 4 micro-batches: step({ gradScale: 1/4 }) averages them.
      const t = { gradScale: 0.25, clipValue: 2, clipNorm: 20 };
      const bad = driveTransformed(opt, ref, `${kind} value+norm+accumulation`, {
        steps: STEPS,
        seed: 10,
        t,
        scale: 16,
        check: (o, norm) => expect(Math.abs(o.lastGradNorm - norm) / norm).toBeLessThan(1e-6),
      });
      opt.dispose();
      expect(bad).toEqual([]);
    },
  );

  it.each(KIND_OPTIONS)(
    '%s %j: k micro-batches added into p.grad, then step({ gradScale: 1/k }), is the averaged step',
    (kind, options) => {
      const { opt, ref } = pairAny(kind, options, engine, SIZES, 11);
      const r = rng(12);
      const k = 3;
      for (let step = 0; step < 6; step++) {
        opt.zeroGrad();
        const sums = opt.params.map((p) => new Float64Array(p.length));
        for (let micro = 0; micro < k; micro++) {
          opt.params.forEach((p, i) => {
            const g = fillGrad(new Float32Array(p.length), 'normal', r);
            const grad = p.grad;
            for (let j = 0; j < g.length; j++) {
              grad[j] += g[j];
              sums[i][j] += g[j];
            }
          });
        }
        const before = opt.params.map((p) => p.grad.slice());
        opt.step({ gradScale: 1 / k });
        // The gradients are read, never rewritten (no copies, no in-place scaling).
        opt.params.forEach((p, i) => expect(p.grad).toEqual(before[i]));
        ref.step(sums.map((s) => s.map((x) => x / k)));
      }
      const bad = mismatches(opt, ref, `${kind} accumulation`, 5e-5);
      opt.dispose();
      expect(bad).toEqual([]);
    },
  );

  it('accumulation with exactly representable gradients is the averaged step bit for bit', () => {
    // Micro-batch gradients that are multiples of 1/64 in [-4, 4]: their sum and its quarter are exact in f32.
    const a = new Adam({ lr: 0.01, engine });
    const b = new Adam({ lr: 0.01, engine });
    const r = rng(13);
    const init = randomF32(67, r);
    const pa = a.param(init),
      pb = b.param(init);
    for (let step = 0; step < 5; step++) {
      a.zeroGrad();
      const avg = new Float32Array(67);
      for (let micro = 0; micro < 4; micro++) {
        for (let j = 0; j < 67; j++) {
          const g = Math.round((r() * 8 - 4) * 64) / 64;
          pa.grad[j] += g;
          avg[j] += g / 4;
        }
      }
      pb.grad.set(avg);
      a.step({ gradScale: 0.25 });
      b.step();
    }
    expect(bitDiffs(a, b, 'accumulated vs averaged')).toEqual([]);
    a.dispose();
    b.dispose();
  });

  it('norm clipping does not write the gradients, and maximize clips the same norm', () => {
    const opt = new SGD({ lr: 0.1, clipGradNorm: 1, maximize: true, engine });
    const p = opt.param([0, 0]);
    p.grad.set([3, 4]); // norm 5 -> scale 1 / (5 + 1e-6); maximize ascends: p += 0.1 * [0.6, 0.8]
    opt.step();
    expect(Array.from(p.grad)).toEqual([3, 4]);
    expect(opt.lastGradNorm).toBe(5);
    expect(p.data[0]).toBeCloseTo(0.06, 6);
    expect(p.data[1]).toBeCloseTo(0.08, 6);
    opt.dispose();
  });
});

describe('clipping and the non-finite policy', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await engineFor('simd');
  });

  it.each([Number.NaN, Infinity, -Infinity])(
    'a %s gradient makes a non-finite norm: throw changes nothing, skip skips',
    (bad) => {
      for (const options of [{ clipGradNorm: 1 }, { clipGradValue: 0.1 }, { clipGradNorm: 1, clipGradValue: 0.1 }]) {
        const opt = new Adam({ lr: 0.1, ...options, engine });
        const p = opt.param([1, 2, 3, 4, 5]);
        p.grad.set([1, 1, bad, 1, 1]);
        expect(() => opt.step()).toThrow(NonFiniteGradientError);
        expect(() => opt.step()).toThrow(/param #0 .* NaN or Infinity/);
        expect(Array.from(p.data)).toEqual([1, 2, 3, 4, 5]);
        expect(Array.from(p.state('exp_avg'))).toEqual([0, 0, 0, 0, 0]);
        expect(Array.from(p.grad)).toEqual([1, 1, bad, 1, 1]);
        expect(opt.stepCount).toBe(0);
        opt.dispose();
        const skip = new Adam({ lr: 0.1, ...options, nonFinite: 'skip', engine });
        const q = skip.param([1, 2, 3, 4, 5]);
        q.grad.set([1, 1, bad, 1, 1]);
        expect(skip.step()).toBe(false);
        expect(Array.from(q.data)).toEqual([1, 2, 3, 4, 5]);
        expect(skip.stepCount).toBe(0);
        skip.dispose();
      }
    },
  );

  it("nonFinite: 'ignore' behaves as PyTorch: a NaN norm scales every gradient to NaN; value clipping turns Infinity into the bound", () => {
    const a = new SGD({ lr: 1, clipGradNorm: 1, nonFinite: 'ignore', engine });
    const p = a.param([1, 2]);
    p.grad.set([Number.NaN, 1]);
    expect(a.step()).toBe(true);
    expect(a.lastGradNorm).toBeNaN();
    expect(Number.isNaN(p.data[0]) && Number.isNaN(p.data[1])).toBe(true);
    a.dispose();
    const b = new SGD({ lr: 1, clipGradValue: 0.5, nonFinite: 'ignore', engine });
    const q = b.param([1, 2]);
    q.grad.set([Infinity, -Infinity]);
    b.step();
    expect(Array.from(q.data)).toEqual([0.5, 2.5]);
    b.dispose();
  });

  it.each([
    [{ clipGradNorm: 0 }, RangeError, /'clipGradNorm' must be > 0, got 0/],
    [{ clipGradNorm: -1 }, RangeError, /'clipGradNorm'/],
    [{ clipGradNorm: Number.NaN }, RangeError, /'clipGradNorm' must not be NaN/],
    [{ clipGradValue: Infinity }, RangeError, /'clipGradValue' must be finite/],
    [{ clipGradValue: '1' }, TypeError, /'clipGradValue' must be a number/],
    [{ clip_grad_norm: 1 }, TypeError, /did you mean 'clipGradNorm'/],
  ] as const)('bad clipping options %j throw and allocate nothing', (options, E, msg) => {
    const before = engine.memoryStats().bytesInUse;
    expect(() => new Adam({ ...(options as object), engine })).toThrow(E);
    expect(() => new Adam({ ...(options as object), engine })).toThrow(msg);
    expect(engine.memoryStats().bytesInUse).toBe(before);
  });

  it('clipping options are off (null) by default and kept in the state dict', () => {
    const a = new Adam({ engine });
    expect(a.options.clipGradNorm).toBeNull();
    expect(a.options.clipGradValue).toBeNull();
    const b = new Adam({ clipGradNorm: 2, clipGradValue: 0.5, engine });
    const c = new Adam({ engine });
    c.loadStateDict(JSON.parse(JSON.stringify(b.stateDict())));
    expect(c.options.clipGradNorm).toBe(2);
    expect(c.options.clipGradValue).toBe(0.5);
    for (const o of [a, b, c]) o.dispose();
  });

  it.each([
    [{ gradScale: 0 }, RangeError, /'gradScale' must be > 0/],
    [{ gradScale: -0.5 }, RangeError, /'gradScale'/],
    [{ gradScale: Number.NaN }, RangeError, /'gradScale' must not be NaN/],
    [{ gradScale: '2' }, TypeError, /'gradScale' must be a number/],
    [{ scale: 2 }, TypeError, /unknown option 'scale'/],
    [5, TypeError, /options must be an object/],
  ] as const)('step(%j) throws and changes nothing', (options, E, msg) => {
    const opt = new Adam({ lr: 0.1, engine });
    const p = opt.param([1, 2]);
    p.grad.set([1, 1]);
    expect(() => opt.step(options as never)).toThrow(E);
    expect(() => opt.step(options as never)).toThrow(msg);
    expect(Array.from(p.data)).toEqual([1, 2]);
    expect(opt.stepCount).toBe(0);
    opt.dispose();
  });

  it('the norm pass is the only pre-pass: with clipGradNorm no separate non-finite check runs', () => {
    const opt = new Adam({ clipGradNorm: 1, engine });
    const p = opt.param(100);
    p.grad.fill(1);
    const calls = countEngineCalls(engine, () => {
      opt.step();
      opt.step();
    });
    expect(calls).toEqual({ check: 0, norm: 2, kernel: 2 });
    expect(opt.lastGradNorm).toBe(10);
    opt.dispose();
  });
});

describe('clipping: SIMD and scalar agree bit for bit', () => {
  it.each(KIND_OPTIONS.filter((_k, i) => i % 2 === 1))('%s %j', async (kind, options) => {
    const simd = await engineFor('simd');
    const scalar = await createEngine({ simd: false });
    const o = { ...options, clipGradNorm: 5, clipGradValue: 0.3 };
    const a = makeAny(kind, o, simd);
    const b = makeAny(kind, o, scalar);
    const r = rng(21);
    for (const n of SIZES) {
      const init = randomF32(n, r);
      a.param(init);
      b.param(init);
    }
    for (let t = 0; t < 8; t++) {
      const g = freshGrads(a, r);
      b.params.forEach((p, i) => p.grad.set(g[i]));
      a.step({ gradScale: 0.5 });
      b.step({ gradScale: 0.5 });
      expect(a.lastGradNorm).toBe(b.lastGradNorm);
    }
    expect(bitDiffs(a, b, kind)).toEqual([]);
    expect(transform([new Float32Array([3, 4])], { clipNorm: 1 }).norm).toBe(5);
    a.dispose();
    b.dispose();
  });
});

describe('the norm pass', () => {
  it.each([[null], [0.7]])(
    'is the same f64 bits in both builds for every tail length (clipGradValue %s)',
    async (clipGradValue) => {
      const simd = await engineFor('simd');
      const scalar = await createEngine({ simd: false });
      const sizes = [1, 3, 4, 5, 15, 16, 17, 20, 35, 64, 67, 1000, 4099];
      const a = new SGD({ lr: 0, clipGradNorm: 1e9, clipGradValue, engine: simd });
      const b = new SGD({ lr: 0, clipGradNorm: 1e9, clipGradValue, engine: scalar });
      const r = rng(31);
      const grads = sizes.map((n) => fillGrad(new Float32Array(n), 'mixed', r));
      for (const g of grads) {
        a.param(g.length).grad.set(g);
        b.param(g.length).grad.set(g);
      }
      a.step();
      b.step();
      expect(a.lastGradNorm).toBe(b.lastGradNorm);
      // And it is the norm: the exact float64 sum, to 1e-12 relative.
      // (the kernels clamp at the float32 bound)
      const want = transform(grads, { clipValue: clipGradValue === null ? null : Math.fround(clipGradValue) }).norm;
      expect(Math.abs(a.lastGradNorm - want) / want).toBeLessThan(1e-12);
      a.dispose();
      b.dispose();
    },
  );
});
