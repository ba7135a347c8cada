// The log-linear part-of-speech tagger of the demo. Every feature (see features.ts) owns one row of
// an embedding table holding a score per tag; a token's tag scores are the sum of the rows of the
// features it fires, a softmax over the token's candidate tags gives the probabilities, and the
// loss is the cross-entropy with the gold tag. All the gradient of a token lands on the rows of
// its features, so a mini-batch touches a few thousand of the table's rows: the table is an
// `Embedding` updated sparsely with `update(ids, grads)`, or, with `dense: true`, one big param
// of a dense optimizer stepped whole (the same model, to show what sparse updates save).
import {
  Adagrad,
  Adam,
  AdamW,
  Embedding,
  SGD,
  type EmbeddingOptimizer,
  type Engine,
  type Param,
} from '../src/index.js';
import type { Sentence } from './brown.js';
import type { EncodedTokens, FeatureSpace } from './features.js';
import { rng } from '../scripts/rng.mjs';

/** The optimizers the demo can train with (the last three: the memory-lean tables, sparse only). */
export const OPTIMIZERS = [
  'adam',
  'adagrad',
  'sgd',
  'adamw',
  'rowwise-adagrad',
  'partial-rowwise-adam',
  'ftrl',
] as const;
/** An optimizer name. */
export type OptimizerName = (typeof OPTIMIZERS)[number];
/** The optimizers that exist for tables only (no `dense` form in the demo). */
export const TABLE_ONLY: readonly OptimizerName[] = ['rowwise-adagrad', 'partial-rowwise-adam', 'ftrl'];

/** The table optimizer behind each demo name. */
const TABLE_NAME: Record<OptimizerName, EmbeddingOptimizer> = {
  adam: 'adam',
  adagrad: 'adagrad',
  sgd: 'sgd',
  adamw: 'adamw',
  'rowwise-adagrad': 'rowwiseAdagrad',
  'partial-rowwise-adam': 'partialRowwiseAdam',
  ftrl: 'ftrl',
};
/** The sparse table's modes. */
export const MODES = ['lazy', 'exact'] as const;
/** `'lazy'` or `'exact'` (see `Embedding`). */
export type Mode = (typeof MODES)[number];

/**
 * Learning rates that train the tagger well in one or two epochs with mini-batches of 1024 tokens
 * and the loss averaged over the batch (found by a small sweep on the training files).
 */
export const DEFAULT_LR: Record<OptimizerName, number> = {
  adam: 0.02,
  adamw: 0.02,
  adagrad: 0.2,
  sgd: 60,
  'rowwise-adagrad': 0.1,
  'partial-rowwise-adam': 0.005,
  ftrl: 5,
};

/** Options of {@link Tagger}. */
export interface TaggerOptions {
  /** Default `'adam'`. */
  optimizer?: OptimizerName;
  /** Default {@link DEFAULT_LR} of the optimizer. */
  lr?: number;
  /** Weight decay passed to the optimizer (AdamW decouples it). Default: the optimizer's default. */
  weightDecay?: number;
  /** The sparse table's mode. Default `'lazy'`. */
  mode?: Mode;
  /** Train a dense param stepped whole instead of a sparse table. Default false. */
  dense?: boolean;
  /** Tokens per mini-batch (one optimizer update each). Default 1024. */
  batchSize?: number;
  /** Seed of the shuffling. Default 1. */
  seed?: number;
  /** The engine to allocate in. Default: the one `init()` created. */
  engine?: Engine;
  /** How the sparse table stores its weights (`Embedding`'s `weightType`). Default `'f32'`. */
  weightType?: 'f32' | 'f16' | 'bf16';
  /** How the sparse table stores its optimizer state (`Embedding`'s `stateType`). Default `'f32'`. */
  stateType?: 'f32' | 'bf16' | 'int8';
  /**
   * A table of `numFeatures` rows of `ceil(numTags / 4) * 4` zeros built elsewhere (the tfjs
   * comparison); the tagger then ignores `optimizer`, `lr`, `mode`, `dense` and `weightDecay`.
   */
  table?: ScoreTable;
}

/** What one epoch of training did. */
export interface EpochStats {
  /** Tokens trained on. */
  tokens: number;
  /** Mean cross-entropy over the epoch's tokens. */
  loss: number;
  /** Wall time of the epoch, seconds. */
  seconds: number;
  /** Of which: in optimizer updates (`update()` / `step()`), seconds. */
  updateSeconds: number;
  /** Of which: fetching the batch's rows (`lookupView()`, which in exact mode first brings the
   *  rows up to date; dense: copying them out of the param), seconds. */
  lookupSeconds: number;
  /** Mini-batches (optimizer updates). */
  batches: number;
  /** Table rows updated, summed over the batches. */
  rowsUpdated: number;
}

/** Progress within an epoch, reported every few batches. */
export interface Progress {
  /** Tokens done so far in this epoch. */
  done: number;
  /** Tokens in the epoch. */
  total: number;
  /** Mean loss of the tokens done so far. */
  loss: number;
  /** Seconds since the epoch started. */
  seconds: number;
}

/** The parameter store behind the model: a sparse `Embedding`, a dense param, or (demo/tfjs-table.ts) a tfjs variable. */
export interface ScoreTable {
  /**
   * Starts a batch on rows `ids` (unique): their current weights and a gradient buffer (to be
   * zeroed by the caller), `ids.length * dim` floats each, valid until `apply`.
   */
  begin(ids: Int32Array): { weights: Float32Array; grads: Float32Array };
  /** One optimizer update with the gradients of `begin` on rows `ids`, zero elsewhere. */
  apply(ids: Int32Array, grads: Float32Array): void;
  /** Every row up to date (a live view, `rows * dim`). */
  all(): Float32Array;
  /** Frees the table's memory. */
  dispose(): void;
}

class SparseTable implements ScoreTable {
  private readonly emb: Embedding;
  constructor(
    rows: number,
    dim: number,
    optimizer: OptimizerName,
    lr: number,
    mode: Mode,
    weightDecay: number | undefined,
    engine: Engine | undefined,
    storage: { weightType?: 'f32' | 'f16' | 'bf16'; stateType?: 'f32' | 'bf16' | 'int8' } = {},
  ) {
    this.emb = new Embedding(rows, dim, {
      optimizer: TABLE_NAME[optimizer],
      lr,
      mode,
      init: 'zeros',
      seed: 1,
      ...storage,
      ...(weightDecay === undefined ? {} : { weightDecay }),
      ...(engine === undefined ? {} : { engine }),
    });
  }
  begin(ids: Int32Array): { weights: Float32Array; grads: Float32Array } {
    // Both are engine-owned views (no copies): the gradients are written in place and handed
    // back to update(). lookupView may grow memory and detach the first gradient view; the second
    // gradView call then only rebuilds the view (the capacity is already there).
    let grads = this.emb.gradView(ids.length);
    const weights = this.emb.lookupView(ids);
    if (grads.buffer !== weights.buffer) grads = this.emb.gradView(ids.length);
    return { weights, grads };
  }
  apply(ids: Int32Array, grads: Float32Array): void {
    this.emb.update(ids, grads);
  }
  all(): Float32Array {
    // A lean table (16-bit weights or 8-bit state) has no float32 view: a decoded copy.
    if (this.emb.weightType !== 'f32' || this.emb.stateType !== 'f32') return this.emb.stateDict().weights;
    return this.emb.weights;
  }
  dispose(): void {
    this.emb.dispose();
  }
}

class DenseTable implements ScoreTable {
  private readonly opt: Adam | AdamW | SGD | Adagrad;
  private readonly param: Param;
  private readonly dim: number;
  private readonly rowsOut: Float32Array;
  private readonly gradsOut: Float32Array;
  private lastIds = new Int32Array(0);
  constructor(
    rows: number,
    dim: number,
    maxRows: number,
    optimizer: OptimizerName,
    lr: number,
    weightDecay: number | undefined,
    engine: Engine | undefined,
  ) {
    const o = {
      lr,
      ...(weightDecay === undefined ? {} : { weightDecay }),
      ...(engine === undefined ? {} : { engine }),
    };
    this.opt =
      optimizer === 'adam'
        ? new Adam(o)
        : optimizer === 'adamw'
          ? new AdamW(o)
          : optimizer === 'sgd'
            ? new SGD(o)
            : optimizer === 'adagrad'
              ? new Adagrad(o)
              : (() => {
                  throw new RangeError(`Tagger: optimizer '${optimizer}' exists for tables only`);
                })();
    this.param = this.opt.param(rows * dim);
    this.dim = dim;
    this.rowsOut = new Float32Array(maxRows * dim);
    this.gradsOut = new Float32Array(maxRows * dim);
  }
  begin(ids: Int32Array): { weights: Float32Array; grads: Float32Array } {
    const data = this.param.data;
    const d = this.dim;
    for (let i = 0; i < ids.length; i++) this.rowsOut.set(data.subarray(ids[i]! * d, ids[i]! * d + d), i * d);
    return { weights: this.rowsOut, grads: this.gradsOut.subarray(0, ids.length * d) };
  }
  apply(ids: Int32Array, grads: Float32Array): void {
    const grad = this.param.grad;
    const d = this.dim;
    // The whole-table gradient is zero outside `ids`: clear the rows the previous batch wrote.
    for (const r of this.lastIds) grad.fill(0, r * d, r * d + d);
    for (let i = 0; i < ids.length; i++) grad.set(grads.subarray(i * d, i * d + d), ids[i]! * d);
    this.lastIds = ids.slice();
    this.opt.step();
  }
  all(): Float32Array {
    return this.param.data;
  }
  dispose(): void {
    this.opt.dispose();
  }
}

/** The project's seeded PRNG (mulberry32, scripts/rng.mjs): uniform floats in [0, 1). */
export const mulberry32 = rng;

/**
 * The log-linear tagger over a {@link FeatureSpace}: a table of `numFeatures` rows of
 * `numTags` scores (padded to a multiple of 4 columns), trained by mini-batch gradient descent
 * with the engine's optimizers.
 */
export class Tagger {
  /** The features and tags. */
  readonly space: FeatureSpace;
  /** Columns of the table (tags, padded to a multiple of 4; padding columns stay zero). */
  readonly dim: number;
  /** The options in force. */
  readonly options: Readonly<
    Required<Omit<TaggerOptions, 'engine' | 'weightDecay' | 'table' | 'weightType' | 'stateType'>>
  > & {
    weightDecay: number | undefined;
  };
  private readonly table: ScoreTable;
  private readonly random: () => number;
  private readonly stamp: Int32Array;
  private readonly slot: Int32Array;
  private readonly uniq: Int32Array;
  private readonly scores: Float64Array;
  private batchCounter = 0;
  private disposed = false;

  constructor(space: FeatureSpace, options: TaggerOptions = {}) {
    const optimizer = options.optimizer ?? 'adam';
    if (!(OPTIMIZERS as readonly string[]).includes(optimizer)) {
      throw new RangeError(
        `Tagger: option 'optimizer' must be one of ${OPTIMIZERS.join(', ')}, got '${String(optimizer)}'`,
      );
    }
    const mode = options.mode ?? 'lazy';
    if (!(MODES as readonly string[]).includes(mode))
      throw new RangeError(`Tagger: option 'mode' must be 'lazy' or 'exact', got '${String(mode)}'`);
    const lr = options.lr ?? DEFAULT_LR[optimizer];
    if (typeof lr !== 'number' || !(lr > 0) || !Number.isFinite(lr))
      throw new RangeError(`Tagger: option 'lr' must be a finite number > 0, got ${lr}`);
    const batchSize = options.batchSize ?? 1024;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new RangeError(`Tagger: option 'batchSize' must be an integer >= 1, got ${batchSize}`);
    const seed = options.seed ?? 1;
    if (!Number.isInteger(seed)) throw new RangeError(`Tagger: option 'seed' must be an integer, got ${seed}`);
    const dense = options.dense ?? false;
    if (dense && TABLE_ONLY.includes(optimizer))
      throw new RangeError(`Tagger: optimizer '${optimizer}' exists for tables only; drop option 'dense'`);
    this.space = space;
    this.dim = Math.ceil(space.numTags / 4) * 4;
    this.options = { optimizer, lr, mode, dense, batchSize, seed, weightDecay: options.weightDecay };
    const rows = space.numFeatures;
    const maxRows = Math.min(rows, batchSize * space.width);
    this.table = options.table
      ? options.table
      : dense
        ? new DenseTable(rows, this.dim, maxRows, optimizer, lr, options.weightDecay, options.engine)
        : new SparseTable(rows, this.dim, optimizer, lr, mode, options.weightDecay, options.engine, {
            weightType: options.weightType,
            stateType: options.stateType,
          });
    this.random = mulberry32(seed);
    this.stamp = new Int32Array(rows).fill(-1);
    this.slot = new Int32Array(rows);
    this.uniq = new Int32Array(maxRows);
    let widest = 0;
    for (const s of space.candidateSets) widest = Math.max(widest, s.length);
    this.scores = new Float64Array(widest);
  }

  private live(): void {
    if (this.disposed) throw new Error('Tagger: this tagger was disposed; create a new one');
  }

  /**
   * One pass over `data` in a shuffled order, one optimizer update per mini-batch.
   * `onProgress` is called about every 1% of the batches and after the last one. `maxBatches`
   * stops the epoch early (for timing slow tables on part of an epoch).
   */
  trainEpoch(data: EncodedTokens, onProgress?: (p: Progress) => void, maxBatches = Infinity): EpochStats {
    this.live();
    if (!(maxBatches >= 1)) throw new RangeError(`Tagger.trainEpoch: 'maxBatches' must be >= 1, got ${maxBatches}`);
    if (data.width !== this.space.width)
      throw new RangeError(`Tagger: data has ${data.width} features per token, the tagger ${this.space.width}`);
    for (let t = 0; t < data.length; t++) {
      if (data.labels[t]! < 0)
        throw new RangeError(`Tagger: training token ${t} has a tag the feature space does not know`);
    }
    const start = performance.now();
    const n = data.length;
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      const x = order[i]!;
      order[i] = order[j]!;
      order[j] = x;
    }
    const { batchSize } = this.options;
    const progressEvery = Math.max(1, Math.floor(Math.min(Math.ceil(n / batchSize), maxBatches) / 100));
    const F = data.width;
    const D = this.dim;
    const ids = data.ids;
    const labels = data.labels;
    const cands = data.candidates;
    const sets = this.space.candidateSets;
    const { stamp, slot, uniq, scores: s } = this;
    let loss = 0;
    let updateMs = 0;
    let lookupMs = 0;
    let rowsUpdated = 0;
    let batches = 0;
    const end = Math.min(n, maxBatches * batchSize);
    for (let b0 = 0; b0 < end; b0 += batchSize) {
      const b1 = Math.min(end, b0 + batchSize);
      const stampValue = this.batchCounter++;
      let k = 0;
      for (let q = b0; q < b1; q++) {
        const base = order[q]! * F;
        for (let f = 0; f < F; f++) {
          const id = ids[base + f]!;
          if (id >= 0 && stamp[id] !== stampValue) {
            stamp[id] = stampValue;
            slot[id] = k;
            uniq[k++] = id;
          }
        }
      }
      const rowIds = uniq.subarray(0, k);
      const l0 = performance.now();
      const { weights: W, grads } = this.table.begin(rowIds);
      lookupMs += performance.now() - l0;
      grads.fill(0);
      const inv = 1 / (b1 - b0);
      for (let q = b0; q < b1; q++) {
        const t = order[q]!;
        const base = t * F;
        const C = sets[cands[t]!]!;
        const c = C.length;
        s.fill(0, 0, c);
        for (let f = 0; f < F; f++) {
          const id = ids[base + f]!;
          if (id < 0) continue;
          const o = slot[id]! * D;
          for (let j = 0; j < c; j++) s[j]! += W[o + C[j]!]!;
        }
        let max = -Infinity;
        for (let j = 0; j < c; j++) if (s[j]! > max) max = s[j]!;
        const y = labels[t]!;
        let z = 0;
        let yj = -1;
        for (let j = 0; j < c; j++) {
          const e = Math.exp(s[j]! - max);
          s[j] = e;
          z += e;
          if (C[j] === y) yj = j;
        }
        if (yj < 0) throw new RangeError(`Tagger: the gold tag of training token ${t} is not among its candidates`);
        loss -= Math.log(s[yj]! / z);
        // d loss / d score = p - onehot(y), averaged over the batch.
        const scale = inv / z;
        for (let j = 0; j < c; j++) s[j] = s[j]! * scale;
        s[yj] = s[yj]! - inv;
        for (let f = 0; f < F; f++) {
          const id = ids[base + f]!;
          if (id < 0) continue;
          const o = slot[id]! * D;
          for (let j = 0; j < c; j++) grads[o + C[j]!]! += s[j]!;
        }
      }
      const u0 = performance.now();
      this.table.apply(rowIds, grads);
      updateMs += performance.now() - u0;
      rowsUpdated += k;
      batches++;
      if (onProgress && (batches % progressEvery === 0 || b1 === end)) {
        onProgress({ done: b1, total: end, loss: loss / b1, seconds: (performance.now() - start) / 1000 });
      }
    }
    return {
      tokens: end,
      loss: end > 0 ? loss / end : 0,
      seconds: (performance.now() - start) / 1000,
      updateSeconds: updateMs / 1000,
      lookupSeconds: lookupMs / 1000,
      batches,
      rowsUpdated,
    };
  }

  /** The predicted tag (column) of every token: the best-scoring of its candidates. */
  predict(data: EncodedTokens): Int32Array {
    this.live();
    if (data.width !== this.space.width)
      throw new RangeError(`Tagger: data has ${data.width} features per token, the tagger ${this.space.width}`);
    const W = this.table.all();
    const F = data.width;
    const D = this.dim;
    const sets = this.space.candidateSets;
    const out = new Int32Array(data.length);
    const s = this.scores;
    for (let t = 0; t < data.length; t++) {
      const base = t * F;
      const C = sets[data.candidates[t]!]!;
      const c = C.length;
      s.fill(0, 0, c);
      for (let f = 0; f < F; f++) {
        const id = data.ids[base + f]!;
        if (id < 0) continue;
        const o = id * D;
        for (let j = 0; j < c; j++) s[j]! += W[o + C[j]!]!;
      }
      let best = 0;
      for (let j = 1; j < c; j++) if (s[j]! > s[best]!) best = j;
      out[t] = C[best]!;
    }
    return out;
  }

  /** Share of tokens whose predicted tag is the gold one (tags unseen in training count as errors). */
  accuracy(data: EncodedTokens): number {
    const pred = this.predict(data);
    let ok = 0;
    for (let t = 0; t < data.length; t++) if (pred[t] === data.labels[t]) ok++;
    return data.length > 0 ? ok / data.length : 0;
  }

  /** Frees the table's engine memory. Later use throws. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.table.dispose();
  }
}

/**
 * The most-frequent-tag baseline: each word gets the tag it had most often in training, an
 * unknown word the most frequent tag overall. Returns the share of `test` tokens it gets right.
 */
export function mostFrequentTagAccuracy(train: readonly Sentence[], test: readonly Sentence[]): number {
  const byWord = new Map<string, Map<string, number>>();
  const overall = new Map<string, number>();
  for (const s of train) {
    for (let i = 0; i < s.words.length; i++) {
      const w = s.words[i]!;
      const t = s.tags[i]!;
      let m = byWord.get(w);
      if (!m) byWord.set(w, (m = new Map()));
      m.set(t, (m.get(t) ?? 0) + 1);
      overall.set(t, (overall.get(t) ?? 0) + 1);
    }
  }
  const argmax = (m: Map<string, number>): string => {
    let best = '';
    let n = -1;
    for (const [t, c] of m) if (c > n || (c === n && t < best)) [best, n] = [t, c];
    return best;
  };
  const fallback = argmax(overall);
  const best = new Map<string, string>();
  for (const [w, m] of byWord) best.set(w, argmax(m));
  let ok = 0;
  let total = 0;
  for (const s of test) {
    for (let i = 0; i < s.words.length; i++, total++) if ((best.get(s.words[i]!) ?? fallback) === s.tags[i]) ok++;
  }
  return total > 0 ? ok / total : 0;
}
