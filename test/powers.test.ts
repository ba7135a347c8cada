// The bias corrections' integer powers (src/powers.ts): a fixed function of (b, t), whatever the
// instance was asked before, and within 1e-14 of Math.pow.
import { describe, expect, it } from 'vitest';
import { MuProducts, Powers, Series } from '../src/core/powers.js';

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
  const close = (got: number, want: number) => expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-12 * want + 1e-300);

  it('gives the same bits for interleaved cohorts, pairs, jumps and more than 8 series, within 1e-12 of the plain product', () => {
    const m = new MuProducts();
    const series = [
      [0.9, 0.004, 1],
      [0.9, 0.004, 40],
      [0.8, 0.004, 1],
      [0.9, 0.05, 7],
      ...Array.from({ length: 8 }, (_, i) => [0.9, 0.004, 200 + 30 * i]),
    ];
    for (let step = 0; step < 120; step++) {
      // The first 4 series every step, all 12 every third step (the slots then overflow).
      for (const [k, [b1, psi, start]] of series.entries()) {
        if (k >= 4 && step % 3 !== 0) continue;
        const t = start + step;
        const got = m.product(b1, psi, t);
        expect(new MuProducts().product(b1, psi, t)).toBe(got);
        close(got, slow(b1, psi, t));
        expect(m.mu(b1, psi, t + 1)).toBe(muAt(b1, psi, t + 1));
      }
    }
    // A jump back and forth (a loaded state dict).
    expect(m.product(0.9, 0.004, 3)).toBe(new MuProducts().product(0.9, 0.004, 3));
    close(m.product(0.9, 0.004, 3), slow(0.9, 0.004, 3));
    close(m.product(0.9, 0.004, 5000), slow(0.9, 0.004, 5000));
  });

  it('stays within 1e-12 of the plain product for other betas and momentum decays, psi 0 included', () => {
    for (const [b1, psi] of [
      [0.9, 0],
      [0.5, 10],
      [0.99, 1e-6],
      [0.999, 0.004],
      [0, 0.004],
    ]) {
      const m = new MuProducts();
      let p = 1;
      for (let t = 1; t <= 1100; t++) {
        p *= muAt(b1, psi, t);
        const got = m.product(b1, psi, t);
        if (p > 1e-290) close(got, p);
        else expect(got).toBeLessThanOrEqual(1e-280);
      }
    }
  });

  it('answers at a large step count without walking every past step (a checkpoint loaded at 2^31 or 2^40)', () => {
    const m = new MuProducts();
    const start = performance.now();
    for (const t of [1e7, 2 ** 31 + 17, 2 ** 40 - 1]) {
      const v = m.product(0.999, 0.004, t);
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(1);
      // b1^t times a convergent product: the tail factor prod_{i>T} mu_i / b1 is 1 to float64
      expect(new MuProducts().product(0.999, 0.004, t)).toBe(v);
    }
    // The old walk took 0.85 s at 1e7 and minutes at 2^31.
    expect(performance.now() - start).toBeLessThan(200);
    // Past the point where the product's terms are 1 in float64, it is b1^t times a constant.
    const c = m.product(0.9999, 0.004, 2 ** 20) / Math.pow(0.9999, 2 ** 20);
    close(m.product(0.9999, 0.004, 2 ** 21) / Math.pow(0.9999, 2 ** 21), c);
  });
});

describe('MuProducts.step', () => {
  it('gives mu_t, mu_{t+1} and the product of mu() and product(), bit for bit, in sequence, across anchors, for interleaved cohorts and jumps', () => {
    const fresh = (b1: number, psi: number, t: number) => {
      const m = new MuProducts();
      return [m.mu(b1, psi, t), m.mu(b1, psi, t + 1), m.product(b1, psi, t)];
    };
    const m = new MuProducts();
    const ask = (b1: number, psi: number, t: number) => {
      m.step(b1, psi, t);
      expect(Array.from(m.out), `b1 ${b1} psi ${psi} t ${t}`).toEqual(fresh(b1, psi, t));
    };
    // In sequence across two anchors (256, 512), then a jump back, a repeat and a large step.
    for (let t = 1; t <= 600; t++) ask(0.9, 0.004, t);
    for (const t of [7, 7, 8, 255, 256, 257, 100000, 100001]) ask(0.9, 0.004, t);
    // Two cohorts (params added at different steps) and another optimizer's options, interleaved.
    for (let t = 1; t <= 300; t++) {
      ask(0.9, 0.004, t + 40);
      ask(0.9, 0.004, t);
      ask(0.8, 0.01, t);
    }
  });
});

describe('MuProducts.step over many anchors', () => {
  it('keeps a single cohort off the series (they stay at 8 entries) with the bits of a fresh instance', () => {
    const m = new MuProducts();
    for (let t = 1; t <= 40 * 256 + 3; t++) {
      m.step(0.9, 0.004, t);
      if (t % 256 === 0 || t % 256 === 1) {
        const f = new MuProducts();
        expect(Array.from(m.out), `t ${t}`).toEqual([
          f.mu(0.9, 0.004, t),
          f.mu(0.9, 0.004, t + 1),
          f.product(0.9, 0.004, t),
        ]);
      }
    }
    // Before: every anchor put mu_t, mu_{t+1} and the product into the series, never asked for
    // again, and the evictions grew them (4096 entries by ~400K steps, every anchor's miss scanning them all).
    const sizes = m as unknown as { mus: { size: number }; products: { size: number } };
    expect(sizes.mus.size).toBe(8);
    expect(sizes.products.size).toBe(8);
  });
});

describe('Series', () => {
  it('keeps every series of an optimizer with hundreds of cohorts (no per-step recompute past a fixed size)', () => {
    const s = new Series();
    const K = 300;
    for (let k = 0; k < K; k++) s.put(k, 0, 1, k);
    let misses = 0;
    for (let step = 2; step < 6; step++) {
      for (let k = 0; k < K; k++) {
        const i = s.find(k, 0, step - 1);
        if (i < 0) {
          misses++;
          s.put(k, 0, step, k);
        } else s.advance(i, step, 1);
      }
    }
    // The first round overflows the initial 8 entries and grows them; later rounds all hit.
    expect(misses).toBeLessThanOrEqual(K);
    for (let k = 0; k < K; k++) expect(s.find(k, 0, 5)).toBeGreaterThanOrEqual(0);
  });
});
