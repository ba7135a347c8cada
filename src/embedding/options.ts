// An embedding table's options: the public types, their validation and defaults (each
// optimizer's own from its declaration, src/optimizers/), and the checks of ids and values.

import type { AnyDeclaration, CommonResolved } from '../core/declaration.js';
import { resolveCommon } from '../core/declaration.js';
import type { Engine } from '../core/engine.js';
import { checkKnownKeys, checkNumber, describe, type NonFinitePolicy } from '../core/options.js';
import type { EmbeddingOptimizer } from '../optimizers/registry.js';

export type { EmbeddingOptimizer } from '../optimizers/registry.js';

/**
 * How rows that an update does not touch are treated:
 * - `'lazy'`: they do not change at all, nor does their optimizer state (PyTorch `SparseAdam`,
 *   TF-Addons `LazyAdam`).
 * - `'exact'`: they behave as if the dense optimizer had stepped them with a zero gradient; the
 *   missed steps are applied in closed form when the row is next touched, looked up or flushed.
 *   For `'sgd'`, `'adagrad'`, `'adam'`, `'adamw'` and `'rowwiseAdagrad'` (no decay, or decoupled
 *   decay) only (`'adamax'`, `'lion'`, `'adadelta'`, `'nadam'`, `'radam'`, `'partialRowwiseAdam'`
 *   and `'ftrl'` are lazy).
 */
export type EmbeddingMode = 'lazy' | 'exact';

/** A random initialisation: N(mean, std²) or U[low, high). */
export type EmbeddingInitDistribution =
  { distribution: 'normal'; mean?: number; std?: number } | { distribution: 'uniform'; low?: number; high?: number };

/**
 * The initial weights: `'zeros'`; `'normal'` = N(0, 1) (PyTorch `nn.Embedding`'s default, and
 * ours); `'uniform'` = U[0, 1) (PyTorch `uniform_`'s default range); a distribution object with
 * its parameters; or the values themselves (`rows * dim` numbers, row after row, copied). Random
 * draws come from a seeded generator in wasm (splitmix64, Marsaglia's polar method): the same
 * `seed` gives the same table in every build and runtime.
 */
export type EmbeddingInit = 'zeros' | 'normal' | 'uniform' | EmbeddingInitDistribution | ArrayLike<number>;

/** Options of an `Embedding` table: the dense optimizers' names and defaults, plus the table's own. */
export interface EmbeddingOptions {
  /**
   * The optimizer: `'sgd' | 'adagrad' | 'adam' | 'adamw' | 'adamax' | 'lion' | 'adadelta' |
   * 'nadam' | 'radam'`, or a memory-lean one (docs/lean-tables.md): `'rowwiseAdagrad'` and
   * `'partialRowwiseAdam'` (FBGEMM's, one float of state per row) and `'ftrl'` (TensorFlow's).
   * Default `'adam'`.
   */
  optimizer?: EmbeddingOptimizer;
  /** `'lazy'` (default) or `'exact'` (sgd, adagrad, adam, adamw, rowwiseAdagrad only); see `EmbeddingMode`. */
  mode?: EmbeddingMode;
  /**
   * Learning rate. Default: the dense optimizer's (adam/adamw/sgd/radam 1e-3, adagrad 1e-2,
   * adamax/nadam 2e-3, lion 1e-4, adadelta 1.0).
   */
  lr?: number;
  /**
   * adam/adamw/adamax/nadam/radam: running-average coefficients of the gradient and of its square
   * (adamax: of the infinity norm), default [0.9, 0.999]. lion: [b1, b2], b1 interpolates the
   * update direction and b2 the momentum, default [0.9, 0.99].
   */
  betas?: readonly [number, number];
  /**
   * adam/adamw/adamax/nadam/radam: default 1e-8; adagrad: default 1e-10; adadelta: default 1e-6.
   * Added to the denominator (adamax: to |g|; adadelta: inside both square roots).
   */
  eps?: number;
  /**
   * L2 added to the gradient (adam, sgd, adagrad, adamax, adadelta, nadam, radam; default 0) or
   * decoupled (adamw: `p *= 1 - lr wd` first, default 0.01; nadam/radam with
   * `decoupledWeightDecay`; lion: `p -= lr (sign(c) + wd p)`, default 1e-3).
   */
  weightDecay?: number;
  /** adadelta: coefficient of the running averages of g² and of the squared delta. Default 0.9. */
  rho?: number;
  /** nadam: momentum decay psi of the schedule `mu_t = b1 (1 - 0.5 * 0.96^(t psi))`. Default 4e-3. */
  momentumDecay?: number;
  /** nadam/radam: decoupled weight decay as in AdamW (`p *= 1 - lr wd`) instead of L2. Default false. */
  decoupledWeightDecay?: boolean;
  /** adam/adamw: use AMSGrad. Default false. */
  amsgrad?: boolean;
  /** sgd: momentum factor. Default 0. */
  momentum?: number;
  /** sgd: dampening of the momentum. Default 0. */
  dampening?: number;
  /** sgd: Nesterov momentum (needs momentum > 0 and dampening 0). Default false. */
  nesterov?: boolean;
  /** adagrad: the rate at step t is `lr / (1 + (t - 1) lrDecay)`. Default 0. */
  lrDecay?: number;
  /** adagrad, rowwiseAdagrad: starting value of the sum of squares (default 0); ftrl: of the accumulator (default 0.1). */
  initialAccumulatorValue?: number;
  /**
   * rowwiseAdagrad: how `weightDecay` applies (FBGEMM's weight_decay_mode): `'l2'` (default; added
   * to the gradient) or `'decoupled'` (`w *= 1 - lr wd`; with mode `'exact'` untouched rows decay
   * too, FBGEMM's DECOUPLE_GLOBAL).
   */
  weightDecayMode?: 'l2' | 'decoupled';
  /** ftrl: `learning_rate_power`, at most 0. Default -0.5. */
  learningRatePower?: number;
  /** ftrl: L1 regularization strength. Default 0. */
  l1?: number;
  /** ftrl: L2 regularization strength. Default 0. */
  l2?: number;
  /** ftrl: `l2_shrinkage_regularization_strength`. Default 0. */
  l2Shrinkage?: number;
  /** ftrl: McMahan et al.'s beta, folded into l2 as Keras does. Default 0. */
  beta?: number;
  /** Maximize instead of minimize. Default false. */
  maximize?: boolean;
  /** An update whose gradients hold NaN/±Infinity: `'throw'` (default), `'skip'`, `'ignore'`. */
  nonFinite?: NonFinitePolicy;
  /** Initial weights; see `EmbeddingInit`. Default `'normal'` (N(0, 1), as PyTorch). */
  init?: EmbeddingInit;
  /** Seed of the random initialisation (a non-negative safe integer). Default: a random seed. */
  seed?: number;
  /** The engine to allocate in; default: the one `init()` created. */
  engine?: Engine;
  /**
   * How the weights are stored: `'f32'` (default), `'f16'` or `'bf16'` (16 bits: updated in float32,
   * stored back with stochastic rounding seeded by `seed`; `lookup` returns float32). Lazy mode
   * only. See docs/lean-storage.md.
   */
  weightType?: 'f32' | 'f16' | 'bf16';
  /**
   * How the optimizer state is stored: `'f32'` (default), `'bf16'` (stochastic rounding) or `'int8'`
   * (bitsandbytes' blockwise dynamic quantization, one absmax per row and state tensor; signed map
   * for `exp_avg` and `momentum_buffer`, unsigned for the others). Lazy mode only.
   */
  stateType?: 'f32' | 'bf16' | 'int8';
}

/** The saved state of a table: hyperparameters, step count, weights and optimizer state. */
export interface EmbeddingStateDict {
  kind: 'Embedding';
  rows: number;
  dim: number;
  optimizer: EmbeddingOptimizer;
  mode: EmbeddingMode;
  stepCount: number;
  /** The resolved hyperparameters (lr, betas, eps, weightDecay, ...). */
  options: Record<string, unknown>;
  /** A copy of the weights (rows * dim). */
  weights: Float32Array;
  /**
   * Each optimizer state tensor by PyTorch's name (`exp_avg`, `exp_avg_sq`, `max_exp_avg_sq`,
   * `momentum_buffer`, `sum`, `exp_inf`, `square_avg`, `acc_delta`; FTRL: Keras' `accumulator`,
   * `linear`), `rows * dim` floats, or `rows` for a per-row accumulator (`rowwiseAdagrad`'s `sum`,
   * `partialRowwiseAdam`'s `exp_avg_sq`). NAdam's `mu_product` is not among them: as for the
   * dense `NAdam`, it is a function of `stepCount`.
   */
  state: Record<string, Float32Array>;
}

/** A table's resolved hyperparameters: the common ones and its optimizer's own (its declaration's). */
export type TableOptions = CommonResolved & Readonly<Record<string, unknown>>;

/** The options every table takes besides its optimizer's. */
export const TABLE_KEYS = ['optimizer', 'mode', 'init', 'seed', 'engine', 'weightType', 'stateType'] as const;

/** The optimizer's options for a table, checked, with the dense class's defaults. */
export function resolveTableOptions(
  d: AnyDeclaration,
  o: Readonly<Record<string, unknown>>,
  owner: string,
): TableOptions {
  return { ...resolveCommon(d, o, owner), ...d.resolve(o, owner) };
}

/** Refuses option names the table and its optimizer do not know. */
export function checkTableKeys(d: AnyDeclaration, o: object, owner: string): void {
  checkKnownKeys(owner, o, [...TABLE_KEYS, ...d.options]);
}

// ---------------------------------------------------------------------------------------------
// Validation helpers.

export function checkPositiveInt(owner: string, name: string, value: unknown, max: number): number {
  if (typeof value !== 'number')
    throw new TypeError(`${owner}: '${name}' must be a positive integer, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < 1 || value > max)
    throw new RangeError(`${owner}: '${name}' must be an integer in [1, ${max}], got ${value}`);
  return value;
}

export function checkNonNegativeInt(owner: string, name: string, value: unknown): number {
  if (typeof value !== 'number')
    throw new TypeError(`${owner}: '${name}' must be a non-negative integer, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff)
    throw new RangeError(`${owner}: '${name}' must be a non-negative integer, got ${value}`);
  return value;
}

export function checkSeed(value: unknown): number {
  if (typeof value !== 'number')
    throw new TypeError(`Embedding: option 'seed' must be a non-negative integer, got ${describe(value)}`);
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RangeError(`Embedding: option 'seed' must be a non-negative safe integer, got ${value}`);
  return value;
}

/** ids: an Int32Array (or Uint32Array, or array of integers); returns its length. */
export function checkIds(what: string, ids: unknown, rows: number): number {
  if (ids instanceof Int32Array || ids instanceof Uint32Array) return ids.length;
  if (Array.isArray(ids)) {
    for (let i = 0; i < ids.length; i++) {
      const v = ids[i];
      if (typeof v !== 'number' || !Number.isInteger(v))
        throw new TypeError(`${what}: ids[${i}] is ${describe(v)}; ids must be integers (pass an Int32Array)`);
      if (v < 0 || v >= rows) throw outOfRange(what, ids, i, rows);
    }
    return ids.length;
  }
  throw new TypeError(
    `${what}: 'ids' must be row ids: an Int32Array, a Uint32Array or an array of integers, got ${describe(ids)}`,
  );
}

export function checkNumbers(what: string, name: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    if (typeof values[i] !== 'number')
      throw new TypeError(`${what}: ${name}[${i}] is ${describe(values[i])}; expected numbers (pass a Float32Array)`);
  }
}

export function outOfRange(what: string, ids: ArrayLike<number>, pos: number, rows: number): RangeError {
  return new RangeError(`${what}: ids[${pos}] = ${ids[pos]} is outside [0, ${rows}); nothing was changed`);
}

export type ResolvedInit =
  | { kind: 'zeros' }
  | { kind: 'values'; values: ArrayLike<number> }
  | { kind: 'normal' | 'uniform'; a: number; b: number };

export function resolveInit(init: unknown, n: number): ResolvedInit {
  const what = `Embedding: option 'init'`;
  if (init === 'zeros') return { kind: 'zeros' };
  if (init === 'normal') return { kind: 'normal', a: 0, b: 1 };
  if (init === 'uniform') return { kind: 'uniform', a: 0, b: 1 };
  if (typeof init === 'string')
    throw new RangeError(
      `${what} must be 'zeros', 'normal', 'uniform', a distribution object or ${n} values, got '${init}'`,
    );
  if (init !== null && typeof init === 'object' && 'distribution' in init) {
    const d = init as Record<string, unknown>;
    if (d.distribution === 'normal') {
      checkKnownKeys(what, d, ['distribution', 'mean', 'std']);
      const mean = checkNumber(what, 'mean', d.mean ?? 0);
      const std = checkNumber(what, 'std', d.std ?? 1, { min: 0 });
      return { kind: 'normal', a: mean, b: std };
    }
    if (d.distribution === 'uniform') {
      checkKnownKeys(what, d, ['distribution', 'low', 'high']);
      const low = checkNumber(what, 'low', d.low ?? 0);
      const high = checkNumber(what, 'high', d.high ?? 1);
      if (!(high > low))
        throw new RangeError(`${what}: 'high' must be greater than 'low', got low ${low}, high ${high}`);
      return { kind: 'uniform', a: low, b: high };
    }
    throw new RangeError(`${what}: 'distribution' must be 'normal' or 'uniform', got ${describe(d.distribution)}`);
  }
  if (init !== null && typeof init === 'object' && typeof (init as ArrayLike<number>).length === 'number') {
    const values = init as ArrayLike<number>;
    if (values.length !== n)
      throw new RangeError(`${what} holds ${values.length} values; the table needs rows * dim = ${n}`);
    if (!ArrayBuffer.isView(values)) checkNumbers('Embedding', 'init', values);
    return { kind: 'values', values };
  }
  throw new TypeError(
    `${what} must be 'zeros', 'normal', 'uniform', { distribution, ... } or a Float32Array, got ${describe(init)}`,
  );
}

/** Checks a lookup's `out` (a Float32Array of k * dim floats, when given). */
export function checkLookupOut(k: number, dim: number, out: Float32Array | undefined): void {
  if (out === undefined) return;
  const n = k * dim;
  if (!(out instanceof Float32Array))
    throw new TypeError(`Embedding.lookup: 'out' must be a Float32Array, got ${describe(out)}`);
  if (out.length !== n)
    throw new RangeError(
      `Embedding.lookup: 'out' must hold ids.length * dim = ${k} * ${dim} = ${n} floats, got ${out.length}`,
    );
}
