// Helpers of the reliability tests (checkpoints, resume, fuzzing, memory): optimizers by kind,
// a seeded generator, and exact snapshots of an optimizer.
import * as pkg from '../src/index.js';
import { memoryStats, type Engine, type Optimizer } from '../src/index.js';
import { OPTIMIZERS } from './dense-util.js';

export { rng } from './rng.js';

/** The dense optimizers by kind (PyTorch's five). */
export const DENSE = OPTIMIZERS;
/** A dense optimizer kind. */
export type DenseKind = keyof typeof DENSE;
/** Any dense optimizer. */
export type AnyOptimizer = Optimizer<Record<string, unknown>>;

/** A new `kind` optimizer in `engine` with `options`. */
export function makeOptimizer(kind: DenseKind, options: Record<string, unknown>, engine: Engine): AnyOptimizer {
  const Ctor = DENSE[kind] as unknown as new (o: object) => AnyOptimizer;
  return new Ctor({ ...options, engine });
}

/** Every optimizer class the package has (its registry), by class name. */
export const ALL_OPTIMIZERS = pkg.OPTIMIZERS as unknown as Record<string, new (o: object) => AnyOptimizer>;

/** The bits of a float32 tensor as one string (NaNs compare by their bits). */
export function bits(a: Float32Array): string {
  return Array.from(new Uint32Array(a.slice().buffer)).join(',');
}

/**
 * Everything observable about an optimizer as exact bits: kind, step count, options, every
 * param's values and state; with `mem`, also the engine's memory in use.
 */
export function snapshot(opt: AnyOptimizer, mem = true): string {
  return JSON.stringify({
    kind: opt.kind,
    steps: opt.stepCount,
    options: opt.options,
    params: opt.params.map((p) => ({
      n: p.length,
      data: bits(p.data),
      state: p.stateKeys.map((k) => [k, bits(p.state(k))]),
    })),
    mem: mem ? memoryStats(opt.engine) : null,
  });
}
