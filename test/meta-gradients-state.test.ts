// Meta-gradients: state dicts and checkpoints carry the tangents (a resumed run continues bit for
// bit), a mismatch is refused clearly, untrack/dispose free the tangents, and bad input throws an
// error that names the fix and changes nothing.
import { describe, expect, it } from 'vitest';
import {
  Adagrad,
  Adam,
  AdamW,
  CheckpointError,
  Lion,
  RMSprop,
  SGD,
  cosineLR,
  type Engine,
  type Optimizer,
} from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';

const X0 = [0.5, -1.5, 2, 0.25, -0.75, 1.25, 3];
const hess = (i: number): number => 1 + (i % 3);
const gradAt = (x: ArrayLike<number>): Float32Array => Float32Array.from(x, (v, i) => hess(i) * v - 0.5);

function stepHvp(opt: Optimizer): void {
  const p = opt.params[0];
  p.grad.set(gradAt(p.data));
  opt.step({ hvp: ([v]) => [v.map((y, i) => hess(i) * y)] });
}

/** Every param value (as bits), state tensor and tangent. */
function snapshot(opt: Optimizer): unknown {
  return { data: opt.params.map((p) => Array.from(new Uint32Array(p.data.slice().buffer))), dict: opt.stateDict() };
}

const KINDS: [string, (engine: Engine) => Optimizer, string[]][] = [
  ['Adam', (engine) => new Adam({ lr: 0.05, weightDecay: 0.01, engine }), ['lr', 'beta1', 'beta2']],
  ['AdamW', (engine) => new AdamW({ lr: 0.05, engine }), ['lr', 'weightDecay']],
  ['SGD', (engine) => new SGD({ lr: 0.05, momentum: 0.9, engine }), ['lr', 'momentum']],
  ['RMSprop', (engine) => new RMSprop({ lr: 0.01, momentum: 0.3, centered: true, engine }), ['alpha', 'momentum']],
  [
    'Adagrad',
    (engine) => new Adagrad({ lr: 0.1, initialAccumulatorValue: 0.1, engine }),
    ['lr', 'initialAccumulatorValue'],
  ],
];

describe.each(BUILD_NAMES)('meta-gradient state (%s build)', (build) => {
  it.each(KINDS)(
    '%s: stateDict and save() carry the tangents; a resumed run continues bit for bit',
    async (_k, make, names) => {
      const engine = await engineFor(build);
      const a = make(engine);
      a.param(X0);
      a.trackMetaGradients(names, { mode: 'hvp' });
      for (let t = 0; t < 7; t++) stepHvp(a);
      const dict = a.stateDict();
      const data = a.params[0].data.slice();
      expect(dict.metaGradients?.names).toEqual(names);
      const bytes = a.save();
      for (let t = 0; t < 6; t++) stepHvp(a);

      // A binary checkpoint into a fresh optimizer (no params): params and tangents are created.
      const b = make(engine);
      b.load(bytes);
      expect(b.metaGradientNames).toEqual(names);
      // A state dict into an optimizer with the same param, not tracking yet: it adopts the tracking.
      const c = make(engine);
      c.param(X0);
      c.loadStateDict(dict);
      c.params[0].data.set(data);
      for (const o of [b, c]) {
        for (let t = 0; t < 6; t++) stepHvp(o);
        expect(snapshot(o)).toEqual(snapshot(a));
        const v = [Float32Array.from(X0, (x) => x - 1)];
        expect(o.metaGradient(v)).toEqual(a.metaGradient(v));
      }
      for (const o of [a, b, c]) o.dispose();
    },
  );

  it('a mismatch between the state dict and the tracking is refused, and nothing changes', async () => {
    const engine = await engineFor(build);
    const a = new Adam({ lr: 0.05, engine });
    a.param(X0);
    a.trackMetaGradients(['lr'], { mode: 'hvp' });
    stepHvp(a);
    const dict = a.stateDict();
    const b = new Adam({ lr: 0.05, engine });
    b.param(X0);
    b.trackMetaGradients(['beta1'], { mode: 'hvp' });
    const before = snapshot(b);
    expect(() => b.loadStateDict(dict)).toThrow(
      /tracks \[lr\] in 'hvp' mode, this Adam \[beta1\].*untrackMetaGradients/,
    );
    expect(snapshot(b)).toEqual(before);
    const plain = new Adam({ lr: 0.05, engine });
    plain.param(X0);
    plain.step();
    expect(() => b.loadStateDict(plain.stateDict())).toThrow(/carries no meta-gradient tangents.*untrackMetaGradients/);
    expect(snapshot(b)).toEqual(before);
    // A checkpoint whose tangents are cut short: a CheckpointError, nothing changes.
    const bad = structuredClone(dict);
    bad.metaGradients!.tangents[0].lr.param = new Float32Array(3);
    const c = new Adam({ lr: 0.05, engine });
    c.param(X0);
    expect(() => c.loadStateDict(bad)).toThrow(/tangent 'param' for 'lr' is missing or has the wrong length/);
    expect(c.metaGradientNames).toEqual([]);
    const bytes = a.save();
    const d = new Adam({ lr: 0.05, engine });
    d.param(X0);
    d.trackMetaGradients(['eps']);
    expect(() => d.load(bytes)).toThrow(CheckpointError);
    expect(d.metaGradientNames).toEqual(['eps']);
    for (const o of [a, b, c, d, plain]) o.dispose();
  });

  it('untrack and dispose free the tangents', async () => {
    const engine = await engineFor(build);
    const base = engine.memoryStats().bytesInUse;
    const a = new Adam({ lr: 0.05, engine });
    a.param(1000);
    const withParams = engine.memoryStats().bytesInUse;
    a.trackMetaGradients(['lr', 'beta1'], { mode: 'hvp' });
    // per tracked name: dθ, dm, dv and the gradient tangent, 4000 bytes each
    expect(engine.memoryStats().bytesInUse - withParams).toBeGreaterThanOrEqual(2 * 4 * 4000);
    a.untrackMetaGradients();
    expect(engine.memoryStats().bytesInUse).toBe(withParams);
    expect(() => a.metaGradient()).toThrow(/no meta-gradients are tracked; call trackMetaGradients\(\) first/);
    a.trackMetaGradients(['lr']);
    a.dispose();
    expect(engine.memoryStats().bytesInUse).toBe(base);
  });

  it('bad input names the fix and changes nothing', async () => {
    const engine = await engineFor(build);
    const a = new Adam({ lr: 0.05, engine });
    a.param(X0);
    expect(() => a.trackMetaGradients(['momentum'])).toThrow(
      /Adam has no hyperparameter 'momentum' to track; it has lr, beta1, beta2, eps, weightDecay/,
    );
    expect(() => a.trackMetaGradients([])).toThrow(/non-empty array/);
    expect(() => a.trackMetaGradients(['lr', 'lr'])).toThrow(/named twice/);
    expect(() => a.trackMetaGradients(['lr'], { mode: 'exact' as never })).toThrow(/'mode' must be one of/);
    expect(() => a.trackMetaGradients(['lr'], { fdEpsilon: 0 })).toThrow(/fdEpsilon/);
    expect(a.metaGradientNames).toEqual([]);
    // A step without its callback (or with the other one): nothing changes.
    a.trackMetaGradients(['lr'], { mode: 'hvp' });
    const before = snapshot(a);
    a.params[0].grad.set(gradAt(X0));
    expect(() => a.step()).toThrow(/'hvp' mode, which needs step\(\{ hvp \}\)/);
    expect(() => a.step({ gradFn: () => [] })).toThrow(/'gradFn' is for 'finite-difference' mode/);
    expect(() => a.step({ hvp: () => [new Float32Array(2)] })).toThrow(
      /hvp returned .* for param #0; expected 7 numbers/,
    );
    expect(() => a.step({ hvp: ([v]) => [v.map(() => NaN)] })).toThrow(/hvp returned NaN .*finite/);
    expect(snapshot(a)).toEqual(before);
    expect(a.stepCount).toBe(0);
    // Params added after tracking.
    a.param(3);
    expect(() => stepHvp(a)).toThrow(
      /params were added after trackMetaGradients\(\); call trackMetaGradients\(\) again/,
    );
    a.dispose();
    // Options and optimizers it does not support.
    const ams = new Adam({ amsgrad: true, engine });
    ams.param(X0);
    expect(() => ams.trackMetaGradients(['lr'])).toThrow(/AMSGrad.*amsgrad: false/);
    const sched = new Adam({ lr: cosineLR({ peak: 0.1, decaySteps: 10 }), engine });
    sched.param(X0);
    expect(() => sched.trackMetaGradients(['lr'])).toThrow(/lr schedule; set a number/);
    const clip = new Adam({ clipGradNorm: 1, engine });
    clip.param(X0);
    expect(() => clip.trackMetaGradients(['lr'])).toThrow(/without clipGradNorm and clipGradValue/);
    const groups = new Adam({ engine });
    groups.param(X0);
    groups.param(X0, { group: groups.addParamGroup({ lr: 0.5 }) });
    expect(() => groups.trackMetaGradients(['lr'])).toThrow(/single param group/);
    const sgd = new SGD({ lr: 0.1, engine });
    sgd.param(X0);
    expect(() => sgd.trackMetaGradients(['momentum'])).toThrow(/create the SGD with momentum > 0/);
    const ada = new Adagrad({ engine });
    ada.param(X0);
    ada.step();
    expect(() => ada.trackMetaGradients(['initialAccumulatorValue'])).toThrow(/before the first step/);
    const lion = new Lion({ engine });
    lion.param(X0);
    expect(() => lion.trackMetaGradients(['lr'])).toThrow(/use Adam, AdamW, SGD, RMSprop or Adagrad/);
    const none = new Adam({ engine });
    expect(() => none.trackMetaGradients(['lr'])).toThrow(/no params; add them first/);
    expect(() => none.step({ hvp: () => [] })).toThrow(/meta-gradients, which are not tracked/);
    for (const o of [ams, sched, clip, groups, sgd, ada, lion, none]) o.dispose();
  });

  it("'finite-difference' forward and central agree with 'hvp' on a quadratic", async () => {
    const engine = await engineFor(build);
    const mg = (mode: 'hvp' | 'finite-difference', fdScheme?: 'central' | 'forward'): Record<string, number> => {
      const a = new Adam({ lr: 0.05, engine });
      const p = a.param(X0);
      a.trackMetaGradients(['lr', 'beta1'], { mode, ...(fdScheme ? { fdScheme } : {}) });
      for (let t = 0; t < 20; t++) {
        p.grad.set(gradAt(p.data));
        if (mode === 'hvp') a.step({ hvp: ([v]) => [v.map((y, i) => hess(i) * y)] });
        else a.step({ gradFn: ([x]) => [gradAt(x)] });
      }
      const out = a.metaGradient([Float32Array.from(p.data, (x) => x - 1)]);
      a.dispose();
      return out;
    };
    const exact = mg('hvp');
    for (const s of ['central', 'forward'] as const) {
      const fd = mg('finite-difference', s);
      for (const n of ['lr', 'beta1']) expect(Math.abs(fd[n] - exact[n])).toBeLessThan(1e-3 * Math.abs(exact[n]));
    }
  });
});
