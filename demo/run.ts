// The demo's flags and run: loads the corpus, builds the features, prints the baseline, trains
// the tagger epoch by epoch with a progress bar, and ends with `held-out accuracy: NN.N%`.
import { init } from '../src/index.js';
import { loadBrown, sentencesOf, splitDocuments, tokenCount } from './brown.js';
import { FeatureSpace } from './features.js';
import {
  DEFAULT_LR,
  MODES,
  OPTIMIZERS,
  TABLE_ONLY,
  Tagger,
  mostFrequentTagAccuracy,
  type Mode,
  type OptimizerName,
  type Progress,
  type ScoreTable,
} from './tagger.js';
import type { TfjsBackend } from './tfjs-table.js';

/** The demo's command-line flags. */
export interface DemoFlags {
  /** `--optimizer`: the table's optimizer. Default `'adam'`. */
  optimizer: OptimizerName;
  /** `--mode`: sparse update semantics. Default `'lazy'`. */
  mode: Mode;
  /** `--epochs`: passes over the training files. Default 2. */
  epochs: number;
  /** `--seed`: shuffling seed. Default 1. */
  seed: number;
  /** `--dense`: the same model as one dense param stepped whole. Default false. */
  dense: boolean;
  /** `--lr`: learning rate; `undefined` = the optimizer's `DEFAULT_LR`. */
  lr: number | undefined;
  /** `--batch`: tokens per update. Default 1024. */
  batchSize: number;
  /** Use only the first N corpus files (quick runs and tests; every 10th is still held out). */
  files: number;
  /** Engine threads (`init({ threads })`): lazy updates split their rows across them. */
  threads: number;
  /** Train the table in tfjs-core on this backend instead of the engine (dense updates). */
  tfjs: TfjsBackend | undefined;
  /** Stop each epoch after this many updates (to time slow tables on part of an epoch). */
  updates: number | undefined;
  /** `--weights`: how the table stores its weights. Default `'f32'`. */
  weights: 'f32' | 'f16' | 'bf16';
  /** `--state`: how the table stores its optimizer state. Default `'f32'`. */
  state: 'f32' | 'bf16' | 'int8';
  /** `--help`: print the usage and stop. */
  help: boolean;
}

/** Where the demo writes: `process.stdout` or anything with `write` (progress bars redraw on a TTY). */
export interface Output {
  /** Writes text (lines end with `\n`). */
  write(text: string): unknown;
  /** True on a terminal: the progress bar then redraws in place. */
  isTTY?: boolean;
}

/** The demo's help text. */
export const USAGE = `usage: npm run demo -- [flags]

  --optimizer adam|adagrad|sgd|adamw|rowwise-adagrad|partial-rowwise-adam|ftrl
                                       the optimizer of the tables (default adam; the last three:
                                       memory-lean tables, docs/lean-tables.md)
  --mode lazy|exact                    sparse update semantics (default lazy)
  --epochs N                           passes over the training files (default 2)
  --seed S                             shuffling seed (default 1)
  --dense                              the same model as one dense param stepped whole
                                       (what sparse updates save; slow)
  --lr X                               learning rate (default per optimizer: ${Object.entries(DEFAULT_LR)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')})
  --batch N                            tokens per update (default 1024)
  --files N                            use only the first N of the 500 corpus files (default 500)
  --threads N                          engine threads (default 1; lazy updates split their rows)
  --tfjs wasm|cpu                      the comparison: the table as a tfjs-core variable trained by
                                       tfjs's adam/adagrad/sgd with dense gradients (very slow)
  --updates N                          stop each epoch after N updates (time slow runs on a part)
  --weights f32|f16|bf16               how the table stores its weights (default f32; 16 bits are
                                       rounded stochastically, docs/lean-storage.md)
  --state f32|bf16|int8                how the table stores its optimizer state (default f32; int8
                                       is bitsandbytes' blockwise dynamic quantization)
  --help                               this text`;

/** Parses the flags; throws a RangeError naming the flag and the value on bad input. */
export function parseFlags(argv: readonly string[]): DemoFlags {
  const flags: DemoFlags = {
    optimizer: 'adam',
    mode: 'lazy',
    epochs: 2,
    seed: 1,
    dense: false,
    lr: undefined,
    batchSize: 1024,
    files: 500,
    threads: 1,
    tfjs: undefined,
    updates: undefined,
    weights: 'f32',
    state: 'f32',
    help: false,
  };
  const value = (i: number, name: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new RangeError(`demo: flag ${name} needs a value; see --help`);
    return v;
  };
  const int = (v: string, name: string, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min)
      throw new RangeError(`demo: flag ${name} must be an integer >= ${min}, got '${v}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    let inline: string | undefined = eq > 0 ? a.slice(eq + 1) : undefined;
    const take = (): string => {
      if (inline !== undefined) return inline;
      const v = value(i, name);
      i++;
      return v;
    };
    switch (name) {
      case '--weights': {
        const v = take();
        if (v !== 'f32' && v !== 'f16' && v !== 'bf16')
          throw new RangeError(`demo: flag --weights must be one of f32, f16, bf16, got '${v}'`);
        flags.weights = v;
        break;
      }
      case '--state': {
        const v = take();
        if (v !== 'f32' && v !== 'bf16' && v !== 'int8')
          throw new RangeError(`demo: flag --state must be one of f32, bf16, int8, got '${v}'`);
        flags.state = v;
        break;
      }
      case '--optimizer': {
        const v = take();
        if (!(OPTIMIZERS as readonly string[]).includes(v))
          throw new RangeError(`demo: flag --optimizer must be one of ${OPTIMIZERS.join(', ')}, got '${v}'`);
        flags.optimizer = v as OptimizerName;
        break;
      }
      case '--mode': {
        const v = take();
        if (!(MODES as readonly string[]).includes(v))
          throw new RangeError(`demo: flag --mode must be one of ${MODES.join(', ')}, got '${v}'`);
        flags.mode = v as Mode;
        break;
      }
      case '--epochs':
        flags.epochs = int(take(), name, 1);
        break;
      case '--seed':
        flags.seed = int(take(), name, 0);
        break;
      case '--batch':
        flags.batchSize = int(take(), name, 1);
        break;
      case '--files':
        flags.files = int(take(), name, 10);
        break;
      case '--threads':
        flags.threads = int(take(), name, 1);
        break;
      case '--tfjs': {
        const v = take();
        if (v !== 'wasm' && v !== 'cpu') throw new RangeError(`demo: flag --tfjs must be wasm or cpu, got '${v}'`);
        flags.tfjs = v;
        break;
      }
      case '--updates':
        flags.updates = int(take(), name, 1);
        break;
      case '--lr': {
        const v = take();
        const n = Number(v);
        if (!(Number.isFinite(n) && n > 0)) throw new RangeError(`demo: flag --lr must be a number > 0, got '${v}'`);
        flags.lr = n;
        break;
      }
      case '--dense':
        if (inline !== undefined) throw new RangeError(`demo: flag --dense takes no value, got '${inline}'`);
        flags.dense = true;
        break;
      case '--help':
      case '-h':
        flags.help = true;
        break;
      default:
        throw new RangeError(`demo: unknown flag '${a}'; see --help`);
    }
    inline = undefined;
  }
  if ((TABLE_ONLY as readonly string[]).includes(flags.optimizer) && (flags.dense || flags.tfjs !== undefined))
    throw new RangeError(`demo: --optimizer ${flags.optimizer} exists for sparse tables only; drop --dense and --tfjs`);
  if (flags.tfjs !== undefined && flags.optimizer === 'adamw')
    throw new RangeError(
      `demo: --tfjs supports --optimizer adam, adagrad or sgd (tfjs-core has no AdamW), got 'adamw'`,
    );
  if (flags.tfjs !== undefined && flags.dense)
    throw new RangeError('demo: --tfjs and --dense exclude each other (the tfjs table is always dense)');
  if (
    (flags.weights !== 'f32' || flags.state !== 'f32') &&
    (flags.dense || flags.tfjs !== undefined || flags.mode !== 'lazy')
  )
    throw new RangeError(
      'demo: --weights and --state apply to the sparse table in mode lazy (not --dense, --tfjs or --mode exact)',
    );
  return flags;
}

function fmtCount(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(Math.round(n));
}

function pct(x: number, digits = 1): string {
  return `${(x * 100).toFixed(digits)}%`;
}

/** A one-line progress bar: rewritten in place on a terminal, a line every 20% otherwise. */
function progressPrinter(label: string, out: Output): (p: Progress) => void {
  const tty = out.isTTY === true;
  let nextMark = 0.2;
  return (p) => {
    const frac = p.total > 0 ? p.done / p.total : 1;
    const width = 30;
    const filled = Math.round(frac * width);
    const rate = p.seconds > 0 ? p.done / p.seconds : 0;
    const line = `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(frac * 100)).padStart(3)}%  ${fmtCount(rate)} tok/s  loss ${p.loss.toFixed(4)}`;
    if (tty) {
      out.write(`\r${line}${frac >= 1 ? '\n' : ''}`);
    } else if (frac >= nextMark - 1e-9) {
      out.write(`${line}\n`);
      while (nextMark <= frac + 1e-9) nextMark += 0.2;
    }
  };
}

/** Runs the demo with the given flags, writing to `out`. Returns the final held-out accuracy. */
export async function runDemo(flags: DemoFlags, out: Output = process.stdout): Promise<number> {
  const print = (s = '') => out.write(`${s}\n`);
  const t0 = performance.now();
  const since = (t: number) => `${((performance.now() - t) / 1000).toFixed(1)} s`;
  const engine = await init(flags.threads > 1 ? { threads: flags.threads } : {});
  const table = flags.tfjs
    ? `a tfjs-core variable on the ${flags.tfjs} backend, dense gradients (--tfjs)`
    : flags.dense
      ? `one dense param stepped whole (--dense)`
      : `an Embedding table, ${flags.mode} sparse updates, ${flags.weights} weights and ${flags.state} state`;
  print(`wasm-optim demo: part-of-speech tagging of the Brown corpus`);
  print(
    `model: log-linear tagger, ${table}, ${flags.optimizer} (lr ${flags.lr ?? DEFAULT_LR[flags.optimizer]}), ${flags.batchSize} tokens per update, seed ${flags.seed}`,
  );
  print(`engine: ${engine.simd ? 'SIMD' : 'scalar'} build, ${engine.threads} thread${engine.threads > 1 ? 's' : ''}`);

  let t = performance.now();
  const docs = loadBrown(undefined, flags.files);
  const { train, test } = splitDocuments(docs);
  const trainSentences = sentencesOf(train);
  const testSentences = sentencesOf(test);
  print(
    `corpus: ${docs.length} files, ${fmtCount(trainSentences.length + testSentences.length)} sentences, ${fmtCount(tokenCount(trainSentences) + tokenCount(testSentences))} tokens (tags without -tl/-hl/-nc) [${since(t)}]`,
  );
  print(
    `split: ${train.length} files (${fmtCount(tokenCount(trainSentences))} tokens) to train, every 10th file held out: ${test.length} files (${fmtCount(tokenCount(testSentences))} tokens)`,
  );

  t = performance.now();
  const space = FeatureSpace.build(trainSentences);
  const trainData = space.encode(trainSentences);
  const testData = space.encode(testSentences);
  const dim = Math.ceil(space.numTags / 4) * 4;
  print(
    `features: ${space.width} per token, ${fmtCount(space.numFeatures)} rows x ${dim} tag scores (${space.numTags} tags) = ${((space.numFeatures * dim * 4) / 2 ** 20).toFixed(0)} MiB of weights [${since(t)}]`,
  );
  const baseline = mostFrequentTagAccuracy(trainSentences, testSentences);
  print(`baseline (most frequent tag of each word, nn for unknown words): held-out accuracy ${pct(baseline)}`);

  let custom: ScoreTable | undefined;
  if (flags.tfjs) {
    const { createTfjsTable } = await import('./tfjs-table.js');
    const t = await createTfjsTable(
      flags.tfjs,
      space.numFeatures,
      dim,
      flags.optimizer as 'adam' | 'adagrad' | 'sgd',
      flags.lr ?? DEFAULT_LR[flags.optimizer],
    );
    print(`tfjs-core ${t.version}, ${flags.tfjs} backend`);
    custom = t;
  }
  const tagger = new Tagger(space, {
    ...(custom ? { table: custom } : {}),
    optimizer: flags.optimizer,
    mode: flags.mode,
    dense: flags.dense,
    weightType: flags.weights,
    stateType: flags.state,
    seed: flags.seed,
    batchSize: flags.batchSize,
    ...(flags.lr === undefined ? {} : { lr: flags.lr }),
  });
  let accuracy = 0;
  try {
    for (let e = 1; e <= flags.epochs; e++) {
      const label = `epoch ${e}/${flags.epochs}`;
      const stats = tagger.trainEpoch(trainData, progressPrinter(label, out), flags.updates ?? Infinity);
      if (stats.tokens < trainData.length)
        print(
          `${label}: stopped after ${stats.batches} updates (--updates), ${pct(stats.tokens / trainData.length)} of the epoch`,
        );
      const te = performance.now();
      accuracy = tagger.accuracy(testData);
      const evalSeconds = (performance.now() - te) / 1000;
      print(
        `${label}: loss ${stats.loss.toFixed(4)}, held-out ${pct(accuracy, 2)} | ${stats.seconds.toFixed(1)} s, ${fmtCount(stats.tokens / stats.seconds)} tok/s, ` +
          `${pct(stats.updateSeconds / stats.seconds, 0)} in optimizer updates (${stats.batches} updates of ${flags.dense || flags.tfjs ? 'all' : `${fmtCount(stats.rowsUpdated / stats.batches)} of`} ${fmtCount(space.numFeatures)} rows), ` +
          `${pct(stats.lookupSeconds / stats.seconds, 0)} in lookups | eval ${evalSeconds.toFixed(1)} s`,
      );
    }
  } finally {
    tagger.dispose();
  }
  const cpu = process.cpuUsage();
  print(
    `wall time: ${since(t0)} (${process.uptime().toFixed(1)} s since the process started; CPU time ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s)`,
  );
  print(`held-out accuracy: ${pct(accuracy)}`);
  return accuracy;
}
