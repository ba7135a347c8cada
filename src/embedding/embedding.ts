// `Embedding`, the table users create: `createEmbeddingTable` chooses the memory that holds it
// (one engine, or row ranges in several past one engine block) and `Embedding` delegates every
// member to that table. No constructor returns another class.

import type { Engine } from '../core/engine.js';
import { describe } from '../core/options.js';
import { decodeCheckpoint } from '../core/checkpoint.js';
import { LeanEmbedding } from './lean.js';
import { resolveStorage } from './lean-layout.js';
import { LocalEmbedding } from './local.js';
import type { EmbeddingMode, EmbeddingOptimizer, EmbeddingOptions, EmbeddingStateDict } from './options.js';
import { ShardedEmbedding, shardRowsFor, type ShardedEmbeddingOptions } from './sharded.js';
import type { EmbeddingTable } from './table.js';
import type { TableMemoryStats } from './footprint.js';

export type {
  EmbeddingInit,
  EmbeddingInitDistribution,
  EmbeddingMode,
  EmbeddingOptimizer,
  EmbeddingOptions,
  EmbeddingStateDict,
} from './options.js';
export { EMBEDDING_SPLIT_FACTOR } from './local.js';

/**
 * A `rows` x `dim` table with these options in the memory that holds it: a `LocalEmbedding` when
 * its weights and its optimizer state each fit one engine block (1 GiB), else a `ShardedEmbedding`
 * (row ranges in engines of their own). Options are checked before anything is allocated.
 */
export function createEmbeddingTable(rows: number, dim: number, options: EmbeddingOptions = {}): EmbeddingTable {
  if (options === null || typeof options !== 'object')
    throw new TypeError(`Embedding: options must be an object, got ${describe(options)}`);
  // Bad shapes and options get LocalEmbedding's errors (it checks everything before it allocates,
  // in its own order); only a valid table too large for one engine block is sharded.
  // 16-bit weights or 8/16-bit state: a lean table (one engine, lazy; src/embedding/lean.ts).
  const storage = resolveStorage(options);
  if (storage.weightType !== 'f32' || storage.stateType !== 'f32') return new LeanEmbedding(rows, dim, options);
  let fits: boolean;
  try {
    fits = shardRowsFor(rows, dim, options as ShardedEmbeddingOptions) >= rows;
  } catch {
    fits = true;
  }
  return fits ? new LocalEmbedding(rows, dim, options) : new ShardedEmbedding(rows, dim, options);
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
 * - `mode: 'exact'` (sgd, adagrad, adam, adamw, and the lean optimizers rowwiseAdagrad,
 *   partialRowwiseAdam and ftrl as docs/lean-tables.md says: the catch-up of missed steps is not implemented
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
export class Embedding implements EmbeddingTable {
  /** The table this one delegates to: a `LocalEmbedding`, or a `ShardedEmbedding` past one engine block. */
  readonly table: EmbeddingTable;

  /**
   * Creates a `rows` x `dim` table (see `createEmbeddingTable` for the memory it goes in). Every
   * option is checked before anything is allocated; bad values throw a TypeError or RangeError
   * naming the option.
   */
  constructor(rows: number, dim: number, options: EmbeddingOptions = {}) {
    this.table = createEmbeddingTable(rows, dim, options);
  }

  /**
   * A new table restored from a checkpoint from `save()`: the shape, optimizer, mode and
   * hyperparameters come from the checkpoint. Throws a CheckpointError when it is refused.
   */
  static fromCheckpoint(bytes: Uint8Array | ArrayBuffer, options: { engine?: Engine } = {}): Embedding {
    const p = decodeCheckpoint(bytes, 'Embedding', 'Embedding.fromCheckpoint').payload;
    if (p.weightType !== undefined || p.stateType !== undefined)
      return Embedding.wrap(LeanEmbedding.fromCheckpoint(bytes, options));
    return Embedding.wrap(LocalEmbedding.fromCheckpoint(bytes, options));
  }

  /** @internal an Embedding over an existing table. */
  private static wrap(table: EmbeddingTable): Embedding {
    const e = Object.create(Embedding.prototype) as { table: EmbeddingTable };
    e.table = table;
    return e as Embedding;
  }

  get engine(): Engine {
    return this.table.engine;
  }
  get rows(): number {
    return this.table.rows;
  }
  get dim(): number {
    return this.table.dim;
  }
  get optimizer(): EmbeddingOptimizer {
    return this.table.optimizer;
  }
  get mode(): EmbeddingMode {
    return this.table.mode;
  }
  get seed(): number | null {
    return this.table.seed;
  }
  get stepCount(): number {
    return this.table.stepCount;
  }
  get updateCount(): number {
    return this.table.updateCount;
  }
  get lastUniqueRows(): number {
    return this.table.lastUniqueRows;
  }
  get options(): Readonly<Record<string, unknown>> {
    return this.table.options;
  }
  get lr(): number {
    return this.table.lr;
  }
  set lr(value: number) {
    this.table.lr = value;
  }
  get stateKeys(): readonly string[] {
    return this.table.stateKeys;
  }
  /** Bytes one row takes in engine memory: weights and optimizer state (docs/lean-tables.md). */
  get bytesPerRow(): number {
    return this.table.bytesPerRow;
  }
  /** The table's footprint: bytes per row of weights and of state, and in all. */
  memoryStats(): TableMemoryStats {
    return this.table.memoryStats();
  }
  /** How the weights are stored (`weightType`; 'f32' unless the table is lean). */
  get weightType(): 'f32' | 'f16' | 'bf16' {
    return this.table.weightType;
  }
  /** How the optimizer state is stored (`stateType`; 'f32' unless the table is lean). */
  get stateType(): 'f32' | 'bf16' | 'int8' {
    return this.table.stateType;
  }
  get isDisposed(): boolean {
    return this.table.isDisposed;
  }
  get weights(): Float32Array {
    return this.table.weights;
  }
  state(name: string): Float32Array {
    return this.table.state(name);
  }
  flush(): void {
    this.table.flush();
  }
  lookup(ids: ArrayLike<number>, out?: Float32Array): Float32Array {
    return this.table.lookup(ids, out);
  }
  lookupView(ids: ArrayLike<number>): Float32Array {
    return this.table.lookupView(ids);
  }
  gradView(k: number): Float32Array {
    return this.table.gradView(k);
  }
  update(ids: ArrayLike<number>, grads: ArrayLike<number>): boolean {
    return this.table.update(ids, grads);
  }
  stateDict(): EmbeddingStateDict {
    return this.table.stateDict();
  }
  loadStateDict(dict: EmbeddingStateDict): void {
    this.table.loadStateDict(dict);
  }
  save(): Uint8Array {
    return this.table.save();
  }
  load(bytes: Uint8Array | ArrayBuffer): void {
    this.table.load(bytes);
  }
  /**
   * The table in the safetensors format, named as PyTorch would hold an `nn.Embedding` and its
   * optimizer: `weight`, `state.0.<name>`, `state.0.step` (docs/safetensors.md).
   */
  saveSafetensors(): Uint8Array {
    return this.table.saveSafetensors();
  }
  /** Loads a table's safetensors file (same shape and optimizer); a refused file throws a CheckpointError and changes nothing. */
  loadSafetensors(bytes: Uint8Array | ArrayBuffer): void {
    this.table.loadSafetensors(bytes);
  }
  dispose(): void {
    this.table.dispose();
  }
}
