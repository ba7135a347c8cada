// Option errors come before engine errors: `new Adam(5)` before `init()` names the bad options,
// not the missing init (a fresh module instance has no default engine).
import { describe, expect, it, vi } from 'vitest';

describe('option checks before the engine', () => {
  it('a non-object options argument is a TypeError about the options even before init()', async () => {
    vi.resetModules();
    const mod = await import('../src/index.js');
    expect(() => mod.getEngine()).toThrow(/call `await init\(\)`/);
    for (const Ctor of [mod.Adam, mod.AdamW, mod.SGD, mod.Adagrad, mod.RMSprop]) {
      const make = () => new (Ctor as unknown as new (o: unknown) => unknown)(5);
      expect(make).toThrow(TypeError);
      expect(make).toThrow(/options must be an object, got number 5/);
    }
    // valid options without init() still say what to do
    expect(() => new mod.Adam({ lr: 1e-3 })).toThrow(/call `await init\(\)`/);
  });
});
