// The binary checkpoint format: round trips, and every way a load is refused (truncated, any
// single corrupted byte, other version, other kind, other layout, malformed) changing nothing.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Adam,
  AdamW,
  CheckpointError,
  CHECKPOINT_VERSION,
  DisposedError,
  RMSprop,
  SGD,
  crc32,
  decodeCheckpoint,
  encodeCheckpoint,
  inspectCheckpoint,
  memoryStats,
  type Engine,
} from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { makeOptimizer, rng, snapshot, type AnyOptimizer, type DenseKind } from './reliability-util.js';

/** Fills every gradient from a seeded generator and steps `n` times. */
function run(opt: AnyOptimizer, n: number, seed: number): void {
  const r = rng(seed);
  for (let t = 0; t < n; t++) {
    for (const p of opt.params) {
      const g = p.grad;
      for (let i = 0; i < g.length; i++) g[i] = r() * 2 - 1;
    }
    opt.step();
  }
}

function refusal(fn: () => unknown): CheckpointError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e).toBeInstanceOf(RangeError);
    return e as CheckpointError;
  }
  throw new Error('expected a CheckpointError, but the load succeeded');
}

/** Re-signs a modified checkpoint so that only the change under test is wrong. */
function resign(bytes: Uint8Array): Uint8Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  dv.setUint32(bytes.length - 4, crc32(bytes, bytes.length - 4), true);
  return bytes;
}

describe('crc32', () => {
  it('matches the published check value and a bitwise reference at every alignment', async () => {
    // The CRC-32/ISO-HDLC check value: crc32("123456789") = 0xCBF43926.
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(() => crc32(new Uint8Array(4), 5)).toThrow(RangeError);
    // The textbook bit-at-a-time CRC as the reference (node:zlib has crc32 only from Node 22).
    const slow = (b: Uint8Array): number => {
      let c = 0xffffffff;
      for (const x of b) {
        c ^= x;
        for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
      }
      return (c ^ 0xffffffff) >>> 0;
    };
    const r = rng(7);
    const big = new Uint8Array(5000).map(() => Math.floor(r() * 256));
    for (const n of [1, 3, 7, 8, 9, 15, 16, 17, 63, 64, 1000, 4099]) {
      for (const off of [0, 1, 2, 3, 5]) {
        const b = big.subarray(off, off + n); // every alignment goes through the word loop's edges
        expect(crc32(b)).toBe(slow(b));
        expect(crc32(big.subarray(off), n)).toBe(slow(b));
      }
    }
    const zlib = (await import('node:zlib')) as { crc32?: (b: Uint8Array) => number };
    if (typeof zlib.crc32 === 'function') expect(crc32(big)).toBe(zlib.crc32(big));
  });
});

describe('generic encoding', () => {
  it('round-trips nested state with every tensor type, and refuses what JSON would change', () => {
    const payload = {
      name: 'x',
      n: 3,
      flag: true,
      none: null,
      list: [1, 'two', { deep: new Float64Array([Math.PI, -0.5]) }],
      f32: new Float32Array([1.5, -2, 3.25]),
      i32: new Int32Array([-1, 2 ** 31 - 1]),
      u32: new Uint32Array([2 ** 32 - 1]),
      u8: new Uint8Array([0, 255, 7]),
      empty: new Float32Array(0),
    };
    const bytes = encodeCheckpoint('Test', payload);
    const back = decodeCheckpoint(bytes, 'Test');
    expect(back.kind).toBe('Test');
    expect(back.version).toBe(CHECKPOINT_VERSION);
    expect(back.payload).toEqual(payload);
    expect(back.payload.i32).toBeInstanceOf(Int32Array);
    expect(inspectCheckpoint(bytes).tensors.map((t) => `${t.name}:${t.dtype}:${t.length}`)).toEqual([
      'list.2.deep:f64:2',
      'f32:f32:3',
      'i32:i32:2',
      'u32:u32:1',
      'u8:u8:3',
      'empty:f32:0',
    ]);
    // A copy at an odd offset decodes too (tensors are copied when they cannot be viewed).
    const odd = new Uint8Array(bytes.length + 1);
    odd.set(bytes, 1);
    expect(decodeCheckpoint(odd.subarray(1), 'Test').payload).toEqual(payload);
    expect(() => encodeCheckpoint('T', { x: NaN })).toThrow(/x is NaN; a checkpoint stores finite numbers only/);
    expect(() => encodeCheckpoint('T', { x: Infinity })).toThrow(RangeError);
    expect(() => encodeCheckpoint('T', { x: new Int16Array(2) })).toThrow(TypeError);
    expect(() => encodeCheckpoint('T', { x: () => 1 })).toThrow(TypeError);
  });

  it('refuses a checkpoint whose checksum holds but whose structure is invalid', () => {
    const bytes = encodeCheckpoint('T', { a: new Float32Array([1, 2]) });
    // Point the metadata at a tensor that does not exist, and re-sign.
    const text = new TextDecoder().decode(bytes);
    const at = text.indexOf('{"$tensor":0}');
    expect(at).toBeGreaterThan(0);
    const bad = bytes.slice();
    bad[at + '{"$tensor":'.length] = '5'.charCodeAt(0);
    expect(refusal(() => decodeCheckpoint(resign(bad))).reason).toBe('malformed');
  });
});

describe.each(BUILD_NAMES)('optimizer checkpoints (%s)', (build) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await engineFor(build);
  });

  const CONFIGS: [string, Record<string, unknown>][] = [
    ['Adam', { lr: 0.01, amsgrad: true, weightDecay: 0.1 }],
    ['AdamW', { lr: 0.02, betas: [0.8, 0.99], maximize: true }],
    ['SGD', { lr: 0.1, momentum: 0.9, nesterov: true }],
    ['SGD', { lr: 0.1 }],
    ['Adagrad', { lrDecay: 0.1, initialAccumulatorValue: 0.5 }],
    ['RMSprop', { momentum: 0.5, centered: true, nonFinite: 'skip' }],
  ];

  it.each(CONFIGS)('%s %j: save then load restores options, steps, params and state bit for bit', (kind, options) => {
    const a = makeOptimizer(kind as DenseKind, options, engine);
    a.param(new Float32Array([1, -2, 3, 0.5, 7]));
    a.param(0);
    run(a, 3, 1);
    a.param(new Float32Array(19).fill(0.25)); // joins late: its own step count differs
    run(a, 2, 2);
    a.lr = 0.003;
    const bytes = a.save();
    expect(bytes).toBeInstanceOf(Uint8Array);
    const info = inspectCheckpoint(bytes);
    expect(info.kind).toBe(kind);
    expect(info.meta.stepCount).toBe(5);
    expect(info.tensors.filter((t) => t.name.endsWith('.data')).map((t) => t.length)).toEqual([5, 0, 19]);

    // Into a fresh optimizer (default options: they come from the checkpoint) ...
    const b = makeOptimizer(kind as DenseKind, {}, engine);
    b.load(bytes);
    expect(snapshot(b, false)).toBe(snapshot(a, false));
    expect(b.stateDict()).toEqual(a.stateDict());
    // ... and into one that already holds params of the same lengths.
    const c = makeOptimizer(kind as DenseKind, options, engine);
    c.param(5);
    c.param(0);
    c.param(19);
    c.load(bytes.buffer as ArrayBuffer);
    expect(c.stateDict()).toEqual(a.stateDict());
    expect(Array.from(c.params[2].data)).toEqual(Array.from(a.params[2].data));
    // Both continue identically.
    run(a, 2, 3);
    run(b, 2, 3);
    run(c, 2, 3);
    expect(snapshot(b, false)).toBe(snapshot(a, false));
    expect(snapshot(c, false)).toBe(snapshot(a, false));
    [a, b, c].forEach((o) => o.dispose());
  });

  it('detects every single-byte corruption at every position, and every truncation; nothing changes', () => {
    const a = new Adam({ lr: 0.01, amsgrad: true, engine });
    a.param(new Float32Array([1, 2, 3]));
    a.param(new Float32Array([-1]));
    run(a, 2, 5);
    const bytes = a.save();
    expect(bytes.length).toBeLessThan(1024);
    const target = new Adam({ amsgrad: true, engine });
    target.param(3);
    target.param(1);
    run(target, 1, 9);
    const before = snapshot(target);
    const fresh = new Adam({ engine });
    const freshBefore = snapshot(fresh);
    const reasons = new Map<string, number>();
    let tried = 0;
    const work = bytes.slice();
    // Every other value of every byte on one build (about 220,000 loads); on the other, every
    // single-bit flip and the complement of every byte (the detection happens before the engine
    // is touched, so one exhaustive sweep covers both).
    const exhaustive = build === 'simd';
    const changes = exhaustive ? Array.from({ length: 255 }, (_, k) => k + 1) : [1, 2, 4, 8, 16, 32, 64, 128, 255];
    for (let i = 0; i < work.length; i++) {
      const orig = work[i];
      for (const x of changes) {
        const v = orig ^ x;
        work[i] = v;
        // (A plain check here: this loop runs ~200,000 times.)
        let reason = 'accepted';
        try {
          (v & 1 ? target : fresh).load(work);
        } catch (e) {
          reason = e instanceof CheckpointError ? e.reason : `a ${(e as Error).name}`;
        }
        reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
        tried++;
      }
      work[i] = orig;
    }
    expect(tried).toBe(bytes.length * changes.length);
    // Signature, version, length and checksum each caught their share.
    expect([...reasons.keys()].sort()).toEqual(['corrupt', 'magic', 'truncated', 'version']);
    for (let n = 0; n < bytes.length; n++) {
      expect(refusal(() => target.load(bytes.subarray(0, n))).reason).toBe('truncated');
    }
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expect(refusal(() => target.load(longer)).reason).toBe('corrupt');
    expect(snapshot(target)).toBe(before);
    expect(snapshot(fresh)).toBe(freshBefore);
    expect(fresh.params.length).toBe(0);
    // The untouched bytes still load.
    target.load(work);
    expect(target.stateDict()).toEqual(a.stateDict());
    [a, target, fresh].forEach((o) => o.dispose());
  });

  it('refuses another version, another kind and another layout with an error that says why', () => {
    const a = new Adam({ amsgrad: true, engine });
    a.param(new Float32Array([1, 2, 3]));
    run(a, 1, 1);
    const bytes = a.save();

    const v2 = bytes.slice();
    new DataView(v2.buffer).setUint32(8, CHECKPOINT_VERSION + 1, true);
    const ev = refusal(() => new Adam({ engine }).load(resign(v2)));
    expect(ev.reason).toBe('version');
    expect(ev.message).toMatch(/format version 2 is not supported; this build of wasm-optim reads version 1/);

    const notOurs = new TextEncoder().encode('{"kind":"Adam"}'.padEnd(64));
    expect(refusal(() => new Adam({ engine }).load(notOurs)).message).toMatch(/not a wasm-optim checkpoint/);

    for (const other of [new AdamW({ amsgrad: true, engine }), new SGD({ engine }), new RMSprop({ engine })]) {
      const e = refusal(() => other.load(bytes));
      expect(e.reason).toBe('kind');
      expect(e.message).toContain(`holds an Adam, not a`);
      expect(other.params.length).toBe(0);
      other.dispose();
    }

    const cases: [string, (o: Adam) => void, RegExp][] = [
      [
        'more params',
        (o) => {
          o.param(3);
          o.param(3);
        },
        /holds 1 params but this optimizer has 2/,
      ],
      [
        'another length',
        (o) => {
          o.param(4);
        },
        /param #0 has length 3 in the checkpoint but 4 here/,
      ],
      [
        'no AMSGrad state',
        (o) => {
          o.param(3);
        },
        /holds state \[exp_avg, exp_avg_sq, max_exp_avg_sq\] in the checkpoint but \[exp_avg, exp_avg_sq\] here/,
      ],
    ];
    for (const [, setup, message] of cases) {
      const o = new Adam({ engine });
      setup(o);
      const before = snapshot(o);
      const e = refusal(() => o.load(bytes));
      expect(e.reason).toBe('layout');
      expect(e.message).toMatch(message);
      expect(snapshot(o)).toBe(before);
      o.dispose();
    }
    a.dispose();
  });

  it('a fresh optimizer that refuses half-way frees what it created and keeps its options', () => {
    // A re-signed checkpoint whose options give no AMSGrad state while its param carries one:
    // the params are created, then the mismatch is found, then everything is undone.
    const a = new Adam({ amsgrad: true, engine });
    a.param(new Float32Array(40).fill(1));
    run(a, 1, 1);
    const dict = decodeCheckpoint(a.save(), 'Adam').payload as { options: Record<string, unknown> };
    dict.options.amsgrad = false;
    const bytes = encodeCheckpoint('Adam', dict);
    const fresh = new Adam({ lr: 0.5, engine });
    const before = snapshot(fresh);
    const inUse = memoryStats(engine).bytesInUse;
    expect(refusal(() => fresh.load(bytes)).reason).toBe('layout');
    expect(snapshot(fresh)).toBe(before);
    expect(memoryStats(engine).bytesInUse).toBe(inUse);
    expect(fresh.lr).toBe(0.5);
    // Still usable afterwards.
    fresh.param(2);
    fresh.step();
    expect(fresh.stepCount).toBe(1);
    [a, fresh].forEach((o) => o.dispose());
  });

  it('rejects wrong input types and use after dispose', () => {
    const a = new Adam({ engine });
    a.param(2);
    const bytes = a.save();
    expect(() => a.load('bytes' as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => a.load(new Float32Array(8) as unknown as Uint8Array)).toThrow(
      /expected the Uint8Array that save\(\) returned/,
    );
    a.dispose();
    expect(() => a.save()).toThrow(DisposedError);
    expect(() => a.load(bytes)).toThrow(DisposedError);
  });

  it('a checkpoint from one build loads into the other and continues bit for bit', async () => {
    const otherName = build === 'simd' ? 'scalar' : 'simd';
    const other = await engineFor(otherName);
    const a = new RMSprop({ momentum: 0.9, centered: true, engine });
    a.param(new Float32Array(37).map((_, i) => Math.sin(i)));
    run(a, 4, 11);
    const b = new RMSprop({ engine: other });
    b.load(a.save());
    run(a, 4, 12);
    run(b, 4, 12);
    expect(snapshot(b, false)).toBe(snapshot(a, false));
    a.dispose();
    b.dispose();
  });
});
