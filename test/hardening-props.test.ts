// Property test of the guarantees (docs/guarantees.md) under adversarial use, issue 20: random
// API sequences on every dense optimizer mixing ordinary calls with the values that broke them
// (gradient scales beyond float32 or rounding to 0 in it, gradients whose scaled value overflows,
// NaN gradients, crafted state dicts and checkpoints with non-finite state, out-of-range step
// counts or invalid options, loads near the step limit, bad rates). After every call: a call that
// threw (or a step that returned false) changed nothing at all, and an accepted call left every
// param finite unless the policy is 'ignore'.
//
// Reproducible: FC_SEED (default fixed), FC_RUNS to explore more.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Adagrad,
  Adam,
  AdamHD,
  AdamW,
  Adadelta,
  Adamax,
  Lion,
  MAX_STEP_COUNT,
  NAdam,
  RAdam,
  RMSprop,
  SGD,
  SGDHD,
  decodeCheckpoint,
  encodeCheckpoint,
  type BaseOptions,
  type Optimizer,
  type OptimizerStateDict,
} from '../src/index.js';
import { engineFor } from './engines.js';
import { rng } from './rng.js';

const SEED_ENV = process.env.FC_SEED;
const FC_SEED = SEED_ENV === 'random' ? Date.now() : Number(SEED_ENV ?? 0x4a7d);
const RUNS = Number(process.env.FC_RUNS ?? 36);

type Opt = Optimizer<BaseOptions>;
const KINDS: Record<string, (o: Record<string, unknown>) => Opt> = {
  Adam: (o) => new Adam(o) as unknown as Opt,
  AdamW: (o) => new AdamW(o) as unknown as Opt,
  SGD: (o) => new SGD({ momentum: 0.9, ...o }) as unknown as Opt,
  Adagrad: (o) => new Adagrad(o) as unknown as Opt,
  RMSprop: (o) => new RMSprop({ centered: true, momentum: 0.5, ...o }) as unknown as Opt,
  NAdam: (o) => new NAdam(o) as unknown as Opt,
  RAdam: (o) => new RAdam(o) as unknown as Opt,
  Adamax: (o) => new Adamax(o) as unknown as Opt,
  Adadelta: (o) => new Adadelta(o) as unknown as Opt,
  Lion: (o) => new Lion(o) as unknown as Opt,
  SGDHD: (o) => new SGDHD(o) as unknown as Opt,
  AdamHD: (o) => new AdamHD(o) as unknown as Opt,
};

type Grads = 'normal' | 'huge' | 'large' | 'nan';
type Action =
  | { op: 'step'; grads: Grads; scale: number | undefined; seed: number }
  | { op: 'loadDict'; tamper: 'none' | 'nan' | 'inf' | 'step2^53' | 'nearLimit' | 'lr-1' | 'betas' }
  | { op: 'loadBytes'; tamper: 'none' | 'nan' | 'step1e300' | 'flip' | 'groups' | 'layout' }
  | { op: 'lr'; value: number }
  | { op: 'param'; n: number }
  | { op: 'zeroGrad' };

const action: fc.Arbitrary<Action> = fc.oneof(
  // Gradients of |g| <= 10 under any scale (1e38 and up overflow float32: refused).
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('step' as const),
      grads: fc.constant('normal' as const),
      scale: fc.constantFrom(undefined, 1, 0.5, 1e-30, 2, 1e38, 1e39, 1e-46),
      seed: fc.integer(),
    }),
  },
  // A gradient of 3e38 under a scale that overflows it (or one beyond float32): always refused.
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('step' as const),
      grads: fc.constant('huge' as const),
      scale: fc.constantFrom(2, 1e10, 1e39, 1e-46),
      seed: fc.integer(),
    }),
  },
  // A gradient of 1e15 (large, finite, and so is its square): accepted.
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('step' as const),
      grads: fc.constant('large' as const),
      scale: fc.constantFrom(undefined, 1, 0.5, 1e-30),
      seed: fc.integer(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('step' as const),
      grads: fc.constant('nan' as const),
      scale: fc.constantFrom(undefined, 1, 1e-30, 1e39),
      seed: fc.integer(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('loadDict' as const),
      tamper: fc.constantFrom(
        'none' as const,
        'nan' as const,
        'inf' as const,
        'step2^53' as const,
        'nearLimit' as const,
        'lr-1' as const,
        'betas' as const,
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('loadBytes' as const),
      tamper: fc.constantFrom(
        'none' as const,
        'nan' as const,
        'step1e300' as const,
        'flip' as const,
        'groups' as const,
        'layout' as const,
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('lr' as const), value: fc.constantFrom(1e-3, 0.05, -1, NaN, Infinity) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('param' as const), n: fc.constantFrom(1, 3, 17, 40) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('zeroGrad' as const) }) },
);

/** Everything a call could change: step count, rate, groups, every param, gradient and state tensor. */
function snapshot(opt: Opt): unknown {
  return {
    steps: opt.stepCount,
    lr: opt.lr,
    groups: opt.paramGroups.length,
    params: opt.params.map((p) => ({
      data: Array.from(p.data),
      grad: Array.from(p.grad),
      state: p.stateKeys.map((k) => Array.from(p.state(k))),
      group: p.group,
    })),
  };
}

function fillGrads(opt: Opt, mode: Grads, seed: number): void {
  const r = rng(seed);
  const rnd = () => r() * 2 - 1;
  opt.params.forEach((p, i) => {
    const g = p.grad;
    for (let j = 0; j < g.length; j++) g[j] = 10 * rnd();
    // One element of magnitude 5: a scale of 1e38 or more overflows float32.
    if (g.length > 0) g[0] = 5;
    if (i === opt.params.length - 1 && g.length > 0) {
      if (mode === 'huge') g[g.length - 1] = 3e38;
      if (mode === 'large') g[g.length - 1] = -1e15;
      if (mode === 'nan') g[g.length - 1] = NaN;
    }
  });
}

/** A scale that the step must refuse given the gradient mode (null: it may be accepted). */
function mustRefuse(mode: Grads, scale: number | undefined, n: number): boolean {
  const s = scale ?? 1;
  if (!Number.isFinite(Math.fround(s)) || Math.fround(s) === 0) return true;
  if (n === 0) return false;
  if (mode === 'nan') return true;
  if (mode === 'huge') return s >= 2;
  if (mode === 'large') return false;
  return s >= 1e38;
}

function tamperDict(d: OptimizerStateDict, t: string): void {
  const first = d.params[0];
  const anyState = first ? Object.values(first.state)[0] : undefined;
  switch (t) {
    case 'nan':
      if (anyState && anyState.length) anyState[0] = NaN;
      else d.stepCount = -1;
      break;
    case 'inf':
      if (anyState && anyState.length) anyState[anyState.length - 1] = -Infinity;
      else d.stepCount = 0.5;
      break;
    case 'step2^53':
      d.stepCount = 2 ** 53;
      break;
    case 'nearLimit': {
      const k = MAX_STEP_COUNT - 2;
      for (const ps of d.params) ps.step = ps.step - d.stepCount + k < 0 ? 0 : ps.step - d.stepCount + k;
      if (d.groups) for (const g of d.groups) g.schedulePosition = 0;
      d.stepCount = k;
      break;
    }
    case 'lr-1':
      d.options = { ...d.options, lr: -1 };
      if (d.groups) d.groups[0].options = d.options;
      break;
    case 'betas':
      d.options = { ...d.options, betas: [2, 0.5], rho: 7, alpha: -1, momentum: -1 };
      if (d.groups) d.groups[0].options = d.options;
      break;
  }
}

function run(opt: Opt, a: Action, kind: string): boolean {
  switch (a.op) {
    case 'step':
      fillGrads(opt, a.grads, a.seed);
      return opt.step(a.scale === undefined ? undefined : { gradScale: a.scale });
    case 'loadDict': {
      const d = opt.stateDict();
      tamperDict(d, a.tamper);
      opt.loadStateDict(d);
      return true;
    }
    case 'loadBytes': {
      const bytes = opt.save();
      if (a.tamper === 'flip') {
        bytes[bytes.length >> 1] ^= 0x10;
        opt.load(bytes);
        return true;
      }
      const payload = decodeCheckpoint(bytes, kind).payload as unknown as OptimizerStateDict & {
        params: { data: Float32Array; state: Record<string, Float32Array> }[];
      };
      if (a.tamper === 'nan') tamperDict(payload, 'nan');
      if (a.tamper === 'step1e300') payload.stepCount = 1e300;
      if (a.tamper === 'groups') (payload as unknown as Record<string, unknown>).groups = 'x';
      if (a.tamper === 'layout') for (const ps of payload.params) ps.state = {};
      opt.load(encodeCheckpoint(kind, payload as unknown as Record<string, unknown>));
      return true;
    }
    case 'lr':
      opt.lr = a.value;
      return true;
    case 'param':
      opt.param(Float32Array.from({ length: a.n }, (_, i) => Math.sin(i + 1)));
      return true;
    case 'zeroGrad':
      opt.zeroGrad();
      return true;
  }
}

describe('random API sequences keep the guarantees (refused: nothing changed; accepted: params finite)', () => {
  it.each(Object.keys(KINDS))('%s', async (kind) => {
    const engine = await engineFor('simd');
    fc.assert(
      fc.property(
        fc.constantFrom('throw' as const, 'skip' as const, 'ignore' as const),
        fc.constantFrom(0, 0.1, 4),
        fc.array(action, { minLength: 4, maxLength: 14 }),
        (policy, weightDecay, actions) => {
          // Hypergradient rates adapt by g . d: a small hypergradLr keeps them from diverging on 1e15 gradients.
          const hd = kind.endsWith('HD') ? { hypergradLr: 1e-40 } : {};
          const opt = KINDS[kind]({ lr: 0.01, weightDecay, nonFinite: policy, engine, ...hd });
          try {
            opt.param(Float32Array.from([0.5, -1, 2]));
            for (const a of actions) {
              // The grads a step writes are part of the call, not of what it may change.
              if (a.op === 'step') fillGrads(opt, a.grads, a.seed);
              const before = snapshot(opt);
              let accepted: boolean;
              try {
                accepted = run(opt, a, kind);
              } catch {
                accepted = false;
              }
              if (!accepted)
                expect(snapshot(opt), `${JSON.stringify(a)} refused but changed something`).toEqual(before);
              if (a.op === 'step' && policy !== 'ignore') {
                if (mustRefuse(a.grads, a.scale, opt.params.length))
                  expect(accepted, `${JSON.stringify(a)} should be refused`).toBe(false);
              }
              if (accepted && policy !== 'ignore') {
                for (const p of opt.params)
                  expect(p.data.every(Number.isFinite), `${JSON.stringify(a)} left a param non-finite`).toBe(true);
                for (const p of opt.params)
                  for (const k of p.stateKeys)
                    expect(p.state(k).every(Number.isFinite), `${JSON.stringify(a)} left state '${k}' non-finite`).toBe(
                      true,
                    );
              }
            }
          } finally {
            opt.dispose();
          }
        },
      ),
      { seed: FC_SEED, numRuns: RUNS },
    );
  });
});
