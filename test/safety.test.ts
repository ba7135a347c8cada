// Safety of the dense optimizers, in both builds: bad options, bad params and lengths, use after
// dispose, the non-finite policies, memory growth under live views, mismatching state dicts and
// two optimizers sharing one engine. Every rejected call must throw a clear error (naming the
// option and the value) and change nothing.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createEngine,
  DisposedError,
  init,
  NonFiniteGradientError,
  type Engine,
  type OptimizerStateDict,
} from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import {
  bitDiffs,
  fillGrad,
  KINDS,
  makeOptimizer,
  OPTIMIZERS,
  randomF32,
  rng,
  type AnyOptimizer,
  type Kind,
} from './dense-util.js';

/** Bit-exact copies of every param, grad and state tensor, the step count and the options. */
function snapshot(opt: AnyOptimizer): unknown {
  return {
    stepCount: opt.stepCount,
    options: JSON.stringify(opt.options),
    params: opt.params.map((p) => ({
      data: Array.from(new Uint32Array(p.data.slice().buffer)),
      grad: Array.from(new Uint32Array(p.grad.slice().buffer)),
      state: Object.fromEntries(p.stateKeys.map((k) => [k, Array.from(new Uint32Array(p.state(k).slice().buffer))])),
    })),
  };
}

/** The error `fn` throws (fails the test when it throws nothing). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw, nothing was thrown');
}

type BadOption = [
  kind: Kind,
  options: Record<string, unknown>,
  type: 'RangeError' | 'TypeError',
  names: RegExp,
  value: RegExp,
];

const BAD_OPTIONS: BadOption[] = [
  ['Adam', { lr: -1 }, 'RangeError', /'lr'/, /-1/],
  ['Adam', { lr: NaN }, 'RangeError', /'lr'/, /NaN/],
  ['Adam', { lr: Infinity }, 'RangeError', /'lr'/, /Infinity/],
  ['Adam', { eps: -1e-8 }, 'RangeError', /'eps'/, /-1e-8/],
  ['Adam', { eps: NaN }, 'RangeError', /'eps'/, /NaN/],
  ['Adam', { weightDecay: -0.1 }, 'RangeError', /'weightDecay'/, /-0\.1/],
  ['AdamW', { weightDecay: NaN }, 'RangeError', /'weightDecay'/, /NaN/],
  ['Adam', { betas: [1, 0.999] }, 'RangeError', /'betas\[0\]'/, /got 1\b/],
  ['Adam', { betas: [0.9, 1] }, 'RangeError', /'betas\[1\]'/, /got 1\b/],
  ['AdamW', { betas: [-0.1, 0.999] }, 'RangeError', /'betas\[0\]'/, /-0\.1/],
  ['Adam', { betas: [0.9, NaN] }, 'RangeError', /'betas\[1\]'/, /NaN/],
  ['Adam', { betas: [0.9, 1.5] }, 'RangeError', /'betas\[1\]'/, /1\.5/],
  ['Adam', { betas: [0.9] }, 'TypeError', /'betas'/, /length 1/],
  ['Adam', { betas: 0.9 }, 'TypeError', /'betas'/, /0\.9/],
  ['Adam', { amsgrad: 1 }, 'TypeError', /'amsgrad'/, /number 1/],
  ['Adam', { lr: '0.1' }, 'TypeError', /'lr'/, /'0\.1'/],
  ['Adam', { weight_decay: 0.1 }, 'TypeError', /'weight_decay'/, /weightDecay/],
  ['Adam', { learningRate: 0.1 }, 'TypeError', /'learningRate'/, /known options/],
  ['Adam', { nonFinite: 'nope' }, 'RangeError', /'nonFinite'/, /'nope'/],
  ['Adam', { nonFinite: 0 }, 'TypeError', /'nonFinite'/, /number 0/],
  ['Adam', { maximize: 'true' }, 'TypeError', /'maximize'/, /'true'/],
  ['Adam', { engine: {} }, 'TypeError', /'engine'/, /an object/],
  ['SGD', { lr: -0.5 }, 'RangeError', /'lr'/, /-0\.5/],
  ['SGD', { nesterov: true }, 'RangeError', /'nesterov'/, /momentum 0/],
  ['SGD', { nesterov: true, momentum: 0.9, dampening: 0.1 }, 'RangeError', /'nesterov'/, /dampening 0\.1/],
  ['SGD', { momentum: -0.9 }, 'RangeError', /'momentum'/, /-0\.9/],
  ['SGD', { momentum: NaN }, 'RangeError', /'momentum'/, /NaN/],
  ['SGD', { dampening: NaN }, 'RangeError', /'dampening'/, /NaN/],
  ['SGD', { nesterov: 'yes', momentum: 0.9 }, 'TypeError', /'nesterov'/, /'yes'/],
  ['SGD', { weightDecay: -1 }, 'RangeError', /'weightDecay'/, /-1/],
  ['Adagrad', { lrDecay: -1 }, 'RangeError', /'lrDecay'/, /-1/],
  ['Adagrad', { initialAccumulatorValue: -0.1 }, 'RangeError', /'initialAccumulatorValue'/, /-0\.1/],
  ['Adagrad', { eps: NaN }, 'RangeError', /'eps'/, /NaN/],
  ['Adagrad', { lr: Infinity }, 'RangeError', /'lr'/, /Infinity/],
  ['RMSprop', { alpha: 1.5 }, 'RangeError', /'alpha'/, /1\.5/],
  ['RMSprop', { alpha: -0.1 }, 'RangeError', /'alpha'/, /-0\.1/],
  ['RMSprop', { momentum: -1 }, 'RangeError', /'momentum'/, /-1/],
  ['RMSprop', { eps: -1 }, 'RangeError', /'eps'/, /-1/],
  ['RMSprop', { centered: 'no' }, 'TypeError', /'centered'/, /'no'/],
  ['RMSprop', { alpha: [0.9] }, 'TypeError', /'alpha'/, /an array of length 1/],
  ['RMSprop', { weightDecay: NaN }, 'RangeError', /'weightDecay'/, /NaN/],
];

describe.each(BUILD_NAMES)('safety (%s)', (build) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await engineFor(build);
  });

  describe('bad options', () => {
    it.each(BAD_OPTIONS)('%s %o throws a %s naming the option and the value', (kind, options, type, name, value) => {
      const before = engine.memoryStats();
      const e = thrown(() => makeOptimizer(kind, options, engine));
      expect(e.constructor.name).toBe(type);
      expect(e.message).toMatch(name);
      expect(e.message).toMatch(value);
      expect(e.message).toContain(kind);
      expect(engine.memoryStats()).toEqual(before); // nothing allocated
    });

    it.each(KINDS)('%s: options that are not an object throw a TypeError', async (kind) => {
      await init(); // these calls cannot pass an engine, so they use the default one
      const Ctor = OPTIMIZERS[kind] as unknown as new (o: unknown) => AnyOptimizer;
      for (const bad of [5, 'lr=1', true]) {
        const e = thrown(() => new Ctor(bad));
        expect(e).toBeInstanceOf(TypeError);
        expect(e.message).toMatch(new RegExp(`${kind}: options must be an object, got`));
      }
    });

    it.each(KINDS)('%s: setting a bad lr throws and keeps the old one', (kind) => {
      const opt = makeOptimizer(kind, { lr: 0.01 }, engine);
      for (const [bad, type, text] of [
        [-1, RangeError, /'lr'.*-1/],
        [NaN, RangeError, /'lr'.*NaN/],
        [Infinity, RangeError, /'lr'.*Infinity/],
        ['0.1', TypeError, /'lr'.*'0\.1'/],
      ] as const) {
        const e = thrown(() => {
          opt.lr = bad as number;
        });
        expect(e).toBeInstanceOf(type);
        expect(e.message).toMatch(text);
        expect(opt.lr).toBe(0.01);
      }
      opt.lr = 0; // zero is allowed (PyTorch allows it too)
      expect(opt.lr).toBe(0);
      opt.dispose();
    });

    it('the options getter and the state dict hand out copies, not the live hyperparameters', () => {
      const opt = makeOptimizer('Adam', { lr: 0.01, betas: [0.9, 0.999] }, engine);
      const w = opt.param(new Float32Array([1, 2]));
      const o = opt.options as unknown as { betas: number[]; lr: number };
      o.betas[0] = 5;
      o.lr = 7;
      const d = opt.stateDict();
      (d.options.betas as number[])[1] = 9;
      expect(opt.options.betas).toEqual([0.9, 0.999]);
      expect(opt.lr).toBe(0.01);
      w.grad.set([1, 1]);
      opt.step();
      expect(opt.stateDict().options.betas).toEqual([0.9, 0.999]);
      opt.dispose();
    });
  });

  describe('param(), setGrad(), setData()', () => {
    it.each([
      [-1, RangeError, /size.*-1/],
      [1.5, RangeError, /size.*1\.5/],
      [NaN, RangeError, /size.*NaN/],
      [Infinity, RangeError, /size.*Infinity/],
      ['3', TypeError, /'3'/],
      [null, TypeError, /null/],
      [{}, TypeError, /an object/],
      [[1, NaN, 3], RangeError, /\[1\] is NaN/],
      [[Infinity], RangeError, /\[0\] is Infinity/],
      [new Float64Array([0, -Infinity]), RangeError, /\[1\] is -Infinity/],
      [[0, 1e39], RangeError, /\[1\] is 1e\+39.*float32/],
      [[1, 'a'], TypeError, /\[1\] is 'a'/],
    ])('param(%o) throws %o and adds nothing', (init, type, text) => {
      const opt = makeOptimizer('Adam', {}, engine);
      opt.param(4);
      const before = engine.memoryStats();
      const e = thrown(() => opt.param(init as unknown as number));
      expect(e).toBeInstanceOf(type);
      expect(e.message).toMatch(text);
      expect(e.message).toContain('Adam.param');
      expect(opt.params.length).toBe(1);
      expect(engine.memoryStats()).toEqual(before);
      opt.dispose();
    });

    it('param(0) is an empty tensor that steps without trouble', () => {
      const opt = makeOptimizer('Adam', {}, engine);
      const z = opt.param(0);
      const w = opt.param(new Float32Array([1]));
      w.grad.set([1]);
      expect(opt.step()).toBe(true);
      expect(z.data.length).toBe(0);
      expect(w.data[0]).toBeCloseTo(1 - 1e-3, 6);
      opt.dispose();
    });

    it('setGrad and setData check the length (and the type) before writing', () => {
      const opt = makeOptimizer('SGD', { momentum: 0.9 }, engine);
      const p = opt.param(new Float32Array([1, 2, 3]));
      p.setGrad([4, 5, 6]);
      const before = snapshot(opt);
      for (const [call, values, type, text] of [
        ['setGrad', [1, 2], RangeError, /setGrad expects 3 values, got 2/],
        ['setGrad', new Float32Array(4), RangeError, /setGrad expects 3 values, got 4/],
        ['setData', [], RangeError, /setData expects 3 values, got 0/],
        ['setData', new Float64Array(1000), RangeError, /setData expects 3 values, got 1000/],
        ['setGrad', 7, TypeError, /setGrad expects an array of 3 numbers/],
        ['setData', null, TypeError, /setData expects an array of 3 numbers/],
      ] as const) {
        const e = thrown(() => (p[call] as (v: unknown) => void)(values));
        expect(e).toBeInstanceOf(type);
        expect(e.message).toMatch(text);
        expect(snapshot(opt)).toEqual(before);
      }
      p.setData([7, 8, 9]);
      expect(Array.from(p.data)).toEqual([7, 8, 9]);
      opt.dispose();
    });
  });

  describe('use after dispose()', () => {
    it.each(KINDS)(
      '%s: every method and every param accessor throws a DisposedError; the memory is returned',
      (kind) => {
        const before = engine.memoryStats();
        const opt = makeOptimizer(kind, {}, engine);
        const p = opt.param(new Float32Array([1, 2, 3]));
        p.grad.set([0.1, 0.2, 0.3]);
        opt.step();
        const dict = opt.stateDict();
        const bytes = opt.save();
        const stateKey = p.stateKeys[0];
        opt.dispose();
        expect(opt.isDisposed).toBe(true);
        expect(p.isDisposed).toBe(true);
        expect(engine.memoryStats().bytesInUse).toBe(before.bytesInUse);
        expect(engine.memoryStats().blocksInUse).toBe(before.blocksInUse);
        const calls: [string, () => unknown][] = [
          ['param', () => opt.param(3)],
          ['step', () => opt.step()],
          ['zeroGrad', () => opt.zeroGrad()],
          ['stateDict', () => opt.stateDict()],
          ['loadStateDict', () => opt.loadStateDict(dict)],
          ['firstNonFiniteGrad', () => opt.firstNonFiniteGrad()],
          ['save', () => opt.save()],
          ['load', () => opt.load(bytes)],
          [
            'lr',
            () => {
              opt.lr = 0.5;
            },
          ],
          ['p.data', () => p.data],
          ['p.grad', () => p.grad],
          ['p.state', () => (stateKey ? p.state(stateKey) : p.data)],
          ['p.setGrad', () => p.setGrad([1, 2, 3])],
          ['p.setData', () => p.setData([1, 2, 3])],
        ];
        for (const [what, call] of calls) {
          const e = thrown(call);
          expect(e, what).toBeInstanceOf(DisposedError);
          expect(e.message, what).toMatch(/disposed/);
          expect(e.message, what).toMatch(/create a new one/);
        }
        expect(() => opt.dispose()).not.toThrow(); // a second dispose is a no-op
        expect(engine.memoryStats().bytesInUse).toBe(before.bytesInUse);
      },
    );
  });

  describe('non-finite gradients', () => {
    const setups: [Kind, Record<string, unknown>][] = [
      ['Adam', { lr: 0.01, amsgrad: true }],
      ['AdamW', { lr: 0.01 }],
      ['SGD', { lr: 0.01, momentum: 0.9 }],
      ['Adagrad', { lr: 0.01 }],
      ['RMSprop', { lr: 0.01, centered: true, momentum: 0.9 }],
    ];
    // [param index, element index]: in a 1-element tensor, the 16-wide body, the 4-wide loop, the tail.
    const spots: [number, number][] = [
      [0, 0],
      [1, 5],
      [1, 17],
      [2, 34],
      [3, 4098],
    ];
    const bads = [NaN, Infinity, -Infinity];

    function build3(kind: Kind, options: Record<string, unknown>): AnyOptimizer {
      const opt = makeOptimizer(kind, options, engine);
      const r = rng(3);
      for (const n of [1, 33, 35, 4099]) opt.param(randomF32(n, r));
      for (let t = 0; t < 3; t++) {
        for (const p of opt.params) fillGrad(p.grad, 'normal', r);
        opt.step();
      }
      for (const p of opt.params) fillGrad(p.grad, 'normal', r);
      return opt;
    }

    it.each(setups)("%s %j, 'throw': throws NonFiniteGradientError and changes nothing", (kind, options) => {
      const opt = build3(kind, { ...options, nonFinite: 'throw' });
      for (const [pi, ei] of spots) {
        for (const bad of bads) {
          const keep = opt.params[pi].grad[ei];
          opt.params[pi].grad[ei] = bad;
          const before = snapshot(opt);
          expect(opt.firstNonFiniteGrad()).toBe(pi);
          const e = thrown(() => opt.step());
          expect(e).toBeInstanceOf(NonFiniteGradientError);
          expect(e).toBeInstanceOf(RangeError);
          expect(e.message).toContain(`param #${pi}`);
          expect(e.message).toMatch(/nothing was changed/);
          expect(snapshot(opt)).toEqual(before);
          expect(opt.stepCount).toBe(3);
          opt.params[pi].grad[ei] = keep;
        }
      }
      // Once the gradients are finite again, the step goes through.
      expect(opt.firstNonFiniteGrad()).toBe(-1);
      expect(opt.step()).toBe(true);
      expect(opt.stepCount).toBe(4);
      opt.dispose();
    });

    it.each(setups)("%s %j, 'skip': step() returns false and changes nothing", (kind, options) => {
      const opt = build3(kind, { ...options, nonFinite: 'skip' });
      for (const [pi, ei] of spots) {
        for (const bad of bads) {
          const keep = opt.params[pi].grad[ei];
          opt.params[pi].grad[ei] = bad;
          const before = snapshot(opt);
          expect(opt.step()).toBe(false);
          expect(snapshot(opt)).toEqual(before);
          opt.params[pi].grad[ei] = keep;
        }
      }
      expect(opt.stepCount).toBe(3);
      expect(opt.step()).toBe(true);
      expect(opt.stepCount).toBe(4);
      opt.dispose();
    });

    it.each(setups)(
      "%s %j, 'ignore': no check, the step runs and the non-finite value spreads (PyTorch's behaviour)",
      (kind, options) => {
        const opt = build3(kind, { ...options, nonFinite: 'ignore' });
        const twin = build3(kind, { ...options, nonFinite: 'ignore' });
        opt.params[2].grad[34] = NaN;
        twin.params[2].grad[34] = 0;
        expect(opt.step()).toBe(true);
        twin.step();
        expect(opt.stepCount).toBe(4);
        expect(Number.isNaN(opt.params[2].data[34])).toBe(true);
        // Every other element took exactly the step it would have taken.
        const d = opt.params[2].data.slice();
        const e = twin.params[2].data.slice();
        d[34] = e[34] = 0;
        expect(Array.from(d)).toEqual(Array.from(e));
        for (const i of [0, 1, 3]) expect(Array.from(opt.params[i].data)).toEqual(Array.from(twin.params[i].data));
        opt.dispose();
        twin.dispose();
      },
    );
  });

  describe('memory growth', () => {
    it('views kept from before growth are detached; the getters hand out current views with the old values, and steps still work', async () => {
      const own = await createEngine({ simd: build === 'simd' }); // a fresh engine: the growth is certain
      const opt = makeOptimizer('Adam', { lr: 0.01 }, own);
      const twin = makeOptimizer('Adam', { lr: 0.01 }, engine); // the same run without growth
      const r = rng(9);
      const init = randomF32(1000, r);
      const p = opt.param(init);
      const q = twin.param(init);
      const g = fillGrad(new Float32Array(1000), 'normal', r);
      p.grad.set(g);
      q.grad.set(g);
      opt.step();
      twin.step();
      const oldData = p.data;
      const oldGrad = p.grad;
      const oldState = p.state('exp_avg');
      const values = oldData.slice();
      const buffer = own.memory.buffer;
      const bytes = buffer.byteLength;

      const big = opt.param(4 << 20); // 4M elements x 4 tensors = 64 MiB: memory must grow
      expect(own.memory.buffer).not.toBe(buffer);
      expect(own.memory.buffer.byteLength).toBeGreaterThan(bytes + (64 << 20) - 1);
      expect(oldData.length).toBe(0); // detached: what a kept view looks like after growth
      expect(oldGrad.length).toBe(0);
      expect(oldState.length).toBe(0);

      expect(p.data === oldData).toBe(false);
      expect(own.isCurrent(p.data)).toBe(true);
      expect(own.isCurrent(p.grad)).toBe(true);
      expect(own.isCurrent(p.state('exp_avg'))).toBe(true);
      expect(Array.from(p.data)).toEqual(Array.from(values));
      expect(Array.from(p.grad)).toEqual(Array.from(g));
      expect(big.data.length).toBe(4 << 20);
      expect(big.data.every((x) => x === 0)).toBe(true);

      // Writes through the new views reach the engine, and the step matches the run without growth.
      const g2 = fillGrad(new Float32Array(1000), 'normal', r);
      p.grad.set(g2);
      q.grad.set(g2);
      big.grad[123] = 1;
      opt.step();
      twin.step();
      expect(Array.from(p.data)).toEqual(Array.from(q.data));
      expect(Array.from(p.state('exp_avg_sq'))).toEqual(Array.from(q.state('exp_avg_sq')));
      expect(big.data[123]).toBeCloseTo(-0.01, 6);
      opt.dispose();
      twin.dispose();
      expect(own.memoryStats().bytesInUse).toBe(0);
    });
  });

  describe('loadStateDict with a mismatching dict', () => {
    function trained(kind: Kind, options: Record<string, unknown>): AnyOptimizer {
      const opt = makeOptimizer(kind, options, engine);
      const r = rng(4);
      opt.param(randomF32(5, r));
      opt.param(randomF32(8, r));
      for (let t = 0; t < 3; t++) {
        for (const p of opt.params) fillGrad(p.grad, 'normal', r);
        opt.step();
      }
      return opt;
    }

    const edits: [string, (d: OptimizerStateDict) => unknown, 'RangeError' | 'TypeError', RegExp][] = [
      ['null', () => null, 'TypeError', /expected a state dict object/],
      ['another kind', (d) => ({ ...d, kind: 'SGD' }), 'TypeError', /for SGD, not Adam/],
      ['a bad stepCount', (d) => ({ ...d, stepCount: -1 }), 'RangeError', /stepCount -1/],
      ['a fractional stepCount', (d) => ({ ...d, stepCount: 1.5 }), 'RangeError', /stepCount 1\.5/],
      [
        'one param fewer',
        (d) => ({ ...d, params: d.params.slice(0, 1) }),
        'RangeError',
        /holds 1 params, this optimizer has 2/,
      ],
      ['one param more', (d) => ({ ...d, params: [...d.params, d.params[0]] }), 'RangeError', /holds 3 params/],
      [
        'a wrong length',
        (d) => ({ ...d, params: [d.params[0], { ...d.params[1], length: 9 }] }),
        'RangeError',
        /param #1 has length 9/,
      ],
      [
        'a step beyond stepCount',
        (d) => ({ ...d, params: [d.params[0], { ...d.params[1], step: 6 }] }),
        'RangeError',
        /param #1 has a bad step 6/,
      ],
      [
        'a missing state tensor',
        (d) => ({ ...d, params: [d.params[0], { ...d.params[1], state: { exp_avg: d.params[1].state.exp_avg } }] }),
        'RangeError',
        /param #1 state 'exp_avg_sq' is missing/,
      ],
      [
        'a short state tensor',
        (d) => ({
          ...d,
          params: [d.params[0], { ...d.params[1], state: { ...d.params[1].state, exp_avg: new Float32Array(3) } }],
        }),
        'RangeError',
        /param #1 state 'exp_avg' is missing or has the wrong length/,
      ],
      [
        'a non-number in a state tensor',
        (d) => ({
          ...d,
          params: [
            d.params[0],
            { ...d.params[1], state: { ...d.params[1].state, exp_avg: [1, 2, 3, 4, 5, 6, 7, 'x'] } },
          ],
        }),
        'TypeError',
        /'exp_avg'\[7\] is not a number/,
      ],
      [
        'options that need other state (amsgrad)',
        (d) => ({ ...d, options: { ...d.options, amsgrad: true } }),
        'RangeError',
        /max_exp_avg_sq/,
      ],
      [
        'an invalid option',
        (d) => ({ ...d, options: { ...d.options, lr: -1 } }),
        'RangeError',
        /options are invalid.*'lr'.*-1/,
      ],
      [
        'an option of the wrong type',
        (d) => ({ ...d, options: { ...d.options, amsgrad: 'no' } }),
        'TypeError',
        /options are invalid.*'amsgrad'.*'no'/,
      ],
    ];

    it.each(edits)('a dict with %s throws and changes nothing', (_what, edit, type, text) => {
      const opt = trained('Adam', { lr: 0.01 });
      const good = opt.stateDict();
      // Make the good dict differ from the optimizer's current state, so a partial load would show.
      const donor = trained('Adam', { lr: 0.02, betas: [0.5, 0.9] });
      for (let t = 0; t < 2; t++) {
        for (const p of donor.params) fillGrad(p.grad, 'huge', rng(t));
        donor.step();
      }
      const other = donor.stateDict();
      donor.dispose();
      const before = snapshot(opt);
      const e = thrown(() => opt.loadStateDict(edit(other) as OptimizerStateDict));
      expect(e.constructor.name).toBe(type);
      expect(e.message).toMatch(text);
      expect(e.message).toContain('Adam.loadStateDict');
      expect(snapshot(opt)).toEqual(before);
      expect(opt.stateDict().params.map((p) => p.step)).toEqual(good.params.map((p) => p.step));
      // The untouched dict still loads.
      opt.loadStateDict(other);
      expect(opt.stepCount).toBe(5);
      expect(opt.lr).toBe(0.02);
      opt.dispose();
    });
  });

  describe('two optimizers in one engine', () => {
    it('interleaved params, steps and a dispose do not disturb each other (bit for bit against solo runs)', async () => {
      // Each optimizer also runs alone in an engine of its own.
      const solos = await Promise.all([0, 1, 2].map(() => createEngine({ simd: build === 'simd' })));
      const mk = (e: Engine[]): AnyOptimizer[] => [
        makeOptimizer('Adam', { lr: 0.01, amsgrad: true }, e[0]),
        makeOptimizer('SGD', { lr: 0.01, momentum: 0.9, nesterov: true }, e[1]),
        makeOptimizer('RMSprop', { lr: 0.01, centered: true }, e[2]),
      ];
      const shared = mk([engine, engine, engine]); // all three in one engine, their blocks interleaved
      const alone = mk(solos);
      const r = rng(8);
      const sizes = [7, 33, 1000, 4];
      // Interleave allocations in the shared engine: param k of every optimizer before param k+1.
      for (const n of sizes) {
        for (let j = 0; j < shared.length; j++) {
          const init = randomF32(n, r);
          shared[j].param(init);
          alone[j].param(init);
        }
      }
      for (let t = 0; t < 12; t++) {
        if (t === 6) {
          // Dispose the middle optimizer; the next allocations may reuse its memory.
          shared[1].dispose();
          alone[1].dispose();
          for (const j of [0, 2]) {
            const init = randomF32(50, r);
            shared[j].param(init);
            alone[j].param(init);
          }
        }
        for (let j = 0; j < shared.length; j++) {
          if (shared[j].isDisposed) continue;
          shared[j].params.forEach((p, i) => {
            const g = fillGrad(new Float32Array(p.length), 'normal', r);
            p.grad.set(g);
            alone[j].params[i].grad.set(g);
          });
        }
        // Step in a different order in the shared engine and the solo ones.
        for (const o of shared) if (!o.isDisposed) o.step();
        for (const o of [...alone].reverse()) if (!o.isDisposed) o.step();
        for (const j of [0, 2]) expect(bitDiffs(shared[j], alone[j], `optimizer ${j} step ${t}`)).toEqual([]);
      }
      for (const o of [...shared, ...alone]) o.dispose();
      for (const e of solos) expect(e.memoryStats().bytesInUse).toBe(0);
    });
  });
});
