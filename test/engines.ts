// Every suite runs against both builds of the engine (as @chainsafe/as-sha256 does): the SIMD
// kernels and the scalar ones, each in a fresh instance of its own.
import { expect } from 'vitest';
import { createEngine, ThreadPool, type Engine } from '../src/index.js';

export interface Build {
  name: 'simd' | 'scalar';
  engine: Engine;
}

/** Instantiates the SIMD and the scalar engine. */
export async function loadBuilds(): Promise<Build[]> {
  return [
    { name: 'simd', engine: await createEngine({ simd: true }) },
    { name: 'scalar', engine: await createEngine({ simd: false }) },
  ];
}

export const BUILD_NAMES = ['simd', 'scalar'] as const;

const cache = new Map<string, Promise<Engine>>();
/** One shared engine per build per test file. */
export function engineFor(name: 'simd' | 'scalar'): Promise<Engine> {
  let e = cache.get(name);
  if (!e) {
    e = createEngine({ simd: name === 'simd' });
    cache.set(name, e);
  }
  return e;
}

/** An engine's thread pool (the test fails when the engine has none). */
export function poolOf(engine: Engine): ThreadPool {
  expect(engine.parallel).toBeInstanceOf(ThreadPool);
  return engine.parallel as ThreadPool;
}

/** The three engines of the threads suites, for one build. */
export interface ThreadEngines {
  /** The single-thread engine. */
  one: Engine;
  /** 2 threads, the default threshold: chunks shared between the calling thread and its worker. */
  two: Engine;
  /** 3 threads, every step and update split however small, every chunk in a worker. */
  three: Engine;
}

/** Creates the three engines of the threads suites (see ThreadEngines). */
export async function createThreadEngines(simd: boolean): Promise<ThreadEngines> {
  const one = await createEngine({ simd });
  const three = await createEngine({ simd, threads: 3, minParallelElements: 0 });
  const two = await createEngine({ simd, threads: 2 });
  poolOf(three).workersOnly = true;
  return { one, two, three };
}

/** Shuts down the pools of createThreadEngines' engines. */
export async function shutdownThreadEngines({ two, three }: ThreadEngines): Promise<void> {
  await three.shutdownThreads();
  await two.shutdownThreads();
}

/** How often a step called the engine's non-finite check, its norm pass and the optimizer's kernel. */
export interface EngineCalls {
  check: number;
  norm: number;
  kernel: number;
}

/**
 * Runs `fn` with the engine's `firstNonFiniteGrad`, `gradSumSquares` and the kernels that `kernel`
 * hands out counted (an optimizer looks its kernel up once, at its first step: create it inside
 * `fn` or before its first step), then restores the engine.
 */
export function countEngineCalls(engine: Engine, fn: () => void): EngineCalls {
  const calls: EngineCalls = { check: 0, norm: 0, kernel: 0 };
  const e = engine as unknown as Record<string, (...a: number[]) => unknown>;
  const orig = { check: e.firstNonFiniteGrad, norm: e.gradSumSquares, kernel: e.kernel };
  e.firstNonFiniteGrad = (...a) => {
    calls.check++;
    return orig.check.apply(engine, a);
  };
  e.gradSumSquares = (...a) => {
    calls.norm++;
    return orig.norm.apply(engine, a);
  };
  e.kernel = (...a) => {
    const f = orig.kernel.apply(engine, a) as (...b: number[]) => unknown;
    return (...b: number[]) => {
      calls.kernel++;
      return f(...b);
    };
  };
  try {
    fn();
  } finally {
    delete e.firstNonFiniteGrad;
    delete e.gradSumSquares;
    delete e.kernel;
  }
  return calls;
}
