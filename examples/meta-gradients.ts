// `npm run example:meta`: meta-gradient descent on Adam's lr, beta1 and beta2 for a small
// part-of-speech tagger (multinomial logistic regression on hashed word features) on the Brown
// corpus (the demo's reader, demo/brown.ts), against Adam's defaults and a grid search with the
// same budget of training steps.
//
// Each meta round trains from the same initial weights for T steps with the current (lr, b1, b2),
// tracking dθ/dh in 'hvp' mode (the model's exact Hessian-vector product, as cheap as a gradient),
// then asks `opt.metaGradient(∇L_val)` for dL_val/dh and takes a step on (log lr, logit b1,
// log(1 - b2)). The grid search trains as many configurations as there are meta rounds, T steps
// each. Prints progress, then the table that docs/meta-gradients.md quotes.
// Flags: --rounds R (default 8), --steps T (default 300), --files F (corpus files read, default 80), --seed S.
import { init, Adam } from '../src/index.js';
import { loadBrown, sentencesOf, splitDocuments, type Sentence } from '../demo/brown.js';

interface Flags {
  rounds: number;
  steps: number;
  files: number;
  seed: number;
}

function parse(argv: string[]): Flags {
  const f: Flags = { rounds: 8, steps: 300, files: 80, seed: 1 };
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const key = name.slice(2) as keyof Flags;
    const v = Number(inline ?? argv[++i]);
    if (name.startsWith('--') && key in f && Number.isInteger(v) && v >= (key === 'seed' ? 0 : 1)) f[key] = v;
    else
      throw new RangeError(
        `example:meta: bad flag '${argv[i]}' (flags: --rounds R, --steps T, --files F (>= 10), --seed S)`,
      );
  }
  return f;
}

/** mulberry32: a seeded uniform generator on [0, 1). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const flags = parse(process.argv.slice(2));
const t0 = performance.now();
const elapsed = (): string => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
/** CPU seconds of this process (user + system): the cost columns, steady on a busy machine. */
const cpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
await init();

// --- Data: Brown documents split into train / validation (for the meta-objective) / test. -------
const docs = loadBrown(undefined, Math.max(10, flags.files));
const { train: trainVal, test: testDocs } = splitDocuments(docs, 10);
const { train: trainDocs, test: valDocs } = splitDocuments(trainVal, 9);
const BUCKETS = 1 << 12; // hashed features
const FEATS = 6; // per token: word, suffix 2, suffix 3, shape, previous word, bias

function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0) % BUCKETS;
}
function shape(w: string): string {
  return w
    .replace(/[A-Z]+/g, 'X')
    .replace(/[a-z]+/g, 'x')
    .replace(/[0-9]+/g, 'd');
}

const trainSentences = sentencesOf(trainDocs);
const tagCount = new Map<string, number>();
for (const s of trainSentences) for (const t of s.tags) tagCount.set(t, (tagCount.get(t) ?? 0) + 1);
// The 31 most frequent tags and 'other'.
const tags = [...tagCount.entries()]
  .sort((a, b) => b[1] - a[1])
  .slice(0, 31)
  .map(([t]) => t);
const tagIndex = new Map(tags.map((t, i) => [t, i]));
const C = tags.length + 1;

interface Tokens {
  ids: Int32Array; // FEATS per token
  labels: Int32Array;
  n: number;
}
function encode(sentences: readonly Sentence[]): Tokens {
  const ids: number[] = [];
  const labels: number[] = [];
  for (const s of sentences) {
    s.words.forEach((w, i) => {
      const l = w.toLowerCase();
      const prev = i > 0 ? s.words[i - 1]!.toLowerCase() : '<s>';
      ids.push(hash(`w=${l}`), hash(`s2=${l.slice(-2)}`), hash(`s3=${l.slice(-3)}`), hash(`sh=${shape(w)}`));
      ids.push(hash(`p=${prev}`), hash('bias'));
      labels.push(tagIndex.get(s.tags[i]!) ?? C - 1);
    });
  }
  return { ids: Int32Array.from(ids), labels: Int32Array.from(labels), n: labels.length };
}
const trainSet = encode(trainSentences);
const valSet = encode(sentencesOf(valDocs));
const testSet = encode(sentencesOf(testDocs));
console.log(
  `Brown corpus: ${docs.length} files; tokens train ${trainSet.n}, validation ${valSet.n}, test ${testSet.n}; ` +
    `${C} classes, ${BUCKETS} hashed features (${C * BUCKETS} weights) [${elapsed()}]`,
);

// --- The model: logits z = W x (x: FEATS ones), softmax cross-entropy. -------------------------
const BATCH = 128;
const sample = rng(flags.seed);
/** Minibatch token indices for every step of a run (the same for every configuration). */
const batches = Array.from({ length: flags.steps }, () =>
  Int32Array.from({ length: BATCH }, () => Math.floor(sample() * trainSet.n)),
);
const initial = Float32Array.from({ length: C * BUCKETS }, () => (sample() - 0.5) * 0.02);

/** Probabilities of token `k` of `set` under W (into `p`); returns the logit of its label. */
function probs(W: ArrayLike<number>, set: Tokens, k: number, p: Float64Array): void {
  let max = -Infinity;
  for (let c = 0; c < C; c++) {
    let z = 0;
    for (let f = 0; f < FEATS; f++) z += W[c * BUCKETS + set.ids[k * FEATS + f]!]!;
    p[c] = z;
    if (z > max) max = z;
  }
  let sum = 0;
  for (let c = 0; c < C; c++) sum += p[c] = Math.exp(p[c]! - max);
  for (let c = 0; c < C; c++) p[c]! /= sum;
}

const P = new Float64Array(C);
/** Mean loss and its gradient over tokens `idx` (all of `set` when null) into `g`. */
function lossGrad(W: ArrayLike<number>, set: Tokens, idx: Int32Array | null, g: Float32Array | null): number {
  const n = idx ? idx.length : set.n;
  if (g) g.fill(0);
  let loss = 0;
  for (let j = 0; j < n; j++) {
    const k = idx ? idx[j]! : j;
    probs(W, set, k, P);
    const y = set.labels[k]!;
    loss -= Math.log(P[y]! + 1e-12);
    if (!g) continue;
    for (let c = 0; c < C; c++) {
      const d = (P[c]! - (c === y ? 1 : 0)) / n;
      for (let f = 0; f < FEATS; f++) g[c * BUCKETS + set.ids[k * FEATS + f]!]! += d;
    }
  }
  return loss / n;
}

/** H·v of the minibatch loss at W: per token dz = V x, dp = p ⊙ (dz - p·dz), H v += dp xᵀ. */
function hvp(W: ArrayLike<number>, V: Float32Array, idx: Int32Array): Float32Array {
  const out = new Float32Array(V.length);
  const dz = new Float64Array(C);
  for (const k of idx) {
    probs(W, trainSet, k, P);
    let pdz = 0;
    for (let c = 0; c < C; c++) {
      let z = 0;
      for (let f = 0; f < FEATS; f++) z += V[c * BUCKETS + trainSet.ids[k * FEATS + f]!]!;
      dz[c] = z;
      pdz += P[c]! * z;
    }
    for (let c = 0; c < C; c++) {
      const d = (P[c]! * (dz[c]! - pdz)) / idx.length;
      for (let f = 0; f < FEATS; f++) out[c * BUCKETS + trainSet.ids[k * FEATS + f]!]! += d;
    }
  }
  return out;
}

function accuracy(W: ArrayLike<number>, set: Tokens): number {
  let ok = 0;
  for (let k = 0; k < set.n; k++) {
    probs(W, set, k, P);
    let best = 0;
    for (let c = 1; c < C; c++) if (P[c]! > P[best]!) best = c;
    if (best === set.labels[k]) ok++;
  }
  return ok / set.n;
}

interface Hyper {
  lr: number;
  beta1: number;
  beta2: number;
}
interface Run {
  valLoss: number;
  W: Float32Array;
  mg?: Record<string, number>;
}

/** Trains T steps from `initial` with `h`; with `meta`, tracks dθ/dh ('hvp') and returns dL_val/dh. */
function train(h: Hyper, meta: boolean): Run {
  const opt = new Adam({ lr: h.lr, betas: [h.beta1, h.beta2] });
  const p = opt.param(initial);
  if (meta) opt.trackMetaGradients(['lr', 'beta1', 'beta2'], { mode: 'hvp' });
  const g = new Float32Array(initial.length);
  for (const idx of batches) {
    lossGrad(p.data, trainSet, idx, g);
    p.grad.set(g);
    if (meta) opt.step({ hvp: ([v]) => [hvp(p.data, v!, idx)] });
    else opt.step();
  }
  const W = p.data.slice();
  const vg = meta ? new Float32Array(W.length) : null;
  const valLoss = lossGrad(W, valSet, null, vg);
  const mg = meta ? opt.metaGradient([vg!]) : undefined;
  opt.dispose();
  return { valLoss, W, mg };
}

const DEFAULTS: Hyper = { lr: 1e-3, beta1: 0.9, beta2: 0.999 };
const fmt = (h: Hyper): string => `lr ${h.lr.toPrecision(3)}, β1 ${h.beta1.toFixed(3)}, β2 ${h.beta2.toFixed(4)}`;
const rows: { method: string; h: Hyper; steps: number; seconds: number; run: Run }[] = [];

// --- Defaults. ----------------------------------------------------------------------------------
let s = cpu();
const def = train(DEFAULTS, false);
rows.push({
  method: 'Adam defaults',
  h: DEFAULTS,
  steps: flags.steps,
  seconds: cpu() - s,
  run: def,
});
console.log(`defaults: ${fmt(DEFAULTS)} -> validation loss ${def.valLoss.toFixed(4)} [${elapsed()}]`);

// --- Meta-gradient descent in (log lr, logit b1, log(1 - b2)), normalized steps. ---------------
s = cpu();
let u = [Math.log(DEFAULTS.lr), Math.log(DEFAULTS.beta1 / (1 - DEFAULTS.beta1)), Math.log(1 - DEFAULTS.beta2)];
const toHyper = (x: number[]): Hyper => ({
  lr: Math.exp(x[0]!),
  beta1: 1 / (1 + Math.exp(-x[1]!)),
  beta2: 1 - Math.exp(x[2]!),
});
let best: { h: Hyper; run: Run } | null = null;
let metaStep = 1;
for (let r = 0; r < flags.rounds; r++) {
  const h = toHyper(u);
  const run = train(h, true);
  if (!best || run.valLoss < best.run.valLoss) best = { h, run };
  const mg = run.mg!;
  // Chain rule to the unconstrained coordinates.
  const gu = [mg.lr! * h.lr, mg.beta1! * h.beta1 * (1 - h.beta1), -mg.beta2! * (1 - h.beta2)];
  const norm = Math.hypot(...gu) || 1;
  console.log(
    `meta round ${r + 1}/${flags.rounds}: ${fmt(h)} -> validation loss ${run.valLoss.toFixed(4)}; ` +
      `dL/dlr ${mg.lr!.toExponential(2)}, dL/dβ1 ${mg.beta1!.toExponential(2)}, dL/dβ2 ${mg.beta2!.toExponential(2)} [${elapsed()}]`,
  );
  u = u.map((x, i) => x - (metaStep * gu[i]!) / norm);
  metaStep *= 0.75;
}
rows.push({
  method: `meta-gradient descent (${flags.rounds} rounds, 'hvp')`,
  h: best!.h,
  steps: flags.rounds * flags.steps,
  seconds: cpu() - s,
  run: best!.run,
});

// --- Grid search with the same budget: as many configurations as meta rounds. ------------------
s = cpu();
// lr log-spaced over [1e-3, 0.3] crossed with beta1 in {0.9, 0.5} (beta2 at its default).
const nLr = Math.ceil(flags.rounds / 2);
const lrs = Array.from({ length: nLr }, (_v, i) => 1e-3 * 300 ** (nLr === 1 ? 0 : i / (nLr - 1)));
const chosen = lrs.flatMap((lr) => [0.9, 0.5].map((beta1) => ({ lr, beta1, beta2: 0.999 }))).slice(0, flags.rounds);
let gbest: { h: Hyper; run: Run } | null = null;
chosen.forEach((h, i) => {
  const run = train(h, false);
  if (!gbest || run.valLoss < gbest.run.valLoss) gbest = { h, run };
  console.log(`grid ${i + 1}/${chosen.length}: ${fmt(h)} -> validation loss ${run.valLoss.toFixed(4)} [${elapsed()}]`);
});
const g = gbest as unknown as { h: Hyper; run: Run };
rows.push({
  method: `grid search (${chosen.length} configurations)`,
  h: g.h,
  steps: chosen.length * flags.steps,
  seconds: cpu() - s,
  run: g.run,
});

// --- The table. ---------------------------------------------------------------------------------
console.log(`\n| method | lr | β1 | β2 | validation loss | test accuracy | training steps | CPU time |`);
console.log(`|---|---|---|---|---|---|---|---|`);
for (const r of rows) {
  console.log(
    `| ${r.method} | ${r.h.lr.toPrecision(3)} | ${r.h.beta1.toFixed(3)} | ${r.h.beta2.toFixed(4)} | ${r.run.valLoss.toFixed(4)} | ` +
      `${(100 * accuracy(r.run.W, testSet)).toFixed(1)}% | ${r.steps} | ${r.seconds.toFixed(1)} s |`,
  );
}
console.log(`\n${flags.steps} steps of ${BATCH} tokens per run; total ${elapsed()} wall, ${cpu().toFixed(1)} s CPU`);
