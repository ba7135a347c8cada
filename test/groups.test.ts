// Param groups: per-group hyperparameters in one optimizer (PyTorch's param_groups), each group
// checked against its own float64 reference, one call into wasm per step for all groups, group
// state layouts that differ, the lr setters, validation, state dicts and checkpoints.
import { beforeAll, describe, expect, it } from 'vitest';
import { Adam, AdamW, ParamGroup, SGD, constantLR, exponentialLR, type Engine } from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { bitDiffs, fillGrad, mismatches, randomF32, rng, type AnyOptimizer } from './dense-util.js';
import { refOf, type AnyKind } from './training-util.js';
import type { RefOptimizer } from './reference/index.js';

/** Params of `opt` and their references, per group. */
interface Grouped {
  opt: AnyOptimizer;
  refs: RefOptimizer<object>[];
  groupOf: number[];
}

function build(
  kind: AnyKind,
  base: Record<string, unknown>,
  groups: Record<string, unknown>[],
  sizes: number[][],
  engine: Engine,
  seed: number,
): Grouped {
  const opt = new ({ Adam, AdamW, SGD } as Record<string, new (o: object) => AnyOptimizer>)[kind]({ ...base, engine });
  const handles = [opt.paramGroups[0], ...groups.map((g) => opt.addParamGroup(g as never))];
  const refs = handles.map((_h, i) => refOf(kind, { ...base, ...(i === 0 ? {} : groups[i - 1]) }));
  const r = rng(seed);
  const groupOf: number[] = [];
  // Interleave the groups' params, so that a group is not one contiguous run of the table.
  const longest = Math.max(...sizes.map((s) => s.length));
  for (let k = 0; k < longest; k++) {
    sizes.forEach((list, g) => {
      if (k >= list.length) return;
      const p = handles[g].param(randomF32(list[k], r));
      refs[g].addParam(p.data);
      groupOf.push(g);
    });
  }
  return { opt, refs, groupOf };
}

/** Steps all groups together and each reference with its own params' gradients. */
function stepGrouped(x: Grouped, r: () => number): void {
  const perGroup: Float32Array[][] = x.refs.map(() => []);
  x.opt.params.forEach((p, i) => {
    const g = fillGrad(new Float32Array(p.length), 'normal', r);
    p.grad.set(g);
    perGroup[x.groupOf[i]].push(g);
  });
  x.opt.step();
  x.refs.forEach((ref, g) => ref.step(perGroup[g]));
}

/** Mismatches of each group's params against its reference. */
function groupMismatches(x: Grouped, label: string, scales: Map<string, number>[]): string[] {
  return x.refs.flatMap((ref, g) => {
    const sub = { params: x.opt.params.filter((_p, i) => x.groupOf[i] === g) } as unknown as AnyOptimizer;
    return mismatches(sub, ref, `${label} group ${g}`, undefined, scales[g]);
  });
}

describe.each(BUILD_NAMES)('param groups against per-group float64 references (%s)', (build_) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await engineFor(build_);
  });

  it.each([
    // The usual split: weights with decay, biases and norms without.
    ['AdamW', { lr: 0.02, weightDecay: 0.1 }, [{ weightDecay: 0 }]],
    // Groups that differ in state layout (AMSGrad adds max_exp_avg_sq) and in maximize.
    [
      'Adam',
      { lr: 0.02 },
      [
        { amsgrad: true, lr: 0.05 },
        { betas: [0.5, 0.9], maximize: true, weightDecay: 0.1 },
      ],
    ],
    // Momentum in one group only (the other has no momentum_buffer), Nesterov in a third.
    ['SGD', { lr: 0.05 }, [{ momentum: 0.9 }, { momentum: 0.5, nesterov: true, lr: 0.01 }]],
  ] as const)('%s %j with groups %j', (kind, base, groups) => {
    const x = build(
      kind,
      base,
      groups as unknown as Record<string, unknown>[],
      [
        [7, 1000],
        [1, 33, 4099],
        [16, 5],
      ].slice(0, groups.length + 1),
      engine,
      71,
    );
    const r = rng(72);
    const scales = x.refs.map(() => new Map<string, number>());
    for (let t = 1; t <= 15; t++) {
      stepGrouped(x, r);
      expect(groupMismatches(x, `${kind} step ${t}`, scales)).toEqual([]);
    }
    x.opt.dispose();
  });

  it('all groups step in one call into wasm', () => {
    const x = build(
      'Adam',
      { lr: 0.01 },
      [{ weightDecay: 0.1 }, { amsgrad: true }],
      [[10, 20], [30], [40, 50]],
      engine,
      73,
    );
    const e = engine as unknown as Record<string, (...a: number[]) => unknown>;
    let calls = 0;
    const orig = e.kernel;
    // The optimizer looks its kernel up once, at its first step: count the calls of what it gets.
    e.kernel = (...a) => {
      const f = orig.apply(engine, a) as (...b: number[]) => unknown;
      return (...b: number[]) => {
        calls++;
        return f(...b);
      };
    };
    try {
      stepGrouped(x, rng(74));
      stepGrouped(x, rng(75));
    } finally {
      delete e.kernel;
    }
    expect(calls).toBe(2);
    x.opt.dispose();
  });

  it('opt.lr sets every group (PyTorch: for g in param_groups: g["lr"] = v); group.lr sets one', () => {
    const opt = new SGD({ lr: 0.1, engine });
    const bias = opt.addParamGroup({ lr: 0.5, weightDecay: 0 });
    const w = opt.param([0]);
    const b = bias.param([0]);
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.1, 0.5]);
    w.grad.set([1]);
    b.grad.set([1]);
    opt.step(); // w = -0.1, b = -0.5
    bias.lr = 0.25;
    w.grad.set([1]);
    b.grad.set([1]);
    opt.step(); // w = -0.2, b = -0.75
    opt.lr = exponentialLR({ lr: 1, gamma: 0.5 });
    expect(bias.lr).toBe(1);
    w.grad.set([1]);
    b.grad.set([1]);
    opt.step(); // both 1: w = -1.2, b = -1.75
    w.grad.set([1]);
    b.grad.set([1]);
    opt.step(); // both 0.5
    expect(w.data[0]).toBeCloseTo(-1.7, 6);
    expect(b.data[0]).toBeCloseTo(-2.25, 6);
    expect(bias.params).toEqual([b]);
    expect(opt.paramGroups[0].params).toEqual([w]);
    expect(bias.options).toMatchObject({ lr: 0.25, weightDecay: 0, momentum: 0 });
    opt.dispose();
    expect(() => bias.lr).toThrow(/disposed/);
  });

  it('a group inherits the optimizer options it does not set, its lr schedule included', () => {
    const schedule = exponentialLR({ lr: 0.1, gamma: 0.9 });
    const opt = new Adam({ lr: schedule, betas: [0.8, 0.99], engine });
    opt.param(3).grad.fill(1);
    opt.step();
    const g = opt.addParamGroup({ weightDecay: 0.5 });
    expect(g.lrSchedule).toBe(schedule);
    expect(g.lr).toBeCloseTo(0.09, 15); // the shared schedule, at the optimizer's position
    expect(g.options).toMatchObject({ betas: [0.8, 0.99], weightDecay: 0.5, amsgrad: false });
    const h = opt.addParamGroup({ lr: constantLR(0.3) });
    expect(h.lr).toBe(0.3);
    opt.dispose();
  });

  it.each([
    [{ nonFinite: 'skip' }, TypeError, /'nonFinite' applies to the whole optimizer/],
    [{ clipGradNorm: 1 }, TypeError, /'clipGradNorm' applies to the whole optimizer/],
    [{ weight_decay: 0 }, TypeError, /did you mean 'weightDecay'/],
    [{ lr: -1 }, RangeError, /'lr' must be >= 0, got -1/],
    [{ betas: [1, 0.9] }, RangeError, /'betas\[0\]'/],
    [null, TypeError, /options must be an object/],
  ] as const)('addParamGroup(%j) throws and adds nothing', (options, E, msg) => {
    const opt = new Adam({ engine });
    expect(() => opt.addParamGroup(options as never)).toThrow(E);
    expect(() => opt.addParamGroup(options as never)).toThrow(msg);
    expect(opt.paramGroups.length).toBe(1);
    opt.dispose();
  });

  it('param(x, { group }) checks the group', () => {
    const a = new Adam({ engine });
    const b = new Adam({ engine });
    const gb = b.addParamGroup({});
    const before = engine.memoryStats().bytesInUse;
    expect(() => a.param(3, { group: gb })).toThrow(/param group of another optimizer/);
    expect(() => a.param(3, { group: 1 })).toThrow(/'group' is 1, but this optimizer has groups 0..0/);
    expect(() => a.param(3, { group: 'x' as never })).toThrow(TypeError);
    expect(() => a.param(3, { grp: 0 } as never)).toThrow(/unknown option 'grp'/);
    expect(engine.memoryStats().bytesInUse).toBe(before);
    expect(a.param(3, { group: 0 }).stateKeys).toEqual(['exp_avg', 'exp_avg_sq']);
    expect(gb).toBeInstanceOf(ParamGroup);
    a.dispose();
    b.dispose();
  });

  it('groups, memberships and schedules go through stateDict and checkpoints; runs continue bit for bit', () => {
    const make = (): Grouped =>
      build(
        'Adam',
        { lr: 0.02 },
        [{ weightDecay: 0.1, lr: exponentialLR({ lr: 0.05, gamma: 0.95 }) }, { betas: [0.5, 0.9] }],
        [[7, 33], [1000], [4, 5]],
        engine,
        81,
      );
    const straight = make();
    const r1 = rng(82);
    for (let t = 0; t < 12; t++) stepGrouped(straight, r1);

    const first = make();
    const r2 = rng(82);
    for (let t = 0; t < 5; t++) stepGrouped(first, r2);
    const dict = first.opt.stateDict();
    expect(dict.groups?.length).toBe(3);
    expect(dict.params.map((p) => p.group ?? 0)).toEqual(first.groupOf);

    // Into an optimizer whose params are all in group 0: groups are adopted, memberships restored.
    const second = new Adam({ engine });
    first.opt.params.forEach((p) => second.param(p.data));
    second.loadStateDict(dict);
    expect(second.paramGroups.length).toBe(3);
    expect(second.params.map((p) => p.group)).toEqual(first.groupOf);
    expect(second.paramGroups[1].lr).toBe(first.opt.paramGroups[1].lr);
    // And from a checkpoint into a fresh optimizer.
    const third = new Adam({ engine });
    third.load(first.opt.save());
    expect(third.params.map((p) => p.group)).toEqual(first.groupOf);
    for (const o of [second, third]) {
      // Continue with the gradients of the straight run: replay the generator's first 5 steps.
      const rr = rng(82);
      for (let t = 0; t < 5; t++) first.opt.params.forEach((p) => fillGrad(new Float32Array(p.length), 'normal', rr));
      for (let t = 5; t < 12; t++) {
        o.params.forEach((p) => p.grad.set(fillGrad(new Float32Array(p.length), 'normal', rr)));
        o.step();
      }
      expect(bitDiffs(straight.opt, o, 'resumed groups')).toEqual([]);
    }
    // A state dict whose params name a group it does not have is refused, nothing changes.
    const bad = { ...dict, params: dict.params.map((p, i) => (i === 0 ? { ...p, group: 7 } : p)) };
    expect(() => second.loadStateDict(bad)).toThrow(/param #0 is in group 7, but the state dict has groups 0..2/);
    for (const o of [straight.opt, first.opt, second, third]) o.dispose();
  });

  it('a state dict whose group needs another state layout than the param holds is refused', () => {
    const a = new Adam({ engine });
    const g = a.addParamGroup({ amsgrad: true });
    g.param(4);
    const dict = a.stateDict();
    const b = new Adam({ engine });
    b.param(4);
    expect(() => b.loadStateDict(dict)).toThrow(
      /param #0's options in the state dict need state \[exp_avg, exp_avg_sq, max_exp_avg_sq\] but it holds \[exp_avg, exp_avg_sq\]/,
    );
    expect(b.paramGroups.length).toBe(1);
    a.dispose();
    b.dispose();
  });
});
