// Feature extraction for the log-linear tagger: every token fires a fixed number of sparse binary
// features (the word, its lower-cased form, prefixes, suffixes, shape, the neighbouring words, ...),
// each feature is one row of an embedding table holding a score per tag.
import type { Sentence } from './brown.js';

/** Options of {@link FeatureSpace.build}. */
export interface FeatureOptions {
  /** A feature seen fewer times than this in training gets no row. Default 2. */
  minCount?: number;
  /** Longest suffix used as a feature. Default 4. */
  maxSuffix?: number;
  /** Longest prefix used as a feature. Default 3. */
  maxPrefix?: number;
  /**
   * Tag dictionary: a word seen at least this often in training may only take the tags it was
   * seen with (Ratnaparkhi, 1996); rarer and unknown words choose among the open-class tags.
   * Default 5; `Infinity` turns the dictionary off (every token chooses among all tags).
   */
  tagDictMinCount?: number;
  /** The open-class tags are the most frequent tags of rare training words (seen fewer than
   *  `tagDictMinCount` times) that together cover this share of their tokens. Default 0.995. */
  openClassCoverage?: number;
}

/** Tokens turned into feature ids: token `i` fires `ids[i*width .. (i+1)*width)`, `-1` = none. */
export interface EncodedTokens {
  /** Feature ids, `width` per token; `-1` where a feature has no row (unseen in training). */
  ids: Int32Array;
  /** The gold tag index per token; `-1` for a tag never seen in training. */
  labels: Int32Array;
  /** Per token, the index in {@link FeatureSpace.candidateSets} of the tags it may take. */
  candidates: Int32Array;
  /** Feature slots per token. */
  width: number;
  /** Number of tokens. */
  length: number;
}

const BOS = '<s>';
const EOS = '</s>';

/** The collapsed shape of a word: `Atlanta's` -> `Xx'x`, `1960` -> `d`, `U.S.` -> `X.X.`. */
export function wordShape(word: string): string {
  let out = '';
  let last = '';
  for (const ch of word) {
    let c: string;
    if (ch >= 'A' && ch <= 'Z') c = 'X';
    else if (ch >= 'a' && ch <= 'z') c = 'x';
    else if (ch >= '0' && ch <= '9') c = 'd';
    else c = ch;
    if (c !== last) out += c;
    last = c;
  }
  return out;
}

function isCapitalized(word: string): boolean {
  const c = word.charCodeAt(0);
  return c >= 65 && c <= 90;
}

/** The context templates: the name and the offset of the neighbour they look at. `l`: the
 *  lower-cased word, `s`: its last three letters. */
const CONTEXT: readonly (readonly [string, number])[] = [
  ['l-1', -1],
  ['l+1', 1],
  ['l-2', -2],
  ['l+2', 2],
  ['s-1', -1],
  ['s+1', 1],
];

const POSITIONS = ['firstc', 'firstC', 'midc', 'midC', 'lastc', 'lastC'] as const;

/** 0..5: first / middle / last word of the sentence, times lower-case / capitalised. */
function positionCode(words: readonly string[], i: number): number {
  return (i === 0 ? 0 : i === words.length - 1 ? 4 : 2) + (isCapitalized(words[i]!) ? 1 : 0);
}

/** The template names of the slots, in order: type-level, context, position, bias. */
function templateNames(o: Required<FeatureOptions>): string[] {
  const names = ['w', 'l', 'sh'];
  for (let n = 1; n <= o.maxSuffix; n++) names.push(`s${n}`);
  for (let n = 1; n <= o.maxPrefix; n++) names.push(`p${n}`);
  for (const [name] of CONTEXT) names.push(name);
  names.push('pos', 'bias');
  return names;
}

/** The values a word gives the type-level slots (w, l, sh, s1..sN, p1..pM; `null` where the word
 *  is too short for the affix), then the value it gives each context template as a neighbour. */
function typeValues(word: string, o: Required<FeatureOptions>): (string | null)[] {
  const lower = word.toLowerCase();
  const v: (string | null)[] = [word, lower, wordShape(word)];
  for (let n = 1; n <= o.maxSuffix; n++) v.push(lower.length > n ? lower.slice(-n) : null);
  for (let n = 1; n <= o.maxPrefix; n++) v.push(lower.length > n ? lower.slice(0, n) : null);
  const last3 = lower.length > 3 ? lower.slice(-3) : lower;
  for (const [name] of CONTEXT) v.push(name[0] === 's' ? last3 : lower);
  return v;
}

/**
 * The features a token at position `i` of a sentence fires, as `template=value` strings in slot
 * order: the type-level ones (w: word, l: lower-cased, sh: shape, s1..s4: suffixes, p1..p3:
 * prefixes; `null` where the word is too short), the context ones (lower-cased words at -1, +1,
 * -2, +2, last three letters of the words at -1 and +1; `<s>` and `</s>` past the ends), the
 * position/capitalisation one and the bias.
 */
export function tokenFeatureStrings(
  words: readonly string[],
  i: number,
  options: FeatureOptions = {},
): (string | null)[] {
  const o = resolveOptions(options);
  const names = templateNames(o);
  const nType = names.length - CONTEXT.length - 2;
  const own = typeValues(words[i]!, o);
  const out: (string | null)[] = [];
  for (let k = 0; k < nType; k++) out.push(own[k] === null ? null : `${names[k]}=${own[k]}`);
  CONTEXT.forEach(([name, off], k) => {
    const j = i + off;
    const value = j < 0 ? BOS : j >= words.length ? EOS : typeValues(words[j]!, o)[nType + k]!;
    out.push(`${name}=${value}`);
  });
  out.push(`pos=${POSITIONS[positionCode(words, i)]}`, 'bias=');
  return out;
}

function resolveOptions(options: FeatureOptions): Required<FeatureOptions> {
  const o: Required<FeatureOptions> = {
    minCount: 2,
    maxSuffix: 4,
    maxPrefix: 3,
    tagDictMinCount: 5,
    openClassCoverage: 0.995,
    ...options,
  };
  for (const k of ['minCount', 'maxSuffix', 'maxPrefix'] as const) {
    const lo = k === 'minCount' ? 1 : 0;
    if (!Number.isInteger(o[k]) || o[k] < lo || o[k] > 16) {
      throw new RangeError(`FeatureSpace: option '${k}' must be an integer in [${lo}, 16], got ${o[k]}`);
    }
  }
  if (!(o.tagDictMinCount === Infinity || (Number.isInteger(o.tagDictMinCount) && o.tagDictMinCount >= 1))) {
    throw new RangeError(
      `FeatureSpace: option 'tagDictMinCount' must be an integer >= 1 or Infinity, got ${o.tagDictMinCount}`,
    );
  }
  if (!(typeof o.openClassCoverage === 'number' && o.openClassCoverage > 0 && o.openClassCoverage <= 1)) {
    throw new RangeError(
      `FeatureSpace: option 'openClassCoverage' must be a number in (0, 1], got ${o.openClassCoverage}`,
    );
  }
  return o;
}

/** Tags are packed with word types into one number key: type * MAX_TAGS + tag. */
const MAX_TAGS = 4096;

/**
 * The tag set, the feature dictionary and the tag dictionary, built from training sentences: one
 * table row per feature (a template and a value) seen at least `minCount` times. Encoding
 * sentences gives each token `width` feature ids (one per template) and its candidate tags.
 */
export class FeatureSpace {
  /** The tags in order of first appearance in training; the column of a tag is its index. */
  readonly tags: string[];
  /** Tag -> column. */
  readonly tagIndex: Map<string, number>;
  /** The template of each slot (`w`, `l`, `sh`, `s1`, ..., `l-1`, ..., `pos`, `bias`). */
  readonly templates: readonly string[];
  /** Feature slots per token (one per template). */
  readonly width: number;
  /** Number of features (rows of the table). */
  readonly numFeatures: number;
  /** The options in force. */
  readonly options: Required<FeatureOptions>;
  /** Distinct sets of candidate tags (ascending columns); set 0 is the open class (unknown words). */
  readonly candidateSets: readonly Int32Array[];
  /** Per template: value -> row. */
  private readonly rows: Map<string, number>[];
  /** Training word -> its candidate set (index in `candidateSets`). */
  private readonly wordCandidates: Map<string, number>;

  private constructor(
    tags: string[],
    rows: Map<string, number>[],
    numFeatures: number,
    options: Required<FeatureOptions>,
    candidateSets: Int32Array[],
    wordCandidates: Map<string, number>,
  ) {
    this.tags = tags;
    this.tagIndex = new Map(tags.map((t, i) => [t, i]));
    this.options = options;
    this.templates = templateNames(options);
    this.width = this.templates.length;
    this.rows = rows;
    this.numFeatures = numFeatures;
    this.candidateSets = candidateSets;
    this.wordCandidates = wordCandidates;
  }

  /** Number of tags (score columns). */
  get numTags(): number {
    return this.tags.length;
  }

  /** The row of a `template=value` feature (as {@link tokenFeatureStrings} gives), or -1. */
  rowOf(feature: string): number {
    const eq = feature.indexOf('=');
    const k = eq < 0 ? -1 : this.templates.indexOf(feature.slice(0, eq));
    return k < 0 ? -1 : (this.rows[k]!.get(feature.slice(eq + 1)) ?? -1);
  }

  /** The index in {@link candidateSets} of the tags `word` may take (0, the open class, if unknown). */
  candidatesOf(word: string): number {
    return this.wordCandidates.get(word) ?? 0;
  }

  /** Builds the tag set, the feature dictionary and the tag dictionary from the training sentences. */
  static build(train: readonly Sentence[], options: FeatureOptions = {}): FeatureSpace {
    const o = resolveOptions(options);
    if (train.length === 0) throw new RangeError('FeatureSpace: no training sentence');
    const names = templateNames(o);
    const width = names.length;
    const nType = width - CONTEXT.length - 2;
    // Intern the words; count types, (type, tag) pairs, positions and sentence ends.
    const vocab = new Map<string, number>();
    const types: string[] = [];
    const typeCount: number[] = [];
    const tags: string[] = [];
    const tagIndex = new Map<string, number>();
    const pairCount = new Map<number, number>();
    const posCount = [0, 0, 0, 0, 0, 0];
    let sentences = 0;
    let twoOrMore = 0;
    for (const s of train) {
      const { words } = s;
      if (words.length > 0) sentences++;
      if (words.length > 1) twoOrMore++;
      for (let i = 0; i < words.length; i++) {
        const w = words[i]!;
        let ty = vocab.get(w);
        if (ty === undefined) {
          ty = types.length;
          vocab.set(w, ty);
          types.push(w);
          typeCount.push(0);
        }
        typeCount[ty]!++;
        let tg = tagIndex.get(s.tags[i]!);
        if (tg === undefined) {
          tg = tags.length;
          if (tg >= MAX_TAGS) throw new RangeError(`FeatureSpace: more than ${MAX_TAGS} tags`);
          tagIndex.set(s.tags[i]!, tg);
          tags.push(s.tags[i]!);
        }
        const key = ty * MAX_TAGS + tg;
        pairCount.set(key, (pairCount.get(key) ?? 0) + 1);
        posCount[positionCode(words, i)]!++;
      }
    }
    const counts = names.map(() => new Map<string, number>());
    const bump = (k: number, value: string, n: number) => {
      const m = counts[k]!;
      m.set(value, (m.get(value) ?? 0) + n);
    };
    // Each type fires its type-level features, and (as a neighbour) each context template, as
    // often as it occurs; sentence ends fill the context templates once or twice per sentence.
    for (let ty = 0; ty < types.length; ty++) {
      const v = typeValues(types[ty]!, o);
      const n = typeCount[ty]!;
      for (let k = 0; k < v.length; k++) if (v[k] !== null) bump(k, v[k]!, n);
    }
    CONTEXT.forEach(([, off], k) =>
      bump(nType + k, off < 0 ? BOS : EOS, Math.abs(off) === 1 ? sentences : sentences + twoOrMore),
    );
    POSITIONS.forEach((p, k) => bump(width - 2, p, posCount[k]!));
    bump(width - 1, '', o.minCount);
    let numFeatures = 0;
    const rows = counts.map((m) => {
      const r = new Map<string, number>();
      for (const [value, n] of m) if (n >= o.minCount) r.set(value, numFeatures++);
      return r;
    });
    const [sets, wordSets] = buildTagDictionary(types, typeCount, tags.length, pairCount, o);
    return new FeatureSpace(tags, rows, numFeatures, o, sets, wordSets);
  }

  /** The feature ids, gold tags and candidate sets of every token of the sentences, in order. */
  encode(sentences: readonly Sentence[]): EncodedTokens {
    let length = 0;
    let longest = 0;
    for (const s of sentences) {
      length += s.words.length;
      longest = Math.max(longest, s.words.length);
    }
    const width = this.width;
    const ids = new Int32Array(length * width);
    const labels = new Int32Array(length);
    const candidates = new Int32Array(length);
    const o = this.options;
    const rows = this.rows;
    const nType = width - CONTEXT.length - 2;
    // Per word type, one record: [type-level ids, context ids, candidate set].
    const rec = width - 1;
    let store = new Int32Array(rec * 1024);
    const local = new Map<string, number>();
    const typeOf = (w: string): number => {
      let ty = local.get(w);
      if (ty === undefined) {
        ty = local.size;
        local.set(w, ty);
        if ((ty + 1) * rec > store.length) {
          const bigger = new Int32Array(store.length * 2);
          bigger.set(store);
          store = bigger;
        }
        const base = ty * rec;
        const v = typeValues(w, o);
        for (let k = 0; k < v.length; k++) store[base + k] = v[k] === null ? -1 : (rows[k]!.get(v[k]!) ?? -1);
        store[base + width - 2] = this.candidatesOf(w);
      }
      return ty;
    };
    const boundary = CONTEXT.map(([, off], k) => rows[nType + k]!.get(off < 0 ? BOS : EOS) ?? -1);
    const offsets = CONTEXT.map(([, off]) => off);
    const position = POSITIONS.map((p) => rows[width - 2]!.get(p) ?? -1);
    const bias = rows[width - 1]!.get('') ?? -1;
    const sentenceTypes = new Int32Array(longest);
    let t = 0;
    for (const s of sentences) {
      const { words } = s;
      const len = words.length;
      for (let i = 0; i < len; i++) sentenceTypes[i] = typeOf(words[i]!);
      for (let i = 0; i < len; i++, t++) {
        const base = t * width;
        const own = sentenceTypes[i]! * rec;
        for (let k = 0; k < nType; k++) ids[base + k] = store[own + k]!;
        for (let k = 0; k < offsets.length; k++) {
          const j = i + offsets[k]!;
          ids[base + nType + k] = j < 0 || j >= len ? boundary[k]! : store[sentenceTypes[j]! * rec + nType + k]!;
        }
        ids[base + width - 2] = position[positionCode(words, i)]!;
        ids[base + width - 1] = bias;
        candidates[t] = store[own + width - 2]!;
        labels[t] = this.tagIndex.get(s.tags[i]!) ?? -1;
      }
    }
    return { ids, labels, candidates, width, length };
  }
}

/**
 * The candidate tag sets: set 0 is the open class (the most frequent tags of rare training words,
 * covering `openClassCoverage` of their tokens); a word seen `tagDictMinCount` times or more gets
 * the tags it was seen with, a rarer one the open class plus the tags it was seen with.
 * Returns the distinct sets and word -> set index.
 */
function buildTagDictionary(
  types: readonly string[],
  typeCount: readonly number[],
  numTags: number,
  pairCount: Map<number, number>,
  o: Required<FeatureOptions>,
): [Int32Array[], Map<string, number>] {
  const rare = new Float64Array(numTags);
  let rareTotal = 0;
  const seen: number[][] = types.map(() => []);
  for (const [key, n] of pairCount) {
    const ty = Math.floor(key / MAX_TAGS);
    const tg = key % MAX_TAGS;
    seen[ty]!.push(tg);
    if (typeCount[ty]! < o.tagDictMinCount) {
      rare[tg]! += n;
      rareTotal += n;
    }
  }
  let open: number[];
  if (rareTotal === 0 || o.tagDictMinCount === Infinity) {
    open = Array.from({ length: numTags }, (_, i) => i);
  } else {
    const byCount = Array.from({ length: numTags }, (_, i) => i)
      .filter((i) => rare[i]! > 0)
      .sort((a, b) => rare[b]! - rare[a]! || a - b);
    open = [];
    let covered = 0;
    for (const i of byCount) {
      if (covered >= o.openClassCoverage * rareTotal) break;
      open.push(i);
      covered += rare[i]!;
    }
  }
  const sets: Int32Array[] = [Int32Array.from(open).sort()];
  const byKey = new Map<string, number>([[sets[0]!.join(','), 0]]);
  const wordSets = new Map<string, number>();
  const inOpen = new Uint8Array(numTags);
  for (const i of open) inOpen[i] = 1;
  for (let ty = 0; ty < types.length; ty++) {
    const isRare = typeCount[ty]! < o.tagDictMinCount;
    if (isRare && seen[ty]!.every((i) => inOpen[i] === 1)) {
      wordSets.set(types[ty]!, 0);
      continue;
    }
    const cols = new Set<number>(seen[ty]);
    if (isRare) for (const i of open) cols.add(i);
    const set = Int32Array.from(cols).sort();
    const key = set.join(',');
    let k = byKey.get(key);
    if (k === undefined) {
      k = sets.length;
      sets.push(set);
      byKey.set(key, k);
    }
    wordSets.set(types[ty]!, k);
  }
  return [sets, wordSets];
}
