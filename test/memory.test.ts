// Memory comes back: disposed optimizers return every byte to the engine, freed blocks are reused
// and merged with free neighbours, and 40 rounds of a 4M-parameter Adam keep the process flat.
import { describe, expect, it } from 'vitest';
import { Adam, AdamW, createEngine, getEngine, init, memoryStats, SGD, type Engine } from '../src/index.js';
import { BUILD_NAMES } from './engines.js';

const MiB = 1 << 20;

describe('the allocator, through the engine', () => {
  it('reuses freed blocks: a smaller request lands in a freed block, and alloc/free cycles never grow memory', async () => {
    const e = await createEngine({ simd: false });
    const a = e.alloc(MiB);
    const guard = e.alloc(16);
    e.free(a);
    const size = e.memoryStats().memoryBytes;
    // TLSF rounds a request up to the end of its size class (a "good fit"), so a request of
    // exactly a large free block's size may skip it; one class below lands in it.
    const b = e.alloc(MiB - 64 * 1024);
    expect(b).toBe(a);
    e.free(b);
    const c = e.alloc(MiB / 2);
    expect(c).toBe(a);
    e.free(c);
    expect(e.memoryStats().memoryBytes).toBe(size);
    const cycle = (i: number): void => {
      const x = e.alloc(MiB + (i % 7) * 4096);
      const y = e.alloc(16 + i);
      e.free(x);
      e.free(y);
    };
    for (let i = 0; i < 7; i++) cycle(i); // the first cycles may grow memory once
    const grown = e.memoryStats().memoryBytes;
    for (let i = 0; i < 200; i++) cycle(i);
    expect(e.memoryStats().memoryBytes).toBe(grown);
    e.free(guard);
    expect(e.memoryStats()).toMatchObject({ bytesInUse: 0, blocksInUse: 0 });
  });

  it.each([
    ['the first, then its next neighbour', [0, 1]],
    ['the second, then its previous neighbour', [1, 0]],
    ['both outer ones, then the middle one', [0, 2, 1]],
  ])('merges free neighbours: freeing %s gives one block that a larger allocation reuses', async (_label, order) => {
    const e = await createEngine({ simd: true });
    const blocks = order.length === 3 ? [e.alloc(MiB), e.alloc(MiB), e.alloc(MiB)] : [e.alloc(MiB), e.alloc(MiB)];
    const guard = e.alloc(16); // keeps the merged block away from the free space at the end
    for (let i = 1; i < blocks.length; i++) expect(blocks[i]).toBeGreaterThan(blocks[i - 1]);
    for (const i of order) e.free(blocks[i]);
    const size = e.memoryStats().memoryBytes;
    // Larger than any single freed block: it fits only where the neighbours were merged.
    // (TLSF rounds a request up to its size class, so ask a little below the merged size.)
    const merged = e.alloc(blocks.length * MiB - 4096);
    expect(merged).toBe(blocks[0]);
    expect(e.memoryStats().memoryBytes).toBe(size);
    e.free(merged);
    e.free(guard);
    expect(e.memoryStats()).toMatchObject({ bytesInUse: 0, blocksInUse: 0 });
  });

  it('rejects bad sizes and unknown blocks, changing nothing', async () => {
    const e = await createEngine({ simd: true });
    const a = e.alloc(64);
    const before = e.memoryStats();
    expect(() => e.alloc(-1)).toThrow(RangeError);
    expect(() => e.alloc(1.5)).toThrow(RangeError);
    expect(() => e.alloc(2 ** 31)).toThrow(/exceeds the engine's 1 GiB block limit/);
    expect(() => e.free(a + 16)).toThrow(/free of unknown block/);
    expect(e.memoryStats()).toEqual(before);
    e.free(a);
    expect(() => e.free(a)).toThrow(/free of unknown block/);
  });
});

describe('memoryStats()', () => {
  it('reports the default engine, and every optimizer gives back all it took', async () => {
    await init();
    const base = memoryStats();
    expect(base).toEqual(getEngine().memoryStats());
    const opts = [new Adam({ amsgrad: true }), new AdamW(), new SGD({ momentum: 0.9 })];
    opts.forEach((o, k) => {
      o.param(1000 + k);
      o.param(new Float32Array([1, 2, 3]));
      o.param(0);
      o.step();
    });
    const used = memoryStats();
    // Adam+AMSGrad: 5 tensors of 1000 floats at least; AdamW 4 x 1001; SGD 3 x 1002.
    expect(used.bytesInUse - base.bytesInUse).toBeGreaterThanOrEqual(4 * (5 * 1000 + 4 * 1001 + 3 * 1002));
    // Params live in one arena chunk per tensor kind (src/param-arena.ts), plus a table and a hyper block:
    // Adam+AMSGrad 5 kinds, AdamW 4, SGD with momentum 3.
    expect(used.blocksInUse - base.blocksInUse).toBe(5 + 4 + 3 + 3 * 2);
    opts.forEach((o) => o.dispose());
    expect(memoryStats()).toMatchObject({ bytesInUse: base.bytesInUse, blocksInUse: base.blocksInUse });
  });
});

function rss(): number {
  return process.memoryUsage().rss;
}

describe.each(BUILD_NAMES)('no leaks (%s)', (build) => {
  it('40 rounds of create a 4M-parameter Adam, step, dispose: resident memory stays flat', async () => {
    const engine: Engine = await createEngine({ simd: build === 'simd' });
    const N = 4 * MiB;
    const rssStart = rss();
    let rssMax = rssStart;
    let afterFirst = { rss: 0, memoryBytes: 0 };
    for (let round = 1; round <= 40; round++) {
      const opt = new Adam({ lr: 1e-3, engine });
      const w = opt.param(N);
      w.grad.fill(0.5);
      opt.step();
      w.grad.fill(-0.25);
      opt.step();
      // t = 2: m = 0.9*0.05 + 0.1*(-0.25) = 0.02, the first step moved w by -lr, the second by less.
      expect(w.data[N - 1]).toBeLessThan(-0.001 + 1e-6);
      expect(opt.params[0].state('exp_avg')[0]).toBeCloseTo(0.02, 6);
      opt.dispose();
      const s = engine.memoryStats();
      expect(s.bytesInUse).toBe(0);
      expect(s.blocksInUse).toBe(0);
      rssMax = Math.max(rssMax, rss());
      if (round === 1) afterFirst = { rss: rss(), memoryBytes: s.memoryBytes };
      // Every later round reuses the blocks of the first: the engine's memory does not grow.
      else expect(s.memoryBytes).toBe(afterFirst.memoryBytes);
    }
    const rssEnd = rss();
    const growth = rssEnd - rssStart;
    console.info(
      `[memory ${build}] 40 x Adam(4M): engine memory ${(afterFirst.memoryBytes / MiB).toFixed(1)} MiB after round 1 and after round 40; ` +
        `rss start ${(rssStart / MiB).toFixed(0)} MiB, after round 1 ${(afterFirst.rss / MiB).toFixed(0)} MiB, end ${(rssEnd / MiB).toFixed(0)} MiB, ` +
        `max ${(rssMax / MiB).toFixed(0)} MiB, growth ${(growth / MiB).toFixed(0)} MiB`,
    );
    expect(growth).toBeLessThanOrEqual(400 * MiB);
    expect(rssMax - rssStart).toBeLessThanOrEqual(400 * MiB);
    // One Adam of 4M floats holds 4 tensors of 16 MiB; the engine keeps about that much, not 40 times it.
    expect(afterFirst.memoryBytes).toBeLessThan(4 * 16 * MiB + 8 * MiB);
  });

  it('checkpoint round trips of a 1M-parameter Adam leave nothing behind in the engine', async () => {
    const engine: Engine = await createEngine({ simd: build === 'simd' });
    let size = 0;
    for (let round = 1; round <= 5; round++) {
      const a = new Adam({ amsgrad: true, engine });
      a.param(MiB).grad.fill(0.1);
      a.param(new Float32Array(17).fill(1)).grad.fill(1);
      a.step();
      const bytes = a.save();
      const b = new Adam({ engine });
      b.load(bytes);
      // A refused load (corrupt copy) allocates nothing either.
      const bad = bytes.slice();
      bad[bytes.length >> 1] ^= 0x40;
      const c = new Adam({ engine });
      const inUse = engine.memoryStats().bytesInUse;
      expect(() => c.load(bad)).toThrow(/CRC-32 mismatch/);
      expect(engine.memoryStats().bytesInUse).toBe(inUse);
      b.params[0].grad.fill(0.1); // gradients are not part of a checkpoint
      b.params[1].grad.fill(1);
      b.step();
      a.step();
      expect(b.params[0].data[7]).toBe(a.params[0].data[7]);
      [a, b, c].forEach((o) => o.dispose());
      const s = engine.memoryStats();
      expect(s).toMatchObject({ bytesInUse: 0, blocksInUse: 0 });
      if (round === 1) size = s.memoryBytes;
      else expect(s.memoryBytes).toBe(size);
    }
  });
});
