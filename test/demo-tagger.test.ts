// The demo's tagger: features, tag dictionary, training on a toy corpus and on a slice of Brown
// (it must learn: well above the most-frequent-tag baseline), flags of the command line.
import { describe, expect, it } from 'vitest';
import { loadBrown, sentencesOf, splitDocuments, type Sentence } from '../demo/brown.js';
import { FeatureSpace, tokenFeatureStrings, wordShape } from '../demo/features.js';
import { parseFlags, runDemo } from '../demo/run.js';
import { Tagger, mostFrequentTagAccuracy, mulberry32, OPTIMIZERS, type TaggerOptions } from '../demo/tagger.js';
import { BUILD_NAMES, engineFor } from './engines.js';

/**
 * A toy language where the tag of `run`, `walk`, `play`, `plan`, `hope` depends on the word
 * before it: a noun after a determiner (`the run`), a verb after `to` (`to run`). Nouns outnumber
 * verbs, so the most-frequent-tag baseline calls every one of them a noun.
 */
function toyCorpus(n: number, seed: number): Sentence[] {
  const r = mulberry32(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const det = ['the', 'a', 'every'];
  const nouns = ['dog', 'cat', 'run', 'walk', 'play', 'plan', 'hope'];
  const verbsBase = ['run', 'walk', 'play', 'plan', 'hope'];
  const verbsZ = ['sees', 'likes', 'wants', 'needs'];
  const pron = ['he', 'she'];
  const out: Sentence[] = [];
  for (let i = 0; i < n; i++) {
    const w: string[] = [];
    const t: string[] = [];
    const add = (word: string, tag: string) => {
      w.push(word);
      t.push(tag);
    };
    const k = r();
    if (k < 0.5) {
      add(pick(det), 'at');
      add(pick(nouns), 'nn');
      add(pick(verbsZ), 'vbz');
      add(pick(det), 'at');
      add(pick(nouns), 'nn');
    } else if (k < 0.75) {
      add(pick(pron), 'pps');
      add(pick(verbsZ), 'vbz');
      add('to', 'to');
      add(pick(verbsBase), 'vb');
    } else {
      add(pick(pron), 'pps');
      add(pick(verbsZ), 'vbz');
      add(pick(det), 'at');
      add(pick(nouns), 'nn');
      add('to', 'to');
      add(pick(verbsBase), 'vb');
    }
    add('.', '.');
    out.push({ words: w, tags: t });
  }
  return out;
}

describe('features', () => {
  it('wordShape collapses runs of letter classes', () => {
    expect(wordShape("Atlanta's")).toBe("Xx'x");
    expect(wordShape('1960')).toBe('d');
    expect(wordShape('U.S.')).toBe('X.X.');
    expect(wordShape('well-known')).toBe('x-x');
    expect(wordShape('McDonald')).toBe('XxXx');
  });

  it('tokenFeatureStrings lists the templates in slot order', () => {
    const f = tokenFeatureStrings(['The', 'Dogs', 'ran'], 1);
    expect(f).toEqual([
      'w=Dogs',
      'l=dogs',
      'sh=Xx',
      's1=s',
      's2=gs',
      's3=ogs',
      null,
      'p1=d',
      'p2=do',
      'p3=dog',
      'l-1=the',
      'l+1=ran',
      'l-2=<s>',
      'l+2=</s>',
      's-1=the',
      's+1=ran',
      'pos=midC',
      'bias=',
    ]);
  });

  it('encode gives, per token, exactly the rows of its feature strings (-1 for unseen ones)', () => {
    const train = toyCorpus(300, 1);
    const test = [
      ...toyCorpus(20, 2),
      { words: ['The', 'zebra', 'sees', 'Zorro', '.'], tags: ['at', 'nn', 'vbz', 'np', '.'] },
    ];
    const space = FeatureSpace.build(train);
    expect(space.width).toBe(18);
    for (const sents of [train.slice(0, 30), test]) {
      const enc = space.encode(sents);
      let t = 0;
      for (const s of sents) {
        for (let i = 0; i < s.words.length; i++, t++) {
          const expected = tokenFeatureStrings(s.words, i).map((f) => (f === null ? -1 : space.rowOf(f)));
          expect(Array.from(enc.ids.subarray(t * enc.width, (t + 1) * enc.width))).toEqual(expected);
          expect(enc.labels[t]).toBe(space.tagIndex.get(s.tags[i]!) ?? -1);
        }
      }
      expect(enc.length).toBe(t);
    }
    // The unknown word has no word row but its suffix and shape rows, the unknown tag no column.
    const enc = space.encode([test.at(-1)!]);
    expect(enc.ids[1 * 18 + 0]).toBe(-1);
    expect(enc.ids[1 * 18 + 2]).toBe(space.rowOf('sh=x'));
    expect(enc.ids[1 * 18 + 2]).toBeGreaterThanOrEqual(0);
    expect(enc.labels[3]).toBe(-1);
  });

  it('gives rows only to features seen minCount times, each row once', () => {
    const train: Sentence[] = [
      { words: ['the', 'dog', 'barks'], tags: ['at', 'nn', 'vbz'] },
      { words: ['the', 'dog', 'sleeps'], tags: ['at', 'nn', 'vbz'] },
    ];
    const space = FeatureSpace.build(train, { minCount: 2 });
    expect(space.rowOf('w=dog')).toBeGreaterThanOrEqual(0);
    expect(space.rowOf('w=barks')).toBe(-1);
    expect(space.rowOf('s1=s')).toBeGreaterThanOrEqual(0); // barks + sleeps
    expect(space.rowOf('l-1=the')).toBeGreaterThanOrEqual(0);
    expect(space.rowOf('nonsense')).toBe(-1);
    const once = FeatureSpace.build(train, { minCount: 1 });
    expect(once.rowOf('w=barks')).toBeGreaterThanOrEqual(0);
    expect(once.numFeatures).toBeGreaterThan(space.numFeatures);
    const rows = new Set<number>();
    for (const s of train)
      for (let i = 0; i < s.words.length; i++)
        for (const f of tokenFeatureStrings(s.words, i)) if (f) rows.add(once.rowOf(f));
    expect(rows.has(-1)).toBe(false);
    expect(Math.max(...rows)).toBeLessThan(once.numFeatures);
  });

  it('builds the tag dictionary: frequent words keep their tags, others choose among the open class', () => {
    const train = toyCorpus(400, 3);
    const space = FeatureSpace.build(train, { tagDictMinCount: 5 });
    const tagsOf = (w: string) => Array.from(space.candidateSets[space.candidatesOf(w)]!, (c) => space.tags[c]).sort();
    expect(tagsOf('the')).toEqual(['at']);
    expect(tagsOf('run')).toEqual(['nn', 'vb']);
    expect(tagsOf('to')).toEqual(['to']);
    expect(space.candidatesOf('unheard-of')).toBe(0);
    // Every word is frequent here: no rare words, so the open class is every tag.
    expect(space.candidateSets[0]!.length).toBe(space.numTags);
    const off = FeatureSpace.build(train, { tagDictMinCount: Infinity });
    expect(off.candidateSets).toHaveLength(1);
    expect(off.candidatesOf('the')).toBe(0);
  });

  it('rejects bad options naming them', () => {
    const train = toyCorpus(10, 4);
    expect(() => FeatureSpace.build(train, { minCount: 0 })).toThrow(/'minCount'/);
    expect(() => FeatureSpace.build(train, { maxSuffix: 1.5 })).toThrow(/'maxSuffix'/);
    expect(() => FeatureSpace.build(train, { tagDictMinCount: -1 })).toThrow(/'tagDictMinCount'/);
    expect(() => FeatureSpace.build(train, { openClassCoverage: 0 })).toThrow(/'openClassCoverage'/);
    expect(() => FeatureSpace.build([])).toThrow(/no training sentence/);
  });
});

describe('the tagger learns', () => {
  const train = toyCorpus(600, 11);
  const test = toyCorpus(200, 12);
  const space = FeatureSpace.build(train);
  const trainData = space.encode(train);
  const testData = space.encode(test);
  const baseline = mostFrequentTagAccuracy(train, test);

  it('the toy baseline misses every verb that is also a noun', () => {
    expect(baseline).toBeGreaterThan(0.8);
    expect(baseline).toBeLessThan(0.93);
  });

  for (const build of BUILD_NAMES) {
    it(`the toy language, every optimizer, sparse and dense (${build} build)`, async () => {
      const engine = await engineFor(build);
      const results: Record<string, number> = {};
      const variants: TaggerOptions[] = [
        ...OPTIMIZERS.map((optimizer) => ({ optimizer })),
        { optimizer: 'adam', mode: 'exact' },
        { optimizer: 'adam', dense: true },
        { optimizer: 'adagrad', dense: true },
      ];
      for (const v of variants) {
        const tagger = new Tagger(space, { ...v, batchSize: 32, seed: 5, engine });
        let first = 0;
        let last = 0;
        for (let e = 0; e < 3; e++) {
          const stats = tagger.trainEpoch(trainData);
          if (e === 0) first = stats.loss;
          last = stats.loss;
          expect(stats.tokens).toBe(trainData.length);
          expect(stats.batches).toBe(Math.ceil(trainData.length / 32));
        }
        const acc = tagger.accuracy(testData);
        results[JSON.stringify(v)] = acc;
        expect(last, JSON.stringify(v)).toBeLessThan(first);
        expect(acc, JSON.stringify(v)).toBeGreaterThanOrEqual(0.99);
        tagger.dispose();
      }
      expect(Object.keys(results)).toHaveLength(variants.length);
    });
  }

  it('gives the same losses and predictions in both builds (bit-identical kernels)', async () => {
    const run = async (build: 'simd' | 'scalar') => {
      const tagger = new Tagger(space, {
        optimizer: 'adam',
        mode: 'exact',
        batchSize: 64,
        seed: 9,
        engine: await engineFor(build),
      });
      const losses = [tagger.trainEpoch(trainData).loss, tagger.trainEpoch(trainData).loss];
      const pred = tagger.predict(testData);
      tagger.dispose();
      return { losses, pred: Array.from(pred) };
    };
    expect(await run('simd')).toEqual(await run('scalar'));
  });

  it('exact mode equals the dense optimizer (the same model stepped whole)', async () => {
    const engine = await engineFor('simd');
    const sparse = new Tagger(space, { optimizer: 'adam', mode: 'exact', batchSize: 64, seed: 3, engine });
    const dense = new Tagger(space, { optimizer: 'adam', dense: true, batchSize: 64, seed: 3, engine });
    const a = sparse.trainEpoch(trainData).loss;
    const b = dense.trainEpoch(trainData).loss;
    expect(a).toBeCloseTo(b, 4);
    expect(Array.from(sparse.predict(testData))).toEqual(Array.from(dense.predict(testData)));
    sparse.dispose();
    dense.dispose();
  });

  it('the tfjs comparison trains the same model: tfjs Adam (dense) follows the engine dense Adam', async () => {
    const { createTfjsTable } = await import('../demo/tfjs-table.js');
    const dim = Math.ceil(space.numTags / 4) * 4;
    const table = await createTfjsTable('cpu', space.numFeatures, dim, 'adam', 0.02);
    const viaTfjs = new Tagger(space, { table, batchSize: 64, seed: 3 });
    const viaEngine = new Tagger(space, {
      optimizer: 'adam',
      lr: 0.02,
      dense: true,
      batchSize: 64,
      seed: 3,
      engine: await engineFor('simd'),
    });
    const a = viaTfjs.trainEpoch(trainData, undefined, 20);
    const b = viaEngine.trainEpoch(trainData, undefined, 20);
    expect(a.batches).toBe(20);
    expect(a.tokens).toBe(20 * 64);
    expect(a.loss).toBeCloseTo(b.loss, 4);
    const wa = table.all();
    const wb = viaEngine['table'].all();
    let worst = 0;
    for (let i = 0; i < wa.length; i++) worst = Math.max(worst, Math.abs(wa[i]! - wb[i]!));
    expect(worst).toBeLessThan(1e-4);
    expect(() => viaTfjs.trainEpoch(trainData, undefined, 0)).toThrow(/'maxBatches'/);
    viaTfjs.dispose();
    viaEngine.dispose();
  });

  it('a slice of Brown: 18 news files to train, 2 held out, well above the baseline in one epoch', async () => {
    const { train: tr, test: te } = splitDocuments(loadBrown(undefined, 20));
    const trS = sentencesOf(tr);
    const teS = sentencesOf(te);
    const sp = FeatureSpace.build(trS);
    const tagger = new Tagger(sp, { engine: await engineFor('simd') });
    const stats = tagger.trainEpoch(sp.encode(trS));
    const acc = tagger.accuracy(sp.encode(teS));
    const base = mostFrequentTagAccuracy(trS, teS);
    tagger.dispose();
    expect(stats.loss).toBeLessThan(1);
    expect(base).toBeGreaterThan(0.8);
    expect(acc).toBeGreaterThan(base + 0.04);
    expect(acc).toBeGreaterThan(0.9);
  });

  it('rejects bad options and use after dispose', async () => {
    const engine = await engineFor('simd');
    expect(() => new Tagger(space, { optimizer: 'rmsprop' as never, engine })).toThrow(/'optimizer'.*'rmsprop'/);
    expect(() => new Tagger(space, { mode: 'eager' as never, engine })).toThrow(/'mode'/);
    expect(() => new Tagger(space, { lr: -1, engine })).toThrow(/'lr'/);
    expect(() => new Tagger(space, { lr: NaN, engine })).toThrow(/'lr'/);
    expect(() => new Tagger(space, { batchSize: 0, engine })).toThrow(/'batchSize'/);
    expect(() => new Tagger(space, { seed: 1.5, engine })).toThrow(/'seed'/);
    const tagger = new Tagger(space, { engine });
    const other = FeatureSpace.build(train, { maxPrefix: 1 }).encode(test);
    expect(() => tagger.predict(other)).toThrow(RangeError);
    tagger.dispose();
    expect(() => tagger.trainEpoch(trainData)).toThrow(/disposed/);
    expect(() => tagger.accuracy(testData)).toThrow(/disposed/);
  });
});

describe('demo flags', () => {
  it('has the documented defaults', () => {
    expect(parseFlags([])).toEqual({
      optimizer: 'adam',
      mode: 'lazy',
      epochs: 2,
      seed: 1,
      dense: false,
      lr: undefined,
      batchSize: 1024,
      help: false,
      files: 500,
      threads: 1,
      tfjs: undefined,
      updates: undefined,
      weights: 'f32',
      state: 'f32',
    });
  });
  it('reads every flag, as two words or with =', () => {
    const f = parseFlags([
      '--optimizer',
      'sgd',
      '--mode=exact',
      '--epochs',
      '3',
      '--seed=7',
      '--dense',
      '--lr',
      '0.5',
      '--batch',
      '64',
      '--files',
      '40',
      '--threads',
      '2',
      '--updates',
      '5',
    ]);
    expect(f).toEqual({
      optimizer: 'sgd',
      mode: 'exact',
      epochs: 3,
      seed: 7,
      dense: true,
      lr: 0.5,
      batchSize: 64,
      help: false,
      files: 40,
      threads: 2,
      tfjs: undefined,
      updates: 5,
      weights: 'f32',
      state: 'f32',
    });
    expect(parseFlags(['--tfjs', 'cpu', '--optimizer', 'adagrad']).tfjs).toBe('cpu');
    expect(parseFlags(['--weights', 'bf16', '--state=int8'])).toMatchObject({ weights: 'bf16', state: 'int8' });
    expect(parseFlags(['--weights=f16'])).toMatchObject({ weights: 'f16', state: 'f32' });
    expect(parseFlags(['--help']).help).toBe(true);
  });
  it('rejects bad flags with a message naming them', () => {
    expect(() => parseFlags(['--optimizer', 'rmsprop'])).toThrow(
      /--optimizer must be one of adam, adagrad, sgd, adamw, rowwise-adagrad, partial-rowwise-adam, ftrl, got 'rmsprop'/,
    );
    expect(() => parseFlags(['--optimizer', 'rowwise-adagrad', '--dense'])).toThrow(
      /--optimizer rowwise-adagrad exists for sparse tables only; drop --dense/,
    );
    expect(() => parseFlags(['--mode', 'eager'])).toThrow(/--mode/);
    expect(() => parseFlags(['--epochs', '0'])).toThrow(/--epochs must be an integer >= 1, got '0'/);
    expect(() => parseFlags(['--epochs'])).toThrow(/--epochs needs a value/);
    expect(() => parseFlags(['--seed', '-1'])).toThrow(/--seed/);
    expect(() => parseFlags(['--lr', 'fast'])).toThrow(/--lr/);
    expect(() => parseFlags(['--dense=yes'])).toThrow(/--dense takes no value/);
    expect(() => parseFlags(['--files', '1'])).toThrow(/--files/);
    expect(() => parseFlags(['--threads', '0'])).toThrow(/--threads must be an integer >= 1/);
    expect(() => parseFlags(['--updates', '0'])).toThrow(/--updates/);
    expect(() => parseFlags(['--tfjs', 'webgl'])).toThrow(/--tfjs must be wasm or cpu, got 'webgl'/);
    expect(() => parseFlags(['--tfjs', 'cpu', '--optimizer', 'adamw'])).toThrow(/no AdamW/);
    expect(() => parseFlags(['--tfjs', 'cpu', '--dense'])).toThrow(/exclude each other/);
    expect(() => parseFlags(['--fast'])).toThrow(/unknown flag '--fast'/);
    expect(() => parseFlags(['--weights', 'f8'])).toThrow(/--weights must be one of f32, f16, bf16, got 'f8'/);
    expect(() => parseFlags(['--state', 'int4'])).toThrow(/--state must be one of f32, bf16, int8, got 'int4'/);
    expect(() => parseFlags(['--state', 'int8', '--dense'])).toThrow(/--weights and --state apply to the sparse table/);
  });
});

describe('the demo end to end (on the first 20 files)', () => {
  it('prints the baseline, a progress bar and a summary per epoch, and ends with the accuracy', async () => {
    let text = '';
    const acc = await runDemo(
      { ...parseFlags(['--files', '20', '--epochs', '2']) },
      { write: (s: string) => (text += s), isTTY: false },
    );
    const lines = text.trimEnd().split('\n');
    expect(lines.at(-1)).toMatch(/^held-out accuracy: \d+\.\d%$/);
    expect(lines.at(-1)).toBe(`held-out accuracy: ${(acc * 100).toFixed(1)}%`);
    expect(text).toMatch(/corpus: 20 files/);
    expect(text).toMatch(/2 files \(/);
    const base = Number(/baseline .*held-out accuracy (\d+\.\d)%/.exec(text)![1]) / 100;
    expect(acc).toBeGreaterThan(base + 0.03);
    // Non-TTY progress: a line per 20% of each epoch, then the epoch summary.
    expect(text.match(/^epoch 1\/2 \[[#.]{30}\] +\d+%  [\d.]+k? tok\/s  loss \d\.\d{4}$/gm)).toHaveLength(5);
    expect(text).toMatch(
      /^epoch 2\/2: loss \d\.\d{4}, held-out \d+\.\d{2}% \| .* tok\/s, \d+% in optimizer updates \(\d+ updates of [\d.]+k? of [\d.]+k rows\), \d+% in lookups/m,
    );
    expect(text).toMatch(/^wall time: \d+\.\d s/m);
  });
});
