// Issue 20, the rest of "a step under nonFinite 'throw' never makes a param non-finite": a finite
// gradient whose float32 square overflows (|g| above ~1.8e19) would turn Adam's `v`, Adagrad's
// `sum`, RMSprop's and Adadelta's `square_avg` into Infinity (and a centered RMSprop's params into
// NaN). Optimizers that square the gradient (their declaration's `squaresGradient`) refuse it;
// the others take it. And the out-of-memory message names the fix instead of ': unreachable'.
import { describe, expect, it } from 'vitest';
import { Engine, NonFiniteGradientError, OPTIMIZERS, type BaseOptions, type Optimizer } from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';

type AnyOpt = Optimizer<BaseOptions>;
const SQUARING = ['Adam', 'AdamW', 'Adagrad', 'RMSprop', 'Adadelta', 'NAdam', 'RAdam', 'AdamHD'] as const;
const NOT_SQUARING = ['SGD', 'Lion', 'Adamax', 'SGDHD'] as const;

function make(kind: keyof typeof OPTIMIZERS, options: Record<string, unknown>, engine: Engine): AnyOpt {
  return new (OPTIMIZERS[kind] as unknown as new (o: object) => AnyOpt)({ ...options, engine });
}

function snapshot(opt: AnyOpt): number[][] {
  return opt.params.flatMap((p) => [Array.from(p.data), ...p.stateKeys.map((k) => Array.from(p.state(k)))]);
}

describe.each(BUILD_NAMES)('a gradient whose square overflows float32 (%s build)', (build) => {
  it.each(SQUARING)('%s under throw: refused, nothing changed; under skip: false; 1e19 is taken', async (kind) => {
    const engine = await engineFor(build);
    const extra = kind === 'RMSprop' ? { centered: true, momentum: 0.9 } : {};
    const opt = make(kind, { lr: 1e-3, ...extra }, engine);
    const p = opt.param(new Float32Array([1, -2, 3, 0.5, 7]));
    p.grad.set([0.1, 0.2, 0.3, 0.4, 0.5]);
    opt.step();
    const before = snapshot(opt);
    p.grad.set([0.1, 2e19, 0.3, 0.4, 0.5]);
    expect(() => opt.step()).toThrow(NonFiniteGradientError);
    expect(() => opt.step()).toThrow(/squares to more than float32 holds/);
    expect(snapshot(opt)).toEqual(before);
    expect(opt.stepCount).toBe(1);
    // The same gradient through a scale: 1e10 * 4e9 = 4e19.
    p.grad.set([0.1, 1e10, 0.3, 0.4, 0.5]);
    expect(() => opt.step({ gradScale: 4e9 })).toThrow(NonFiniteGradientError);
    expect(snapshot(opt)).toEqual(before);
    opt.dispose();
    const skip = make(kind, { lr: 1e-3, nonFinite: 'skip', ...extra }, engine);
    const q = skip.param(3);
    q.grad.set([0, -3e19, 0]);
    expect(skip.step()).toBe(false);
    expect(skip.stepCount).toBe(0);
    q.grad.set([0, -1e19, 0]);
    expect(skip.step()).toBe(true);
    for (const k of q.stateKeys) expect(Array.from(q.state(k)).every(Number.isFinite), k).toBe(true);
    expect(Array.from(q.data).every(Number.isFinite)).toBe(true);
    skip.dispose();
  });

  it.each(NOT_SQUARING)('%s does not square the gradient: 2e19 is a finite step', async (kind) => {
    const engine = await engineFor(build);
    const opt = make(kind, { lr: 1e-30 }, engine);
    const p = opt.param(3);
    p.grad.set([0, 2e19, 0]);
    expect(opt.step()).toBe(true);
    expect(Array.from(p.data).every(Number.isFinite)).toBe(true);
    opt.dispose();
  });

  it('clipGradValue brings such a gradient back: a finite step', async () => {
    const engine = await engineFor(build);
    const opt = make('Adam', { lr: 1e-3, clipGradValue: 1 }, engine);
    const p = opt.param(2);
    p.grad.set([5e19, -1]);
    expect(opt.step()).toBe(true);
    expect(Array.from(p.state('exp_avg_sq')).every(Number.isFinite)).toBe(true);
    opt.dispose();
  });
});

describe('out of engine memory', () => {
  it('an allocation the memory cannot grow for throws a RangeError that names the fix, not ": unreachable", and counts nothing', async () => {
    const real = await engineFor('scalar');
    const exports = { ...(real.exports as object) } as Record<string, unknown>;
    exports._initialize = undefined;
    exports.alloc = () => {
      throw new WebAssembly.RuntimeError('unreachable');
    };
    const engine = new Engine({ exports } as unknown as WebAssembly.Instance);
    const before = engine.memoryStats().bytesInUse;
    let error: unknown;
    try {
      engine.alloc(1 << 20);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toMatch(/out of engine memory: 1048576 more bytes could not be allocated/);
    expect((error as Error).message).toMatch(/dispose unused optimizers or tables, or use smaller tensors$/);
    expect((error as Error).message).not.toMatch(/unreachable/);
    expect(engine.memoryStats().bytesInUse).toBe(before);
  });
});
