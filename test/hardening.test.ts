// Regression tests for issue 20 (an adversarial probe of the library's guarantees): each test is
// named after the promise it protects, and failed before its fix.
import { describe, expect, it } from 'vitest';
import {
  CheckpointError,
  MAX_STEP_COUNT,
  crc32,
  encodeCheckpoint,
  Adagrad,
  Adam,
  AdamHD,
  AdamW,
  NonFiniteGradientError,
  SGD,
  SGDHD,
  RMSprop,
  NAdam,
  RAdam,
  Adamax,
  Adadelta,
  Lion,
  exponentialLR,
  cosineLR,
  type Optimizer,
  type BaseOptions,
} from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { createEngine } from '../src/index.js';
import { rng } from './rng.js';

/** Every float of every param and every state tensor, copied. */
function snapshot(opt: Optimizer<BaseOptions>): number[][] {
  const out: number[][] = [[opt.stepCount]];
  for (const p of opt.params) {
    out.push(Array.from(p.data), Array.from(p.grad));
    for (const k of p.stateKeys) out.push(Array.from(p.state(k)));
  }
  return out;
}

function allFinite(opt: Optimizer<BaseOptions>): boolean {
  return opt.params.every((p) => p.data.every(Number.isFinite));
}

type Make = (o: Record<string, unknown>) => Optimizer<BaseOptions>;
const DENSE: [string, Make][] = [
  ['Adam', (o) => new Adam(o) as unknown as Optimizer<BaseOptions>],
  ['AdamW', (o) => new AdamW(o) as unknown as Optimizer<BaseOptions>],
  ['SGD', (o) => new SGD({ momentum: 0.9, ...o }) as unknown as Optimizer<BaseOptions>],
  ['Adagrad', (o) => new Adagrad(o) as unknown as Optimizer<BaseOptions>],
  ['RMSprop', (o) => new RMSprop(o) as unknown as Optimizer<BaseOptions>],
  ['NAdam', (o) => new NAdam(o) as unknown as Optimizer<BaseOptions>],
  ['RAdam', (o) => new RAdam(o) as unknown as Optimizer<BaseOptions>],
  ['Adamax', (o) => new Adamax(o) as unknown as Optimizer<BaseOptions>],
  ['Adadelta', (o) => new Adadelta(o) as unknown as Optimizer<BaseOptions>],
  ['Lion', (o) => new Lion(o) as unknown as Optimizer<BaseOptions>],
  ['SGDHD', (o) => new SGDHD(o) as unknown as Optimizer<BaseOptions>],
  ['AdamHD', (o) => new AdamHD(o) as unknown as Optimizer<BaseOptions>],
];

describe.each(BUILD_NAMES)('a step under nonFinite throw never makes a param non-finite (%s)', (build) => {
  it.each(DENSE)('%s: a gradScale beyond float32 is refused up front', async (_name, make) => {
    const engine = await engineFor(build);
    const opt = make({ lr: 0.1, engine });
    opt.param([1, 2, 3]).grad.set([1, 1, 1]);
    const before = snapshot(opt);
    expect(() => opt.step({ gradScale: 1e39 })).toThrow(/gradScale.*float32/);
    expect(() => opt.step({ gradScale: 1e-46 })).toThrow(/gradScale.*0 in float32/);
    expect(snapshot(opt)).toEqual(before);
    opt.dispose();
  });

  it.each(DENSE)(
    '%s: gradScale times a finite gradient overflowing float32 is a non-finite step',
    async (_name, make) => {
      const engine = await engineFor(build);
      for (const n of [3, 37]) {
        const opt = make({ lr: 0.1, engine });
        const a = opt.param(n);
        const b = opt.param(n);
        a.grad.fill(1);
        b.grad.fill(1);
        b.grad[n - 1] = 3e38;
        const before = snapshot(opt);
        expect(() => opt.step({ gradScale: 2 }), `n ${n}`).toThrow(NonFiniteGradientError);
        expect(() => opt.step({ gradScale: 2 })).toThrow(/param #1/);
        expect(snapshot(opt)).toEqual(before);
        // A large gradient whose square is finite too (3e38 itself is refused by the optimizers
        // that square the gradient: test/hardening-squares.test.ts) is a finite step at scale 1.
        b.grad[n - 1] = 1e19;
        expect(opt.step({ gradScale: 1 })).toBe(true);
        expect(allFinite(opt)).toBe(true);
        opt.dispose();
        const skip = make({ lr: 0.1, engine, nonFinite: 'skip' });
        skip.param(n).grad.fill(3e38);
        const s0 = snapshot(skip);
        expect(skip.step({ gradScale: 4 })).toBe(false);
        expect(snapshot(skip)).toEqual(s0);
        skip.dispose();
      }
    },
  );

  it('with clipGradNorm the overflow is checked on the clipped scale (a clip that brings it back is a finite step)', async () => {
    const engine = await engineFor(build);
    const opt = new Adam({ lr: 0.1, engine, clipGradNorm: 1 });
    const p = opt.param(5);
    p.grad.fill(3e38);
    // the norm of the gradients is 6.7e38 in float64: the clip coefficient brings the scale to ~1.5e-39
    expect(opt.step({ gradScale: 2 })).toBe(true);
    expect(allFinite(opt)).toBe(true);
    opt.dispose();
  });

  it.each(DENSE.filter(([n]) => !['AdamW', 'Lion'].includes(n)))(
    '%s: an L2 weight decay wd * p overflowing float32 is a non-finite step',
    async (_name, make) => {
      const engine = await engineFor(build);
      const opt = make({ lr: 1e-3, weightDecay: 4, engine });
      const p = opt.param([1, 2, 1e38, 3, 5]);
      p.grad.set([1, 1, 1, 1, 1]);
      const before = snapshot(opt);
      expect(() => opt.step()).toThrow(/weight decay.*element 2/);
      expect(snapshot(opt)).toEqual(before);
      // g + wd * p finite although wd * p is large: accepted
      p.data[2] = 5e37;
      expect(opt.step()).toBe(true);
      opt.dispose();
    },
  );

  it('decoupled weight decay adds nothing to the gradient, so a large wd * p does not refuse AdamW', async () => {
    const engine = await engineFor(build);
    const opt = new AdamW({ lr: 1e-3, weightDecay: 4, engine });
    const p = opt.param([1, 1e38]);
    p.grad.set([1, 1]);
    expect(opt.step()).toBe(true);
    opt.dispose();
  });
});

describe('hypergradient optimizers refuse a schedule however it is given', () => {
  it.each([
    ['SGDHD', SGDHD],
    ['AdamHD', AdamHD],
  ] as const)(
    "%s: opt.lr = schedule and group.lr = schedule throw the constructor's error and change nothing",
    async (_n, C) => {
      const engine = await engineFor('simd');
      const opt = new C({ lr: 0.01, engine });
      opt.param([1, 2]).grad.set([1, 1]);
      opt.step();
      const lr = opt.lr;
      expect(() => new C({ lr: cosineLR({ peak: 1, decaySteps: 5 }) as never, engine })).toThrow(TypeError);
      expect(() => {
        opt.lr = cosineLR({ peak: 1, decaySteps: 5 });
      }).toThrow(/hypergradient descent adapts the rate itself/);
      expect(() => {
        opt.paramGroups[0].lr = cosineLR({ peak: 1, decaySteps: 5 });
      }).toThrow(/hypergradient descent adapts the rate itself/);
      expect(opt.lr).toBe(lr);
      expect(opt.lrSchedule).toBe(null);
      expect(opt.step()).toBe(true);
      opt.dispose();
    },
  );
});

/** A checkpoint with a valid CRC whose metadata is `metaJson` verbatim (no tensors). */
function rawCheckpoint(kind: string, metaJson: string): Uint8Array {
  const enc = new TextEncoder();
  const k = enc.encode(kind),
    m = enc.encode(metaJson);
  const pad4 = (n: number) => (n + 3) & ~3;
  const size = 24 + 4 + pad4(k.length) + 4 + pad4(m.length) + 4 + 4;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out.set([0x89, 0x57, 0x4f, 0x50, 0x54, 0x0d, 0x0a, 0x1a]);
  dv.setUint32(8, 1, true);
  dv.setUint32(16, size, true);
  let at = 24;
  dv.setUint32(at, k.length, true);
  out.set(k, at + 4);
  at = pad4(at + 4 + k.length);
  dv.setUint32(at, m.length, true);
  out.set(m, at + 4);
  at = pad4(at + 4 + m.length);
  dv.setUint32(at, 0, true);
  at += 4;
  dv.setUint32(at, crc32(out, at), true);
  return out;
}

/** The checkpoint of a one-param Adam after two steps, as a payload to tamper with. */
async function adamPayload(): Promise<Record<string, unknown>> {
  const engine = await engineFor('simd');
  const a = new Adam({ lr: 0.01, engine });
  a.param([1, 2, 3]).grad.set([0.1, 0.2, 0.3]);
  a.step();
  a.step();
  const dict = a.stateDict() as unknown as Record<string, unknown>;
  const params = (dict.params as Record<string, unknown>[]).map((ps, i) => ({ ...ps, data: a.params[i].data.slice() }));
  a.dispose();
  return { ...dict, params };
}

function expectRefused(f: () => void, reason: string, msg: RegExp): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err, 'refused').toBeInstanceOf(CheckpointError);
  expect((err as CheckpointError).reason).toBe(reason);
  expect((err as Error).message).toMatch(msg);
}

describe('loaded state is finite and its step count within the documented limit', () => {
  it('loadStateDict refuses NaN and Infinity in a state tensor and changes nothing', async () => {
    const engine = await engineFor('simd');
    const src = new Adam({ lr: 0.01, engine });
    src.param([1, 2, 3]).grad.set([1, 1, 1]);
    src.step();
    const dst = new Adam({ lr: 0.01, engine });
    dst.param([1, 2, 3]);
    const before = snapshot(dst);
    for (const bad of [NaN, Infinity, -Infinity]) {
      const dict = src.stateDict();
      dict.params[0].state.exp_avg_sq[1] = bad;
      expect(() => dst.loadStateDict(dict)).toThrow(/state 'exp_avg_sq'\[1\] is .*must be finite/);
      expect(snapshot(dst)).toEqual(before);
    }
    src.dispose();
    dst.dispose();
  });

  it('a checkpoint with a non-finite state tensor is a CheckpointError', async () => {
    const payload = await adamPayload();
    const ps = (payload.params as Record<string, unknown>[])[0];
    (ps.state as Record<string, Float32Array>).exp_avg[2] = NaN;
    const engine = await engineFor('simd');
    const opt = new Adam({ engine });
    expectRefused(() => opt.load(encodeCheckpoint('Adam', payload)), 'malformed', /exp_avg'\[2\] is NaN/);
    expect(opt.params.length).toBe(0);
    opt.dispose();
  });

  it('step counts beyond 2^40 are refused on load; at the limit stepCount stops with an error, below it keeps incrementing', async () => {
    const engine = await engineFor('simd');
    expect(MAX_STEP_COUNT).toBe(2 ** 40);
    const opt = new Adam({ lr: 0.01, engine });
    opt.param([1, 2]).grad.set([1, 1]);
    opt.step();
    for (const n of [2 ** 53, 1e300, MAX_STEP_COUNT + 1]) {
      const dict = opt.stateDict();
      dict.stepCount = n;
      expect(() => opt.loadStateDict(dict)).toThrow(/beyond the limit of 2\^40/);
      expect(opt.stepCount).toBe(1);
    }
    const payload = await adamPayload();
    payload.stepCount = 2 ** 53;
    expectRefused(
      () => new Adam({ engine }).load(encodeCheckpoint('Adam', payload)),
      'malformed',
      /stepCount .* beyond the limit/,
    );
    const dict = opt.stateDict();
    dict.stepCount = MAX_STEP_COUNT - 1;
    dict.params[0].step = MAX_STEP_COUNT - 1;
    opt.loadStateDict(dict);
    expect(opt.step()).toBe(true);
    expect(opt.stepCount).toBe(MAX_STEP_COUNT);
    expect(allFinite(opt)).toBe(true);
    const before = snapshot(opt);
    expect(() => opt.step()).toThrow(/limit of 2\^40/);
    expect(snapshot(opt)).toEqual(before);
    opt.dispose();
  });

  it('NAdam steps at once after loading a step count near the limit (no walk over the past steps)', async () => {
    const engine = await engineFor('simd');
    const opt = new NAdam({ lr: 0.01, engine });
    opt.param([1, 2]).grad.set([1, 1]);
    opt.step();
    const dict = opt.stateDict();
    dict.stepCount = MAX_STEP_COUNT - 3;
    dict.params[0].step = MAX_STEP_COUNT - 3;
    opt.loadStateDict(dict);
    const t0 = performance.now();
    opt.step();
    opt.step();
    expect(performance.now() - t0).toBeLessThan(500);
    expect(allFinite(opt)).toBe(true);
    opt.dispose();
  });
});

describe("a refused load leaves the optimizer exactly as it was, with the user's own objects", () => {
  it('a fresh optimizer keeps its ParamGroup handles and its schedule object after a layout refusal', async () => {
    const engine = await engineFor('simd');
    const payload = await adamPayload();
    // The state of param #0 lacks exp_avg_sq: a layout the options cannot give.
    const ps = (payload.params as Record<string, unknown>[])[0];
    delete (ps.state as Record<string, unknown>).exp_avg_sq;
    const opt = new Adam({ lr: 0.5, engine });
    const sched = exponentialLR({ lr: 0.1, gamma: 0.5 });
    opt.lr = sched;
    const g = opt.addParamGroup({ lr: 0.25 });
    expectRefused(() => opt.load(encodeCheckpoint('Adam', payload)), 'layout', /exp_avg/);
    expect(opt.paramGroups.length).toBe(2);
    expect(opt.paramGroups[1]).toBe(g);
    expect(opt.lrSchedule).toBe(sched);
    expect(opt.params.length).toBe(0);
    const p = g.param([1, 2]);
    expect(p.group).toBe(1);
    p.grad.set([1, 1]);
    expect(opt.step()).toBe(true);
    expect(g.lr).toBe(0.25);
    opt.dispose();
  });
});

describe('a crafted checkpoint with a valid CRC is a CheckpointError that says what is wrong', () => {
  const cases: [string, (p: Record<string, unknown>) => void, RegExp][] = [
    [
      'lr -1',
      (p) => {
        (p.options as Record<string, unknown>).lr = -1;
      },
      /'lr' must be >= 0, got -1/,
    ],
    [
      'betas [2, 0.5]',
      (p) => {
        (p.options as Record<string, unknown>).betas = [2, 0.5];
      },
      /betas\[0\]/,
    ],
    [
      'a group index of 7',
      (p) => {
        (p.params as Record<string, unknown>[])[0].group = 7;
      },
      /group 7/,
    ],
    [
      'groups: "x"',
      (p) => {
        p.groups = 'x';
      },
      /'groups'/,
    ],
    [
      'a bogus schedule',
      (p) => {
        p.groups = [{ options: p.options, lrSchedule: { name: 'nope' }, schedulePosition: 0 }];
      },
      /schedule/i,
    ],
  ];
  it.each(cases)('%s', async (_n, tamper, msg) => {
    const engine = await engineFor('simd');
    for (const fresh of [true, false]) {
      const payload = await adamPayload();
      tamper(payload);
      const opt = new Adam({ lr: 0.5, engine });
      if (!fresh) opt.param([5, 6, 7]);
      const before = snapshot(opt);
      expectRefused(() => opt.load(encodeCheckpoint('Adam', payload)), 'malformed', msg);
      expect(snapshot(opt)).toEqual(before);
      expect(opt.lr).toBe(0.5);
      opt.dispose();
    }
  });

  it('metadata nested 20,000 deep is refused without overflowing the stack', async () => {
    const engine = await engineFor('simd');
    const deep = '['.repeat(20000) + ']'.repeat(20000);
    const bytes = rawCheckpoint('Adam', `{"kind":"Adam","stepCount":0,"options":{"lr":0.1,"x":${deep}},"params":[]}`);
    expectRefused(() => new Adam({ engine }).load(bytes), 'malformed', /nests deeper/);
  });

  it('a key __proto__ is refused, not dropped', async () => {
    const engine = await engineFor('simd');
    const bytes = rawCheckpoint(
      'Adam',
      '{"kind":"Adam","stepCount":0,"options":{"lr":0.1,"__proto__":{"eps":5}},"params":[]}',
    );
    expectRefused(() => new Adam({ engine }).load(bytes), 'malformed', /__proto__/);
  });
});

describe('tensor memory is sized to its contents: small optimizers stay small', () => {
  it('a 3-float Adam param holds about 4 x 256 bytes before its first step, not 4 x 64 KiB', async () => {
    const engine = await createEngine({ simd: true });
    const opt = new Adam({ engine });
    opt.param([1, 2, 3]);
    expect(engine.memoryStats().bytesInUse).toBeLessThanOrEqual(4 * 256);
    opt.dispose();
    expect(engine.memoryStats().bytesInUse).toBe(0);
  });

  it('a thousand un-stepped tiny optimizers take under 2 MB (they took 256 MB)', async () => {
    const engine = await createEngine({ simd: true });
    const opts = Array.from({ length: 1000 }, () => {
      const o = new Adam({ engine });
      o.param([1, 2, 3]);
      return o;
    });
    expect(engine.memoryStats().bytesInUse).toBeLessThan(2e6);
    for (const o of opts) o.dispose();
    expect(engine.memoryStats().bytesInUse).toBe(0);
  });
});

describe('views kept across dispose(): the debug option poisonFreed makes them read NaN', () => {
  it('with init/createEngine({ debug: { poisonFreed: true } }) a kept p.data reads NaN after dispose; new tensors still start at zero', async () => {
    const engine = await createEngine({ simd: true, debug: { poisonFreed: true } });
    expect(engine.poisonFreed).toBe(true);
    const opt = new Adam({ engine });
    const p = opt.param([1, 2, 3]);
    p.grad.set([1, 1, 1]);
    opt.step();
    const kept = p.data;
    const keptState = p.state('exp_avg');
    opt.dispose();
    expect(Array.from(kept).every(Number.isNaN)).toBe(true);
    expect(Array.from(keptState).every(Number.isNaN)).toBe(true);
    const next = new Adam({ engine });
    const q = next.param(3);
    expect(Array.from(q.data)).toEqual([0, 0, 0]);
    expect(Array.from(q.state('exp_avg_sq'))).toEqual([0, 0, 0]);
    next.dispose();
  });

  it('is off by default (a kept view then still shows the old values: the hazard the docs describe)', async () => {
    const engine = await createEngine({ simd: true });
    expect(engine.poisonFreed).toBe(false);
    const opt = new Adam({ engine });
    const kept = opt.param([1, 2, 3]).data;
    opt.dispose();
    // The allocator's free-list links overwrite the first floats; the rest keep the old values.
    expect(kept[2]).toBe(3);
  });

  it('bad debug options are refused', async () => {
    await expect(createEngine({ debug: { poison: true } as never })).rejects.toThrow(/unknown debug option 'poison'/);
    await expect(createEngine({ debug: { poisonFreed: 1 } as never })).rejects.toThrow(/must be a boolean/);
  });
});

describe('smaller promises (issue 20, item 10)', () => {
  it('{ lr: null } (or any option null but the clip ones) is refused, not silently the default', async () => {
    const engine = await engineFor('simd');
    expect(() => new Adam({ lr: null, engine } as never)).toThrow(/option 'lr' is null/);
    expect(() => new SGD({ momentum: null, engine } as never)).toThrow(/option 'momentum' is null/);
    const opt = new Adam({ clipGradNorm: null, clipGradValue: null, engine });
    expect(() => opt.addParamGroup({ weightDecay: null } as never)).toThrow(/option 'weightDecay' is null/);
    expect(opt.paramGroups.length).toBe(1);
    opt.dispose();
  });

  it('param() reads an array-like once: a Proxy that answers differently the second time cannot deliver NaN', async () => {
    const engine = await engineFor('simd');
    const opt = new SGD({ lr: 0.1, engine });
    const reads = new Map<string, number>();
    const sneaky = new Proxy([1, 2, 3], {
      get(t, k, r) {
        if (typeof k === 'string' && /^\d+$/.test(k)) {
          const n = (reads.get(k) ?? 0) + 1;
          reads.set(k, n);
          return n === 1 ? Reflect.get(t, k, r) : NaN;
        }
        return Reflect.get(t, k, r);
      },
    });
    const p = opt.param(sneaky);
    expect(Array.from(p.data)).toEqual([1, 2, 3]);
    expect(() => opt.param({ length: -1 } as never)).toThrow(/length -1/);
    opt.dispose();
  });

  it('a failed thread pool gives its scratch back to the engine', async () => {
    const { ThreadPool } = await import('../src/index.js');
    const engine = await createEngine({ threads: 2, minParallelElements: 0 });
    if (!(engine.parallel instanceof ThreadPool)) return; // no threads in this runtime
    const base = engine.memoryStats().bytesInUse;
    const opt = new Adam({ engine, lr: 0.01 });
    const p = opt.param(new Float32Array(10_000).fill(1));
    p.grad.fill(1);
    opt.step();
    (engine.parallel as InstanceType<typeof ThreadPool>).injectFault(1, 'throw');
    expect(() => opt.step()).toThrow(/worker 1 threw/);
    opt.dispose();
    expect(engine.memoryStats().bytesInUse).toBe(base);
  });
});

describe('an overflowing schedule stops at the last valid rate', () => {
  it('the step that would leave exponentialLR(gamma 2) at Infinity is refused; opt.lr, stateDict() and save() keep working', async () => {
    const engine = await engineFor('simd');
    const opt = new SGD({ lr: exponentialLR({ lr: 1e-300, gamma: 2 }), engine });
    const p = opt.param([1]);
    p.grad.set([0]);
    let refused: unknown = null;
    for (let i = 0; i < 3000 && refused === null; i++) {
      try {
        opt.step();
      } catch (e) {
        refused = e;
      }
    }
    expect(refused).toBeInstanceOf(RangeError);
    expect(String(refused)).toMatch(/gives Infinity/);
    const steps = opt.stepCount;
    expect(Number.isFinite(opt.lr)).toBe(true);
    expect(() => opt.stateDict()).not.toThrow();
    const bytes = opt.save();
    expect(() => opt.step()).toThrow(RangeError);
    expect(opt.stepCount).toBe(steps);
    const back = new SGD({ engine });
    back.load(bytes);
    expect(back.stepCount).toBe(steps);
    opt.lr = 0.1;
    expect(opt.step()).toBe(true);
    opt.dispose();
    back.dispose();
  });
});

describe('tables: loaded state finite, update counts within TABLE_MAX_STEPS, crafted shapes refused before allocation', () => {
  it('loadStateDict and load refuse non-finite state; nothing changes', async () => {
    const { Embedding } = await import('../src/index.js');
    const engine = await engineFor('simd');
    const emb = new Embedding(8, 4, { optimizer: 'adam', lr: 0.01, engine });
    emb.update([1, 2], new Float32Array(8).fill(0.5));
    const w = emb.weights.slice();
    const dict = emb.stateDict();
    dict.state.exp_avg_sq[5] = NaN;
    expect(() => emb.loadStateDict(dict)).toThrow(/state 'exp_avg_sq'\[5\] is NaN/);
    expect(emb.weights).toEqual(w);
    const { decodeCheckpoint: dec } = await import('../src/index.js');
    const payload = dec(emb.save(), 'Embedding').payload as Record<string, unknown>;
    (payload.state as Record<string, Float32Array>).exp_avg[0] = Infinity;
    expectRefused(() => emb.load(encodeCheckpoint('Embedding', payload)), 'malformed', /exp_avg'\[0\] is Infinity/);
    expect(emb.weights).toEqual(w);
    emb.dispose();
  });

  it('an update at the update-count limit is refused (no 32-bit wrap); loads beyond it are refused', async () => {
    const { Embedding, TABLE_MAX_STEPS } = await import('../src/index.js');
    const engine = await engineFor('simd');
    const emb = new Embedding(4, 4, { optimizer: 'sgd', lr: 0.1, engine });
    const dict = emb.stateDict();
    expect(() => emb.loadStateDict({ ...dict, stepCount: TABLE_MAX_STEPS + 1 })).toThrow(/bad stepCount/);
    emb.loadStateDict({ ...dict, stepCount: TABLE_MAX_STEPS - 1 });
    expect(emb.update([0], new Float32Array(4).fill(1))).toBe(true);
    expect(emb.stepCount).toBe(TABLE_MAX_STEPS);
    const w = emb.weights.slice();
    expect(() => emb.update([0], new Float32Array(4).fill(1))).toThrow(/limit of 4294963200/);
    expect(emb.stepCount).toBe(TABLE_MAX_STEPS);
    expect(emb.weights).toEqual(w);
    emb.dispose();
  });

  it('a tiny checkpoint claiming a 2e9 x 64 table is refused before any engine is built', async () => {
    const { Embedding } = await import('../src/index.js');
    const bytes = encodeCheckpoint('Embedding', {
      rows: 2e9,
      dim: 64,
      optimizer: 'adam',
      mode: 'lazy',
      stepCount: 0,
      options: {},
      weights: new Float32Array(4),
      state: {},
      lag: null,
    });
    expect(bytes.length).toBeLessThan(1000);
    const t0 = performance.now();
    expectRefused(() => Embedding.fromCheckpoint(bytes), 'malformed', /claims a 2000000000 x 64 table but holds 4/);
    expect(performance.now() - t0).toBeLessThan(500);
  });
});

describe('tables: an update never uses a non-finite L2-decayed gradient under throw/skip', () => {
  it.each(['sgd', 'adagrad', 'adam', 'adamax', 'adadelta', 'nadam', 'radam'] as const)(
    '%s: g + wd * w overflowing float32 is refused and changes nothing',
    async (optimizer) => {
      const { Embedding } = await import('../src/index.js');
      const engine = await engineFor('simd');
      for (const maximize of [false, true]) {
        const init = new Float32Array(16).fill(1);
        init[9] = 1e38;
        const emb = new Embedding(4, 4, { optimizer, lr: 1e-3, weightDecay: 4, maximize, init, engine });
        const w = emb.weights.slice();
        expect(() => emb.update([2, 0], new Float32Array(8).fill(1))).toThrow(/id 2 with L2 weight decay.*column 1/);
        expect(emb.weights).toEqual(w);
        expect(emb.stepCount).toBe(0);
        expect(emb.update([3, 0], new Float32Array(8).fill(1))).toBe(true);
        emb.dispose();
      }
      const skip = new Embedding(4, 4, {
        optimizer,
        lr: 1e-3,
        weightDecay: 4,
        nonFinite: 'skip',
        init: new Float32Array(16).fill(1e38),
        engine,
      });
      expect(skip.update([1], new Float32Array(4).fill(1))).toBe(false);
      expect(skip.stepCount).toBe(0);
      skip.dispose();
    },
  );
});

describe('tables: exact mode agrees with the dense optimizer up to the update-count limit', () => {
  it('AdamW exact mode from a loaded count just below TABLE_MAX_STEPS matches dense AdamW as well as from 2^20, and stops at the limit', async () => {
    const { Embedding, TABLE_MAX_STEPS } = await import('../src/index.js');
    const engine = await engineFor('simd');
    const rows = 32,
      dim = 8,
      N = 120;
    const run = (S: number): number => {
      const init = Float32Array.from({ length: rows * dim }, (_, i) => Math.sin(i));
      const emb = new Embedding(rows, dim, {
        optimizer: 'adamw',
        mode: 'exact',
        lr: 1e-2,
        weightDecay: 0.01,
        init,
        engine,
      });
      const dense = new AdamW({ lr: 1e-2, weightDecay: 0.01, engine });
      const p = dense.param(init);
      emb.loadStateDict({ ...emb.stateDict(), stepCount: S });
      const dd = dense.stateDict();
      dd.stepCount = S;
      dd.params[0].step = S;
      dense.loadStateDict(dd);
      const rnd = rng(12345);
      for (let t = 0; t < N; t++) {
        const ids = [...new Set(Array.from({ length: 3 }, () => Math.floor(rnd() * rows * rnd())))];
        const g = new Float32Array(ids.length * dim).map(() => rnd() - 0.5);
        if (emb.stepCount >= TABLE_MAX_STEPS) {
          expect(() => emb.update(ids, g)).toThrow(/limit/);
          break;
        }
        emb.update(ids, g);
        p.grad.fill(0);
        ids.forEach((id, k) => p.grad.set(g.subarray(k * dim, (k + 1) * dim), id * dim));
        dense.step();
      }
      emb.flush();
      let worst = 0;
      const w = emb.weights,
        d = p.data;
      for (let i = 0; i < w.length; i++)
        worst = Math.max(worst, Math.abs(w[i] - d[i]) / Math.max(1e-3, Math.abs(d[i])));
      emb.dispose();
      dense.dispose();
      return worst;
    };
    expect(run(0)).toBeLessThan(1e-4);
    // Past the first steps the bias corrections are 1: compare with a count where they already are.
    const base = run(2 ** 20);
    expect(base).toBeLessThan(1e-4);
    for (const S of [2 ** 31 + 1000, TABLE_MAX_STEPS - N, TABLE_MAX_STEPS - 50])
      expect(run(S), `from ${S}`).toBeLessThanOrEqual(1.5 * base);
  });
});
