// `npm run example:word2vec`: skip-gram with negative sampling on the Brown corpus, two embedding
// tables trained with sparse Adam, then the nearest neighbours of a few common words.
// Flags: --epochs N (default 2), --dim N (default 64), --seed S (default 1), --mode lazy|exact.
import { init } from '../../src/index.js';
import { loadBrown, sentencesOf } from '../../demo/brown.js';
import { SkipGram, buildVocabulary } from './skipgram.js';

const QUERIES = ['man', 'three', 'monday', 'city', 'said', 'church', 'war', 'good', 'red', 'john'];

function parse(argv: string[]): { epochs: number; dim: number; seed: number; mode: 'lazy' | 'exact' } {
  const f = { epochs: 2, dim: 64, seed: 1, mode: 'lazy' as 'lazy' | 'exact' };
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const v = inline ?? argv[++i];
    if (name === '--mode') {
      if (v !== 'lazy' && v !== 'exact')
        throw new RangeError(`word2vec: flag --mode must be lazy or exact, got '${v}'`);
      f.mode = v;
    } else if (name === '--epochs' || name === '--dim' || name === '--seed') {
      const n = Number(v);
      const min = name === '--seed' ? 0 : 1;
      if (!Number.isInteger(n) || n < min)
        throw new RangeError(`word2vec: flag ${name} must be an integer >= ${min}, got '${v}'`);
      f[name.slice(2) as 'epochs' | 'dim' | 'seed'] = n;
    } else {
      throw new RangeError(
        `word2vec: unknown flag '${argv[i]}' (flags: --epochs N, --dim N, --seed S, --mode lazy|exact)`,
      );
    }
  }
  return f;
}

let flags: ReturnType<typeof parse>;
try {
  flags = parse(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(2);
}
const t0 = performance.now();
const engine = await init();
const vocab = buildVocabulary(sentencesOf(loadBrown()), 5);
console.log(`word2vec (skip-gram, negative sampling) on the Brown corpus, ${engine.simd ? 'SIMD' : 'scalar'} build`);
console.log(
  `vocabulary: ${vocab.words.length} words seen 5+ times, ${vocab.tokens} tokens; two ${vocab.words.length} x ${flags.dim} tables, sparse Adam (${flags.mode})`,
);
const model = new SkipGram(vocab, { dim: flags.dim, seed: flags.seed, mode: flags.mode });
const tty = process.stdout.isTTY === true;
for (let e = 1; e <= flags.epochs; e++) {
  let next = 0.25;
  const stats = model.trainEpoch((done, total, loss) => {
    const frac = done / total;
    const bar = `epoch ${e}/${flags.epochs} [${'#'.repeat(Math.round(frac * 30)).padEnd(30, '.')}] ${String(Math.floor(frac * 100)).padStart(3)}%  loss ${loss.toFixed(4)}`;
    if (tty) process.stdout.write(`\r${bar}`);
    else if (frac >= next) {
      console.log(bar);
      while (next <= frac) next += 0.25;
    }
  });
  if (tty) process.stdout.write('\n');
  console.log(
    `epoch ${e}/${flags.epochs}: loss ${stats.loss.toFixed(4)}, ${(stats.pairs / 1e6).toFixed(2)}M pairs in ${stats.seconds.toFixed(1)} s ` +
      `(${(stats.pairs / stats.seconds / 1e3).toFixed(0)}k pairs/s), ${((stats.updateSeconds / stats.seconds) * 100).toFixed(0)}% in update()`,
  );
}
console.log('nearest neighbours (cosine similarity of the word vectors):');
for (const q of QUERIES) {
  if (!vocab.index.has(q)) continue;
  console.log(
    `  ${q.padEnd(8)} ${model
      .nearest(q, 6)
      .map((n) => `${n.word} ${n.similarity.toFixed(2)}`)
      .join(', ')}`,
  );
}
model.dispose();
const cpu = process.cpuUsage();
console.log(
  `wall time: ${((performance.now() - t0) / 1000).toFixed(1)} s (CPU time ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s)`,
);
