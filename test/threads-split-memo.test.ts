// The pool reuses its last element split (src/threads/split.ts, SplitMemo) while the table's
// descriptors, the chunk count and the scratch are unchanged: the reused sub-tables are exactly a
// new split's, a changed descriptor or scratch splits again, the jobs arrays are the pool's own, and
// steps that interleave tables, kernels, a caller's ThreadPool.run and params added mid-run give the
// same bits on 2 threads as on 1.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Adam, createEngine, type Engine } from '../src/index.js';
import { SplitMemo, splitElements } from '../src/threads/split.js';
import { poolOf } from './engines.js';
import { randomArray, rng } from './rng.js';
import { firstBitDiff } from './dense-util.js';

/** A heap with a table of `lens` descriptors at byte 0 (param, grad, 3 states, length, hyper, 0). */
function heap(lens: number[]): Uint32Array {
  const u32 = new Uint32Array(4096);
  lens.forEach((len, t) => {
    const d = t * 8;
    u32.set([1000 + t * 64, 2000 + t * 64, 3000 + t * 64, 0, 0, len, 512 + t * 16, 0], d);
  });
  return u32;
}

describe('SplitMemo', () => {
  const base = 1024; // scratch at byte 1024 (u32 word 256)

  it('splits as splitElements does, then returns the same parts without rewriting the scratch', () => {
    const u32 = heap([1000, 37, 4096]);
    const fresh = heap([1000, 37, 4096]);
    const memo = new SplitMemo();
    const a = memo.split(u32, 0, 3, 5133, 4, base);
    expect(a).toEqual(splitElements(fresh, 0, 3, 5133, 4, base));
    expect(Array.from(u32.subarray(256, 256 + 7 * 8))).toEqual(Array.from(fresh.subarray(256, 256 + 7 * 8)));
    u32.fill(7, 256, 256 + 7 * 8); // a mark: a reused split must not write the scratch
    expect(memo.split(u32, 0, 3, 5133, 4, base)).toBe(a);
    expect(u32[256]).toBe(7);
  });

  it('splits again when a descriptor word, the table, the count, the parts or the scratch changed', () => {
    const memo = new SplitMemo();
    const u32 = heap([1000, 37, 4096]);
    let last = memo.split(u32, 0, 3, 5133, 4, base);
    const changes: [string, () => ReturnType<SplitMemo['split']>][] = [
      ['a length', () => ((u32[8 + 5] = 40), memo.split(u32, 0, 3, 5136, 4, base))],
      ['a state pointer', () => ((u32[3] = 4000), memo.split(u32, 0, 3, 5136, 4, base))],
      ['the hyper block', () => ((u32[16 + 6] = 999), memo.split(u32, 0, 3, 5136, 4, base))],
      ['the count', () => memo.split(u32, 0, 2, 1040, 4, base)],
      ['the parts', () => memo.split(u32, 0, 2, 1040, 2, base)],
      ['the scratch', () => memo.split(u32, 0, 2, 1040, 2, base + 512)],
    ];
    for (const [what, change] of changes) {
      const next = change();
      expect(next, what).not.toBe(last);
      last = next;
    }
    // After a change, the scratch holds the new split.
    const fresh = u32.slice();
    expect(last).toEqual(splitElements(fresh, 0, 2, 1040, 2, base + 512));
    expect(Array.from(u32.subarray(384, 384 + 4 * 8))).toEqual(Array.from(fresh.subarray(384, 384 + 4 * 8)));
    memo.clear();
    expect(memo.split(u32, 0, 2, 1040, 2, base + 512)).not.toBe(last);
  });

  it('keeps one jobs array per kernel and split; owns only its own arrays', () => {
    const memo = new SplitMemo();
    const u32 = heap([1000, 37]);
    const parts = memo.split(u32, 0, 2, 1037, 2, base);
    const jobs = memo.jobsFor('adamStep', parts);
    expect(jobs).toEqual(parts.map((p) => ({ fn: 'adamStep', args: [p.at, p.count] })));
    expect(memo.jobsFor('adamStep', parts)).toBe(jobs);
    const other = memo.jobsFor('gradMaxAbs', parts);
    expect(other).not.toBe(jobs);
    expect(memo.jobsFor('adamStep', parts)).toBe(jobs);
    expect(memo.owns(jobs) && memo.owns(other)).toBe(true);
    expect(memo.owns(jobs.map((j) => ({ ...j })))).toBe(false); // a caller's equal array
    expect(memo.owns([])).toBe(false);
    // Parts that are not the memo's last split get fresh arrays it does not keep.
    const elsewhere = [{ at: 8, count: 1 }];
    const loose = memo.jobsFor('adamStep', elsewhere);
    expect(memo.owns(loose)).toBe(false);
    memo.split(u32, 0, 1, 1000, 2, base); // a new split forgets the jobs
    expect(memo.owns(jobs)).toBe(false);
  });
});

describe('the split memo on a 2-thread pool', () => {
  let one: Engine, two: Engine;
  beforeAll(async () => {
    one = await createEngine({ simd: true });
    two = await createEngine({ simd: true, threads: 2, minParallelElements: 0 });
  });
  afterAll(async () => {
    await two.shutdownThreads();
  });

  it('interleaved tables, kernels, a caller run and a param added mid-run: the same bits as 1 thread', () => {
    const pool = poolOf(two);
    const runs = [one, two].map((engine) => {
      const r = rng(17);
      // nonFinite 'throw' (the pre-pass splits the same table for gradMaxAbs) and 'ignore'.
      const a = new Adam({ lr: 1e-2, engine });
      const b = new Adam({ lr: 3e-3, engine, nonFinite: 'ignore', amsgrad: true });
      const pa = [a.param(randomArray(70001, r)), a.param(randomArray(333, r))];
      const pb = [b.param(randomArray(40000, r))];
      for (let s = 0; s < 7; s++) {
        if (s === 3) pa.push(a.param(randomArray(20000, r))); // a's table changes
        for (const p of [...pa, ...pb]) p.grad.set(randomArray(p.length, r));
        a.step();
        b.step();
        // b's table (no pre-pass) twice in a row: its chunks are not rewritten; but after a
        // caller's run they must be.
        if (engine === two && s === 4) pool.run([0, 1].map(() => ({ fn: 'gradMaxAbs', args: [0, 0] })));
        b.step();
      }
      return { a, b, params: [...pa, ...pb] };
    });
    const [ref, got] = runs;
    ref.params.forEach((p, i) => {
      expect(firstBitDiff(p.data, got.params[i].data), `param ${i}`).toBe(-1);
      for (const k of p.stateKeys) expect(firstBitDiff(p.state(k), got.params[i].state(k)), `${k} ${i}`).toBe(-1);
    });
    expect(pool.stats.chunksByWorkers).toBeGreaterThan(0);
    for (const r of runs) {
      r.a.dispose();
      r.b.dispose();
    }
  });

  it("a caller's jobs array run again after the caller changed it runs the changed jobs", () => {
    const pool = poolOf(two);
    // Two one-tensor tables of gradients with max |g| 2 and 5 (descriptor word 1 = grad, 5 = length).
    const tables = [2, 5].map((m) => {
      const g = two.alloc(64 * 4);
      two.f32(g, 64).fill(0.5)[9] = -m;
      const t = two.alloc(32);
      two.heapU32.fill(0, t >>> 2, (t >>> 2) + 8);
      two.heapU32[(t >>> 2) + 1] = g;
      two.heapU32[(t >>> 2) + 5] = 64;
      return t;
    });
    const jobs = [0, 1].map(() => ({ fn: 'gradMaxAbs' as const, args: [tables[0], 1] }));
    expect(pool.run(jobs)).toEqual([2, 2]);
    jobs[1].args[0] = tables[1];
    expect(pool.run(jobs)).toEqual([2, 5]);
  });
});
