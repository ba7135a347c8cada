// Every suite runs against both builds of the engine (as @chainsafe/as-sha256 does): the SIMD
// kernels and the scalar ones, each in a fresh instance of its own.
import { createEngine, type Engine } from '../src/index.js';

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
