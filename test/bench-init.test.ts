// The bench's `init` line (bench/lib/init.js, bench/init-time.js): fresh processes of the built
// package report import and init() times, and init()'s steps one by one (read, compile,
// instantiate, the Engine), which the line prints.
import { describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript without declarations
import * as initReport from '../bench/lib/init.js';

type Init = {
  runs: number;
  importMs: number;
  initMs: number;
  parts: Record<'readMs' | 'compileMs' | 'instantiateMs' | 'engineMs', number>;
};
const { measureInit, initLine } = initReport as {
  measureInit(o: { runs: number }): Init;
  initLine(i: Init): string;
};

describe('bench init line', () => {
  it('measures import, init() and its steps in fresh processes, and prints them', () => {
    const init = measureInit({ runs: 2 });
    expect(init.runs).toBe(2);
    for (const x of [init.importMs, init.initMs, ...Object.values(init.parts)]) {
      expect(Number.isFinite(x)).toBe(true);
      expect(x).toBeGreaterThan(0);
    }
    expect(Object.keys(init.parts)).toEqual(['readMs', 'compileMs', 'instantiateMs', 'engineMs']);
    const line = initLine(init);
    expect(line).toContain(`read the file ${init.parts.readMs} ms, compile ${init.parts.compileMs} ms`);
    expect(line).toContain(`The import before it: ${init.importMs} ms.`);
  }, 60_000);
});
