// Skip-gram with negative sampling (Mikolov et al., 2013) on two embedding tables updated sparsely:
// `input` holds the word vectors, `output` the context vectors. For a (center, context) pair and
// K words drawn from the unigram distribution to the 3/4, the loss is
//   -log s(v_c . u_o) - sum_k log s(-v_c . u_k),   s = the logistic function,
// and its gradient lands on one input row and K + 1 output rows. A mini-batch of pairs repeats
// ids (frequent words, the same center for several contexts): `Embedding.update` sums them.
import { Embedding, type Engine } from '../../src/index.js';
import type { Sentence } from '../../demo/brown.js';
import { mulberry32 } from '../../demo/tagger.js';

export { mulberry32 };

/** The words kept for training, most frequent first, and the corpus as word ids. */
export interface Vocabulary {
  /** Word by id (lower-cased), most frequent first. */
  words: string[];
  /** Word -> id. */
  index: Map<string, number>;
  /** Occurrences by id. */
  counts: Float64Array;
  /** The sentences as ids (words out of the vocabulary dropped). */
  sentences: Int32Array[];
  /** Tokens in `sentences`. */
  tokens: number;
}

const WORDLIKE = /[a-z0-9]/;

/**
 * The vocabulary of the sentences: lower-cased tokens holding a letter or a digit, seen at least
 * `minCount` times (punctuation and rare words are dropped).
 */
export function buildVocabulary(sentences: readonly Sentence[], minCount = 5): Vocabulary {
  if (!Number.isInteger(minCount) || minCount < 1)
    throw new RangeError(`word2vec: 'minCount' must be an integer >= 1, got ${minCount}`);
  const count = new Map<string, number>();
  for (const s of sentences) {
    for (const w of s.words) {
      const l = w.toLowerCase();
      if (WORDLIKE.test(l)) count.set(l, (count.get(l) ?? 0) + 1);
    }
  }
  const words = [...count]
    .filter(([, n]) => n >= minCount)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([w]) => w);
  if (words.length < 2)
    throw new RangeError(`word2vec: fewer than 2 words are seen ${minCount} times; use more text or a lower minCount`);
  const index = new Map(words.map((w, i) => [w, i]));
  const counts = Float64Array.from(words, (w) => count.get(w)!);
  const out: Int32Array[] = [];
  let tokens = 0;
  for (const s of sentences) {
    const ids: number[] = [];
    for (const w of s.words) {
      const id = index.get(w.toLowerCase());
      if (id !== undefined) ids.push(id);
    }
    if (ids.length > 1) {
      out.push(Int32Array.from(ids));
      tokens += ids.length;
    }
  }
  return { words, index, counts, sentences: out, tokens };
}

/** Options of {@link SkipGram}. */
export interface SkipGramOptions {
  /** Vector size. Default 64. */
  dim?: number;
  /** Largest distance between center and context (each center draws 1..window). Default 4. */
  window?: number;
  /** Negative samples per pair. Default 5. */
  negatives?: number;
  /** Down-sampling threshold of frequent words (word2vec's `-sample`). Default 1e-3; 0 turns it off. */
  sample?: number;
  /** Pairs per update. Default 1024. */
  batchPairs?: number;
  /** Adam's learning rate. Default 0.005. */
  lr?: number;
  /** The tables' mode, `'lazy'` (default) or `'exact'`. */
  mode?: 'lazy' | 'exact';
  /** Seed of the initialisation, the sampling and the shuffling. Default 1. */
  seed?: number;
  /** The engine to allocate in. Default: the one `init()` created. */
  engine?: Engine;
}

/** What one epoch did. */
export interface SkipGramEpoch {
  /** (center, context) pairs trained on. */
  pairs: number;
  /** Mean loss per pair. */
  loss: number;
  /** Wall time of the epoch, seconds. */
  seconds: number;
  /** Of which inside the two tables' `update()`, seconds. */
  updateSeconds: number;
}

/** Skip-gram with negative sampling on two sparse Adam tables. */
export class SkipGram {
  /** The vocabulary. */
  readonly vocab: Vocabulary;
  /** The word vectors (`vocab.words.length` rows of `dim`). */
  readonly input: Embedding;
  /** The context vectors. */
  readonly output: Embedding;
  /** Resolved options. */
  readonly options: Required<Omit<SkipGramOptions, 'engine'>>;
  private readonly random: () => number;
  private readonly negTable: Int32Array;
  private disposed = false;

  constructor(vocab: Vocabulary, options: SkipGramOptions = {}) {
    const o = {
      dim: 64,
      window: 4,
      negatives: 5,
      sample: 1e-4,
      batchPairs: 1024,
      lr: 0.005,
      mode: 'lazy' as const,
      seed: 1,
      ...options,
    };
    for (const [k, min] of [
      ['dim', 1],
      ['window', 1],
      ['negatives', 1],
      ['batchPairs', 1],
      ['seed', 0],
    ] as const) {
      const v = o[k];
      if (!Number.isInteger(v) || v < min)
        throw new RangeError(`SkipGram: option '${k}' must be an integer >= ${min}, got ${v}`);
    }
    if (!(o.sample >= 0 && Number.isFinite(o.sample)))
      throw new RangeError(`SkipGram: option 'sample' must be a number >= 0, got ${o.sample}`);
    if (!(o.lr > 0 && Number.isFinite(o.lr)))
      throw new RangeError(`SkipGram: option 'lr' must be a finite number > 0, got ${o.lr}`);
    if (o.mode !== 'lazy' && o.mode !== 'exact')
      throw new RangeError(`SkipGram: option 'mode' must be 'lazy' or 'exact', got '${String(o.mode)}'`);
    this.vocab = vocab;
    this.options = {
      dim: o.dim,
      window: o.window,
      negatives: o.negatives,
      sample: o.sample,
      batchPairs: o.batchPairs,
      lr: o.lr,
      mode: o.mode,
      seed: o.seed,
    };
    const engine = options.engine === undefined ? {} : { engine: options.engine };
    const rows = vocab.words.length;
    // word2vec's initialisation: word vectors uniform in [-0.5/dim, 0.5/dim), context vectors zero.
    this.input = new Embedding(rows, o.dim, {
      optimizer: 'adam',
      lr: o.lr,
      mode: o.mode,
      seed: o.seed,
      init: { distribution: 'uniform', low: -0.5 / o.dim, high: 0.5 / o.dim },
      ...engine,
    });
    this.output = new Embedding(rows, o.dim, { optimizer: 'adam', lr: o.lr, mode: o.mode, init: 'zeros', ...engine });
    this.random = mulberry32(o.seed + 1);
    // Negative samples: a table of 2^20 ids in proportion to count^0.75.
    const size = 1 << 20;
    this.negTable = new Int32Array(size);
    let total = 0;
    for (const c of vocab.counts) total += Math.pow(c, 0.75);
    let id = 0;
    let cum = Math.pow(vocab.counts[0]!, 0.75) / total;
    for (let i = 0; i < size; i++) {
      this.negTable[i] = id;
      if ((i + 1) / size > cum && id < rows - 1) cum += Math.pow(vocab.counts[++id]!, 0.75) / total;
    }
  }

  private live(): void {
    if (this.disposed) throw new Error('SkipGram: this model was disposed; create a new one');
  }

  /** One pass over the corpus (sentences shuffled, frequent words down-sampled). */
  trainEpoch(onProgress?: (done: number, total: number, loss: number) => void): SkipGramEpoch {
    this.live();
    const start = performance.now();
    const { dim: d, window, negatives: K, sample, batchPairs: B } = this.options;
    const r = this.random;
    const { sentences, counts, tokens } = this.vocab;
    const keep = Float64Array.from(counts, (c) => {
      if (sample === 0) return 1;
      const f = c / tokens;
      return Math.min(1, (Math.sqrt(f / sample) + 1) * (sample / f));
    });
    const order = Int32Array.from(sentences, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const centers = new Int32Array(B);
    const outs = new Int32Array(B * (K + 1));
    const vIn = new Float32Array(B * d);
    const vOut = new Float32Array(B * (K + 1) * d);
    const gIn = new Float32Array(B * d);
    const gOut = new Float32Array(B * (K + 1) * d);
    let longest = 0;
    for (const s of sentences) longest = Math.max(longest, s.length);
    const kept = new Int32Array(longest);
    let n = 0;
    let pairs = 0;
    let loss = 0;
    let updateMs = 0;
    const flush = () => {
      if (n === 0) return;
      const ci = centers.subarray(0, n);
      const oi = outs.subarray(0, n * (K + 1));
      this.input.lookup(ci, vIn.subarray(0, n * d));
      this.output.lookup(oi, vOut.subarray(0, n * (K + 1) * d));
      gIn.fill(0, 0, n * d);
      for (let p = 0; p < n; p++) {
        const vi = p * d;
        for (let k = 0; k <= K; k++) {
          const row = p * (K + 1) + k;
          const uo = row * d;
          let dot = 0;
          for (let j = 0; j < d; j++) dot += vIn[vi + j]! * vOut[uo + j]!;
          // label 1 for the context (k = 0), 0 for the negatives; g = s(dot) - label.
          const s = 1 / (1 + Math.exp(-dot));
          const g = k === 0 ? s - 1 : s;
          loss -= Math.log(Math.max(1e-12, k === 0 ? s : 1 - s));
          for (let j = 0; j < d; j++) {
            gIn[vi + j]! += g * vOut[uo + j]!;
            gOut[uo + j] = g * vIn[vi + j]!;
          }
        }
      }
      const u0 = performance.now();
      // Centers and outputs repeat within the batch: update() sums their gradients.
      this.input.update(ci, gIn.subarray(0, n * d));
      this.output.update(oi, gOut.subarray(0, n * (K + 1) * d));
      updateMs += performance.now() - u0;
      pairs += n;
      n = 0;
    };
    let done = 0;
    let nextReport = 0;
    const negSize = this.negTable.length;
    for (let si = 0; si < order.length; si++) {
      const s = sentences[order[si]!]!;
      let m = 0;
      for (let i = 0; i < s.length; i++) if (r() < keep[s[i]!]!) kept[m++] = s[i]!;
      for (let i = 0; i < m; i++) {
        const b = 1 + Math.floor(r() * window);
        for (let j = Math.max(0, i - b); j <= Math.min(m - 1, i + b); j++) {
          if (j === i) continue;
          centers[n] = kept[i]!;
          const base = n * (K + 1);
          outs[base] = kept[j]!;
          for (let k = 1; k <= K; k++) {
            let neg = this.negTable[Math.floor(r() * negSize)]!;
            if (neg === kept[j]) neg = this.negTable[Math.floor(r() * negSize)]!;
            outs[base + k] = neg;
          }
          if (++n === B) flush();
        }
      }
      done += s.length;
      if (onProgress && done >= nextReport) {
        onProgress(done, tokens, pairs > 0 ? loss / pairs : 0);
        nextReport += tokens / 50;
      }
    }
    flush();
    onProgress?.(tokens, tokens, pairs > 0 ? loss / pairs : 0);
    return {
      pairs,
      loss: pairs > 0 ? loss / pairs : 0,
      seconds: (performance.now() - start) / 1000,
      updateSeconds: updateMs / 1000,
    };
  }

  /** The `k` words whose vectors have the highest cosine similarity with `word`'s (itself excluded). */
  nearest(word: string, k = 5): { word: string; similarity: number }[] {
    this.live();
    const id = this.vocab.index.get(word.toLowerCase());
    if (id === undefined) throw new RangeError(`SkipGram.nearest: '${word}' is not in the vocabulary`);
    const w = this.input.weights;
    const d = this.options.dim;
    const rows = this.vocab.words.length;
    const norm = (r: number) => {
      let s = 0;
      for (let j = 0; j < d; j++) s += w[r * d + j]! ** 2;
      return Math.sqrt(s) || 1;
    };
    const q = id * d;
    const qn = norm(id);
    const best: { word: string; similarity: number }[] = [];
    for (let r = 0; r < rows; r++) {
      if (r === id) continue;
      let dot = 0;
      for (let j = 0; j < d; j++) dot += w[q + j]! * w[r * d + j]!;
      const sim = dot / (qn * norm(r));
      if (best.length < k || sim > best[best.length - 1]!.similarity) {
        best.push({ word: this.vocab.words[r]!, similarity: sim });
        best.sort((a, b) => b.similarity - a.similarity);
        if (best.length > k) best.pop();
      }
    }
    return best;
  }

  /** Frees both tables. Later use throws. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.input.dispose();
    this.output.dispose();
  }
}
