// Checkpoints written by the previous release (c3a0a1f, before the 2026-12-05 restructuring into
// declarations, src/core and the generated ABI) load into this version and continue bit for bit:
// every dense optimizer (AMSGrad, Nesterov, centered RMSprop, param groups, the hypergradient
// optimizers) and lazy/exact tables. The files and the expected params after 4 more steps were
// written by that release (test/fixtures/previous-release/make.mts says how); the cases are built
// through the public API by test/fixtures/previous-release/cases.mjs in both versions.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as M from '../src/index.js';
// @ts-expect-error plain JavaScript module without type declarations
import * as C from './fixtures/previous-release/cases.mjs';
import { BUILD_NAMES, engineFor } from './engines.js';

const DIR = new URL('./fixtures/previous-release/', import.meta.url);
const { release, expected } = JSON.parse(readFileSync(new URL('expected.json', DIR), 'utf8')) as {
  release: string;
  expected: Record<string, string[]>;
};
const file = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, DIR)));

describe.each(BUILD_NAMES)(`checkpoints of the previous release (${release}) (%s build)`, (build) => {
  it.each((C.DENSE as [string, object][]).map(([kind, o], c) => [c, kind, JSON.stringify(o)]))(
    'dense case %i, %s %s: loads and continues bit for bit',
    async (c) => {
      const engine = await engineFor(build);
      const opt = C.makeDense(M, c, engine) as M.Optimizer;
      opt.load(file(`dense-${c}.ckpt`));
      expect(opt.stepCount).toBe(6);
      for (let s = 6; s < 10; s++) C.stepDense(opt, c, s);
      expect(opt.params.map((p) => C.hex(p.data))).toEqual(expected[`dense-${c}`]);
      opt.dispose();
    },
  );

  it.each((C.TABLES as object[]).map((o, c) => [c, JSON.stringify(o)]))(
    'table case %i, %s: loads and continues bit for bit',
    async (c) => {
      const engine = await engineFor(build);
      const emb = C.makeTable(M, c, engine) as M.Embedding;
      emb.load(file(`table-${c}.ckpt`));
      expect(emb.stepCount).toBe(6);
      for (let s = 6; s < 10; s++) C.stepTable(emb, c, s);
      expect([C.hex(emb.lookup(Int32Array.from({ length: C.ROWS }, (_, i) => i)))]).toEqual(expected[`table-${c}`]);
      emb.dispose();
    },
  );

  it('a file of the previous release with one byte changed is refused, nothing changed', async () => {
    const engine = await engineFor(build);
    const opt = C.makeDense(M, 0, engine) as M.Optimizer;
    const before = opt.params.map((p) => C.hex(p.data));
    const bytes = file('dense-0.ckpt');
    bytes[bytes.length >> 1] ^= 0x10;
    expect(() => opt.load(bytes)).toThrow(M.CheckpointError);
    expect(opt.params.map((p) => C.hex(p.data))).toEqual(before);
    expect(opt.stepCount).toBe(0);
    opt.dispose();
  });
});
