// Adam's first-order d/dlr without L2 decay keeps the moments' tangents at +0, and the kernel then
// reads and writes only dθ/dlr (META_ZERO_MOMENTS, assembly/meta/adam.ts). The shortcut must give
// the bits of the full kernel, which 'hvp' mode with a zero Hessian-vector product runs (same
// arithmetic, dg = +0); and once the moments' tangents are not +0 (a loaded state dict), the full
// kernel must run again.
import { describe, expect, it } from 'vitest';
import { Adam, AdamW, type Engine, type Optimizer } from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';

// Sizes around the SIMD loop's tails (4 floats a vector, 8 unrolled).
const SIZES = [1, 3, 7, 64, 1027];
const gradAt = (x: ArrayLike<number>, t: number): Float32Array =>
  Float32Array.from(x, (v, i) => (1 + (i % 3)) * v - 0.5 + 0.3 * Math.sin(i + t));

const KINDS: [string, (engine: Engine) => Optimizer][] = [
  ['Adam', (engine) => new Adam({ lr: 0.05, betas: [0.8, 0.95], engine })],
  ['AdamW', (engine) => new AdamW({ lr: 0.05, weightDecay: 0.1, engine })],
  ['Adam maximize', (engine) => new Adam({ lr: 0.02, maximize: true, engine })],
];

/** `n` params stepped `steps` times with the same gradients, tracking lr in `mode` ('hvp' with H·v = 0). */
function run(make: (e: Engine) => Optimizer, engine: Engine, n: number, mode: 'first-order' | 'hvp', steps: number) {
  const opt = make(engine);
  const p = opt.param(Float32Array.from({ length: n }, (_v, i) => Math.cos(i) * 2));
  opt.trackMetaGradients(['lr'], { mode });
  for (let t = 0; t < steps; t++) {
    p.grad.set(gradAt(p.data, t));
    if (mode === 'hvp') opt.step({ hvp: ([v]) => [new Float32Array(v.length)] });
    else opt.step();
  }
  return opt;
}

const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.slice().buffer));

describe.each(BUILD_NAMES)('meta-gradients: the +0 moments shortcut (%s build)', (build) => {
  it.each(KINDS)('%s: first-order d/dlr gives the bits of the full kernel at every SIMD tail', async (_k, make) => {
    const engine = await engineFor(build);
    for (const n of SIZES) {
      const a = run(make, engine, n, 'first-order', 40);
      const b = run(make, engine, n, 'hvp', 40);
      expect(bits(a.params[0].data), `n=${n}`).toEqual(bits(b.params[0].data));
      const ta = a.stateDict().metaGradients!.tangents[0].lr;
      const tb = b.stateDict().metaGradients!.tangents[0].lr;
      for (const slot of ['param', 'exp_avg', 'exp_avg_sq'])
        expect(bits(ta[slot]), `${slot} n=${n}`).toEqual(bits(tb[slot]));
      // d(param)/dlr moved: the shortcut still updates it.
      expect(ta.param.some((x) => x !== 0)).toBe(true);
      expect(ta.exp_avg.every((x) => Object.is(x, 0))).toBe(true);
      a.dispose();
      b.dispose();
    }
  });

  it('a state dict with nonzero moment tangents runs the full kernel (dm = b1 dm0, dv = b2 dv0)', async () => {
    const engine = await engineFor(build);
    const n = 9;
    const a = run(KINDS[0][1], engine, n, 'first-order', 3);
    const dict = a.stateDict();
    const t = dict.metaGradients!.tangents[0].lr;
    t.exp_avg = Float32Array.from({ length: n }, (_v, i) => 0.01 * (i + 1));
    t.exp_avg_sq = Float32Array.from({ length: n }, (_v, i) => 0.002 * (i + 1));
    const b = KINDS[0][1](engine);
    b.param(new Float32Array(n));
    b.loadStateDict(dict);
    const p = b.params[0];
    p.grad.set(gradAt(p.data, 3));
    b.step();
    const after = b.stateDict().metaGradients!.tangents[0].lr;
    expect(Array.from(after.exp_avg)).toEqual(Array.from(t.exp_avg, (x) => Math.fround(Math.fround(0.8) * x)));
    expect(Array.from(after.exp_avg_sq)).toEqual(Array.from(t.exp_avg_sq, (x) => Math.fround(Math.fround(0.95) * x)));
    // And loading +0 moments back turns the shortcut on again: the same bits as the run that never left it.
    const c = KINDS[0][1](engine);
    c.param(a.params[0].data.slice()); // a state dict carries no param values (as PyTorch's)
    c.loadStateDict(a.stateDict());
    for (const o of [a, c]) {
      o.params[0].grad.set(gradAt(o.params[0].data, 3));
      o.step();
    }
    expect(bits(c.params[0].data)).toEqual(bits(a.params[0].data));
    expect(bits(c.stateDict().metaGradients!.tangents[0].lr.param)).toEqual(
      bits(a.stateDict().metaGradients!.tangents[0].lr.param),
    );
    for (const o of [a, b, c]) o.dispose();
  });
});
