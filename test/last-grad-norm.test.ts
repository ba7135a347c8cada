// lastGradNorm: the norm the last step measured (clipGradNorm), NaN once a step did not measure
// one; a state dict load keeps it until the next step (DenseStep keeps the norm with the step
// count that step left, so that the usual step writes nothing).
import { describe, expect, it } from 'vitest';
import { SGD } from '../src/index.js';
import { engineFor } from './engines.js';

describe('lastGradNorm', () => {
  it('is the measured norm after a step, NaN after a skipped one, kept across a load until the next step', async () => {
    const engine = await engineFor('simd');
    const opt = new SGD({ lr: 0.1, clipGradNorm: 100, nonFinite: 'skip', engine });
    try {
      const p = opt.param([1, 2]);
      expect(opt.lastGradNorm).toBeNaN();
      p.grad.set([3, 4]);
      expect(opt.step()).toBe(true);
      expect(opt.lastGradNorm).toBe(5);
      const dict = opt.stateDict();
      p.grad.set([Number.NaN, 4]);
      expect(opt.step()).toBe(false);
      expect(opt.lastGradNorm).toBeNaN();
      p.grad.set([6, 8]);
      expect(opt.step()).toBe(true);
      expect(opt.lastGradNorm).toBe(10);
      // A load (back to step 1) keeps the last step's norm; the next step measures its own.
      opt.loadStateDict(dict);
      expect(opt.stepCount).toBe(1);
      expect(opt.lastGradNorm).toBe(10);
      p.grad.set([0, 2]);
      opt.step();
      expect(opt.lastGradNorm).toBe(2);
    } finally {
      opt.dispose();
    }
  });
});
