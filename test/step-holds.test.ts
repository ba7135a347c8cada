// A dense step whose hyper blocks already hold what it would write skips the write (StepTable.holds:
// the last write changed nothing, and the rates, the gradient scale and the clamp bounds are those
// of the blocks). Whatever changes between steps (a group's rate, a schedule, the scale, clipping,
// a skipped step, the exact checks' path, a new group, a loaded state dict going back), the optimizer must step exactly as
// one that writes whole blocks before every step (here: one that loads its own state dict first,
// which lays its table out again).
import { describe, expect, it } from 'vitest';
import { OPTIMIZERS, stepLR } from '../src/index.js';
import { engineFor } from './engines.js';

type Name = keyof typeof OPTIMIZERS;

/** The optimizers with steady writers (declaration.steadyFrom), with options that keep them steady. */
const CASES: [Name, Record<string, unknown>][] = [
  ['SGD', {}],
  ['SGD', { momentum: 0.9 }],
  ['SGD', { momentum: 0.9, nesterov: true, weightDecay: 0.01 }],
  ['RMSprop', {}],
  ['RMSprop', { centered: true }],
  ['RMSprop', { centered: true, momentum: 0.5, weightDecay: 0.01 }],
  ['Adagrad', {}],
  ['Adadelta', {}],
  ['Lion', {}],
];

/** What happens before step s (1-based) of the sequence, to both optimizers. */
type Event = (x: { opt: InstanceType<(typeof OPTIMIZERS)[Name]> }) => void;
const EVENTS: Record<number, Event> = {
  // Steps 1-4 as usual: the blocks go steady and the step finds them right.
  5: ({ opt }) => void (opt.paramGroups[0].lr = 0.02),
  8: ({ opt }) => void (opt.lr = stepLR({ lr: 0.03, stepSize: 2, gamma: 0.5 })),
  13: ({ opt }) => void (opt.lr = 0.01),
  18: ({ opt }) => void opt.addParamGroup({ lr: 0.004 }),
};

// Under 'ignore' the usual step skips the max |g| pass (the bench's setting): the same events.
describe.each(['skip', 'ignore'])('dense steps that find their hyper blocks already right (nonFinite %s)', (mode) => {
  it.each(CASES)('%s %j: steps as one that writes whole blocks every step', async (name, options) => {
    const engine = await engineFor('simd');
    const Ctor = OPTIMIZERS[name];
    const n = 21;
    const init = Float32Array.from({ length: n }, (_, i) => 0.3 - 0.03 * i);
    const make = (nonFinite: string) => {
      const opt = new Ctor({ engine, lr: 0.01, nonFinite, ...options } as never);
      return { opt, p: opt.param(init), q: null as null | { grad: Float32Array; data: Float32Array } };
    };
    const a = make(mode);
    const b = make(mode);
    const taken = [true, true];
    try {
      for (let s = 1; s <= 24; s++) {
        for (const x of [a, b]) {
          EVENTS[s]?.(x);
          if (s === 18) x.q = x.opt.param(init, { group: 1 });
          // b lays its table out again before every step: every step writes whole blocks.
          if (x === b) x.opt.loadStateDict(x.opt.stateDict());
          const grad = init.map((v, i) => 0.1 * v + 0.01 * (i - s));
          // (Under 'ignore' neither: a NaN or overflowing state would be refused by b's state dict load.)
          if (s === 11 && mode === 'skip') grad[3] = NaN; // skipped: nothing changes, the next step is the same step
          // A gradient too large for the usual step's bound: the exact checks (skipped where its
          // square would overflow float32), then the usual step again.
          if (s === 16 && mode === 'skip') grad[0] = 3e19;
          x.p.grad.set(grad);
          x.q?.grad.set(grad.map((v) => -v));
          // Step 15: another gradient scale.
          const stepOptions = s === 15 ? { gradScale: 0.5 } : undefined;
          taken[x === a ? 0 : 1] = x.opt.step(stepOptions);
        }
        expect(taken[0], `step ${s}`).toBe(taken[1]);
        if (s === 11) expect(taken[0]).toBe(mode === 'ignore');
        expect(Array.from(a.p.data), `step ${s}`).toEqual(Array.from(b.p.data));
        if (a.q && b.q) expect(Array.from(a.q.data), `step ${s}, group 1`).toEqual(Array.from(b.q.data));
      }
      // A state dict that goes back to step 2 (before SGD's first-step flag settles), then steps.
      const back = make('skip');
      back.p.grad.set(init.map((v) => 0.2 * v));
      back.opt.step();
      back.opt.step();
      const dict = back.opt.stateDict();
      back.opt.dispose();
      for (const x of [a, b]) {
        const fresh = new Ctor({ engine, lr: 0.01, ...options } as never);
        fresh.param(init);
        x.opt.dispose();
        x.opt = fresh;
        x.p = fresh.params[0];
      }
      for (let s = 1; s <= 4; s++) {
        for (const x of [a, b]) {
          if (s === 3) x.opt.loadStateDict(dict);
          if (x === b) x.opt.loadStateDict(x.opt.stateDict());
          x.p.grad.set(init.map((v, i) => 0.05 * v - 0.002 * i * s));
          x.opt.step();
        }
        expect(Array.from(a.p.data), `after the load, step ${s}`).toEqual(Array.from(b.p.data));
      }
    } finally {
      a.opt.dispose();
      b.opt.dispose();
    }
  });
});

describe('the usual step after the table changes', () => {
  it.each(['skip', 'ignore'])('steps a param added to the only group after some steps (nonFinite %s)', async (mode) => {
    const engine = await engineFor('simd');
    for (const [name, options] of CASES) {
      const Ctor = OPTIMIZERS[name];
      const opt = new Ctor({ engine, lr: 0.01, nonFinite: mode, ...options } as never);
      const ref = new Ctor({ engine, lr: 0.01, nonFinite: mode, ...options } as never);
      try {
        const init = Float32Array.from({ length: 37 }, (_, i) => 0.5 - 0.02 * i);
        const grad = init.map((v, i) => 0.1 * v - 0.003 * i);
        const p = opt.param(init);
        p.grad.set(grad);
        for (let s = 0; s < 4; s++) opt.step();
        // A second param: the step that lays the table out again and the usual steps after it step it.
        const q = opt.param(init);
        const r = ref.param(init);
        q.grad.set(grad);
        r.grad.set(grad);
        for (let s = 1; s <= 3; s++) {
          opt.step();
          ref.step();
          expect(Array.from(q.data), `${name} ${JSON.stringify(options)} step ${s}`).toEqual(Array.from(r.data));
        }
        expect(Array.from(q.data)).not.toEqual(Array.from(init));
      } finally {
        opt.dispose();
        ref.dispose();
      }
    }
  });
});
