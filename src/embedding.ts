// Embedding tables with sparse updates. The table (weights and optimizer state) lives in engine
// memory; update() copies the ids and gradients in, and two wasm calls sort and coalesce the ids
// and step the touched rows (assembly/embedding*.ts). This side validates, owns the memory and
// computes each step's hyperparameters in float64, as the dense optimizers do.

import { Engine, getEngine } from './engine.js';
import { runListParallel } from './threads.js';
import { DisposedError, NonFiniteGradientError } from './errors.js';
import { checkBetas, checkBoolean, checkChoice, checkKnownKeys, checkNumber, describe, type NonFinitePolicy } from './options.js';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint } from './checkpoint.js';
import { loadEmbeddingSafetensors, saveEmbeddingSafetensors } from './safetensors.js';
import type { HyperWriter } from './optimizer.js';
import { writeAdadeltaHyper } from './adadelta.js';
import { writeAdamaxHyper } from './adamax.js';
import { writeLionHyper } from './lion.js';
import { MuProducts, writeNAdamHyper } from './nadam.js';
import { writeRAdamHyper } from './radam.js';
import { BetaPowers } from './powers.js';

/**
 * The optimizers an `Embedding` table can use, with the dense classes' options and defaults:
 * `'sgd'`, `'adagrad'`, `'adam'`, `'adamw'` (lazy and exact mode), and `'adamax'` (PyTorch's
 * Adamax), `'lion'` (Lion as optax computes it), `'adadelta'`, `'nadam'`, `'radam'` (PyTorch's
 * Adadelta, NAdam, RAdam) in lazy mode only.
 */
export type EmbeddingOptimizer = 'sgd' | 'adagrad' | 'adam' | 'adamw' | 'adamax' | 'lion' | 'adadelta' | 'nadam' | 'radam';

/**
 * How rows that an update does not touch are treated:
 * - `'lazy'`: they do not change at all, nor does their optimizer state (PyTorch `SparseAdam`,
 *   TF-Addons `LazyAdam`).
 * - `'exact'`: they behave as if the dense optimizer had stepped them with a zero gradient; the
 *   missed steps are applied in closed form when the row is next touched, looked up or flushed.
 *   For `'sgd'`, `'adagrad'`, `'adam'` and `'adamw'` only (`'adamax'`, `'lion'`, `'adadelta'`,
 *   `'nadam'` and `'radam'` are lazy).
 */
export type EmbeddingMode = 'lazy' | 'exact';

/** A random initialisation: N(mean, std²) or U[low, high). */
export type EmbeddingInitDistribution =
  | { distribution: 'normal'; mean?: number; std?: number }
  | { distribution: 'uniform'; low?: number; high?: number };

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
   * 'nadam' | 'radam'`. Default `'adam'`.
   */
  optimizer?: EmbeddingOptimizer;
  /** `'lazy'` (default) or `'exact'` (sgd, adagrad, adam, adamw only); see `EmbeddingMode`. */
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
  betas?: [number, number];
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
  /** adagrad: starting value of the sum of squares. Default 0. */
  initialAccumulatorValue?: number;
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
   * `momentum_buffer`, `sum`, `exp_inf`, `square_avg`, `acc_delta`). NAdam's `mu_product` is not
   * among them: as for the dense `NAdam`, it is a function of `stepCount`.
   */
  state: Record<string, Float32Array>;
}

/** Resolved hyperparameters. */
interface Hyper {
  lr: number;
  weightDecay: number;
  maximize: boolean;
  nonFinite: NonFinitePolicy;
  betas: [number, number];
  eps: number;
  amsgrad: boolean;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  lrDecay: number;
  initialAccumulatorValue: number;
  rho: number;
  momentumDecay: number;
  decoupledWeightDecay: boolean;
}

const COMMON_KEYS = ['optimizer', 'mode', 'lr', 'weightDecay', 'maximize', 'nonFinite', 'init', 'seed', 'engine'] as const;
const KEYS: Record<EmbeddingOptimizer, readonly string[]> = {
  adam: ['betas', 'eps', 'amsgrad'],
  adamw: ['betas', 'eps', 'amsgrad'],
  sgd: ['momentum', 'dampening', 'nesterov'],
  adagrad: ['lrDecay', 'initialAccumulatorValue', 'eps'],
  adamax: ['betas', 'eps'],
  lion: ['betas'],
  adadelta: ['rho', 'eps'],
  nadam: ['betas', 'eps', 'momentumDecay', 'decoupledWeightDecay'],
  radam: ['betas', 'eps', 'decoupledWeightDecay'],
};
const HYPER_KEYS: Record<EmbeddingOptimizer, readonly (keyof Hyper)[]> = {
  adam: ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad', 'maximize', 'nonFinite'],
  adamw: ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad', 'maximize', 'nonFinite'],
  sgd: ['lr', 'momentum', 'dampening', 'nesterov', 'weightDecay', 'maximize', 'nonFinite'],
  adagrad: ['lr', 'lrDecay', 'weightDecay', 'initialAccumulatorValue', 'eps', 'maximize', 'nonFinite'],
  adamax: ['lr', 'betas', 'eps', 'weightDecay', 'maximize', 'nonFinite'],
  lion: ['lr', 'betas', 'weightDecay', 'maximize', 'nonFinite'],
  adadelta: ['lr', 'rho', 'eps', 'weightDecay', 'maximize', 'nonFinite'],
  nadam: ['lr', 'betas', 'eps', 'weightDecay', 'momentumDecay', 'decoupledWeightDecay', 'maximize', 'nonFinite'],
  radam: ['lr', 'betas', 'eps', 'weightDecay', 'decoupledWeightDecay', 'maximize', 'nonFinite'],
};
const OPTIMIZERS = ['sgd', 'adagrad', 'adam', 'adamw', 'adamax', 'lion', 'adadelta', 'nadam', 'radam'] as const;
/** The optimizers exact mode can replay (a zero-gradient step has a closed form). */
const EXACT_OPTIMIZERS: readonly EmbeddingOptimizer[] = ['sgd', 'adagrad', 'adam', 'adamw'];
const MODES = ['lazy', 'exact'] as const;

const MAX_ELEMENTS = (1 << 28) - 16; // one engine block holds at most 1 GiB
const BLOCK_LIMIT_BYTES = (1 << 30) - 64; // the engine's largest block (src/engine.ts)
const HYPER_BYTES = 32 * 4;
const EXACT_TAIL = 2 ** -40; // missed steps whose drift weight b1^j is below this are not summed
const MAX_WINDOW = 1 << 16;
const SWEEP_PERIOD = 16384; // every row is brought up to date at least this often (in updates)
const CENTRED_RHO = 0.36; // the centred series (16 terms) serves windows whose c_j spread is below this: 0.36^16 < 1e-7

/** EMB_KIND_* of assembly/embedding_common.ts: which row kernel embApply runs. */
const KIND_CODE: Record<EmbeddingOptimizer, number> = { sgd: 0, adagrad: 1, adam: 2, adamw: 2, adamax: 3, lion: 4, adadelta: 5, nadam: 6, radam: 7 };

/** Exact-mode configuration derived from the hyperparameters. */
interface ExactConfig {
  kind: number; // 0 none, 1 adam, 2 sgd
  decay: boolean;
  ams: boolean;
  mom: boolean;
  window: number; // J
  ringSize: number; // H, a power of two
  sweepChunk: number; // rows brought up to date per update
  b1: number;
  b2: number;
  beta2: number;
  eps: number;
  thr: number;
  pow: Float64Array; // powers 0 .. H-1 of b1 (sgd: momentum), 0 .. H-1 of b2, 0 .. J of sqrt(b2)
}

/**
 * An embedding table (`rows` x `dim` float32 weights) trained with sparse updates: each
 * `update(ids, grads)` sums the gradients of duplicate ids, then steps only the rows it names,
 * with SGD (momentum, Nesterov, weight decay), Adagrad, Adam, AdamW, AMSGrad, Adamax, Lion,
 * Adadelta, NAdam or RAdam, in wasm with SIMD over each row (the same lane arithmetic as the dense
 * kernels).
 *
 * - `mode: 'lazy'` (default): the touched rows get the dense optimizer's update restricted to
 *   them, with bias corrections from the table's own update count (PyTorch `SparseAdam`, TF-Addons
 *   `LazyAdam`). Unlike `SparseAdam`, which puts eps in Keras's "eps-hat" place
 *   (`lr sqrt(bc2) / bc1 * m / (sqrt(v) + eps)`), Adam keeps dense Adam's placement
 *   (`lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)`), so that lazy and exact modes agree on the
 *   rows they both touch. Untouched rows and their state do not change.
 *   Adamax (`optimizer: 'adamax'`, PyTorch 2.x `Adamax`): `g += wd p; m = b1 m + (1-b1) g;
 *   u = max(b2 u, |g| + eps); p -= (lr / (1 - b1^t)) m / u`, t = the table's update count; state
 *   `exp_avg`, `exp_inf`. Lion (`optimizer: 'lion'`, as optax.lion): `c = b1 m + (1-b1) g;
 *   p -= lr (sign(c) + wd p); m = b2 m + (1-b2) g`, no bias correction; state `exp_avg`.
 *   Adadelta (`optimizer: 'adadelta'`, PyTorch 2.x): `sq = rho sq + (1-rho) g^2;
 *   d = sqrt(acc + eps) / sqrt(sq + eps) g; acc = rho acc + (1-rho) d^2; p -= lr d`, no step
 *   count; state `square_avg`, `acc_delta`. NAdam (`optimizer: 'nadam'`, PyTorch 2.x with
 *   `momentumDecay` and `decoupledWeightDecay`) and RAdam (`optimizer: 'radam'`, PyTorch 2.x with
 *   `decoupledWeightDecay`; the un-rectified step `p -= lr / (1 - b1^t) m` while rho_t <= 5): state
 *   `exp_avg`, `exp_avg_sq`. Every step-dependent quantity (bias corrections, NAdam's mu_t and
 *   mu_product, RAdam's rho_t and rectification) follows the table's update count t, as
 *   SparseAdam's bias corrections do: a row first touched at update 1000 takes NAdam's and RAdam's
 *   step-1000 schedule values, not those of step 1, and a row touched at every update equals the
 *   dense optimizer bit for bit. These five (adamax, lion, adadelta, nadam, radam) are lazy only.
 * - `mode: 'exact'` (sgd, adagrad, adam, adamw: the catch-up of missed steps is not implemented
 *   for adamax, lion, adadelta, nadam and radam, which throw a RangeError pointing at mode
 *   'lazy'): the weights equal, to float32 rounding, what the dense optimizer (this package's
 *   `Adam`, `AdamW`, `SGD`, `Adagrad`) gives when every update is a dense gradient that is zero
 *   outside `ids`, including with a learning rate that changes between updates (each step's rate
 *   is kept in a history ring). A row that missed steps is brought up to date in closed
 *   form when it is touched, looked up, flushed, or swept (every row at least once per ~16384
 *   updates, a few rows per update), so the cost follows the touched rows. Exact mode needs a
 *   closed form for a zero-gradient step: it refuses `adam` and `adagrad` with `weightDecay > 0`
 *   (L2 decay makes the gradient of an untouched row non-zero; use `adamw`), `sgd` with both
 *   momentum and weightDecay, momentum >= 1, and betas[0] > 0.9995. For `adagrad`, and `sgd`
 *   without momentum or weight decay, a zero gradient changes nothing, so lazy and exact coincide.
 *   Over many thousands of steps the float32 dense optimizer drifts from its own exact arithmetic
 *   (its weight-decay step rounds `p` the same way step after step: 3e-4 relative after 34000
 *   AdamW steps in the tests); the table stays within 1e-5 of the dense optimizer run in float64.
 *
 * ```ts
 * const emb = new Embedding(50000, 64, { optimizer: 'adam', lr: 1e-3, seed: 1 });
 * const x = emb.lookup(ids);        // Int32Array of k ids -> Float32Array of k * 64
 * emb.update(ids, grads);           // grads: k * 64 floats; duplicate ids are summed
 * ```
 */
export class Embedding {
  /** @internal builds a sharded table when rows * dim exceeds one block (set by sharded-embedding.ts). */
  static sharding: ((rows: number, dim: number, options: EmbeddingOptions) => Embedding) | null = null;
  /** The engine the table lives in. */
  readonly engine: Engine;
  /** Number of rows. */
  readonly rows: number;
  /** Floats per row. */
  readonly dim: number;
  /** The optimizer. */
  readonly optimizer: EmbeddingOptimizer;
  /** `'lazy'` or `'exact'`. */
  readonly mode: EmbeddingMode;
  /** The seed the random initialisation used (null for zeros or given values). */
  readonly seed: number | null;

  private opts: Hyper;
  private steps = 0;
  private disposed = false;
  private blocks: number[] = [];
  private desc = 0;
  private hyper = 0;
  private weightsPtr = 0;
  private stateBase = 0;
  private stateNames: string[] = [];
  private lastPtr = 0;
  private ringPtr = 0;
  private powPtr = 0;
  private exact: ExactConfig;
  private logDecay = 0;
  private cursor = 0;
  private flushedAt = 0;
  private cap = 0;
  private scratch = 0;
  private idsPtr = 0;
  private gradCap = 0;
  private gradPtr = 0;
  private outCap = 0;
  private outPtr = 0;
  private uniqueRows = 0;
  private weightsView: Float32Array | null = null;
  private f64: Float64Array;
  private readonly slots: Record<string, number> = {};
  private readonly mus = new MuProducts();
  /** Adamax's and RAdam's bias-correction powers (the dense classes' writers take them). */
  private readonly betaPowers = new BetaPowers();

  /**
   * Creates a `rows` x `dim` table in engine memory. Every option is checked before anything is
   * allocated; bad values throw a TypeError or RangeError naming the option.
   */
  constructor(rows: number, dim: number, options: EmbeddingOptions = {}) {
    const owner = 'Embedding';
    checkPositiveInt(owner, 'rows', rows, 0x7fffffff);
    checkPositiveInt(owner, 'dim', dim, MAX_ELEMENTS);
    if (options === null || typeof options !== 'object') throw new TypeError(`Embedding: options must be an object, got ${describe(options)}`);
    const optimizer = checkChoice(owner, 'optimizer', options.optimizer ?? 'adam', OPTIMIZERS);
    checkKnownKeys(`Embedding (optimizer '${optimizer}')`, options, [...COMMON_KEYS, ...KEYS[optimizer]]);
    const mode = checkChoice(owner, 'mode', options.mode ?? 'lazy', MODES);
    const engine = options.engine;
    if (engine !== undefined && !(engine instanceof Engine)) throw new TypeError(`Embedding: option 'engine' must be an Engine, got ${describe(engine)}`);
    const opts = resolveHyper(optimizer, options);
    // One block holds the weights, one the state tensors side by side: each at most 1 GiB.
    const blockFloats = rows * dim * Math.max(1, stateLayout(optimizer, opts).length);
    if (blockFloats > MAX_ELEMENTS && !Embedding.sharding) {
      throw new RangeError(`Embedding: a ${rows} x ${dim} table with optimizer '${optimizer}' needs blocks of ${blockFloats} floats (weights, or the optimizer state of every row side by side), more than one engine block holds (${MAX_ELEMENTS} floats, 1 GiB); split the table into shards`);
    }
    const exact = exactConfig(optimizer, mode, opts, rows);
    const init = resolveInit(options.init ?? 'normal', rows * dim);
    let seed: number | null = null;
    if (init.kind === 'normal' || init.kind === 'uniform') {
      seed = options.seed === undefined ? Math.floor(Math.random() * 2 ** 32) : checkSeed(options.seed);
    } else if (options.seed !== undefined) {
      checkSeed(options.seed);
    }

    this.engine = engine ?? getEngine();
    this.rows = rows;
    this.dim = dim;
    this.optimizer = optimizer;
    this.mode = mode;
    this.seed = seed;
    this.opts = opts;
    this.exact = exact;
    this.stateNames = stateLayout(optimizer, opts);
    for (const name of ['EMB_WEIGHTS', 'EMB_STATE0', 'EMB_STATE1', 'EMB_STATE2', 'EMB_ROWS', 'EMB_DIM', 'EMB_HYPER', 'EMB_KIND',
      'EMB_KEYS', 'EMB_KEYS2', 'EMB_HIST', 'EMB_UNIQ', 'EMB_GPTR', 'EMB_SUM', 'EMB_BAD', 'EMB_LAST', 'EMB_RING', 'EMB_RING_MASK',
      'EMB_WINDOW', 'EMB_POW', 'EMB_EXACT', 'EMB_EX_DECAY', 'EMB_EX_AMS', 'EMB_EX_MOM', 'EMB_BASE', 'EMB_SROW', 'EMBF_EPS', 'EMBF_THR',
      'EMBF_B1', 'EMBF_B2', 'EMBF_BETA2', 'EMBF_RHO', 'EMB_DESC_BYTES', 'EMB_HIST_WORDS', 'EMB_RING_BYTES']) {
      this.slots[name] = this.engine.slot(name);
    }
    this.f64 = new Float64Array(this.engine.memory.buffer);
    // Past one engine block: a table of shards in engines of their own (src/sharded-embedding.ts).
    if (blockFloats > MAX_ELEMENTS && Embedding.sharding) return Embedding.sharding(rows, dim, seed === null ? options : { ...options, seed });

    try {
      const n = rows * dim;
      this.desc = this.alloc(this.slots.EMB_DESC_BYTES);
      this.hyper = this.alloc(HYPER_BYTES);
      // Page-aligned blocks; the state tensors interleaved by row (see assembly/embedding_common.ts).
      this.weightsPtr = this.allocAligned(n * 4);
      if (this.stateNames.length > 0) this.stateBase = this.allocAligned(n * 4 * this.stateNames.length);
      const hist = this.alloc(this.slots.EMB_HIST_WORDS * 4);
      if (exact.kind !== 0) this.lastPtr = this.alloc(rows * 4);
      // Initial values.
      const heap = this.engine.heapF32;
      if (init.kind === 'values') {
        heap.set(init.values, this.weightsPtr >>> 2);
        const bad = this.x.embFirstNonFinite(this.weightsPtr, n);
        if (bad >= 0) throw new RangeError(`Embedding: option 'init' holds ${init.values[bad]} at [${bad}] (row ${Math.floor(bad / dim)}); initial values must be finite`);
      } else if (init.kind === 'normal' || init.kind === 'uniform') {
        const fill = init.kind === 'normal' ? this.x.embFillNormal : this.x.embFillUniform;
        fill(this.weightsPtr, n, (seed as number) >>> 0, Math.floor((seed as number) / 2 ** 32) >>> 0, init.a, init.b);
      }
      if (optimizer === 'adagrad' && opts.initialAccumulatorValue !== 0) {
        this.engine.heapF32.fill(opts.initialAccumulatorValue, this.stateBase >>> 2, (this.stateBase >>> 2) + n);
      }
      const u32 = this.engine.heapU32;
      const d = this.desc >>> 2;
      u32[d + this.slots.EMB_WEIGHTS] = this.weightsPtr;
      for (let i = 0; i < 3; i++) u32[d + this.slots.EMB_STATE0 + i] = i < this.stateNames.length ? this.stateBase + i * dim * 4 : 0;
      u32[d + this.slots.EMB_SROW] = this.stateNames.length * dim * 4;
      u32[d + this.slots.EMB_ROWS] = rows;
      u32[d + this.slots.EMB_DIM] = dim;
      u32[d + this.slots.EMB_HYPER] = this.hyper;
      u32[d + this.slots.EMB_KIND] = KIND_CODE[optimizer];
      u32[d + this.slots.EMB_HIST] = hist;
      u32[d + this.slots.EMB_LAST] = this.lastPtr;
      this.writeExact(exact, 0);
      this.ensureScratch(64);
    } catch (e) {
      for (const b of this.blocks) this.engine.free(b);
      this.blocks = [];
      this.disposed = true;
      throw e;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Public API.

  /** Number of updates applied (the `t` of bias corrections; skipped updates do not count). */
  get stepCount(): number {
    return this.steps;
  }

  /** The same count as `stepCount` (PyTorch `SparseAdam`'s `state['step']`). */
  get updateCount(): number {
    return this.steps;
  }

  /** Number of distinct rows the last update touched. */
  get lastUniqueRows(): number {
    return this.uniqueRows;
  }

  /** The resolved hyperparameters (a copy). */
  get options(): Readonly<Record<string, unknown>> {
    return hyperRecord(this.optimizer, this.opts);
  }

  /** The learning rate; settable between updates (exact mode keeps each step's rate). */
  get lr(): number {
    return this.opts.lr;
  }

  set lr(value: number) {
    this.checkAlive('lr');
    this.opts.lr = checkNumber('Embedding', 'lr', value, { min: 0 });
  }

  /** Names of the optimizer state tensors (PyTorch's names). */
  get stateKeys(): readonly string[] {
    return this.stateNames;
  }

  /** True once `dispose()` was called. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /**
   * The weights, `rows * dim` floats row after row: a live view into engine memory. Read it
   * through this getter each time (memory growth detaches views that were kept). In exact mode
   * the getter first brings every row up to date (`flush()`), which costs one pass over the table
   * when updates happened since the last flush.
   */
  get weights(): Float32Array {
    this.checkAlive('weights');
    this.flush();
    let v = this.weightsView;
    if (v === null || !this.engine.isCurrent(v)) {
      v = this.engine.f32(this.weightsPtr, this.rows * this.dim);
      this.weightsView = v;
    }
    return v;
  }

  /**
   * A copy of optimizer state tensor `name` (`rows * dim` floats, row after row; exact mode:
   * flushed first). The table keeps its state tensors interleaved by row, so this is a copy, not
   * a live view.
   */
  state(name: string): Float32Array {
    this.checkAlive('state');
    const i = this.stateNames.indexOf(name);
    if (i < 0) throw new RangeError(`Embedding.state: no state '${name}' for optimizer '${this.optimizer}' with these options; it has ${this.stateNames.join(', ') || 'none'}`);
    this.flush();
    return this.readState(i);
  }

  /** Exact mode: brings every row up to date (one pass over the table). Lazy mode: nothing to do. */
  flush(): void {
    this.checkAlive('flush');
    if (this.exact.kind === 0 || this.flushedAt === this.steps) return;
    this.x.embCatchUpRange(this.desc, this.steps, 0, this.rows);
    this.flushedAt = this.steps;
  }

  /**
   * The rows of `ids` (k ids in [0, rows)), gathered into `out` (k * dim floats) or a new
   * Float32Array. Always the current rows: in exact mode each row is brought up to date first.
   */
  lookup(ids: ArrayLike<number>, out?: Float32Array): Float32Array {
    this.checkAlive('lookup');
    const k = checkIds('Embedding.lookup', ids, this.rows);
    const n = k * this.dim;
    if (out !== undefined) {
      if (!(out instanceof Float32Array)) throw new TypeError(`Embedding.lookup: 'out' must be a Float32Array, got ${describe(out)}`);
      if (out.length !== n) throw new RangeError(`Embedding.lookup: 'out' must hold ids.length * dim = ${k} * ${this.dim} = ${n} floats, got ${out.length}`);
    }
    const view = this.gather('Embedding.lookup', ids, k);
    const result = out ?? new Float32Array(n);
    result.set(view);
    return result;
  }

  /**
   * Like `lookup`, but returns a view of an engine-owned buffer (no allocation, no copy). The
   * view is overwritten by the next lookup on this table and detached when memory grows.
   */
  lookupView(ids: ArrayLike<number>): Float32Array {
    this.checkAlive('lookupView');
    const k = checkIds('Embedding.lookupView', ids, this.rows);
    return this.gather('Embedding.lookupView', ids, k);
  }

  /**
   * An engine-owned buffer for the gradients of `k` ids (k * dim floats). Write the gradients
   * there and pass it to `update()` to skip one copy. It stays valid until a later `gradView` or
   * `update` needs a larger one, or memory grows; get it again before each use.
   */
  gradView(k: number): Float32Array {
    this.checkAlive('gradView');
    checkNonNegativeInt('Embedding.gradView', 'k', k);
    this.ensureGrads(k);
    return this.engine.f32(this.gradPtr, k * this.dim);
  }

  /**
   * One optimizer step on the rows of `ids`: `grads` holds `ids.length * dim` floats, row `i` the
   * gradient of row `ids[i]`; the gradients of duplicate ids are summed (in the order they
   * appear). Returns `true` when the step was taken and `false` when `nonFinite: 'skip'` skipped
   * it. Every check (ids in [0, rows), grads' type and length, finite gradients and sums) is done
   * before anything changes: an error leaves weights, state and `stepCount` as they were.
   */
  update(ids: ArrayLike<number>, grads: ArrayLike<number>): boolean {
    this.checkAlive('update');
    const k = checkIds('Embedding.update', ids, this.rows);
    const n = k * this.dim;
    if (grads === null || typeof grads !== 'object' || typeof (grads as ArrayLike<number>).length !== 'number') {
      throw new TypeError(`Embedding.update: 'grads' must be a Float32Array of ids.length * dim floats, got ${describe(grads)}`);
    }
    if (grads.length !== n) {
      throw new RangeError(`Embedding.update: 'grads' must hold ids.length * dim = ${k} * ${this.dim} = ${n} floats, got ${grads.length}`);
    }
    if (!ArrayBuffer.isView(grads)) checkNumbers('Embedding.update', 'grads', grads);
    const o = this.opts;
    const t = this.steps + 1;
    let decayFactor = 1;
    if (this.exact.decay) {
      decayFactor = this.optimizer === 'adamw' ? Math.fround(1 - o.lr * o.weightDecay) : 1 - Math.fround(o.lr) * Math.fround(o.weightDecay);
      if (!(decayFactor > 0)) {
        throw new RangeError(`Embedding.update: exact mode needs lr * weightDecay < 1 (the weights of untouched rows shrink by 1 - lr * weightDecay per step), got lr ${o.lr}, weightDecay ${o.weightDecay}; lower lr or use mode 'lazy'`);
      }
    }
    // Engine-owned gradients (gradView) are used in place; anything else is copied in.
    const inPlace = grads instanceof Float32Array && this.engine.isCurrent(grads) && grads.byteOffset === this.gradPtr && n <= this.gradCap * this.dim;
    // Views into engine memory would be detached if the scratch buffers below grow the memory.
    ids = this.detachSafe(ids);
    if (!inPlace) grads = this.detachSafe(grads);
    this.ensureIds(k);
    if (!inPlace) this.ensureGrads(k);
    this.copyIds(ids, k);
    const bad = this.x.embCheckIds(this.idsPtr, k, this.rows);
    if (bad >= 0) throw outOfRange('Embedding.update', ids, bad, this.rows);
    if (!inPlace) this.engine.heapF32.set(grads, this.gradPtr >>> 2);
    // The coalescing pass checks every row it will apply (a gradient row, or a sum of duplicates).
    const check = o.nonFinite !== 'ignore';
    const unique = this.x.embCoalesce(this.desc, this.idsPtr, k, this.gradPtr, check ? 1 : 0);
    if (unique < 0) {
      if (o.nonFinite === 'skip') return false;
      const b = this.x.embFirstNonFinite(this.gradPtr, n);
      if (b >= 0) {
        const row = Math.floor(b / this.dim);
        throw new NonFiniteGradientError(`Embedding.update: grads[${b}] is ${this.engine.heapF32[(this.gradPtr >>> 2) + b]} (position ${row}, id ${ids[row]}, column ${b - row * this.dim}); nothing was changed. Fix the gradients, or pass nonFinite: 'skip' to skip such updates.`);
      }
      const id = this.engine.heapU32[(this.desc >>> 2) + this.slots.EMB_BAD];
      throw new NonFiniteGradientError(`Embedding.update: the gradients of id ${id}, which appears several times, sum to a non-finite value (float32 overflow); nothing was changed. Scale the gradients down, or pass nonFinite: 'skip'.`);
    }
    // Everything checked: step t.
    this.fillHyper(t);
    let coef = 0;
    let ib = 0;
    let sweepFrom = 0;
    let sweepCount = 0;
    if (this.exact.kind !== 0) {
      if (this.exact.decay) this.logDecay += Math.log(decayFactor);
      if (this.exact.kind === 1) {
        const [b1, b2] = o.betas;
        coef = Math.fround(o.lr / (1 - Math.pow(b1, t)));
        ib = Math.fround(1 / Math.sqrt(1 - Math.pow(b2, t)));
      } else {
        coef = o.nesterov ? Math.fround(o.lr) * Math.fround(o.momentum) : Math.fround(o.lr);
      }
      sweepFrom = this.cursor;
      sweepCount = Math.min(this.exact.sweepChunk, this.rows - sweepFrom);
      this.cursor = sweepFrom + sweepCount >= this.rows ? 0 : sweepFrom + sweepCount;
    }
    // On an engine with worker threads, lazy updates split the unique rows (sorted, so disjoint
    // row ranges) across the threads; exact mode's history ring is advanced once, on this thread.
    // Only from 4x the pool's minParallelElements (512K floats by default): measured on a 262144 x
    // 64 table, 2 threads against 1, an update of 1940 rows (124K floats) ran 0.91x as fast, 6089
    // rows 1.05x, 18178 rows 1.14x (the sort and coalescing stay on this thread).
    const split = this.exact.kind === 0 &&
      runListParallel(this.engine, 'embApply', this.desc, this.slots.EMB_DESC_BYTES, [this.slots.EMB_UNIQ, this.slots.EMB_GPTR], unique, this.dim,
        (count) => [t, count, 0, 0, 0, 0, 0], EMBEDDING_SPLIT_FACTOR);
    if (!split) this.x.embApply(this.desc, t, unique, this.logDecay, coef, ib, sweepFrom, sweepCount);
    this.steps = t;
    this.uniqueRows = unique;
    return true;
  }

  /** The table's state: hyperparameters, step count, and copies of the weights and optimizer state (exact mode: flushed first). */
  stateDict(): EmbeddingStateDict {
    this.checkAlive('stateDict');
    this.flush();
    const n = this.rows * this.dim;
    return {
      kind: 'Embedding',
      rows: this.rows,
      dim: this.dim,
      optimizer: this.optimizer,
      mode: this.mode,
      stepCount: this.steps,
      options: hyperRecord(this.optimizer, this.opts),
      weights: this.engine.f32(this.weightsPtr, n).slice(),
      state: Object.fromEntries(this.stateNames.map((name, i) => [name, this.readState(i)])),
    };
  }

  /**
   * Restores a state saved by `stateDict()` into a table of the same shape and optimizer (the
   * mode may differ). The hyperparameters come from the state dict. Everything is checked before
   * anything changes; a mismatch throws and leaves the table as it was.
   */
  loadStateDict(dict: EmbeddingStateDict): void {
    this.checkAlive('loadStateDict');
    const what = 'Embedding.loadStateDict';
    if (dict === null || typeof dict !== 'object') throw new TypeError(`${what}: expected a state dict object, got ${describe(dict)}`);
    if (dict.kind !== 'Embedding') throw new TypeError(`${what}: the state dict is for ${String(dict.kind)}, not an Embedding`);
    if (dict.rows !== this.rows || dict.dim !== this.dim) throw new RangeError(`${what}: the state dict is for a ${dict.rows} x ${dict.dim} table, this one is ${this.rows} x ${this.dim}`);
    if (dict.optimizer !== this.optimizer) throw new TypeError(`${what}: the state dict uses optimizer '${String(dict.optimizer)}', this table '${this.optimizer}'`);
    if (!Number.isSafeInteger(dict.stepCount) || dict.stepCount < 0 || dict.stepCount > 0xfffff000) throw new RangeError(`${what}: bad stepCount ${dict.stepCount}`);
    const given = (dict.options ?? {}) as Record<string, unknown>;
    checkKnownKeys(what, given, HYPER_KEYS[this.optimizer]);
    const opts = resolveHyper(this.optimizer, given as EmbeddingOptions);
    const names = stateLayout(this.optimizer, opts);
    if (names.join() !== this.stateNames.join()) {
      throw new RangeError(`${what}: the state dict's options need state [${names.join(', ')}] but this table holds [${this.stateNames.join(', ')}]; create it with the same options`);
    }
    const exact = exactConfig(this.optimizer, this.mode, opts, this.rows);
    const n = this.rows * this.dim;
    const tensors: [string, unknown][] = [['weights', dict.weights], ...names.map((k): [string, unknown] => [`state.${k}`, dict.state?.[k]])];
    for (const [name, t] of tensors) {
      if (!(t instanceof Float32Array)) throw new TypeError(`${what}: '${name}' must be a Float32Array, got ${describe(t)}`);
      if (t.length !== n) throw new RangeError(`${what}: '${name}' has ${t.length} floats, the table needs ${n}`);
    }
    if ((exact.kind !== 0) !== (this.exact.kind !== 0)) {
      throw new RangeError(`${what}: these options change whether exact mode has missed steps to replay; create a table with the state dict's options`);
    }
    // Everything checked: now change.
    this.opts = opts;
    this.engine.heapF32.set(dict.weights, this.weightsPtr >>> 2);
    names.forEach((k, i) => this.writeState(i, dict.state[k]));
    this.steps = dict.stepCount;
    this.exact = exact;
    if (exact.kind !== 0) {
      this.writeExact(exact, this.steps);
      this.x.embExactReset(this.desc, this.steps, this.rows);
    }
    this.logDecay = 0;
    this.cursor = 0;
    this.flushedAt = this.steps;
  }

  /**
   * A binary checkpoint of the table (format: src/checkpoint.ts): shape, optimizer, mode,
   * hyperparameters, step count, weights and optimizer state, with a CRC-32 over the whole. In
   * exact mode the rows that are behind stay behind, with the history they need to catch up
   * (nothing is flushed), so a resumed run continues bit for bit as if never interrupted.
   * Restore with `load()` or `Embedding.fromCheckpoint()`.
   */
  save(): Uint8Array {
    this.checkAlive('save');
    const n = this.rows * this.dim;
    const e = this.engine;
    const exact = this.exact.kind !== 0;
    return encodeCheckpoint('Embedding', {
      rows: this.rows, dim: this.dim, optimizer: this.optimizer, mode: this.mode, stepCount: this.steps,
      options: hyperRecord(this.optimizer, this.opts),
      weights: e.f32(this.weightsPtr, n),
      state: Object.fromEntries(this.stateNames.map((name, i) => [name, this.readState(i)])),
      lag: exact ? {
        last: new Uint32Array(e.memory.buffer, this.lastPtr, this.rows),
        ring: new Uint8Array(e.memory.buffer, this.ringPtr, this.exact.ringSize * this.slots.EMB_RING_BYTES),
        base: e.heapU32[(this.desc >>> 2) + this.slots.EMB_BASE],
        logDecay: this.logDecay, cursor: this.cursor, flushedAt: this.flushedAt,
      } : null,
    });
  }

  /**
   * Restores a checkpoint from `save()` into this table: same rows, dim, optimizer and mode (the
   * hyperparameters and step count come from the checkpoint). A truncated, corrupt,
   * other-version, other-kind or mismatched checkpoint throws a CheckpointError that says why,
   * and nothing changes.
   */
  load(bytes: Uint8Array | ArrayBuffer): void {
    this.checkAlive('load');
    const what = 'Embedding.load';
    const p = decodeCheckpoint(bytes, 'Embedding', what).payload as Record<string, unknown> & {
      lag: { last: Uint32Array; ring: Uint8Array; base: number; logDecay: number; cursor: number; flushedAt: number } | null;
    };
    const malformed: (why: string) => never = (why) => {
      throw new CheckpointError('malformed', `${what}: the checkpoint is malformed (${why}) although its checksum holds`);
    };
    const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
    if (!isCount(p.rows) || !isCount(p.dim) || !isCount(p.stepCount) || typeof p.optimizer !== 'string' || typeof p.mode !== 'string') malformed('no shape, optimizer, mode or step count');
    if (p.optimizer !== this.optimizer) {
      throw new CheckpointError('kind', `${what}: the checkpoint holds an Embedding trained with optimizer '${String(p.optimizer)}', this table uses '${this.optimizer}'; create the table with optimizer '${String(p.optimizer)}' (or use Embedding.fromCheckpoint)`);
    }
    if (p.rows !== this.rows || p.dim !== this.dim || p.mode !== this.mode) {
      throw new CheckpointError('layout', `${what}: the checkpoint holds a ${p.rows} x ${p.dim} table in mode '${String(p.mode)}', this one is ${this.rows} x ${this.dim} in mode '${this.mode}'; create the table with the same shape and mode (or use Embedding.fromCheckpoint)`);
    }
    let opts: Hyper;
    let cfg: ExactConfig;
    try {
      const given = (p.options ?? {}) as Record<string, unknown>;
      checkKnownKeys(what, given, HYPER_KEYS[this.optimizer]);
      opts = resolveHyper(this.optimizer, given as EmbeddingOptions);
      cfg = exactConfig(this.optimizer, this.mode, opts, this.rows);
    } catch (e) {
      return malformed(`its options are invalid: ${(e as Error).message}`);
    }
    const names = stateLayout(this.optimizer, opts);
    const state = (p.state ?? {}) as Record<string, unknown>;
    if (names.join() !== this.stateNames.join() || Object.keys(state).join() !== names.join()) {
      throw new CheckpointError('layout', `${what}: the checkpoint holds state [${Object.keys(state).join(', ')}] but this table holds [${this.stateNames.join(', ')}]; create the table with the options it was saved with (see inspectCheckpoint)`);
    }
    const n = this.rows * this.dim;
    for (const t of [p.weights, ...names.map((k) => state[k])]) if (!(t instanceof Float32Array) || t.length !== n) malformed(`a tensor is not ${n} float32 values`);
    const lag = p.lag;
    const steps = p.stepCount as number;
    if (cfg.kind !== 0) {
      if (lag === null || typeof lag !== 'object' || !(lag.last instanceof Uint32Array) || lag.last.length !== this.rows ||
        !(lag.ring instanceof Uint8Array) || lag.ring.length !== cfg.ringSize * this.slots.EMB_RING_BYTES ||
        !isCount(lag.base) || !Number.isFinite(lag.logDecay) || !isCount(lag.cursor) || lag.cursor >= this.rows ||
        !isCount(lag.flushedAt) || lag.flushedAt > steps || lag.base > steps) malformed('its exact-mode history does not fit the table');
      for (let r = 0; r < lag.last.length; r++) if (lag.last[r] > steps) malformed(`row ${r} is ahead of the table`);
    }
    try {
      this.loadStateDict({ kind: 'Embedding', rows: this.rows, dim: this.dim, optimizer: this.optimizer, mode: this.mode, stepCount: steps,
        options: p.options as Record<string, unknown>, weights: p.weights as Float32Array, state: state as Record<string, Float32Array> });
    } catch (e) {
      if (e instanceof RangeError || e instanceof TypeError) throw new CheckpointError('layout', `${what}: ${e.message}`);
      throw e;
    }
    if (cfg.kind !== 0 && lag) {
      const e = this.engine;
      e.heapU32.set(lag.last, this.lastPtr >>> 2);
      new Uint8Array(e.memory.buffer).set(lag.ring, this.ringPtr);
      e.heapU32[(this.desc >>> 2) + this.slots.EMB_BASE] = lag.base;
      this.logDecay = lag.logDecay;
      this.cursor = lag.cursor;
      this.flushedAt = lag.flushedAt;
    }
  }

  /**
   * A new table restored from a checkpoint from `save()`: the shape, optimizer, mode and
   * hyperparameters come from the checkpoint. Throws a CheckpointError when it is refused.
   */
  static fromCheckpoint(bytes: Uint8Array | ArrayBuffer, options: { engine?: Engine } = {}): Embedding {
    const p = decodeCheckpoint(bytes, 'Embedding', 'Embedding.fromCheckpoint').payload;
    const o = (p.options ?? {}) as Record<string, unknown>;
    let table: Embedding;
    try {
      table = new Embedding(p.rows as number, p.dim as number, { ...o, optimizer: p.optimizer as EmbeddingOptimizer, mode: p.mode as EmbeddingMode, init: 'zeros', engine: options.engine });
    } catch (e) {
      if (e instanceof RangeError || e instanceof TypeError) throw new CheckpointError('malformed', `Embedding.fromCheckpoint: the checkpoint's table cannot be created: ${e.message}`);
      throw e;
    }
    try {
      table.load(bytes);
    } catch (e) {
      table.dispose();
      throw e;
    }
    return table;
  }

  /**
   * The table in the safetensors format, named as PyTorch would hold an `nn.Embedding` and its
   * optimizer: `weight`, `state.0.<name>`, `state.0.step` (docs/safetensors.md).
   */
  saveSafetensors(): Uint8Array {
    this.checkAlive('saveSafetensors');
    return saveEmbeddingSafetensors(this);
  }

  /** Loads a table's safetensors file (same shape and optimizer); a refused file throws a CheckpointError and changes nothing. */
  loadSafetensors(bytes: Uint8Array | ArrayBuffer): void {
    this.checkAlive('loadSafetensors');
    loadEmbeddingSafetensors(this, bytes);
  }

  /** Frees the table's engine memory; any later use throws a DisposedError. */
  dispose(): void {
    if (this.disposed) return;
    for (const b of this.blocks) this.engine.free(b);
    this.blocks = [];
    this.weightsView = null;
    this.disposed = true;
  }

  // -------------------------------------------------------------------------------------------
  // Internals.

  private get x(): Record<string, (...args: number[]) => number> {
    return this.engine.exports as unknown as Record<string, (...args: number[]) => number>;
  }

  private checkAlive(what: string): void {
    if (this.disposed) throw new DisposedError(`Embedding.${what}: this table was disposed; create a new one`);
  }

  private alloc(bytes: number): number {
    const p = this.engine.alloc(bytes);
    this.blocks.push(p);
    return p;
  }

  /**
   * A block of `bytes` aligned to 4096 (rows then never straddle a page more than they must), or
   * only 16-byte aligned when the padding would pass the engine's 1 GiB block limit.
   */
  private allocAligned(bytes: number): number {
    if (bytes + 4096 > BLOCK_LIMIT_BYTES) return this.alloc(bytes);
    const p = this.alloc(bytes + 4096);
    return Math.ceil(p / 4096) * 4096;
  }

  private readState(i: number): Float32Array {
    const { rows, dim } = this;
    const s = this.stateNames.length;
    const out = new Float32Array(rows * dim);
    const f = this.engine.heapF32;
    const base = (this.stateBase >>> 2) + i * dim;
    if (s === 1) out.set(f.subarray(base, base + rows * dim));
    else for (let r = 0; r < rows; r++) out.set(f.subarray(base + r * s * dim, base + r * s * dim + dim), r * dim);
    return out;
  }

  private writeState(i: number, values: Float32Array): void {
    const { rows, dim } = this;
    const s = this.stateNames.length;
    const f = this.engine.heapF32;
    const base = (this.stateBase >>> 2) + i * dim;
    if (s === 1) f.set(values, base);
    else for (let r = 0; r < rows; r++) f.set(values.subarray(r * dim, r * dim + dim), base + r * s * dim);
  }

  private release(ptr: number): void {
    if (!ptr) return;
    const i = this.blocks.indexOf(ptr);
    if (i >= 0) this.blocks.splice(i, 1);
    this.engine.free(ptr);
  }

  private heap64(): Float64Array {
    if (this.f64.buffer !== this.engine.memory.buffer) this.f64 = new Float64Array(this.engine.memory.buffer);
    return this.f64;
  }

  /** Scratch for the sort and coalescing of k ids: keys, keys2, uniq, gptr, sums, ids. */
  private ensureIds(k: number): void {
    if (k <= this.cap) return;
    this.ensureScratch(k);
  }

  private ensureScratch(k: number): void {
    const cap = Math.max(64, 2 ** Math.ceil(Math.log2(Math.max(1, k))));
    const dim = this.dim;
    const keys = 8 * cap, uniq = 4 * cap, sums = 4 * dim * (cap / 2 + 1), ids = 4 * cap;
    const at = [0, keys, 2 * keys, 2 * keys + uniq, 2 * keys + 2 * uniq];
    const idsAt = align16(at[4] + sums);
    const total = idsAt + ids;
    const block = this.alloc(total);
    this.release(this.scratch);
    this.scratch = block;
    this.cap = cap;
    this.idsPtr = block + idsAt;
    const u32 = this.engine.heapU32;
    const d = this.desc >>> 2;
    u32[d + this.slots.EMB_KEYS] = block + at[0];
    u32[d + this.slots.EMB_KEYS2] = block + at[1];
    u32[d + this.slots.EMB_UNIQ] = block + at[2];
    u32[d + this.slots.EMB_GPTR] = block + at[3];
    u32[d + this.slots.EMB_SUM] = block + at[4];
  }

  private ensureGrads(k: number): void {
    if (k <= this.gradCap && this.gradPtr) return;
    const cap = Math.max(64, 2 ** Math.ceil(Math.log2(Math.max(1, k))));
    const p = this.alloc(cap * this.dim * 4);
    this.release(this.gradPtr);
    this.gradPtr = p;
    this.gradCap = cap;
  }

  private ensureOut(k: number): void {
    if (k <= this.outCap && this.outPtr) return;
    const cap = Math.max(64, 2 ** Math.ceil(Math.log2(Math.max(1, k))));
    const p = this.alloc(cap * this.dim * 4);
    this.release(this.outPtr);
    this.outPtr = p;
    this.outCap = cap;
  }

  /** A copy of `a` when it is a view of engine memory (which an allocation may detach), else `a`. */
  private detachSafe<T extends ArrayLike<number>>(a: T): T {
    if (ArrayBuffer.isView(a) && a.buffer === this.engine.memory.buffer) return (a as unknown as { slice(): T }).slice();
    return a;
  }

  private copyIds(ids: ArrayLike<number>, k: number): void {
    const i32 = this.engine.heapI32;
    const at = this.idsPtr >>> 2;
    if (ids instanceof Int32Array || ids instanceof Uint32Array || Array.isArray(ids)) {
      i32.set(ids as ArrayLike<number>, at);
    } else {
      for (let i = 0; i < k; i++) i32[at + i] = ids[i];
    }
  }

  private gather(what: string, ids: ArrayLike<number>, k: number): Float32Array {
    ids = this.detachSafe(ids);
    this.ensureIds(k);
    this.ensureOut(k);
    this.copyIds(ids, k);
    const bad = this.x.embCheckIds(this.idsPtr, k, this.rows);
    if (bad >= 0) throw outOfRange(what, ids, bad, this.rows);
    this.x.embLookup(this.desc, this.idsPtr, k, this.outPtr, this.steps);
    return this.engine.f32(this.outPtr, k * this.dim);
  }

  private fillHyper(t: number): void {
    const o = this.opts;
    const f32 = this.engine.heapF32;
    const i32 = this.engine.heapI32;
    const base = this.hyper >>> 2;
    const e = this.engine;
    const f = (name: string, v: number): void => { f32[base + e.slot(name)] = v; };
    const flag = (name: string, on: boolean): void => { i32[base + e.slot(name)] = on ? 1 : 0; };
    const gs = o.maximize ? -1 : 1;
    if (this.optimizer === 'adam' || this.optimizer === 'adamw') {
      const decoupled = this.optimizer === 'adamw';
      const [b1, b2] = o.betas;
      f('ADAM_GSCALE', gs);
      f('ADAM_BETA1', b1);
      f('ADAM_OMB1', 1 - b1);
      f('ADAM_BETA2', b2);
      f('ADAM_OMB2', 1 - b2);
      f('ADAM_STEP_SIZE', o.lr / (1 - Math.pow(b1, t)));
      f('ADAM_INV_BC2_SQRT', 1 / Math.sqrt(1 - Math.pow(b2, t)));
      f('ADAM_EPS', o.eps);
      f('ADAM_L2', decoupled ? 0 : o.weightDecay);
      f('ADAM_DECAY', decoupled ? 1 - o.lr * o.weightDecay : 1);
      flag('ADAM_AMSGRAD', o.amsgrad);
      flag('ADAM_USE_L2', !decoupled && o.weightDecay !== 0);
      flag('ADAM_USE_DECAY', decoupled && o.weightDecay !== 0);
    } else if (this.optimizer === 'sgd') {
      f('SGD_GSCALE', gs);
      f('SGD_LR', o.lr);
      f('SGD_MOMENTUM', o.momentum);
      f('SGD_OMD', 1 - o.dampening);
      f('SGD_WD', o.weightDecay);
      flag('SGD_USE_MOMENTUM', o.momentum !== 0);
      flag('SGD_FIRST', t === 1);
      flag('SGD_NESTEROV', o.nesterov);
      flag('SGD_USE_WD', o.weightDecay !== 0);
    } else if (this.optimizer === 'adamax' || this.optimizer === 'lion' || this.optimizer === 'adadelta' || this.optimizer === 'nadam' || this.optimizer === 'radam') {
      // The dense classes' own writers, with t = the table's update count (the bias corrections
      // and schedules follow it, as SparseAdam's do). The kernels' shared loop clamps the
      // gradients to [CLIP_LO, CLIP_HI]: a table does not clip.
      const w: HyperWriter = { f32: (slot, v) => { f32[base + slot] = v; }, flag: (slot, on) => { i32[base + slot] = on ? 1 : 0; } };
      f('CLIP_LO', -Infinity);
      f('CLIP_HI', Infinity);
      if (this.optimizer === 'adamax') writeAdamaxHyper(w, e, o, t, gs, this.betaPowers);
      else if (this.optimizer === 'lion') writeLionHyper(w, e, o, gs);
      else if (this.optimizer === 'adadelta') writeAdadeltaHyper(w, e, o, gs);
      else if (this.optimizer === 'nadam') writeNAdamHyper(w, e, o, t, gs, this.mus);
      else writeRAdamHyper(w, e, o, t, gs, this.betaPowers);
    } else {
      f('ADAGRAD_GSCALE', gs);
      f('ADAGRAD_CLR', o.lr / (1 + (t - 1) * o.lrDecay));
      f('ADAGRAD_EPS', o.eps);
      f('ADAGRAD_WD', o.weightDecay);
      flag('ADAGRAD_USE_WD', o.weightDecay !== 0);
    }
  }

  /** Writes the exact-mode configuration (and allocates its ring) with history starting at step `base`. */
  private writeExact(cfg: ExactConfig, base: number): void {
    const s = this.slots;
    const d = this.desc >>> 2;
    if (cfg.kind !== 0) {
      const ringBytes = cfg.ringSize * s.EMB_RING_BYTES;
      const ring = this.alloc(ringBytes);
      const pow = this.alloc(cfg.pow.length * 8);
      this.release(this.ringPtr);
      this.release(this.powPtr);
      this.ringPtr = ring;
      this.powPtr = pow;
      this.heap64().set(cfg.pow, pow >>> 3);
    }
    const u32 = this.engine.heapU32;
    u32[d + s.EMB_EXACT] = cfg.kind;
    u32[d + s.EMB_EX_DECAY] = cfg.decay ? 1 : 0;
    u32[d + s.EMB_EX_AMS] = cfg.ams ? 1 : 0;
    u32[d + s.EMB_EX_MOM] = cfg.mom ? 1 : 0;
    u32[d + s.EMB_WINDOW] = cfg.window;
    u32[d + s.EMB_RING] = this.ringPtr;
    u32[d + s.EMB_RING_MASK] = cfg.ringSize - 1;
    u32[d + s.EMB_POW] = this.powPtr;
    u32[d + s.EMB_BASE] = base;
    const f = this.heap64();
    const fb = (this.desc + 128) >>> 3;
    f[fb + s.EMBF_EPS] = cfg.eps;
    f[fb + s.EMBF_THR] = cfg.thr;
    f[fb + s.EMBF_B1] = cfg.b1;
    f[fb + s.EMBF_B2] = cfg.b2;
    f[fb + s.EMBF_BETA2] = cfg.beta2;
    f[fb + s.EMBF_RHO] = CENTRED_RHO;
  }
}

// ---------------------------------------------------------------------------------------------
// Validation helpers.

function checkPositiveInt(owner: string, name: string, value: unknown, max: number): number {
  if (typeof value !== 'number') throw new TypeError(`${owner}: '${name}' must be a positive integer, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < 1 || value > max) throw new RangeError(`${owner}: '${name}' must be an integer in [1, ${max}], got ${value}`);
  return value;
}

function checkNonNegativeInt(owner: string, name: string, value: unknown): number {
  if (typeof value !== 'number') throw new TypeError(`${owner}: '${name}' must be a non-negative integer, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) throw new RangeError(`${owner}: '${name}' must be a non-negative integer, got ${value}`);
  return value;
}

function checkSeed(value: unknown): number {
  if (typeof value !== 'number') throw new TypeError(`Embedding: option 'seed' must be a non-negative integer, got ${describe(value)}`);
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`Embedding: option 'seed' must be a non-negative safe integer, got ${value}`);
  return value;
}

/** ids: an Int32Array (or Uint32Array, or array of integers); returns its length. */
function checkIds(what: string, ids: unknown, rows: number): number {
  if (ids instanceof Int32Array || ids instanceof Uint32Array) return ids.length;
  if (Array.isArray(ids)) {
    for (let i = 0; i < ids.length; i++) {
      const v = ids[i];
      if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${what}: ids[${i}] is ${describe(v)}; ids must be integers (pass an Int32Array)`);
      if (v < 0 || v >= rows) throw outOfRange(what, ids, i, rows);
    }
    return ids.length;
  }
  throw new TypeError(`${what}: 'ids' must be an Int32Array of row ids, got ${describe(ids)}`);
}

function checkNumbers(what: string, name: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    if (typeof values[i] !== 'number') throw new TypeError(`${what}: ${name}[${i}] is ${describe(values[i])}; expected numbers (pass a Float32Array)`);
  }
}

function outOfRange(what: string, ids: ArrayLike<number>, pos: number, rows: number): RangeError {
  return new RangeError(`${what}: ids[${pos}] = ${ids[pos]} is outside [0, ${rows}); nothing was changed`);
}

/** @internal Lazy updates split across threads from this many times the pool's minParallelElements (see update()). */
export const EMBEDDING_SPLIT_FACTOR = 4;

function align16(n: number): number {
  return Math.ceil(n / 16) * 16;
}

/** Each optimizer's defaults: lr, weightDecay, and betas / eps where it has them. */
const DEFAULTS: Record<EmbeddingOptimizer, { lr: number; weightDecay: number; betas?: [number, number]; eps?: number }> = {
  sgd: { lr: 1e-3, weightDecay: 0 },
  adagrad: { lr: 1e-2, weightDecay: 0, eps: 1e-10 },
  adam: { lr: 1e-3, weightDecay: 0, betas: [0.9, 0.999], eps: 1e-8 },
  adamw: { lr: 1e-3, weightDecay: 0.01, betas: [0.9, 0.999], eps: 1e-8 },
  adamax: { lr: 2e-3, weightDecay: 0, betas: [0.9, 0.999], eps: 1e-8 },
  lion: { lr: 1e-4, weightDecay: 1e-3, betas: [0.9, 0.99] },
  adadelta: { lr: 1.0, weightDecay: 0, eps: 1e-6 },
  nadam: { lr: 2e-3, weightDecay: 0, betas: [0.9, 0.999], eps: 1e-8 },
  radam: { lr: 1e-3, weightDecay: 0, betas: [0.9, 0.999], eps: 1e-8 },
};

function resolveHyper(optimizer: EmbeddingOptimizer, o: EmbeddingOptions): Hyper {
  const kind = `Embedding (optimizer '${optimizer}')`;
  const adam = optimizer === 'adam' || optimizer === 'adamw';
  // The dense classes' defaults (src/adam.ts, sgd.ts, adagrad.ts, adamax.ts, lion.ts, adadelta.ts, nadam.ts, radam.ts).
  const d = DEFAULTS[optimizer];
  const h: Hyper = {
    lr: checkNumber(kind, 'lr', o.lr ?? d.lr, { min: 0 }),
    weightDecay: checkNumber(kind, 'weightDecay', o.weightDecay ?? d.weightDecay, { min: 0 }),
    maximize: checkBoolean(kind, 'maximize', o.maximize ?? false),
    nonFinite: checkChoice(kind, 'nonFinite', o.nonFinite ?? 'throw', ['throw', 'skip', 'ignore'] as const),
    betas: d.betas ? checkBetas(kind, o.betas ?? d.betas) : [0.9, 0.999],
    eps: d.eps !== undefined ? checkNumber(kind, 'eps', o.eps ?? d.eps, { min: 0 }) : 0,
    amsgrad: adam ? checkBoolean(kind, 'amsgrad', o.amsgrad ?? false) : false,
    momentum: optimizer === 'sgd' ? checkNumber(kind, 'momentum', o.momentum ?? 0, { min: 0 }) : 0,
    dampening: optimizer === 'sgd' ? checkNumber(kind, 'dampening', o.dampening ?? 0) : 0,
    nesterov: optimizer === 'sgd' ? checkBoolean(kind, 'nesterov', o.nesterov ?? false) : false,
    lrDecay: optimizer === 'adagrad' ? checkNumber(kind, 'lrDecay', o.lrDecay ?? 0, { min: 0 }) : 0,
    initialAccumulatorValue: optimizer === 'adagrad' ? checkNumber(kind, 'initialAccumulatorValue', o.initialAccumulatorValue ?? 0, { min: 0 }) : 0,
    rho: optimizer === 'adadelta' ? checkNumber(kind, 'rho', o.rho ?? 0.9, { min: 0, max: 1 }) : 0,
    momentumDecay: optimizer === 'nadam' ? checkNumber(kind, 'momentumDecay', o.momentumDecay ?? 4e-3, { min: 0 }) : 0,
    decoupledWeightDecay: optimizer === 'nadam' || optimizer === 'radam' ? checkBoolean(kind, 'decoupledWeightDecay', o.decoupledWeightDecay ?? false) : false,
  };
  if (h.nesterov && (h.momentum <= 0 || h.dampening !== 0)) {
    throw new RangeError(`${kind}: option 'nesterov' needs momentum > 0 and dampening 0, got momentum ${h.momentum}, dampening ${h.dampening}`);
  }
  return h;
}

function hyperRecord(optimizer: EmbeddingOptimizer, h: Hyper): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of HYPER_KEYS[optimizer]) out[k] = k === 'betas' ? [...h.betas] : h[k];
  return out;
}

function stateLayout(optimizer: EmbeddingOptimizer, h: Hyper): string[] {
  if (optimizer === 'adam' || optimizer === 'adamw') return h.amsgrad ? ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'] : ['exp_avg', 'exp_avg_sq'];
  if (optimizer === 'sgd') return h.momentum !== 0 ? ['momentum_buffer'] : [];
  if (optimizer === 'adamax') return ['exp_avg', 'exp_inf'];
  if (optimizer === 'lion') return ['exp_avg'];
  if (optimizer === 'adadelta') return ['square_avg', 'acc_delta'];
  if (optimizer === 'nadam' || optimizer === 'radam') return ['exp_avg', 'exp_avg_sq'];
  return ['sum'];
}

/** Steps after which b^j < 2^-40, or a RangeError when that is more than the ring can hold. */
function windowFor(b: number, option: string): number {
  if (b === 0) return 0;
  const j = Math.ceil(Math.log(EXACT_TAIL) / Math.log(b));
  if (!(j <= MAX_WINDOW)) {
    throw new RangeError(`Embedding: mode 'exact' needs ${option} <= ${Math.pow(EXACT_TAIL, 1 / MAX_WINDOW).toFixed(5)} (the drift of missed steps is summed over the steps until ${option}^j < 2^-40), got ${b}; use mode 'lazy'`);
  }
  return j;
}

/** Updates between two sweeps of the same row: SWEEP_PERIOD, or one row per update for small tables. */
function sweepPeriodFor(rows: number): number {
  return Math.min(SWEEP_PERIOD, rows);
}

/** The history ring's size for a summed window of J steps: room for J steps and a sweep period. */
function ringSizeFor(J: number, rows: number): number {
  return Math.max(1024, 2 ** Math.ceil(Math.log2(J + sweepPeriodFor(rows) + 2)));
}

function exactConfig(optimizer: EmbeddingOptimizer, mode: EmbeddingMode, h: Hyper, rows: number): ExactConfig {
  const none: ExactConfig = { kind: 0, decay: false, ams: false, mom: false, window: 0, ringSize: 1, sweepChunk: 0, b1: 0, b2: 0, beta2: 0, eps: 0, thr: 0, pow: new Float64Array(0) };
  if (mode === 'lazy') return none;
  const kind = `Embedding (optimizer '${optimizer}', mode 'exact')`;
  if (!EXACT_OPTIMIZERS.includes(optimizer)) {
    throw new RangeError(`${kind}: mode 'exact' supports optimizers ${EXACT_OPTIMIZERS.slice(0, -1).join(', ')} and ${EXACT_OPTIMIZERS[EXACT_OPTIMIZERS.length - 1]}, not '${optimizer}'; use mode 'lazy' (only the rows an update names change)`);
  }
  if ((optimizer === 'adam' || optimizer === 'adagrad') && h.weightDecay !== 0) {
    throw new RangeError(`${kind}: option 'weightDecay' must be 0, got ${h.weightDecay}: L2 decay gives untouched rows a non-zero gradient, which has no closed form to replay; use optimizer 'adamw' (decoupled decay) or mode 'lazy'`);
  }
  let cfg: ExactConfig;
  if (optimizer === 'adam' || optimizer === 'adamw') {
    const b1 = Math.fround(h.betas[0]);
    const b2 = Math.fround(h.betas[1]);
    const J = windowFor(b1, 'betas[0]');
    const H = ringSizeFor(J, rows);
    const pow = new Float64Array(2 * H + J + 1);
    const sb2 = Math.sqrt(b2);
    for (let j = 0; j < H; j++) {
      pow[j] = Math.pow(b1, j);
      pow[H + j] = Math.pow(b2, j);
    }
    for (let j = 0; j <= J; j++) pow[2 * H + j] = Math.pow(sb2, j);
    const cmin = h.amsgrad ? 1 : pow[2 * H + J];
    cfg = { ...none, kind: 1, decay: optimizer === 'adamw' && h.weightDecay !== 0, ams: h.amsgrad, window: J, b1, b2, beta2: h.betas[1], eps: h.eps, thr: cmin > 0 ? (128 * h.eps) / cmin : Infinity, pow };
  } else if (optimizer === 'sgd') {
    if (h.momentum !== 0 && h.weightDecay !== 0) {
      throw new RangeError(`${kind}: momentum ${h.momentum} with weightDecay ${h.weightDecay} has no closed form for the missed steps; use one of them, or mode 'lazy'`);
    }
    if (h.momentum >= 1) throw new RangeError(`${kind}: option 'momentum' must be < 1 in exact mode (the missed steps' drift must vanish), got ${h.momentum}; use mode 'lazy'`);
    if (h.momentum === 0 && h.weightDecay === 0) return none;
    const mu = Math.fround(h.momentum);
    const J = h.momentum !== 0 ? windowFor(mu, 'momentum') : 0;
    const H = ringSizeFor(J, rows);
    const pow = new Float64Array(2 * H + J + 1);
    for (let j = 0; j < H; j++) pow[j] = Math.pow(mu, j);
    cfg = { ...none, kind: 2, decay: h.weightDecay !== 0, mom: h.momentum !== 0, window: J, b1: mu, pow };
  } else {
    return none; // adagrad without weight decay: a zero gradient changes nothing
  }
  const ringSize = ringSizeFor(cfg.window, rows);
  // Rows swept per update so that every row is brought up to date within ringSize - window - 2
  // updates: the ring then still holds every step a row has missed.
  const period = Math.min(sweepPeriodFor(rows), ringSize - cfg.window - 2);
  return { ...cfg, ringSize, sweepChunk: Math.ceil(rows / period) };
}

type ResolvedInit =
  | { kind: 'zeros' }
  | { kind: 'values'; values: ArrayLike<number> }
  | { kind: 'normal' | 'uniform'; a: number; b: number };

function resolveInit(init: unknown, n: number): ResolvedInit {
  const what = `Embedding: option 'init'`;
  if (init === 'zeros') return { kind: 'zeros' };
  if (init === 'normal') return { kind: 'normal', a: 0, b: 1 };
  if (init === 'uniform') return { kind: 'uniform', a: 0, b: 1 };
  if (typeof init === 'string') throw new RangeError(`${what} must be 'zeros', 'normal', 'uniform', a distribution object or ${n} values, got '${init}'`);
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
      if (!(high > low)) throw new RangeError(`${what}: 'high' must be greater than 'low', got low ${low}, high ${high}`);
      return { kind: 'uniform', a: low, b: high };
    }
    throw new RangeError(`${what}: 'distribution' must be 'normal' or 'uniform', got ${describe(d.distribution)}`);
  }
  if (init !== null && typeof init === 'object' && typeof (init as ArrayLike<number>).length === 'number') {
    const values = init as ArrayLike<number>;
    if (values.length !== n) throw new RangeError(`${what} holds ${values.length} values; the table needs rows * dim = ${n}`);
    if (!ArrayBuffer.isView(values)) checkNumbers('Embedding', 'init', values);
    return { kind: 'values', values };
  }
  throw new TypeError(`${what} must be 'zeros', 'normal', 'uniform', { distribution, ... } or a Float32Array, got ${describe(init)}`);
}
