// The playground's logic without a browser: the landscapes' gradients, the roster (which picks up
// optimizer classes added to the package later), and the race on the engine.
import { beforeAll, describe, expect, it } from 'vitest';
import * as api from '../src/index.js';
// @ts-expect-error plain JavaScript modules without type declarations
import { LANDSCAPES, gaussian } from '../playground/landscapes.js';
// @ts-expect-error plain JavaScript modules without type declarations
import { createRace, roster } from '../playground/race.js';

interface Landscape {
  id: string;
  f(x: number, y: number): number;
  grad(x: number, y: number): [number, number];
  box: [number, number, number, number];
  start: [number, number];
  argmin: [number, number];
  fmin: number;
  lrAdaptive: number;
  lrSgd: number;
}
const landscapes = LANDSCAPES as Landscape[];
const FIXED = ['SGD', 'Momentum', 'Nesterov', 'Adagrad', 'RMSprop', 'Adam', 'AdamW', 'AMSGrad'];

let engine: api.Engine;
beforeAll(async () => {
  engine = await api.createEngine();
});

function settings(L: Landscape) {
  return { lrAdaptive: L.lrAdaptive, lrSgd: L.lrSgd, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
}

describe('playground landscapes', () => {
  it.each(landscapes.map((l) => [l.id, l] as const))(
    '%s: the gradient matches central differences, the minimum is where it says',
    (_id, L) => {
      const random = gaussian(99);
      const [x0, x1, y0, y1] = L.box;
      for (let i = 0; i < 200; i++) {
        const x = x0 + (x1 - x0) * (0.5 + 0.25 * Math.tanh(random()));
        const y = y0 + (y1 - y0) * (0.5 + 0.25 * Math.tanh(random()));
        const h = 1e-6;
        const gx = (L.f(x + h, y) - L.f(x - h, y)) / (2 * h);
        const gy = (L.f(x, y + h) - L.f(x, y - h)) / (2 * h);
        const [ax, ay] = L.grad(x, y);
        expect(Math.abs(ax - gx)).toBeLessThan(1e-4 * Math.max(1, Math.abs(gx)));
        expect(Math.abs(ay - gy)).toBeLessThan(1e-4 * Math.max(1, Math.abs(gy)));
        expect(L.f(x, y)).toBeGreaterThanOrEqual(L.fmin - 1e-9);
      }
      expect(L.f(L.argmin[0], L.argmin[1])).toBeCloseTo(L.fmin, 4);
      expect(L.f(L.start[0], L.start[1])).toBeGreaterThan(L.fmin);
    },
  );
});

describe('playground race', () => {
  it('the roster is the eight fixed contenders, then every other optimizer class the package exports', () => {
    const others = Object.entries(api)
      .filter(
        ([name, C]) =>
          typeof C === 'function' &&
          C !== api.Optimizer &&
          (C as { prototype: unknown }).prototype instanceof api.Optimizer &&
          !['SGD', 'Adagrad', 'RMSprop', 'Adam', 'AdamW'].includes(name),
      )
      .map(([name]) => name)
      .sort();
    expect(roster(api).map((c: { name: string }) => c.name)).toEqual([...FIXED, ...others]);
    const colors = roster(api).map((c: { color: string }) => c.color);
    expect(new Set(colors).size).toBe(colors.length); // every contender has its own color
  });

  it('picks up other optimizer classes the package exports, and lists the ones it cannot build', () => {
    class Custom extends api.Adam {}
    class Broken extends api.SGD {
      constructor(options: api.SGDOptions) {
        super({ ...options, momentum: -1 });
      }
    }
    const extended = { ...api, Custom, Broken };
    const race = createRace(extended, engine, landscapes[1], settings(landscapes[1]));
    try {
      const names = race.runners.map((r: { name: string }) => r.name);
      expect(names.slice(0, 8)).toEqual(FIXED);
      expect(names.slice(8)).toEqual([...names.slice(8)].sort());
      expect(names).toContain('Custom');
      expect(names).not.toContain('Broken');
      expect(race.skipped).toEqual([{ name: 'Broken', reason: expect.stringMatching(/momentum/) }]);
      race.step(50);
      const custom = race.state().optimizers.find((o: { name: string }) => o.name === 'Custom');
      const adam = race.state().optimizers.find((o: { name: string }) => o.name === 'Adam');
      expect(custom.loss).toBe(adam.loss); // Custom is Adam under another name: the same path
    } finally {
      race.dispose();
    }
  });

  it.each(landscapes.map((l) => [l.id, l] as const))(
    '%s: 200 steps keep every loss finite, Adam gains, and a rerun is identical',
    (_id, L) => {
      const a = createRace(api, engine, L, settings(L));
      const b = createRace(api, engine, L, settings(L));
      try {
        a.step(200);
        b.step(120);
        b.step(80);
        const sa = a.state();
        expect(sa.steps).toBe(200);
        for (const o of sa.optimizers) {
          expect(o.diverged, o.name).toBeNull();
          expect(Number.isFinite(o.loss), o.name).toBe(true);
        }
        const adam = sa.optimizers.find((o: { name: string }) => o.name === 'Adam');
        expect(adam.loss).toBeLessThan(adam.startLoss);
        expect(b.state()).toEqual(sa);
      } finally {
        a.dispose();
        b.dispose();
      }
    },
  );

  it('a contender whose step throws (non-finite gradient) is stopped and marked, the others go on', () => {
    const L = { ...landscapes[1], grad: (x: number, y: number) => (x > -7.5 ? [NaN, NaN] : [x, 100 * y]) };
    const race = createRace(api, engine, L, settings(landscapes[1]));
    try {
      race.step(60);
      const st = race.state();
      const diverged = st.optimizers.filter((o: { diverged: string | null }) => o.diverged !== null);
      expect(diverged.length).toBeGreaterThan(0);
      for (const o of diverged) expect(o.diverged).toMatch(/NaN or Infinity/);
      expect(st.steps).toBe(60);
    } finally {
      race.dispose();
    }
  });
});

describe('playground meta-gradient panel', () => {
  it("Adam's dL/dlr and dL/dβ1 after 100 steps match central differences of plain runs", async () => {
    // @ts-expect-error plain JavaScript module without type declarations
    const { metaRun, metaStep, META_STEPS } = await import('../playground/meta.js');
    for (const L of landscapes.filter((l) => l.id === 'canyon' || l.id === 'rosenbrock')) {
      const s = { lrAdaptive: L.lrAdaptive / 3, beta1: 0.8, beta2: 0.99, eps: 1e-8 };
      const m = metaRun(api, engine, L, s);
      expect(m.path.length).toBe(META_STEPS + 1);
      const fd = (key: 'lrAdaptive' | 'beta1', h: number): number => {
        const up = metaRun(api, engine, L, { ...s, [key]: s[key] + h }, META_STEPS, false).loss;
        const down = metaRun(api, engine, L, { ...s, [key]: s[key] - h }, META_STEPS, false).loss;
        return (up - down) / (2 * h);
      };
      expect(Math.abs(m.dLdlr - fd('lrAdaptive', s.lrAdaptive * 1e-2))).toBeLessThan(0.05 * Math.abs(m.dLdlr) + 1e-6);
      expect(Math.abs(m.dLdbeta1 - fd('beta1', 1e-3))).toBeLessThan(0.05 * Math.abs(m.dLdbeta1) + 1e-6);
      // A meta step moves lr against the sign of dL/dlr.
      const next = metaStep(s, m.dLdlr, m.dLdbeta1);
      expect(Math.sign(next.lrAdaptive - s.lrAdaptive)).toBe(-Math.sign(m.dLdlr));
    }
  });
});
