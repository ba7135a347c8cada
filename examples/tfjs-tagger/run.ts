// The Brown-corpus part-of-speech tagger of demo/ as a TensorFlow.js (tfjs-layers) model, trained
// two ways and compared side by side:
//   (a) WasmEmbedding (wasm-optim/tfjs): the table in engine memory, stepped sparsely by the
//       engine's Adam inside the backward pass; the dense layer trained by tf.train.adam;
//   (b) tfjs's own tf.layers.embedding, the whole model trained by tf.train.adam.
// The model: each token fires `width` sparse features (demo/features.ts); ids [batch, width] ->
// embedding (rows x dim) -> flatten (width x dim) -> dense(tags) -> + candidate mask (the tag
// dictionary: tags a word may take get 0, the others -30) -> softmax; sparse categorical
// cross-entropy.
//
// tfjs's own layer costs rows x ids x dim per step on the cpu backend (its gather gradient is an
// UnsortedSegmentSum over every row) and cannot train on the wasm backend (no UnsortedSegmentSum
// kernel), so the side-by-side runs on a subsample with a small hashed table (feature id mod
// rows), where both arms do the same arithmetic: same initial weights, same batches, the table's
// Adam in exact mode (the dense Adam applied to a gradient that is zero outside the batch rows).
// A third run trains WasmEmbedding on the full feature table and corpus, which tfjs's own layer
// cannot do in any reasonable time.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfwasm from '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { init } from '../../src/index.js';
import { WasmEmbedding } from '../../src/tfjs/index.js';
import { loadBrown, sentencesOf, splitDocuments, tokenCount, type Sentence } from '../../demo/brown.js';
import { FeatureSpace, type EncodedTokens } from '../../demo/features.js';
import { mulberry32 } from '../../demo/tagger.js';

/** The example's flags. */
export interface TaggerFlags {
  /** tfjs backend. Default `'cpu'`. */
  backend: 'cpu' | 'wasm';
  /** Training tokens of the side-by-side subsample. Default 1000. */
  tokens: number;
  /** Rows of the hashed table of the side-by-side runs. Default 256. */
  rows: number;
  /** Floats per table row. Default 16. */
  dim: number;
  /** Epochs of the side-by-side runs. Default 2. */
  epochs: number;
  /** Tokens per batch of the side-by-side runs. Default 64. */
  batch: number;
  /** Epochs of the full-table WasmEmbedding run (0 skips it). Default 1. */
  fullEpochs: number;
  /** Tokens per batch of the full-table run. Default 512. */
  fullBatch: number;
  /** Training tokens of the full-table run (the first N). Default 40000. */
  fullTokens: number;
  /** Corpus files to load (every 10th is held out). Default 500 (all). */
  files: number;
  /** Held-out tokens scored (the first N of the held-out files). Default 10000. */
  testTokens: number;
  /** Adam's learning rate (table and dense layer). Default 0.01. */
  lr: number;
  /** Seed of the weights and the shuffling. Default 1. */
  seed: number;
  /** `--help`. */
  help: boolean;
}

/** The example's help text. */
export const USAGE = `usage: npm run example:tfjs-tagger -- [flags]

  --backend cpu|wasm     tfjs backend (default cpu; tfjs's own embedding cannot train on wasm)
  --tokens N             training tokens of the side-by-side subsample (default 1000)
  --rows N               rows of its hashed table (default 256)
  --dim N                floats per row (default 16)
  --epochs N             epochs of the side-by-side runs (default 2)
  --batch N              tokens per batch there (default 64)
  --full-epochs N        epochs of WasmEmbedding on a table of every feature (default 1; 0 = skip)
  --full-batch N         tokens per batch there (default 512)
  --full-tokens N        training tokens there (default 40000; the corpus has ~1M)
  --files N              corpus files to load, every 10th held out (default 500)
  --test-tokens N        held-out tokens scored (default 10000)
  --lr X                 Adam's learning rate (default 0.01)
  --seed S               seed of the weights and the shuffling (default 1)`;

const DEFAULTS: TaggerFlags = {
  backend: 'cpu',
  tokens: 1000,
  rows: 256,
  dim: 16,
  epochs: 2,
  batch: 64,
  fullEpochs: 1,
  fullBatch: 512,
  fullTokens: 40000,
  files: 500,
  testTokens: 10000,
  lr: 0.01,
  seed: 1,
  help: false,
};

/** Parses the command line; throws a RangeError naming a bad flag. */
export function parseFlags(argv: readonly string[]): TaggerFlags {
  const f: TaggerFlags = { ...DEFAULTS };
  const ints: Record<string, keyof TaggerFlags> = {
    '--tokens': 'tokens',
    '--rows': 'rows',
    '--dim': 'dim',
    '--epochs': 'epochs',
    '--batch': 'batch',
    '--full-epochs': 'fullEpochs',
    '--full-batch': 'fullBatch',
    '--full-tokens': 'fullTokens',
    '--files': 'files',
    '--test-tokens': 'testTokens',
    '--seed': 'seed',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') {
      f.help = true;
      continue;
    }
    const v = argv[++i];
    if (v === undefined) throw new RangeError(`${a} needs a value`);
    if (a === '--backend') {
      if (v !== 'cpu' && v !== 'wasm') throw new RangeError(`--backend must be cpu or wasm, got '${v}'`);
      f.backend = v;
    } else if (a === '--lr') {
      const x = Number(v);
      if (!(x > 0)) throw new RangeError(`--lr must be a positive number, got '${v}'`);
      f.lr = x;
    } else if (a in ints) {
      const n = Number(v);
      const min = a === '--full-epochs' || a === '--seed' || a === '--epochs' ? 0 : 1;
      if (!Number.isInteger(n) || n < min) throw new RangeError(`${a} must be an integer >= ${min}, got '${v}'`);
      (f as unknown as Record<string, number>)[ints[a]!] = n;
    } else {
      throw new RangeError(`unknown flag '${a}'`);
    }
  }
  return f;
}

/** Where the example writes. */
export interface Output {
  write(text: string): unknown;
}

/** One row of the result table. */
export interface ArmResult {
  /** What was trained. */
  name: string;
  /** Table rows x dim. */
  table: string;
  /** Training tokens per epoch. */
  tokens: number;
  /** Epochs run. */
  epochs: number;
  /** Seconds per epoch (training only), the mean over the epochs; NaN if it could not train. */
  secondsPerEpoch: number;
  /** Held-out accuracy after the last epoch (0..1); NaN if it could not train. */
  accuracy: number;
  /** Mean training loss of the last epoch. */
  loss: number;
  /** Why it could not train, if it could not. */
  error?: string;
}

/** Encoded tokens with ids mapped into a table of `rows` rows (row 0 = no feature). */
interface Data {
  ids: Int32Array;
  labels: Int32Array;
  candidates: Int32Array;
  width: number;
  length: number;
}

/** Feature ids into `rows` rows: hashed (`1 + id mod (rows - 1)`), or shifted by one when `rows` > every id. */
function mapIds(enc: EncodedTokens, rows: number, length = enc.length): Data {
  const n = length * enc.width;
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const id = enc.ids[i]!;
    ids[i] = id < 0 ? 0 : 1 + (id % (rows - 1));
  }
  return {
    ids,
    labels: enc.labels.subarray(0, length),
    candidates: enc.candidates.subarray(0, length),
    width: enc.width,
    length,
  };
}

/** The first `n` tokens' worth of sentences. */
function firstTokens(sentences: readonly Sentence[], n: number): Sentence[] {
  const out: Sentence[] = [];
  let k = 0;
  for (const s of sentences) {
    if (k >= n) break;
    out.push(s);
    k += s.words.length;
  }
  return out;
}

/** The functional tfjs model around `embedding` (a WasmEmbedding or tf.layers.embedding). */
function buildModel(embedding: tfl.layers.Layer, width: number, tags: number, seed: number): tfl.LayersModel {
  const idsIn = tfl.input({ shape: [width], dtype: 'int32', name: 'features' });
  const maskIn = tfl.input({ shape: [tags], name: 'candidates' });
  const rows = embedding.apply(idsIn) as tfl.SymbolicTensor;
  const flat = tfl.layers.flatten().apply(rows) as tfl.SymbolicTensor;
  const logits = tfl.layers
    .dense({ units: tags, kernelInitializer: tfl.initializers.glorotUniform({ seed }) })
    .apply(flat) as tfl.SymbolicTensor;
  const masked = tfl.layers.add().apply([logits, maskIn]) as tfl.SymbolicTensor;
  const probs = tfl.layers.activation({ activation: 'softmax' }).apply(masked) as tfl.SymbolicTensor;
  return tfl.model({ inputs: [idsIn, maskIn], outputs: probs });
}

/** The batch of tokens `order[b0..b1)`: ids, candidate mask (gold always allowed in training), labels. */
function batchTensors(
  data: Data,
  space: FeatureSpace,
  order: Int32Array,
  b0: number,
  b1: number,
  training: boolean,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const W = data.width;
  const T = space.numTags;
  const n = b1 - b0;
  const ids = new Int32Array(n * W);
  const mask = new Float32Array(n * T).fill(-30);
  const labels = new Float32Array(n);
  for (let q = 0; q < n; q++) {
    const t = order[b0 + q]!;
    ids.set(data.ids.subarray(t * W, (t + 1) * W), q * W);
    for (const c of space.candidateSets[data.candidates[t]!]!) mask[q * T + c] = 0;
    const y = data.labels[t]!;
    if (training && y >= 0) mask[q * T + y] = 0;
    labels[q] = y;
  }
  return [tf.tensor2d(ids, [n, W], 'int32'), tf.tensor2d(mask, [n, T]), tf.tensor2d(labels, [n, 1])];
}

function shuffled(n: number, rand: () => number): Int32Array {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const x = order[i]!;
    order[i] = order[j]!;
    order[j] = x;
  }
  return order;
}

/** Held-out accuracy of `model` on `data` (a tag never seen in training counts as wrong). */
function accuracy(model: tfl.LayersModel, data: Data, space: FeatureSpace): number {
  const order = Int32Array.from({ length: data.length }, (_, i) => i);
  let ok = 0;
  for (let b0 = 0; b0 < data.length; b0 += 2048) {
    const b1 = Math.min(data.length, b0 + 2048);
    const [ids, mask, labels] = batchTensors(data, space, order, b0, b1, false);
    const pred = tf.tidy(() => tf.argMax(model.predict([ids, mask]) as tf.Tensor, -1).dataSync());
    const y = labels.dataSync();
    for (let i = 0; i < pred.length; i++) if (pred[i] === y[i]) ok++;
    tf.dispose([ids, mask, labels]);
  }
  return ok / data.length;
}

/** Trains `model` for `epochs` on `train` with one `trainOnBatch` per batch; returns seconds per epoch and the last epoch's loss. */
async function train(
  model: tfl.LayersModel,
  name: string,
  train: Data,
  space: FeatureSpace,
  epochs: number,
  batch: number,
  seed: number,
  out: Output,
): Promise<{ seconds: number; loss: number }> {
  const rand = mulberry32(seed);
  let seconds = 0;
  let loss = 0;
  const batches = Math.ceil(train.length / batch);
  const every = Math.max(1, Math.ceil(batches / 4));
  for (let e = 0; e < epochs; e++) {
    const order = shuffled(train.length, rand);
    let sum = 0;
    const t0 = performance.now();
    for (let b = 0; b < batches; b++) {
      const [ids, mask, labels] = batchTensors(
        train,
        space,
        order,
        b * batch,
        Math.min(train.length, (b + 1) * batch),
        true,
      );
      sum += (await model.trainOnBatch([ids, mask], labels)) as number;
      tf.dispose([ids, mask, labels]);
      if ((b + 1) % every === 0 || b + 1 === batches) {
        const s = (performance.now() - t0) / 1000;
        out.write(
          `  ${name}: epoch ${e + 1}/${epochs}, batch ${b + 1}/${batches}, loss ${(sum / (b + 1)).toFixed(3)}, ${s.toFixed(1)} s\n`,
        );
      }
    }
    seconds += (performance.now() - t0) / 1000;
    loss = sum / batches;
  }
  return { seconds: seconds / Math.max(1, epochs), loss };
}

/** Runs the comparison and prints the table; returns its rows. */
export async function runTfjsTagger(flags: TaggerFlags, out: Output = process.stdout): Promise<ArmResult[]> {
  await init();
  const require = createRequire(import.meta.url);
  tfwasm.setWasmPaths(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/');
  const warn = console.warn;
  console.warn = () => {}; // tfjs advertises tfjs-node in Node
  try {
    if (!(await tf.setBackend(flags.backend))) throw new Error(`tfjs: the ${flags.backend} backend failed to start`);
    await tf.ready();
    tf.zeros([1]).dispose();
  } finally {
    console.warn = warn;
  }

  const t0 = performance.now();
  const split = splitDocuments(loadBrown(undefined, flags.files));
  const trainSentences = sentencesOf(split.train);
  const testSentences = firstTokens(sentencesOf(split.test), flags.testTokens);
  out.write(
    `Brown corpus: ${split.train.length} training files (${tokenCount(trainSentences)} tokens), ${split.test.length} held-out files (scoring ${tokenCount(testSentences)} tokens); tfjs ${tf.version_core}, ${flags.backend} backend\n`,
  );
  const results: ArmResult[] = [];

  // Side by side, on a subsample with a small hashed table.
  const subTrain = firstTokens(trainSentences, flags.tokens);
  const subSpace = FeatureSpace.build(subTrain, { minCount: 1 });
  const subTrainData = mapIds(subSpace.encode(subTrain), flags.rows);
  const subTestData = mapIds(subSpace.encode(testSentences), flags.rows);
  const R = flags.rows,
    D = flags.dim,
    W = subSpace.width,
    T = subSpace.numTags;
  out.write(
    `\nSide by side on a subsample (so that tfjs's own layer finishes): the first ${subTrainData.length} training tokens, ${subSpace.numFeatures} features hashed into ${R} rows x ${D}, ${W} features per token, ${T} tags, batches of ${flags.batch}, ${flags.epochs} epochs, Adam lr ${flags.lr}\n`,
  );
  const theirs = tfl.layers.embedding({
    inputDim: R,
    outputDim: D,
    embeddingsInitializer: tfl.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: flags.seed }),
  });
  const own = buildModel(theirs, W, T, flags.seed);
  const mine = new WasmEmbedding({
    inputDim: R,
    outputDim: D,
    optimizer: 'adam',
    lr: flags.lr,
    eps: 1e-8,
    mode: 'exact',
    seed: flags.seed,
  });
  const wasmModel = buildModel(mine, W, T, flags.seed);
  // The same starting point: the table and the dense layer copied from the tfjs model.
  mine.setWeights([theirs.getWeights()[0]!]);
  for (const [i, layer] of own.layers.entries())
    if (layer.name.startsWith('dense')) wasmModel.layers[i]!.setWeights(layer.getWeights());
  wasmModel.compile({ optimizer: tf.train.adam(flags.lr, 0.9, 0.999, 1e-8), loss: 'sparseCategoricalCrossentropy' });
  own.compile({ optimizer: tf.train.adam(flags.lr, 0.9, 0.999, 1e-8), loss: 'sparseCategoricalCrossentropy' });
  const table = `${R} x ${D}`;
  {
    const r = await train(
      wasmModel,
      'WasmEmbedding',
      subTrainData,
      subSpace,
      flags.epochs,
      flags.batch,
      flags.seed,
      out,
    );
    results.push({
      name: 'WasmEmbedding + tf.train.adam',
      table,
      tokens: subTrainData.length,
      epochs: flags.epochs,
      secondsPerEpoch: r.seconds,
      loss: r.loss,
      accuracy: accuracy(wasmModel, subTestData, subSpace),
    });
  }
  try {
    const r = await train(
      own,
      'tf.layers.embedding',
      subTrainData,
      subSpace,
      flags.epochs,
      flags.batch,
      flags.seed,
      out,
    );
    results.push({
      name: 'tf.layers.embedding + tf.train.adam',
      table,
      tokens: subTrainData.length,
      epochs: flags.epochs,
      secondsPerEpoch: r.seconds,
      loss: r.loss,
      accuracy: accuracy(own, subTestData, subSpace),
    });
  } catch (e) {
    const why = (e as Error).message.split('\n')[0]!;
    out.write(`  tf.layers.embedding cannot train on the ${flags.backend} backend: ${why}\n`);
    results.push({
      name: 'tf.layers.embedding + tf.train.adam',
      table,
      tokens: subTrainData.length,
      epochs: 0,
      secondsPerEpoch: NaN,
      loss: NaN,
      accuracy: NaN,
      error: why,
    });
  }
  own.dispose();
  wasmModel.dispose();

  // WasmEmbedding on the full feature table and the whole training set.
  if (flags.fullEpochs > 0) {
    const fullTrain = firstTokens(trainSentences, flags.fullTokens);
    const space = FeatureSpace.build(fullTrain);
    const rows = space.numFeatures + 1;
    const trainData = mapIds(space.encode(fullTrain), rows);
    const testData = mapIds(space.encode(testSentences), rows);
    const ids = flags.fullBatch * space.width;
    out.write(
      `\nWasmEmbedding on the full table: the first ${trainData.length} training tokens, ${rows} rows x ${D} (a row per feature seen twice), batches of ${flags.fullBatch}, ${flags.fullEpochs} epoch(s).\n`,
    );
    out.write(
      `(tfjs's own layer is not run here: on the cpu backend its table gradient costs rows x ids x dim = ${rows} x ${ids} x ${D} = ${((rows * ids * D) / 1e9).toFixed(1)}G multiply-adds per step.)\n`,
    );
    const layer = new WasmEmbedding({
      inputDim: rows,
      outputDim: D,
      optimizer: 'adam',
      lr: flags.lr,
      seed: flags.seed,
    });
    const model = buildModel(layer, space.width, space.numTags, flags.seed);
    model.compile({ optimizer: tf.train.adam(flags.lr, 0.9, 0.999, 1e-8), loss: 'sparseCategoricalCrossentropy' });
    const r = await train(
      model,
      'WasmEmbedding (full)',
      trainData,
      space,
      flags.fullEpochs,
      flags.fullBatch,
      flags.seed,
      out,
    );
    results.push({
      name: 'WasmEmbedding + tf.train.adam (full)',
      table: `${rows} x ${D}`,
      tokens: trainData.length,
      epochs: flags.fullEpochs,
      secondsPerEpoch: r.seconds,
      loss: r.loss,
      accuracy: accuracy(model, testData, space),
    });
    model.dispose();
  }

  out.write(`\n${formatTable(results)}\n`);
  const [a, b] = results;
  if (a && b && Number.isFinite(b.secondsPerEpoch))
    out.write(
      `tfjs's own layer took ${(b.secondsPerEpoch / a.secondsPerEpoch).toFixed(0)}x as long per epoch for the same model on the same ${table} table; it grows with rows x ids.\n`,
    );
  out.write(
    `Held-out: ${tokenCount(testSentences)} tokens of the held-out files. Subsampled to keep the run short: the side-by-side runs train on the first ${subTrainData.length} training tokens with a hashed ${table} table; the full-table run on the first ${Math.min(flags.fullTokens, tokenCount(trainSentences))} of ${tokenCount(trainSentences)} (--tokens, --full-tokens). Total ${((performance.now() - t0) / 1000).toFixed(0)} s.\n`,
  );
  return results;
}

/** The results as a markdown table. */
export function formatTable(rows: readonly ArmResult[]): string {
  const head =
    '| model | table | train tokens | epochs | s / epoch | loss | held-out accuracy |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |';
  const fmt = (x: number, d: number) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
  return [
    head,
    ...rows.map(
      (r) =>
        `| ${r.name} | ${r.table} | ${r.tokens} | ${r.epochs} | ${r.error ? 'cannot train' : fmt(r.secondsPerEpoch, r.secondsPerEpoch < 10 ? 2 : 1)} | ${fmt(r.loss, 3)} | ${Number.isFinite(r.accuracy) ? (r.accuracy * 100).toFixed(1) + '%' : 'n/a'} |`,
    ),
  ].join('\n');
}
