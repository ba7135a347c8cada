// The non-finite pre-pass (assembly/shared/finite.ts hasNonFinite) over raw bit patterns: every NaN
// (quiet, signalling, negative, any payload) and both infinities are found at every position of
// the SIMD blocks and the scalar tail; the largest finite values, zeros and subnormals are not.
import { describe, expect, it } from 'vitest';
import { SGD } from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';

const BAD = [0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0xffffffff, 0x7fbfffff];
const GOOD = [0x7f7fffff, 0xff7fffff, 0, 0x80000000, 1, 0x80000001, 0x007fffff, 0x3f800000];

describe.each(BUILD_NAMES)('non-finite check on bit patterns (%s)', (build) => {
  it('finds every NaN and infinity at every position, and nothing else', async () => {
    const engine = await engineFor(build);
    for (const n of [1, 3, 4, 15, 16, 17, 33, 67]) {
      const opt = new SGD({ lr: 0.1, engine });
      const p = opt.param(n);
      const bits = new Uint32Array(p.grad.buffer, p.grad.byteOffset, n);
      for (let i = 0; i < n; i++) bits[i] = GOOD[i % GOOD.length];
      expect(opt.firstNonFiniteGrad()).toBe(-1);
      for (let at = 0; at < n; at++) {
        for (const bad of BAD) {
          const keep = bits[at];
          bits[at] = bad;
          expect(opt.firstNonFiniteGrad(), `n ${n} at ${at} bits ${bad.toString(16)}`).toBe(0);
          bits[at] = keep;
        }
      }
      opt.dispose();
    }
  });

  it('the clamped norm pass (clipGradValue with clipGradNorm) finds them too: the clamp cannot hide an infinity', async () => {
    const engine = await engineFor(build);
    for (const n of [1, 5, 16, 17, 67]) {
      const opt = new SGD({ lr: 0.1, engine, clipGradNorm: 1e9, clipGradValue: 0.5, nonFinite: 'skip' });
      const p = opt.param(n);
      const bits = new Uint32Array(p.grad.buffer, p.grad.byteOffset, n);
      for (let i = 0; i < n; i++) bits[i] = GOOD[i % GOOD.length];
      for (let at = 0; at < n; at++) {
        for (const bad of BAD) {
          const keep = bits[at];
          bits[at] = bad;
          expect(opt.step(), `n ${n} at ${at} bits ${bad.toString(16)}`).toBe(false);
          bits[at] = keep;
        }
      }
      expect(opt.step()).toBe(true);
      opt.dispose();
    }
  });
});
