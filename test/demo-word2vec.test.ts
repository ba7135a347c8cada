// The word2vec example: vocabulary, negative-sampling skip-gram on two sparse Adam tables.
import { describe, expect, it } from 'vitest';
import type { Sentence } from '../demo/brown.js';
import { SkipGram, buildVocabulary, mulberry32 } from '../examples/word2vec/skipgram.js';
import { engineFor } from './engines.js';

const s = (text: string): Sentence => {
  const words = text.split(' ');
  return { words, tags: words.map(() => 'x') };
};

/** Two topics that never share a sentence: animals and numbers, with shared filler words. */
function topics(n: number, seed: number): Sentence[] {
  const r = mulberry32(seed);
  const pick = <T>(a: readonly T[]) => a[Math.floor(r() * a.length)]!;
  const animals = ['dog', 'cat', 'horse', 'cow', 'sheep', 'goat'];
  const numbers = ['one', 'two', 'three', 'four', 'five', 'six'];
  const filler = ['the', 'and', 'of'];
  const out: Sentence[] = [];
  for (let i = 0; i < n; i++) {
    const topic = i % 2 === 0 ? animals : numbers;
    const words: string[] = [];
    for (let j = 0; j < 8; j++) words.push(j % 3 === 2 ? pick(filler) : pick(topic));
    out.push({ words, tags: words.map(() => 'x') });
  }
  return out;
}

describe('word2vec vocabulary', () => {
  it('lower-cases, drops punctuation and rare words, orders by frequency', () => {
    const v = buildVocabulary([s('The cat saw the dog .'), s('the Dog , the cat'), s("'' cat dog 1960")], 2);
    expect(v.words).toEqual(['the', 'cat', 'dog']);
    expect(Array.from(v.counts)).toEqual([4, 3, 3]);
    expect(v.sentences.map((x) => Array.from(x))).toEqual([
      [0, 1, 0, 2],
      [0, 2, 0, 1],
      [1, 2],
    ]);
    expect(v.tokens).toBe(10);
    expect(() => buildVocabulary([s('a b c')], 2)).toThrow(/fewer than 2 words/);
    expect(() => buildVocabulary([s('a a')], 0)).toThrow(/'minCount'/);
  });
});

describe('skip-gram with negative sampling', () => {
  it('puts words of the same topic closest, and the loss falls', async () => {
    const vocab = buildVocabulary(topics(400, 1), 1);
    const model = new SkipGram(vocab, {
      dim: 16,
      window: 3,
      negatives: 3,
      sample: 0,
      batchPairs: 128,
      lr: 0.02,
      seed: 2,
      engine: await engineFor('simd'),
    });
    const losses = [];
    for (let e = 0; e < 4; e++) losses.push(model.trainEpoch().loss);
    expect(losses[3]!).toBeLessThan(losses[0]!);
    const animals = new Set(['dog', 'cat', 'horse', 'cow', 'sheep', 'goat']);
    for (const w of ['dog', 'sheep', 'two', 'five']) {
      const near = model.nearest(w, 3).map((n) => n.word);
      const same = animals.has(w);
      for (const n of near) expect(animals.has(n), `${w} -> ${near.join(',')}`).toBe(same);
    }
    expect(() => model.nearest('zebra')).toThrow(/not in the vocabulary/);
    model.dispose();
    expect(() => model.trainEpoch()).toThrow(/disposed/);
  });

  it('is reproducible with a seed, in both modes', async () => {
    const vocab = buildVocabulary(topics(100, 3), 1);
    const engine = await engineFor('scalar');
    for (const mode of ['lazy', 'exact'] as const) {
      const run = () => {
        const m = new SkipGram(vocab, { dim: 8, mode, seed: 4, batchPairs: 64, engine });
        const loss = m.trainEpoch().loss;
        const w = Array.from(m.input.weights);
        m.dispose();
        return { loss, w };
      };
      expect(run()).toEqual(run());
    }
  });

  it('rejects bad options naming them', async () => {
    const vocab = buildVocabulary(topics(10, 5), 1);
    const engine = await engineFor('simd');
    expect(() => new SkipGram(vocab, { dim: 0, engine })).toThrow(/'dim'/);
    expect(() => new SkipGram(vocab, { window: 1.5, engine })).toThrow(/'window'/);
    expect(() => new SkipGram(vocab, { lr: -1, engine })).toThrow(/'lr'/);
    expect(() => new SkipGram(vocab, { sample: NaN, engine })).toThrow(/'sample'/);
    expect(() => new SkipGram(vocab, { mode: 'eager' as never, engine })).toThrow(/'mode'/);
  });
});
