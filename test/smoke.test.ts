import { describe, expect, it, beforeAll } from 'vitest';
import { Adam, init, type Engine } from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';

describe.each(BUILD_NAMES)('smoke (%s)', (build) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await engineFor(build);
  });

  it('runs one Adam step: the first step moves each element by lr * sign(g)', () => {
    const opt = new Adam({ lr: 0.1, engine });
    const w = opt.param(new Float32Array([1, 2, 3, 4, 5]));
    w.grad.set([0.1, -0.2, 0.3, 0, 1]);
    opt.step();
    // t = 1: m = 0.1 g, v = 0.001 g^2, update = lr * g / (|g| + eps/ sqrt(bc2)..) ~ lr * sign(g)
    expect(Array.from(w.data)).toEqual([0.9, 2.1, 2.9, 4, 4.9].map(Math.fround));
    expect(opt.stepCount).toBe(1);
    opt.dispose();
  });
});

describe('init', () => {
  it('is a no-op the second time', async () => {
    const a = await init();
    const b = await init();
    expect(a).toBe(b);
  });
});
