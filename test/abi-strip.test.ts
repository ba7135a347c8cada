// scripts/strip-abi-globals.mjs: the shipped builds export no globals (their 228 constants cost
// ~0.7 ms of every instantiation) but abiHash(); the script refuses a module whose constants are not
// SLOT, and its output is the same module minus those exports.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readSlot, stripAbiGlobals } from '../scripts/strip-abi-globals.mjs';
import { ABI_HASH, SLOT } from '../src/core/abi.js';

const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
};
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => [...uleb(s.length), ...Buffer.from(s)];

/**
 * A module exporting `abiHash` (returns 7) and the i32 constant globals `consts`; with `imports`,
 * it first imports a memory and an i32 global (the globals it defines then count from 1).
 */
function moduleWith(consts: [string, number][], withHash = true, imports = false): Uint8Array {
  const first = imports ? 1 : 0;
  const exports = [
    ...(withHash ? [[...name('abiHash'), 0, 0]] : []),
    ...consts.map(([n], i) => [...name(n), 3, ...uleb(first + i)]),
  ];
  const importSection = imports
    ? section(2, [2, ...name('env'), ...name('memory'), 2, 0, 1, ...name('env'), ...name('g'), 3, 0x7f, 0])
    : [];
  return new Uint8Array([
    0,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    ...section(1, [1, 0x60, 0, 1, 0x7f]),
    ...importSection,
    ...section(3, [1, 0]),
    ...section(6, [...uleb(consts.length), ...consts.flatMap(([, v]) => [0x7f, 0, 0x41, ...sleb(v), 0x0b])]),
    ...section(7, [...uleb(exports.length), ...exports.flat()]),
    ...section(10, [1, 4, 0, 0x41, 7, 0x0b]),
  ]);
}

describe('strip-abi-globals', () => {
  it('the four shipped builds export abiHash() and no globals', () => {
    for (const build of ['simd', 'scalar', 'threads', 'threads-scalar']) {
      const module = new WebAssembly.Module(readFileSync(new URL(`../dist/wasm-optim.${build}.wasm`, import.meta.url)));
      const exports = WebAssembly.Module.exports(module);
      expect(exports.filter((e) => e.kind === 'global').map((e) => e.name)).toEqual([]);
      expect(exports.some((e) => e.kind === 'function' && e.name === 'abiHash')).toBe(true);
    }
  });

  it('reads SLOT from src/core/abi.ts', () => {
    expect(Object.fromEntries(readSlot())).toEqual({ ...SLOT });
    expect(ABI_HASH).toBe(ABI_HASH | 0);
  });

  it('drops the exported globals of a module whose constants are the SLOT given, keeping the rest', () => {
    const consts: [string, number][] = [
      ['A', 1],
      ['B', -300],
      ['C', 1 << 20],
    ];
    const bytes = moduleWith(consts);
    const out = stripAbiGlobals(bytes, new Map(consts));
    expect(out.length).toBeLessThan(bytes.length);
    const module = new WebAssembly.Module(out as Uint8Array<ArrayBuffer>);
    expect(WebAssembly.Module.exports(module)).toEqual([{ name: 'abiHash', kind: 'function' }]);
    const instance = new WebAssembly.Instance(module);
    expect((instance.exports.abiHash as () => number)()).toBe(7);
    // Idempotent: a module without exported globals comes back as it is.
    expect(stripAbiGlobals(out, new Map(consts))).toBe(out);
  });

  it("counts imported globals (the threads builds import their memory): names of any length don't shift the indices", () => {
    const consts: [string, number][] = [
      ['A', 5],
      ['B', 6],
    ];
    const out = stripAbiGlobals(moduleWith(consts, true, true), new Map(consts));
    const module = new WebAssembly.Module(out as Uint8Array<ArrayBuffer>);
    expect(WebAssembly.Module.exports(module)).toEqual([{ name: 'abiHash', kind: 'function' }]);
    expect(WebAssembly.Module.imports(module).map((i) => i.kind)).toEqual(['memory', 'global']);
  });

  it('refuses, naming each difference, a module whose constants are not SLOT or that has no abiHash()', () => {
    const bytes = moduleWith([
      ['A', 1],
      ['B', 2],
    ]);
    expect(() =>
      stripAbiGlobals(
        bytes,
        new Map([
          ['A', 1],
          ['B', 3],
        ]),
        'm.wasm',
      ),
    ).toThrow(
      /m\.wasm does not match src\/core\/abi\.ts \(run node scripts\/gen-abi\.mjs, then rebuild\): B is 2, SLOT says 3$/,
    );
    expect(() => stripAbiGlobals(bytes, new Map([['A', 1]]))).toThrow(/B is exported but not in SLOT/);
    expect(() =>
      stripAbiGlobals(
        bytes,
        new Map([
          ['A', 1],
          ['B', 2],
          ['C', 0],
        ]),
      ),
    ).toThrow(/C of SLOT is not exported/);
    expect(() => stripAbiGlobals(moduleWith([['A', 1]], false), new Map([['A', 1]]))).toThrow(/exports no abiHash\(\)/);
    expect(() => stripAbiGlobals(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), new Map())).toThrow(
      /not a WebAssembly module/,
    );
  });
});
