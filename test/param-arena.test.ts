// Where params live (src/param-arena.ts): each tensor kind of an optimizer (values, gradients,
// each state) in contiguous chunks, so a step streams through memory; chunk tails are given back
// at the first step; taking params back (a failed checkpoint load) returns their memory.
import { describe, expect, it } from 'vitest';
import { Adam, SGD, createEngine } from '../src/index.js';

describe('param arena', () => {
  it('puts consecutive params of each kind next to each other, 16-byte aligned', async () => {
    const engine = await createEngine({ simd: true });
    const opt = new Adam({ engine });
    const sizes = [5, 16, 33, 1000, 7];
    const ps = sizes.map((n) => opt.param(n));
    for (let k = 0; k < 4; k++) {
      // Chunks start small and double (memory sized to the contents): a new chunk may start at a
      // param, at most once per doubling; within a chunk the params are adjacent.
      let starts = 0;
      for (let i = 1; i < ps.length; i++) {
        const stride = Math.ceil((sizes[i - 1] * 4) / 16) * 16;
        if (ps[i].offset(k) !== ps[i - 1].offset(k) + stride) starts++;
      }
      expect(starts).toBeLessThanOrEqual(2);
      for (const p of ps) expect(p.offset(k) % 16).toBe(0);
    }
    const many = Array.from({ length: 200 }, () => opt.param(40));
    for (let k = 0; k < 4; k++) {
      let starts = 0;
      for (let i = 1; i < many.length; i++) if (many[i].offset(k) !== many[i - 1].offset(k) + 160) starts++;
      // 200 x 160 bytes after the chunks above: a few doublings, not one chunk per param
      expect(starts).toBeLessThanOrEqual(6);
    }
    // Every tensor is its own memory: writing one leaves the others alone.
    ps.forEach((p, i) => {
      p.data.fill(i + 1);
      p.grad.fill(-(i + 1));
    });
    ps.forEach((p, i) => {
      expect(p.data.every((x) => x === i + 1)).toBe(true);
      expect(p.grad.every((x) => x === -(i + 1))).toBe(true);
      expect(p.state('exp_avg').every((x) => x === 0)).toBe(true);
    });
    opt.dispose();
    expect(engine.memoryStats()).toMatchObject({ bytesInUse: 0, blocksInUse: 0 });
  });

  it('gives chunk tails back at the first step, and params added later get new chunks', async () => {
    const engine = await createEngine({ simd: true });
    const opt = new SGD({ lr: 0.1, momentum: 0.9, engine });
    const sizes = [3, 100, 50, 7];
    for (const n of sizes) opt.param(n);
    const tensors = (ns: number[]) => ns.reduce((a, n) => a + Math.ceil((n * 4) / 16) * 16, 0) * 3;
    // Chunks sized to their contents (first chunk 256 bytes or the first stride, then doubling).
    expect(engine.memoryStats().bytesInUse).toBeGreaterThanOrEqual(tensors(sizes));
    expect(engine.memoryStats().bytesInUse).toBeLessThan(3 * 2048);
    opt.step();
    // Three kinds of tensors (data, grad, momentum), plus the descriptor table and one hyper block.
    const fixed = engine.memoryStats().bytesInUse - tensors(sizes);
    expect(fixed).toBeGreaterThan(0);
    expect(fixed).toBeLessThanOrEqual(8 * 32 + 2 * 128);
    const late = opt.param(new Float32Array([1, 2, 3]));
    late.grad.set([1, 1, 1]);
    opt.step();
    expect(engine.memoryStats().bytesInUse - fixed).toBe(tensors([...sizes, 3]));
    expect(Array.from(late.data)).toEqual([Math.fround(0.9), Math.fround(1.9), Math.fround(2.9)]);
    opt.dispose();
    expect(engine.memoryStats()).toMatchObject({ bytesInUse: 0, blocksInUse: 0 });
  });

  it('a param may start from a view of another param, even when its allocation grows the memory', async () => {
    const engine = await createEngine({ simd: true });
    const a = new Adam({ engine });
    const src = a.param(1000);
    src.data.forEach((_x, i, d) => {
      d[i] = i * 0.5;
    });
    const before = engine.memory.buffer.byteLength;
    const b = new Adam({ engine });
    const big = b.param(src.data); // b's first chunks (and this copy) need more memory than there is
    b.param(8 << 20);
    expect(engine.memory.buffer.byteLength).toBeGreaterThan(before);
    expect(big.data[999]).toBe(499.5);
    a.dispose();
    b.dispose();
  });

  it('big tensors get blocks of their own and leave the chunk of the small ones current', async () => {
    const engine = await createEngine({ simd: true });
    const opt = new SGD({ lr: 0.1, engine });
    const small1 = opt.param(10);
    const big = opt.param(1 << 20); // 4 MiB per kind: more than half the largest chunk
    const small2 = opt.param(10);
    expect(small2.offset(0)).toBe(small1.offset(0) + 48);
    expect(big.offset(0) === small1.offset(0) + 48).toBe(false);
    opt.dispose();
    expect(engine.memoryStats()).toMatchObject({ bytesInUse: 0, blocksInUse: 0 });
  });
});

describe('Engine.shrink', () => {
  it('shrinks a block in place, keeps its values, and rejects what it cannot do', async () => {
    const engine = await createEngine({ simd: true });
    const ptr = engine.alloc(4096);
    engine.heapF32.fill(7, ptr >>> 2, (ptr >>> 2) + 1024);
    engine.shrink(ptr, 1024);
    expect(engine.memoryStats()).toMatchObject({ bytesInUse: 1024, blocksInUse: 1 });
    expect(engine.heapF32.subarray(ptr >>> 2, (ptr >>> 2) + 256).every((x) => x === 7)).toBe(true);
    expect(() => engine.shrink(ptr, 2048)).toThrow(RangeError);
    expect(() => engine.shrink(ptr + 16, 16)).toThrow(/unknown block/);
    // The space given back is reused.
    const next = engine.alloc(1024);
    expect(next).toBeLessThan(ptr + 4096);
    engine.free(next);
    engine.free(ptr);
    expect(engine.memoryStats()).toMatchObject({ bytesInUse: 0, blocksInUse: 0 });
  });
});
