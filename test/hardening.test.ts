// Regression tests for issue 20 (an adversarial probe of the library's guarantees): each test is
// named after the promise it protects, and failed before its fix.
import { describe, expect, it } from 'vitest';
import { Adagrad, Adam, AdamHD, AdamW, NonFiniteGradientError, SGD, SGDHD, RMSprop, NAdam, RAdam, Adamax, Adadelta, Lion, exponentialLR, cosineLR, type Optimizer, type BaseOptions } from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';

/** Every float of every param and every state tensor, copied. */
function snapshot(opt: Optimizer<BaseOptions>): number[][] {
  const out: number[][] = [[opt.stepCount]];
  for (const p of opt.params) {
    out.push(Array.from(p.data), Array.from(p.grad));
    for (const k of p.stateKeys) out.push(Array.from(p.state(k)));
  }
  return out;
}

function allFinite(opt: Optimizer<BaseOptions>): boolean {
  return opt.params.every((p) => p.data.every(Number.isFinite));
}

type Make = (o: Record<string, unknown>) => Optimizer<BaseOptions>;
const DENSE: [string, Make][] = [
  ['Adam', (o) => new Adam(o) as unknown as Optimizer<BaseOptions>],
  ['AdamW', (o) => new AdamW(o) as unknown as Optimizer<BaseOptions>],
  ['SGD', (o) => new SGD({ momentum: 0.9, ...o }) as unknown as Optimizer<BaseOptions>],
  ['Adagrad', (o) => new Adagrad(o) as unknown as Optimizer<BaseOptions>],
  ['RMSprop', (o) => new RMSprop(o) as unknown as Optimizer<BaseOptions>],
  ['NAdam', (o) => new NAdam(o) as unknown as Optimizer<BaseOptions>],
  ['RAdam', (o) => new RAdam(o) as unknown as Optimizer<BaseOptions>],
  ['Adamax', (o) => new Adamax(o) as unknown as Optimizer<BaseOptions>],
  ['Adadelta', (o) => new Adadelta(o) as unknown as Optimizer<BaseOptions>],
  ['Lion', (o) => new Lion(o) as unknown as Optimizer<BaseOptions>],
  ['SGDHD', (o) => new SGDHD(o) as unknown as Optimizer<BaseOptions>],
  ['AdamHD', (o) => new AdamHD(o) as unknown as Optimizer<BaseOptions>],
];

describe.each(BUILD_NAMES)('a step under nonFinite throw never makes a param non-finite (%s)', (build) => {
  it.each(DENSE)('%s: a gradScale beyond float32 is refused up front', async (_name, make) => {
    const engine = await engineFor(build);
    const opt = make({ lr: 0.1, engine });
    opt.param([1, 2, 3]).grad.set([1, 1, 1]);
    const before = snapshot(opt);
    expect(() => opt.step({ gradScale: 1e39 })).toThrow(/gradScale.*float32/);
    expect(() => opt.step({ gradScale: 1e-46 })).toThrow(/gradScale.*0 in float32/);
    expect(snapshot(opt)).toEqual(before);
    opt.dispose();
  });

  it.each(DENSE)('%s: gradScale times a finite gradient overflowing float32 is a non-finite step', async (_name, make) => {
    const engine = await engineFor(build);
    for (const n of [3, 37]) {
      const opt = make({ lr: 0.1, engine });
      const a = opt.param(n);
      const b = opt.param(n);
      a.grad.fill(1);
      b.grad.fill(1);
      b.grad[n - 1] = 3e38;
      const before = snapshot(opt);
      expect(() => opt.step({ gradScale: 2 }), `n ${n}`).toThrow(NonFiniteGradientError);
      expect(() => opt.step({ gradScale: 2 })).toThrow(/param #1/);
      expect(snapshot(opt)).toEqual(before);
      expect(opt.step({ gradScale: 1 })).toBe(true);
      expect(allFinite(opt)).toBe(true);
      opt.dispose();
      const skip = make({ lr: 0.1, engine, nonFinite: 'skip' });
      skip.param(n).grad.fill(3e38);
      const s0 = snapshot(skip);
      expect(skip.step({ gradScale: 4 })).toBe(false);
      expect(snapshot(skip)).toEqual(s0);
      skip.dispose();
    }
  });

  it('with clipGradNorm the overflow is checked on the clipped scale (a clip that brings it back is a finite step)', async () => {
    const engine = await engineFor(build);
    const opt = new Adam({ lr: 0.1, engine, clipGradNorm: 1 });
    const p = opt.param(5);
    p.grad.fill(3e38);
    // the norm of the gradients is 6.7e38 in float64: the clip coefficient brings the scale to ~1.5e-39
    expect(opt.step({ gradScale: 2 })).toBe(true);
    expect(allFinite(opt)).toBe(true);
    opt.dispose();
  });

  it.each(DENSE.filter(([n]) => !['AdamW', 'Lion'].includes(n)))('%s: an L2 weight decay wd * p overflowing float32 is a non-finite step', async (_name, make) => {
    const engine = await engineFor(build);
    const opt = make({ lr: 1e-3, weightDecay: 4, engine });
    const p = opt.param([1, 2, 1e38, 3, 5]);
    p.grad.set([1, 1, 1, 1, 1]);
    const before = snapshot(opt);
    expect(() => opt.step()).toThrow(/weight decay.*element 2/);
    expect(snapshot(opt)).toEqual(before);
    // g + wd * p finite although wd * p is large: accepted
    p.data[2] = 5e37;
    expect(opt.step()).toBe(true);
    opt.dispose();
  });

  it('decoupled weight decay adds nothing to the gradient, so a large wd * p does not refuse AdamW', async () => {
    const engine = await engineFor(build);
    const opt = new AdamW({ lr: 1e-3, weightDecay: 4, engine });
    const p = opt.param([1, 1e38]);
    p.grad.set([1, 1]);
    expect(opt.step()).toBe(true);
    opt.dispose();
  });
});

describe('hypergradient optimizers refuse a schedule however it is given', () => {
  it.each([['SGDHD', SGDHD], ['AdamHD', AdamHD]] as const)('%s: opt.lr = schedule and group.lr = schedule throw the constructor\'s error and change nothing', async (_n, C) => {
    const engine = await engineFor('simd');
    const opt = new C({ lr: 0.01, engine });
    opt.param([1, 2]).grad.set([1, 1]);
    opt.step();
    const lr = opt.lr;
    expect(() => new C({ lr: cosineLR({ peak: 1, decaySteps: 5 }), engine })).toThrow(TypeError);
    expect(() => { opt.lr = cosineLR({ peak: 1, decaySteps: 5 }); }).toThrow(/hypergradient descent adapts the rate itself/);
    expect(() => { opt.paramGroups[0].lr = cosineLR({ peak: 1, decaySteps: 5 }); }).toThrow(/hypergradient descent adapts the rate itself/);
    expect(opt.lr).toBe(lr);
    expect(opt.lrSchedule).toBe(null);
    expect(opt.step()).toBe(true);
    opt.dispose();
  });
});

export { exponentialLR };
