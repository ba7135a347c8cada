// The int8 encoder's bucket tables (assembly/shared/maps.ts, docs/lean-storage.md): the code of every
// value at the edges of every bucket, and around every midpoint of both maps, is the nearest map
// entry (float64 distance), an exact tie taking the entry nearer zero; in both builds.
import { describe, expect, it } from 'vitest';
import { dynamicMap, dynamicMapsBlock } from '../src/embedding/dynamic-map.js';
import { SLOT as S } from '../src/core/abi.js';
import { BUILD_NAMES, engineFor } from './engines.js';

/** The nearest entry of `map` to x (float64), ties to the entry nearer zero. */
function nearest(map: Float32Array, x: number): number {
  let best = 0;
  for (let c = 1; c < 256; c++) {
    const d = Math.abs(map[c] - x),
      b = Math.abs(map[best] - x);
    if (d < b || (d === b && Math.abs(map[c]) < Math.abs(map[best]))) best = c;
  }
  return best;
}

/** float32 values around every bucket edge and every midpoint, in [0, 1]. */
function hardValues(): Float32Array {
  const out: number[] = [0, 1, 2 ** -149, 1e-30];
  const f = new Float32Array(1),
    u = new Uint32Array(f.buffer);
  const around = (bits: number, k: number) => {
    for (let d = -k; d <= k; d++) {
      u[0] = bits + d;
      if (f[0] >= 0 && f[0] <= 1) out.push(f[0]);
    }
  };
  for (let b = 0; b <= S.BKT_COUNT; b++) around((b + S.BKT_FIRST) * 2 ** S.BKT_SHIFT, 2);
  for (const m of [dynamicMap(true), dynamicMap(false)])
    for (let c = 0; c < 255; c++) {
      f[0] = (m[c] + m[c + 1]) / 2;
      around(u[0], 3);
    }
  return new Float32Array(out);
}

for (const build of BUILD_NAMES) {
  describe(`int8 encoder buckets (${build})`, () => {
    it('codes the edges of every bucket and the floats around every midpoint as the nearest entry', async () => {
      const e = await engineFor(build);
      const abs = hardValues();
      const n = abs.length * 2;
      const maps = e.alloc(S.MAPS_BYTES),
        src = e.alloc(n * 4),
        dst = e.alloc(n);
      try {
        new Uint8Array(e.memory.buffer, maps, S.MAPS_BYTES).set(dynamicMapsBlock());
        for (const signed of [true, false]) {
          const map = dynamicMap(signed);
          const x = new Float32Array(n);
          for (let i = 0; i < abs.length; i++) {
            x[2 * i] = abs[i];
            x[2 * i + 1] = signed ? -abs[i] : abs[i];
          }
          e.heapF32.set(x, src >>> 2);
          // absmax 1: the quotient is the value itself.
          e.exports.leanEncodeTest(maps, dst, src, n, 1, signed ? 1 : 0);
          const codes = new Uint8Array(e.memory.buffer, dst, n).slice();
          let bad = 0;
          for (let i = 0; i < n; i++) {
            const want = nearest(map, x[i]);
            if (codes[i] !== want && bad++ < 5)
              expect.fail(`x = ${x[i]} (${signed ? 'signed' : 'unsigned'}): code ${codes[i]}, nearest ${want}`);
          }
          expect(bad).toBe(0);
        }
      } finally {
        e.free(maps);
        e.free(src);
        e.free(dst);
      }
    });
  });
}
