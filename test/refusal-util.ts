// Shared check of the "bad input is refused before anything is allocated" tests.
import { expect } from 'vitest';
import type { Engine } from '../src/index.js';

/** An error class (the built-in ones and the package's own, e.g. NonFiniteGradientError). */
export type ErrorClass = new (...args: never[]) => Error;

/** One refused call: what to run, the message it must throw, and the error class. */
export type Refusal = readonly [run: () => unknown, message: RegExp, type: ErrorClass];

/** Checks that `run` throws an error of class `type` whose message matches `message`. */
export function expectThrows(run: () => unknown, message: RegExp, type: ErrorClass): void {
  let thrown: unknown;
  try {
    run();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, String(message)).toBeInstanceOf(type);
  expect(String((thrown as Error).message)).toMatch(message);
}

/** Runs every case, checks it throws `type` with a matching message, then that `engine` holds
 *  exactly the bytes and blocks it held before (nothing allocated, nothing leaked). */
export function expectRefusedWithoutAllocation(engine: Engine, cases: readonly Refusal[]): void {
  const before = engine.memoryStats();
  for (const [run, message, type] of cases) expectThrows(run, message, type);
  const after = engine.memoryStats();
  expect([after.bytesInUse, after.blocksInUse]).toEqual([before.bytesInUse, before.blocksInUse]);
}
