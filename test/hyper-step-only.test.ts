// A dense step writes a param cohort's whole hyper block once, then only the slots that move from
// step to step (`stepOnly` of OptimizerDeclaration.writeHyper: those that depend on lr, t and the
// gradient scale). That is only right when every writer puts each such slot before its early
// return. These tests hold every declaration to it: a whole block at one step, then a step-only
// write at another (with another lr and scale), equals a whole block written at the second step,
// bit for bit, under options that move every flag; and dense optimizers whose options or groups
// change between steps still step as a fresh optimizer with the new options.
import { describe, expect, it } from 'vitest';
import { OPTIMIZERS, SLOT, StepSeries, TABLE_ONLY_DECLARATIONS } from '../src/index.js';
import { resolveCommon, type AnyDeclaration, type HyperWriter } from '../src/core/declaration.js';
import { Powers, vanishesFrom } from '../src/core/powers.js';
import { radamSteadyFrom } from '../src/optimizers/radam.js';
import { engineFor } from './engines.js';

/** Options that each switch some slot or flag of some writer; those a declaration does not know are left out. */
const VARIANTS: Record<string, unknown>[] = [
  {},
  { weightDecay: 0.01 },
  { weightDecay: 0.05, maximize: true },
  { momentum: 0.9 },
  { momentum: 0.9, nesterov: true, weightDecay: 0.01 },
  { momentum: 0.9, dampening: 0.5 },
  { amsgrad: true, betas: [0.8, 0.99] },
  { centered: true, momentum: 0.5, alpha: 0.9 },
  { lrDecay: 0.01, eps: 1e-6 },
  { decoupledWeightDecay: true, weightDecay: 0.01 },
  { momentumDecay: 0.01 },
  { rho: 0.95 },
  { l1: 0.001, l2: 0.01, l2Shrinkage: 0.01, beta: 0.1 },
  { learningRatePower: -0.6 },
  { weightDecayMode: 'l2', weightDecay: 0.01 },
  { weightDecayMode: 'decoupled', weightDecay: 0.01 },
  { hypergradLr: 1e-4 },
];

const DECLARATIONS: AnyDeclaration[] = [
  ...Object.values(OPTIMIZERS).map((c) => c.declaration as AnyDeclaration),
  ...TABLE_ONLY_DECLARATIONS,
];

/** The options of `variant` this declaration knows, resolved (null when it refuses them). */
function resolved(decl: AnyDeclaration, variant: Record<string, unknown>): Record<string, unknown> | null {
  const own = Object.fromEntries(Object.entries(variant).filter(([k]) => decl.options.includes(k)));
  if (Object.keys(own).length !== Object.keys(variant).length) return null;
  try {
    return { ...resolveCommon(decl, own, decl.name), ...decl.resolve(own, decl.name) };
  } catch {
    return null;
  }
}

/** A block of HYPER_SLOTS words, filled with a pattern no writer writes, and a writer over it. */
function block(): { f: Float32Array; u: Uint32Array; w: HyperWriter } {
  const f = new Float32Array(SLOT.HYPER_SLOTS).fill(-12345.5);
  const i = new Int32Array(f.buffer);
  return {
    f,
    u: new Uint32Array(f.buffer),
    w: {
      f32: (slot, v) => void (f[slot] = v),
      flag: (slot, on) => void (i[slot] = on ? 1 : 0),
    },
  };
}

// (t1, t2): the next step, a step across a powers anchor (64) and a mu anchor (256), a jump back
// (a loaded state dict), and RAdam's rectification switching on (rho_t > 5 from t = 6).
const STEPS: [number, number][] = [
  [1, 2],
  [2, 3],
  [5, 6],
  [63, 64],
  [64, 65],
  [255, 256],
  [1000, 7],
  [7, 100000],
];

describe('hyper blocks: a step-only write equals a whole one', () => {
  it.each(DECLARATIONS.map((d) => [d.name, d] as const))('%s', (_name, decl) => {
    let cases = 0;
    for (const variant of VARIANTS) {
      const o = resolved(decl, variant);
      if (o === null) continue;
      for (const [t1, t2] of STEPS) {
        const series = new StepSeries();
        const a = block();
        decl.writeHyper(a.w, { ...o, lr: 0.01 }, t1, 0.5, series);
        decl.writeHyper(a.w, { ...o, lr: 0.003 }, t2, -2, series, true);
        const b = block();
        decl.writeHyper(b.w, { ...o, lr: 0.003 }, t2, -2, new StepSeries());
        expect(Array.from(a.u), `${decl.name} ${JSON.stringify(variant)} t ${t1} -> ${t2}`).toEqual(Array.from(b.u));
        cases++;
      }
    }
    // Every declaration knows the defaults and at least one variant that changes a flag.
    expect(cases).toBeGreaterThanOrEqual(2 * STEPS.length);
  });
});

describe('hyper blocks: a steady writer writes the same block at every later step', () => {
  // A declaration's steadyFrom(o) lets a dense step skip its writer while the rate and the gradient
  // scale stay the same: the whole block at any step from there on must equal the one before it.
  const steadyOnes = DECLARATIONS.filter((d) => d.steadyFrom !== undefined);
  it('SGD, RMSprop, Adagrad, Adadelta, Lion, Adam, AdamW, Adamax and RAdam declare it', () => {
    for (const name of ['SGD', 'RMSprop', 'Adagrad', 'Adadelta', 'Lion', 'Adam', 'AdamW', 'Adamax', 'RAdam'])
      expect(steadyOnes.map((d) => d.name)).toContain(name);
  });
  it('Adam and Adamax are steady once 1 - b^t is exactly 1, and not before', () => {
    // vanishesFrom(b): Powers' b^t is at most 2^-54 from there on (1 - b^t rounds to 1).
    for (const b of [0, 1e-300, 0.1, 0.5, 0.6, 0.9, 0.99, 0.999, 0.9999]) {
      const from = vanishesFrom(b);
      const powers = new Powers();
      for (const t of [from, from + 1, from + 63, from + 64, from + 1000])
        expect(1 - powers.at(b, t), `b ${b} t ${t}`).toBe(1);
      // Not far too late either: a few steps before, b^t still moves the correction (b > 0).
      if (b >= 0.1) expect(1 - new Powers().at(b, Math.floor(from * 0.8)), `b ${b}`).toBeLessThan(1);
    }
    expect(vanishesFrom(0.999)).toBe(41570);
    // RAdam's: rho_t is exactly rho_inf from there on (b2 = 0.999: rho_inf = 1999).
    for (const b2 of [0.8, 0.9, 0.99, 0.999]) {
      const from = radamSteadyFrom(0.9, b2);
      const powers = new Powers();
      const rhoInf = 2 / (1 - b2) - 1;
      for (const t of [from, from + 1, from + 64, from + 5000]) {
        const b2t = powers.at(b2, t);
        expect(rhoInf - (2 * t * b2t) / (1 - b2t), `b2 ${b2} t ${t}`).toBe(rhoInf);
      }
    }
    expect(radamSteadyFrom(0.9, 0.999)).toBe(53138);
    expect(vanishesFrom(1)).toBe(Infinity);
  });
  it.each(steadyOnes.map((d) => [d.name, d] as const))('%s', (_name, decl) => {
    let cases = 0;
    for (const variant of VARIANTS) {
      const o = resolved(decl, variant);
      if (o === null) continue;
      const from = decl.steadyFrom!(o);
      if (!Number.isFinite(from)) continue;
      for (const t2 of [from + 1, from + 2, from + 63, from + 255, from + 100000]) {
        const series = new StepSeries();
        const a = block();
        decl.writeHyper(a.w, { ...o, lr: 0.003 }, from, -2, series);
        const b = block();
        decl.writeHyper(b.w, { ...o, lr: 0.003 }, t2, -2, series);
        expect(Array.from(b.u), `${decl.name} ${JSON.stringify(variant)} t ${from} -> ${t2}`).toEqual(Array.from(a.u));
        cases++;
      }
    }
    expect(cases).toBeGreaterThan(0);
  });
});

describe('dense steps after the options change', () => {
  it.each(Object.keys(OPTIMIZERS))(
    '%s: new groups, a loaded state dict and a changed rate step as a fresh optimizer would',
    async (name) => {
      const engine = await engineFor('simd');
      const Ctor = OPTIMIZERS[name as keyof typeof OPTIMIZERS];
      const init = Float32Array.from({ length: 7 }, (_, i) => 0.3 - 0.1 * i);
      const grad = Float32Array.from({ length: 7 }, (_, i) => 0.05 * (i - 3) + 0.01);
      // An option that every writer reads (FTRL has no weightDecay: its l2).
      const wd = Ctor.declaration.options.includes('weightDecay') ? 'weightDecay' : 'l2';
      const make = (options: Record<string, unknown>) => {
        const opt = new Ctor({ engine, lr: 0.01, ...options } as never);
        const p = opt.param(init);
        return { opt, p };
      };
      // A: 3 steps with the decay 0, then a state dict with the decay 0.1 is loaded, 3 more.
      const a = make({});
      const b = make({ [wd]: 0.1 });
      try {
        for (let s = 0; s < 3; s++) {
          a.p.grad.set(grad);
          a.opt.step();
        }
        const dict = a.opt.stateDict();
        b.p.data.set(a.p.data); // a state dict holds the state, not the values
        b.opt.loadStateDict({ ...dict, options: { ...dict.options, [wd]: 0.1 } });
        a.opt.loadStateDict({ ...dict, options: { ...dict.options, [wd]: 0.1 } });
        for (let s = 0; s < 3; s++) {
          for (const x of [a, b]) {
            x.p.grad.set(grad);
            x.opt.step({ gradScale: s === 1 ? 0.5 : 1 });
          }
          if (s === 1) {
            a.opt.lr = 0.02;
            b.opt.lr = 0.02;
          }
        }
        expect(Array.from(a.p.data)).toEqual(Array.from(b.p.data));
        // A param in a new group with other options steps as that group's optimizer alone would.
        const g = a.opt.addParamGroup({ [wd]: 0.2, lr: 0.005 } as never);
        const q = g.param(init);
        const c = make({ [wd]: 0.2, lr: 0.005 });
        for (let s = 0; s < 3; s++) {
          for (const x of [q, c.p]) x.grad.set(grad);
          a.p.grad.set(grad);
          a.opt.step();
          c.opt.step();
        }
        expect(Array.from(q.data)).toEqual(Array.from(c.p.data));
        c.opt.dispose();
      } finally {
        a.opt.dispose();
        b.opt.dispose();
      }
    },
  );
});

describe('dense steps that skip a steady writer', () => {
  it.each(['SGD', 'RMSprop', 'Adagrad', 'Adadelta', 'Lion', 'SGDHD'])(
    '%s: rates and gradient scales that change between steps act as a whole block written at every step',
    async (name) => {
      const engine = await engineFor('simd');
      const Ctor = OPTIMIZERS[name as keyof typeof OPTIMIZERS];
      const init = Float32Array.from({ length: 9 }, (_, i) => 0.3 - 0.07 * i);
      const opts = name.startsWith('SGD') ? { momentum: 0.9 } : {};
      const make = () => {
        const opt = new Ctor({ engine, lr: 0.01, ...opts } as never);
        return { opt, p: opt.param(init) };
      };
      // A steps as usual; B lays its table out again before every step (a state dict loaded into
      // itself), so that every step writes whole blocks.
      const a = make();
      const b = make();
      const rates = [0.01, 0.01, 0.01, 0.02, 0.02, 0.02, 0.01, 0.01];
      const scales = [1, 1, 0.5, 0.5, 1, 1, 1, 0.25];
      try {
        for (let s = 0; s < rates.length; s++) {
          for (const x of [a, b]) {
            x.opt.lr = rates[s];
            if (x === b) x.opt.loadStateDict(x.opt.stateDict());
            x.p.grad.set(init.map((v, i) => 0.1 * v + 0.01 * (i - s)));
            x.opt.step({ gradScale: scales[s] });
          }
          expect(Array.from(a.p.data), `step ${s + 1}`).toEqual(Array.from(b.p.data));
        }
      } finally {
        a.opt.dispose();
        b.opt.dispose();
      }
    },
  );
});

describe('Adam-family steps past their steady step', () => {
  // Betas whose corrections vanish within a short test (vanishesFrom(0.6) = 83): steps before and
  // after it, with the rate and the gradient scale changed after it, act as a whole block written
  // at every step (B lays its table out again before each step).
  it.each([
    ['Adam', {}],
    ['Adam', { amsgrad: true, weightDecay: 0.01 }],
    ['AdamW', {}],
    ['Adamax', {}],
    ['AdamHD', {}],
    ['RAdam', { betas: [0.5, 0.8] }],
    ['RAdam', { betas: [0.5, 0.8], decoupledWeightDecay: true, weightDecay: 0.01 }],
  ] as const)('%s %j', async (name, extra) => {
    const engine = await engineFor('simd');
    const Ctor = OPTIMIZERS[name as keyof typeof OPTIMIZERS];
    const init = Float32Array.from({ length: 9 }, (_, i) => 0.3 - 0.07 * i);
    const make = () => {
      // RAdam: rho_inf = 9 > 5 with beta2 = 0.8 (rectified from step 6; steady from 215).
      const opt = new Ctor({ engine, lr: 0.01, betas: [0.5, 0.6], ...extra } as never);
      return { opt, p: opt.param(init) };
    };
    const a = make();
    const b = make();
    const from = Ctor.declaration.steadyFrom!(b.opt.options as never);
    expect(from).toBeLessThan(300);
    try {
      for (let s = 0; s < from + 20; s++) {
        const rate = s < from + 5 ? 0.01 : s < from + 12 ? 0.02 : 0.01;
        const scale = s === from + 8 ? 0.5 : 1;
        for (const x of [a, b]) {
          if (x.opt.lr !== rate) x.opt.lr = rate;
          if (x === b) x.opt.loadStateDict(x.opt.stateDict());
          x.p.grad.set(init.map((v, i) => 0.1 * v + 0.01 * (i - (s % 7))));
          x.opt.step({ gradScale: scale });
        }
        expect(Array.from(a.p.data), `step ${s + 1}`).toEqual(Array.from(b.p.data));
      }
    } finally {
      a.opt.dispose();
      b.opt.dispose();
    }
  });
});
