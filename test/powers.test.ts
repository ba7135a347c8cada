// The bias corrections' integer powers (src/powers.ts): a fixed function of (b, t), whatever the
// instance was asked before, and within 1e-14 of Math.pow.
import { describe, expect, it } from 'vitest';
import { Powers } from '../src/powers.js';

describe('Powers', () => {
  it('gives the same bits in sequence, out of order and from a fresh instance, close to Math.pow', () => {
    for (const b of [0.9, 0.999, 0.95, 0.5, 1, 0]) {
      const seq = new Powers();
      const inSequence = Array.from({ length: 300 }, (_, t) => seq.at(b, t));
      const jumping = new Powers();
      // Repeats too: a step may ask for the same t twice (AdamHD writes its hyper block twice).
      for (const t of [299, 5, 5, 64, 63, 63, 128, 0, 1, 1, 200, 65, 66, 66]) {
        expect(jumping.at(b, t)).toBe(inSequence[t]);
        expect(new Powers().at(b, t)).toBe(inSequence[t]);
      }
      inSequence.forEach((v, t) => {
        const want = Math.pow(b, t);
        expect(Math.abs(v - want)).toBeLessThanOrEqual(1e-14 * want);
      });
    }
  });

  it('is exact at the anchors and at t = 1', () => {
    const p = new Powers();
    expect(p.at(0.9, 1)).toBe(0.9);
    expect(p.at(0.9, 64)).toBe(Math.pow(0.9, 64));
    expect(p.at(0.999, 0)).toBe(1);
  });
});
