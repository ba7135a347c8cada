// Learning-rate schedules: values against PyTorch's and optax's published formulas and documented
// examples, JSON round trips, validation, and their use by the optimizers (the rate of every
// step, the position in state dicts and checkpoints, skipped steps, lr set mid-run).
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Adam,
  SGD,
  constantLR,
  cosineLR,
  exponentialLR,
  linearLR,
  multiStepLR,
  oneCycleLR,
  scheduleFromJSON,
  sequentialLR,
  stepLR,
  warmupLR,
  isSchedule,
  type Engine,
  type Schedule,
} from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { bitDiffs, drive, fillGrad, randomF32, rng } from './dense-util.js';
import { pairAny } from './training-util.js';

const values = (s: Schedule, steps: number[]): number[] => steps.map((t) => s.at(t));

function expectClose(got: number[], want: number[], digits = 12): void {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => expect(g).toBeCloseTo(want[i], digits));
}

describe('schedule values', () => {
  it('stepLR: the StepLR docs example (lr 0.05, step_size 30, gamma 0.1)', () => {
    // 0.05 for steps 0..29, 0.005 for 30..59, 0.0005 for 60..89
    expectClose(
      values(stepLR({ lr: 0.05, stepSize: 30 }), [0, 29, 30, 59, 60, 89]),
      [0.05, 0.05, 0.005, 0.005, 0.0005, 0.0005],
      15,
    );
  });

  it('multiStepLR: the MultiStepLR docs example (milestones [30, 80]); a repeated milestone applies gamma twice', () => {
    expectClose(
      values(multiStepLR({ lr: 0.05, milestones: [30, 80] }), [0, 29, 30, 79, 80, 500]),
      [0.05, 0.05, 0.005, 0.005, 0.0005, 0.0005],
      15,
    );
    expectClose(values(multiStepLR({ lr: 1, milestones: [2, 2], gamma: 0.5 }), [1, 2]), [1, 0.25]);
  });

  it('exponentialLR: lr gamma^t', () => {
    expectClose(values(exponentialLR({ lr: 2, gamma: 0.9 }), [0, 1, 2, 10]), [2, 1.8, 1.62, 2 * Math.pow(0.9, 10)]);
  });

  it('linearLR: the LinearLR docs example (lr 0.05, start_factor 0.5, total_iters 4)', () => {
    // 0.025, 0.03125, 0.0375, 0.04375, then 0.05
    expectClose(
      values(linearLR({ from: 0.025, to: 0.05, steps: 4 }), [0, 1, 2, 3, 4, 100]),
      [0.025, 0.03125, 0.0375, 0.04375, 0.05, 0.05],
    );
    expect(linearLR({ to: 3, steps: 0 }).at(0)).toBe(3);
  });

  it('cosineLR: optax warmup_cosine_decay_schedule(0, 1, warmup 10, decay 110, end 0.1)', () => {
    // warmup: t/10; then 0.1 + 0.9 * (1 + cos(pi (t - 10) / 100)) / 2; t = 60: 0.55; after 110: 0.1
    expectClose(
      values(cosineLR({ peak: 1, warmupSteps: 10, decaySteps: 110, floor: 0.1 }), [0, 5, 10, 60, 110, 1000]),
      [0, 0.5, 1, 0.55, 0.1, 0.1],
    );
  });

  it("cosineLR without warmup is CosineAnnealingLR's closed form up to T_max (eta_min + (lr - eta_min)(1 + cos(pi t / T)) / 2)", () => {
    const s = cosineLR({ peak: 0.1, decaySteps: 50, floor: 0.001 });
    for (let t = 0; t <= 50; t++)
      expect(s.at(t)).toBeCloseTo(0.001 + ((0.1 - 0.001) * (1 + Math.cos((Math.PI * t) / 50))) / 2, 14);
    expect(s.at(51)).toBe(0.001); // stays at the floor (PyTorch's restarts up again)
  });

  it('oneCycleLR: OneCycleLR(max_lr 1, total_steps 10), two and three phases, cos and linear', () => {
    // initial = 1/25 = 0.04, min = 0.04/1e4 = 4e-6; phase 1 ends at 0.3*10 - 1 = 2, phase 2 at 9.
    // t = 1: pct 0.5 -> halfway 0.52 in both strategies; t = 5: pct 3/7 of the way down (cos: 4e-6 + (1-4e-6)(cos(3pi/7)+1)/2)
    const cos = oneCycleLR({ maxLr: 1, totalSteps: 10 });
    expectClose(values(cos, [0, 1, 2, 5, 9, 50]), [
      0.04,
      0.52,
      1,
      4e-6 + ((1 - 4e-6) / 2) * (Math.cos((3 * Math.PI) / 7) + 1),
      4e-6,
      4e-6,
    ]);
    const lin = oneCycleLR({ maxLr: 1, totalSteps: 10, annealStrategy: 'linear' });
    expectClose(values(lin, [0, 1, 2, 5, 9]), [0.04, 0.52, 1, 1 + (4e-6 - 1) * (3 / 7), 4e-6]);
    // three phases end at 2, 4 (back to 0.04) and 9.
    const three = oneCycleLR({ maxLr: 1, totalSteps: 10, threePhase: true });
    expectClose(values(three, [0, 2, 3, 4, 9]), [0.04, 1, 0.52, 0.04, 4e-6]);
  });

  it('sequentialLR (optax join_schedules): each schedule counts from its boundary', () => {
    const s = sequentialLR([constantLR(1), exponentialLR({ lr: 2, gamma: 0.5 }), constantLR(7)], [5, 8]);
    expectClose(values(s, [0, 4, 5, 6, 7, 8, 100]), [1, 1, 2, 1, 0.5, 7, 7]);
    // warmupLR: linear from 0 to the next schedule's first value, then that schedule from its step 0.
    expectClose(values(warmupLR(3, exponentialLR({ lr: 1, gamma: 0.5 })), [0, 1, 2, 3, 4]), [0, 1 / 3, 2 / 3, 1, 0.5]);
  });

  it('every schedule survives toJSON / scheduleFromJSON (through JSON text) with the same values', () => {
    const all: Schedule[] = [
      constantLR(0.3),
      stepLR({ lr: 1, stepSize: 3, gamma: 0.7 }),
      multiStepLR({ lr: 1, milestones: [2, 5] }),
      exponentialLR({ lr: 1, gamma: 0.99 }),
      linearLR({ from: 0.1, to: 1, steps: 7 }),
      cosineLR({ peak: 1, decaySteps: 20, warmupSteps: 4, init: 0.1, floor: 0.01 }),
      oneCycleLR({
        maxLr: 0.5,
        totalSteps: 30,
        pctStart: 0.25,
        annealStrategy: 'linear',
        divFactor: 10,
        finalDivFactor: 100,
        threePhase: true,
      }),
      warmupLR(5, cosineLR({ peak: 1, decaySteps: 10 })),
    ];
    for (const s of all) {
      const back = scheduleFromJSON(JSON.parse(JSON.stringify(s)));
      expect(isSchedule(back)).toBe(true);
      expect(back.toJSON()).toEqual(s.toJSON());
      for (let t = 0; t < 40; t++) expect(back.at(t)).toBe(s.at(t));
    }
  });

  it.each([
    [() => stepLR({ lr: -1, stepSize: 2 }), RangeError, /stepLR: option 'lr' must be >= 0, got -1/],
    [() => stepLR({ lr: 1, stepSize: 0 }), RangeError, /'stepSize' must be >= 1/],
    [() => stepLR({ lr: 1, stepSize: 1.5 }), RangeError, /'stepSize' must be an integer/],
    [() => stepLR({ lr: 1, stepSize: 2, gamma: 0 }), RangeError, /'gamma' must be > 0/],
    [() => multiStepLR({ lr: 1, milestones: [5, 3] }), RangeError, /ascending order/],
    [() => multiStepLR({ lr: 1, milestones: 5 as never }), TypeError, /'milestones' must be an array/],
    [() => exponentialLR({ lr: 1, gamma: Number.NaN }), RangeError, /'gamma' must not be NaN/],
    [() => linearLR({ to: 1, steps: -1 }), RangeError, /'steps'/],
    [
      () => cosineLR({ peak: 1, decaySteps: 5, warmupSteps: 6 }),
      RangeError,
      /'warmupSteps' \(6\) must not exceed 'decaySteps' \(5\)/,
    ],
    [() => cosineLR({ peak: 1, decay_steps: 5 } as never), TypeError, /unknown option 'decay_steps'/],
    [() => oneCycleLR({ maxLr: 1, totalSteps: 10, pctStart: 1.5 }), RangeError, /'pctStart' must be <= 1/],
    [
      () => oneCycleLR({ maxLr: 1, totalSteps: 10, annealStrategy: 'exp' as never }),
      RangeError,
      /'annealStrategy' must be one of 'cos', 'linear'/,
    ],
    [() => sequentialLR([constantLR(1), constantLR(2)], []), RangeError, /2 schedules need 1 boundaries, got 0/],
    [() => sequentialLR([constantLR(1), 0.5 as never], [3]), TypeError, /schedules\[1\] is not a schedule/],
    [() => scheduleFromJSON({ type: 'polynomial' } as never), TypeError, /unknown schedule type 'polynomial'/],
    [() => constantLR(1).at(-1), RangeError, /step must be a non-negative integer, got -1/],
  ] as const)('bad schedule %#: throws', (f, E, msg) => {
    expect(f).toThrow(E);
    expect(f).toThrow(msg);
  });
});

describe.each(BUILD_NAMES)('optimizers driven by schedules (%s)', (build) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await engineFor(build);
  });

  it.each([
    ['Adam', cosineLR({ peak: 0.05, warmupSteps: 5, decaySteps: 20, floor: 0.001 })],
    ['SGD', oneCycleLR({ maxLr: 0.1, totalSteps: 25 })],
    ['NAdam', multiStepLR({ lr: 0.02, milestones: [5, 15] })],
    ['Lion', warmupLR(4, exponentialLR({ lr: 0.01, gamma: 0.9 }))],
  ] as const)(
    '%s: step t uses schedule.at(t - 1), as the float64 reference with its lr set each step',
    (kind, schedule) => {
      const { opt, ref } = pairAny(
        kind,
        { lr: schedule, ...(kind === 'SGD' ? { momentum: 0.9 } : {}) },
        engine,
        [5, 33, 300],
        51,
      );
      const bad = drive(opt, ref, `${kind} scheduled`, {
        steps: 25,
        seed: 52,
        before: (t) => {
          expect(opt.lr).toBe(schedule.at(t - 1));
          expect(opt.options.lr).toBe(schedule.at(t - 1));
          ref.lr = schedule.at(t - 1);
        },
      });
      expect(opt.lrSchedule).toBe(schedule);
      opt.dispose();
      expect(bad).toEqual([]);
    },
  );

  function run(opt: Adam, grads: Float32Array[], from: number, to: number): void {
    for (let t = from; t < to; t++) {
      opt.params[0].grad.set(grads[t]);
      opt.step();
    }
  }

  it('the position is in stateDict and in checkpoints: a resumed run continues bit for bit', () => {
    const schedule = cosineLR({ peak: 0.05, warmupSteps: 3, decaySteps: 20 });
    const r = rng(61);
    const init = randomF32(50, r);
    const grads = Array.from({ length: 20 }, () => fillGrad(new Float32Array(50), 'normal', r));
    const straight = new Adam({ lr: schedule, engine });
    straight.param(init);
    run(straight, grads, 0, 20);

    const first = new Adam({ lr: schedule, engine });
    first.param(init);
    run(first, grads, 0, 8);
    const dict = first.stateDict();
    expect(dict.groups?.[0]).toEqual({
      options: expect.objectContaining({ lr: schedule.at(8) }),
      lrSchedule: schedule.toJSON(),
      schedulePosition: 8,
    });
    // A plain optimizer (lr a number) adopts the schedule and its position from the dict.
    const resumed = new Adam({ lr: 0.5, engine });
    resumed.param(first.params[0].data);
    resumed.loadStateDict({ ...dict, groups: JSON.parse(JSON.stringify(dict.groups)) });
    expect(resumed.lr).toBe(schedule.at(8));
    run(resumed, grads, 8, 20);
    expect(bitDiffs(straight, resumed, 'stateDict resume')).toEqual([]);

    const bytes = first.save();
    const fromCheckpoint = new Adam({ engine });
    fromCheckpoint.load(bytes);
    expect(fromCheckpoint.lrSchedule?.toJSON()).toEqual(schedule.toJSON());
    run(fromCheckpoint, grads, 8, 20);
    expect(bitDiffs(straight, fromCheckpoint, 'checkpoint resume')).toEqual([]);
    for (const o of [straight, first, resumed, fromCheckpoint]) o.dispose();
  });

  it('a schedule set mid-run starts at its step 0; a number replaces it; skipped steps do not advance it', () => {
    const opt = new SGD({ lr: 0.1, nonFinite: 'skip', engine });
    const p = opt.param([0]);
    p.grad.set([1]);
    opt.step();
    opt.step();
    opt.lr = stepLR({ lr: 1, stepSize: 2, gamma: 0.5 });
    const seen: number[] = [];
    for (let t = 0; t < 5; t++) {
      seen.push(opt.lr);
      p.grad.set([t === 2 ? Number.NaN : 1]);
      opt.step();
    }
    // 1, 1, (NaN: skipped, still position 2 -> 0.5), 0.5, 0.5
    expect(seen).toEqual([1, 1, 0.5, 0.5, 0.5]);
    // p = -0.1 - 0.1 - 1 - 1 - 0.5 - 0.5 (the skipped step did nothing)
    expect(p.data[0]).toBeCloseTo(-3.2, 5);
    expect(opt.stepCount).toBe(6);
    expect(opt.stateDict().groups?.[0].schedulePosition).toBe(4);
    opt.lr = 0.25;
    expect(opt.lrSchedule).toBeNull();
    expect(opt.lr).toBe(0.25);
    expect(opt.stateDict().groups).toBeUndefined();
    opt.dispose();
  });

  it('a schedule that leaves the valid range throws at that step and changes nothing', () => {
    const opt = new SGD({ lr: exponentialLR({ lr: 1, gamma: 1e300 }), engine });
    const p = opt.param([0]);
    p.grad.set([1e-300]);
    opt.step(); // lr 1
    // The step at lr 1e300 would leave the schedule at Infinity (its step 2) for the next one:
    // refused, so that opt.lr, stateDict() and save() keep working after every accepted step.
    const before = p.data[0];
    expect(() => opt.step()).toThrow(RangeError);
    expect(() => opt.step()).toThrow(/schedule exponentialLR gives Infinity at its step 2/);
    expect(p.data[0]).toBe(before);
    expect(opt.stepCount).toBe(1);
    expect(opt.lr).toBe(1e300);
    opt.dispose();
    expect(() => new SGD({ lr: { type: 'constant', value: 1 } as never, engine })).toThrow(/'lr' must be a number/);
  });
});
