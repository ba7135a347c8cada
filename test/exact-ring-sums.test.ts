// Exact mode's history ring (assembly/embedding/exact.ts, exactAdvance): after every update t, the
// entry of each step s < t holds the sums of the drift terms of the steps s + 1 .. t of its window,
// added one step at a time in float64, in the order the catch-up's series were derived with:
//   w = coef_t b1^j,  c = sqrt(b2)^j ib_t,  j = t - s <= J,
//   B_n += w / c^(n+1) (n = 0..3, the powers of 1/c by repeated multiplication),
//   E_n += w (c - cb)^n (n = 0..15, likewise), only in entries whose window has a centre cb > 0.
// This replays that recurrence in JavaScript (IEEE float64, the same operations in the same order)
// from the ring's own per-step values and the table of powers, and asks for the same bits in every
// entry: a term dropped, added twice or taken in another order changes them.
import { describe, expect, it } from 'vitest';
import { Embedding } from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { rng } from './rng.js';

const ENTRY = 32; // float64 per ring entry (256 bytes): [logD, coef, ib, B0..B3, cb, E0..E15]

interface ExactInternals {
  ringPtr: number;
  exact: { ringSize: number; window: number; pow: Float64Array };
  engine: { memory: WebAssembly.Memory };
}

describe.each(BUILD_NAMES)('exact mode history ring (%s)', (build) => {
  it.each([
    ['adam', {}],
    ['adam amsgrad', { amsgrad: true }],
  ] as const)('%s: each entry holds its window terms summed step by step, to the bit', async (_name, extra) => {
    const engine = await engineFor(build);
    const rows = 6,
      dim = 4,
      T = 700; // past the summed window (J = 263) and past the first windows without a centre
    const emb = new Embedding(rows, dim, { optimizer: 'adam', lr: 0.01, mode: 'exact', engine, ...extra });
    const rand = rng(7);
    for (let t = 1; t <= T; t++) {
      const g = new Float32Array(dim).map(() => 2 * rand() - 1);
      emb.update(Int32Array.of(t % rows), g);
    }
    const x = emb.table as unknown as ExactInternals;
    const H = x.exact.ringSize,
      J = x.exact.window,
      pw = x.exact.pow;
    expect(T).toBeLessThan(H); // every entry since step 0 is still in the ring
    const ring = new Float64Array(x.engine.memory.buffer, x.ringPtr, H * ENTRY);
    const ams = extra !== null && 'amsgrad' in extra;
    let centred = 0;
    for (let s = 1; s < T; s++) {
      const e = s * ENTRY;
      const cb = ring[e + 7];
      const B = [0, 0, 0, 0];
      const E = new Array<number>(16).fill(0);
      for (let t = s + 1; t <= Math.min(T, s + J); t++) {
        const j = t - s;
        const coef = ring[t * ENTRY + 1],
          ib = ring[t * ENTRY + 2];
        const w = 1.0 * coef * pw[j];
        const c = (ams ? 1.0 : pw[2 * H + j]) * ib;
        const ic = 1.0 / c;
        let q = w * ic;
        for (let n = 0; n < 4; n++) {
          B[n] = B[n] + q;
          q *= ic;
        }
        if (cb > 0) {
          const d = c - cb;
          let f = w;
          for (let n = 0; n < 16; n++) {
            E[n] = E[n] + f;
            f *= d;
          }
        }
      }
      if (cb > 0) centred++;
      expect(Array.from(ring.subarray(e + 3, e + 7)), `B of step ${s}`).toEqual(B);
      expect(Array.from(ring.subarray(e + 8, e + 24)), `E of step ${s}`).toEqual(E);
    }
    expect(centred).toBeGreaterThan(300); // the centred sums were checked, not only zeros
    emb.dispose();
  });
});
