// The bias corrections' integer powers (src/powers.ts): a fixed function of (b, t), whatever the
// instance was asked before, and within 1e-14 of Math.pow.
import { describe, expect, it } from 'vitest';
import { MuProducts, Powers } from '../src/core/powers.js';

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

  it('follows several series at once (params added at different steps, several betas) with the same bits', () => {
    const p = new Powers();
    const starts = [0, 5, 63, 64, 100, 130, 700, 1000, 1500, 2000]; // 10 series: more than it follows
    for (let step = 0; step < 200; step++) {
      for (const [k, s] of starts.entries()) {
        const b = k % 2 === 0 ? 0.9 : 0.999;
        const t = s + step;
        expect(p.at(b, t)).toBe(new Powers().at(b, t));
      }
    }
  });
});

describe('MuProducts', () => {
  const muAt = (b1: number, psi: number, t: number) => b1 * (1 - 0.5 * Math.pow(0.96, t * psi));
  const slow = (b1: number, psi: number, t: number) => {
    let p = 1;
    for (let i = 1; i <= t; i++) p *= muAt(b1, psi, i);
    return p;
  };

  it('gives the same bits as the plain product for interleaved cohorts, pairs, jumps and more than 8 series', () => {
    const m = new MuProducts();
    const series = [[0.9, 0.004, 1], [0.9, 0.004, 40], [0.8, 0.004, 1], [0.9, 0.05, 7], ...Array.from({ length: 8 }, (_, i) => [0.9, 0.004, 200 + 30 * i])];
    for (let step = 0; step < 60; step++) {
      // The first 4 series every step, all 12 every third step (the slots then overflow).
      for (const [k, [b1, psi, start]] of series.entries()) {
        if (k >= 4 && step % 3 !== 0) continue;
        const t = start + step;
        expect(m.product(b1, psi, t)).toBe(slow(b1, psi, t));
        expect(m.mu(b1, psi, t + 1)).toBe(muAt(b1, psi, t + 1));
      }
    }
    // A jump back and forth (a loaded state dict).
    expect(m.product(0.9, 0.004, 3)).toBe(slow(0.9, 0.004, 3));
    expect(m.product(0.9, 0.004, 500)).toBe(slow(0.9, 0.004, 500));
  });
});
