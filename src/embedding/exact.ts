// Exact mode's configuration: which closed form replays the steps a row missed, over how many
// steps (the window J) and with how large a history ring, from the table's optimizer and options.
// The replay itself runs in wasm (assembly/embedding/exact.ts).

import { SLOT as S } from '../core/abi.js';
import type { Engine } from '../core/engine.js';
import type { AdamResolved } from '../optimizers/adam.js';
import type { SGDResolved } from '../optimizers/sgd.js';
import type { EmbeddingMode, EmbeddingOptimizer, TableOptions } from './options.js';

const EXACT_TAIL = 2 ** -40; // missed steps whose drift weight b1^j is below this are not summed
const MAX_WINDOW = 1 << 16;
const SWEEP_PERIOD = 16384; // every row is brought up to date at least this often (in updates)
export const CENTRED_RHO = 0.36; // the centred series (16 terms) serves windows whose c_j spread is below this: 0.36^16 < 1e-7
/** @internal Exact-mode configuration derived from the hyperparameters. */
export interface ExactConfig {
  /** Which closed form replays a missed step: SLOT.EMB_EXACT_NONE (lazy), EMB_EXACT_ADAM or EMB_EXACT_SGD. */
  closedForm: number;
  /**
   * FTRL without l2Shrinkage: no missed step to replay (lazy mode's rows are up to date), but every
   * row takes a zero-gradient step after an update whose rate differs from the last such step's
   * (./exact-ftrl.ts).
   */
  zeroSteps: boolean;
  decay: boolean;
  ams: boolean;
  mom: boolean;
  window: number; // J
  ringSize: number; // H, a power of two
  sweepChunk: number; // rows brought up to date per update
  b1: number;
  b2: number;
  beta2: number;
  eps: number;
  thr: number;
  pow: Float64Array; // powers 0 .. H-1 of b1 (sgd: momentum), 0 .. H-1 of b2, 0 .. J of sqrt(b2)
}

/** Steps after which b^j < 2^-40, or a RangeError when that is more than the ring can hold. */
function windowFor(b: number, option: string): number {
  if (b === 0) return 0;
  const j = Math.ceil(Math.log(EXACT_TAIL) / Math.log(b));
  if (!(j <= MAX_WINDOW)) {
    throw new RangeError(
      `Embedding: mode 'exact' needs ${option} <= ${Math.pow(EXACT_TAIL, 1 / MAX_WINDOW).toFixed(5)} (the drift of missed steps is summed over the steps until ${option}^j < 2^-40), got ${b}; use mode 'lazy'`,
    );
  }
  return j;
}

/** Updates between two sweeps of the same row: SWEEP_PERIOD, or one row per update for small tables. */
function sweepPeriodFor(rows: number): number {
  return Math.min(SWEEP_PERIOD, rows);
}

/** The history ring's size for a summed window of J steps: room for J steps and a sweep period. */
function ringSizeFor(J: number, rows: number): number {
  return Math.max(1024, 2 ** Math.ceil(Math.log2(J + sweepPeriodFor(rows) + 2)));
}

/** The optimizers exact mode can replay (a zero-gradient step has a closed form). */
const EXACT_OPTIMIZERS: readonly EmbeddingOptimizer[] = [
  'sgd',
  'adagrad',
  'adam',
  'adamw',
  'rowwiseAdagrad',
  'partialRowwiseAdam',
  'ftrl',
];

/**
 * @internal Exact mode's configuration for a table, or a RangeError naming why these options have
 * no closed form for a missed step (and what to use instead).
 */
export function exactConfig(
  optimizer: EmbeddingOptimizer,
  mode: EmbeddingMode,
  o: TableOptions,
  rows: number,
): ExactConfig {
  const h = o as unknown as AdamResolved & SGDResolved;
  const none: ExactConfig = {
    closedForm: S.EMB_EXACT_NONE,
    zeroSteps: false,
    decay: false,
    ams: false,
    mom: false,
    window: 0,
    ringSize: 1,
    sweepChunk: 0,
    b1: 0,
    b2: 0,
    beta2: 0,
    eps: 0,
    thr: 0,
    pow: new Float64Array(0),
  };
  if (mode === 'lazy') return none;
  const kind = `Embedding (optimizer '${optimizer}', mode 'exact')`;
  if (!EXACT_OPTIMIZERS.includes(optimizer)) {
    throw new RangeError(
      `${kind}: mode 'exact' supports optimizers ${EXACT_OPTIMIZERS.slice(0, -1).join(', ')} and ${EXACT_OPTIMIZERS[EXACT_OPTIMIZERS.length - 1]}, not '${optimizer}'; use mode 'lazy' (only the rows an update names change)`,
    );
  }
  if ((optimizer === 'adam' || optimizer === 'adagrad') && h.weightDecay !== 0) {
    throw new RangeError(
      `${kind}: option 'weightDecay' must be 0, got ${h.weightDecay}: L2 decay gives untouched rows a non-zero gradient, which has no closed form to replay; use optimizer 'adamw' (decoupled decay) or mode 'lazy'`,
    );
  }
  let cfg: ExactConfig;
  if (optimizer === 'ftrl') {
    // A zero gradient leaves z and n alone when l2Shrinkage is 0 (./exact-ftrl.ts); with shrinkage
    // its shrinkage gradient 2 l2Shrinkage w moves z, and so w, at every missed step: per element
    // z' = c + (z - c) (1 - 2 l2Shrinkage / d_s), d_s from the element's own accumulator and step
    // s's rate, and w = 0 once |z| <= l1. No ring of per-step values sums that (docs/lean-tables.md);
    // TensorFlow's SparseApplyFtrlV2 is lazy too.
    if (o.l2Shrinkage !== 0)
      throw new RangeError(
        `${kind}: option 'l2Shrinkage' must be 0, got ${String(o.l2Shrinkage)}: with shrinkage a row's missed step is not a no-op (its gradient 2 * l2Shrinkage * w moves the linear term z and the weights at every step, by a factor that depends on each element's accumulator and on that step's rate), and exact mode has no closed form to replay it; use l2Shrinkage: 0 or mode 'lazy' (as TensorFlow's SparseApplyFtrlV2, which leaves untouched rows alone)`,
      );
    return { ...none, zeroSteps: true };
  }
  if (optimizer === 'rowwiseAdagrad') {
    // A zero gradient adds 0 to the row's sum and leaves the weights alone, but for the decay:
    // decoupled, c = 1 - lr wd per missed step, SGD's closed form without momentum (p_T = D p0),
    // which is FBGEMM's DECOUPLE_GLOBAL; with L2 a zero gradient becomes wd w, which has none.
    if (h.weightDecay === 0) return none;
    if (o.weightDecayMode !== 'decoupled')
      throw new RangeError(
        `${kind}: weightDecayMode 'l2' with weightDecay ${h.weightDecay} gives untouched rows a non-zero gradient, which has no closed form to replay; pass weightDecayMode: 'decoupled' (FBGEMM's DECOUPLE_GLOBAL) or use mode 'lazy'`,
      );
    cfg = { ...none, closedForm: S.EMB_EXACT_SGD, decay: true, pow: new Float64Array(2 * ringSizeFor(0, rows) + 1) };
  } else if (optimizer === 'adam' || optimizer === 'adamw' || optimizer === 'partialRowwiseAdam') {
    // partialRowwiseAdam: Adam's closed form with one second moment per row (its decay, lr wd p in
    // the update, is AdamW's factor 1 - lr wd per step); assembly/embedding/exact.ts.
    const b1 = Math.fround(h.betas[0]);
    const b2 = Math.fround(h.betas[1]);
    const J = windowFor(b1, 'betas[0]');
    const H = ringSizeFor(J, rows);
    const pow = new Float64Array(2 * H + J + 1);
    const sb2 = Math.sqrt(b2);
    for (let j = 0; j < H; j++) {
      pow[j] = Math.pow(b1, j);
      pow[H + j] = Math.pow(b2, j);
    }
    for (let j = 0; j <= J; j++) pow[2 * H + j] = Math.pow(sb2, j);
    const ams = h.amsgrad === true; // partialRowwiseAdam has no amsgrad
    const cmin = ams ? 1 : pow[2 * H + J];
    cfg = {
      ...none,
      closedForm: S.EMB_EXACT_ADAM,
      decay: optimizer !== 'adam' && h.weightDecay !== 0,
      ams,
      window: J,
      b1,
      b2,
      beta2: h.betas[1],
      eps: h.eps,
      thr: cmin > 0 ? (128 * h.eps) / cmin : Infinity,
      pow,
    };
  } else if (optimizer === 'sgd') {
    if (h.momentum !== 0 && h.weightDecay !== 0) {
      throw new RangeError(
        `${kind}: momentum ${h.momentum} with weightDecay ${h.weightDecay} has no closed form for the missed steps; use one of them, or mode 'lazy'`,
      );
    }
    if (h.momentum >= 1)
      throw new RangeError(
        `${kind}: option 'momentum' must be < 1 in exact mode (the missed steps' drift must vanish), got ${h.momentum}; use mode 'lazy'`,
      );
    if (h.momentum === 0 && h.weightDecay === 0) return none;
    const mu = Math.fround(h.momentum);
    const J = h.momentum !== 0 ? windowFor(mu, 'momentum') : 0;
    const H = ringSizeFor(J, rows);
    const pow = new Float64Array(2 * H + J + 1);
    for (let j = 0; j < H; j++) pow[j] = Math.pow(mu, j);
    cfg = {
      ...none,
      closedForm: S.EMB_EXACT_SGD,
      decay: h.weightDecay !== 0,
      mom: h.momentum !== 0,
      window: J,
      b1: mu,
      pow,
    };
  } else {
    return none; // adagrad without weight decay: a zero gradient changes nothing
  }
  const ringSize = ringSizeFor(cfg.window, rows);
  // Rows swept per update so that every row is brought up to date within ringSize - window - 2
  // updates: the ring then still holds every step a row has missed.
  const period = Math.min(sweepPeriodFor(rows), ringSize - cfg.window - 2);
  return { ...cfg, ringSize, sweepChunk: Math.ceil(rows / period) };
}

/**
 * @internal Exact mode's factor by which an untouched row's weights shrink per update (decoupled
 * decay; 1 without), or a RangeError when lr * weightDecay >= 1 (the rows would flip sign).
 */
export function exactDecayFactor(cfg: ExactConfig, optimizer: EmbeddingOptimizer, o: TableOptions): number {
  if (!cfg.decay) return 1;
  const f =
    optimizer === 'adamw' || optimizer === 'rowwiseAdagrad'
      ? Math.fround(1 - o.lr * o.weightDecay)
      : optimizer === 'partialRowwiseAdam'
        ? 1 - Math.fround(o.lr * o.weightDecay) // the kernel's p - (step + lwd p), lwd = fround(lr wd)
        : 1 - Math.fround(o.lr) * Math.fround(o.weightDecay);
  if (!(f > 0))
    throw new RangeError(
      `Embedding.update: exact mode needs lr * weightDecay < 1 (the weights of untouched rows shrink by 1 - lr * weightDecay per step), got lr ${o.lr}, weightDecay ${o.weightDecay}; lower lr or use mode 'lazy'`,
    );
  return f;
}

/** @internal The float32 scalars of update `t` that the catch-up of a missed step reads: Adam's `lr / bc1` and `1 / sqrt(bc2)`, SGD's rate. */
export function exactStepScalars(cfg: ExactConfig, o: TableOptions, t: number): { coef: number; ib: number } {
  if (cfg.closedForm === S.EMB_EXACT_ADAM) {
    const [b1, b2] = o.betas as [number, number];
    return {
      coef: Math.fround(o.lr / (1 - Math.pow(b1, t))),
      ib: Math.fround(1 / Math.sqrt(1 - Math.pow(b2, t))),
    };
  }
  return { coef: o.nesterov ? Math.fround(o.lr) * Math.fround(o.momentum as number) : Math.fround(o.lr), ib: 0 };
}

/**
 * @internal Writes exact mode's configuration into table descriptor `desc`: its closed form, its
 * history ring `ring` and table of powers `pow` (both allocated by the caller, 0 in lazy mode),
 * with the history starting at update `base`.
 */
export function writeExactConfig(
  engine: Engine,
  desc: number,
  cfg: ExactConfig,
  ring: number,
  pow: number,
  base: number,
): void {
  const d = desc >>> 2;
  if (cfg.closedForm !== S.EMB_EXACT_NONE) engine.heapF64.set(cfg.pow, pow >>> 3);
  const u32 = engine.heapU32;
  u32[d + S.EMB_EXACT] = cfg.closedForm;
  u32[d + S.EMB_EX_DECAY] = cfg.decay ? 1 : 0;
  u32[d + S.EMB_EX_AMS] = cfg.ams ? 1 : 0;
  u32[d + S.EMB_EX_MOM] = cfg.mom ? 1 : 0;
  u32[d + S.EMB_WINDOW] = cfg.window;
  u32[d + S.EMB_RING] = ring;
  u32[d + S.EMB_RING_MASK] = cfg.ringSize - 1;
  u32[d + S.EMB_POW] = pow;
  u32[d + S.EMB_BASE] = base;
  const f = engine.heapF64;
  const fb = (desc + 128) >>> 3;
  f[fb + S.EMBF_EPS] = cfg.eps;
  f[fb + S.EMBF_THR] = cfg.thr;
  f[fb + S.EMBF_B1] = cfg.b1;
  f[fb + S.EMBF_B2] = cfg.b2;
  f[fb + S.EMBF_BETA2] = cfg.beta2;
  f[fb + S.EMBF_RHO] = CENTRED_RHO;
}

/** @internal An exact-mode table's history in a checkpoint: each row's last update, the ring, and where the sweep is. */
export interface ExactLag {
  last: Uint32Array;
  ring: Uint8Array;
  base: number;
  logDecay: number;
  cursor: number;
  flushedAt: number;
}

/** @internal Checks a checkpoint's exact-mode history against a table of `rows` rows at update `steps` (`malformed` throws). */
export function checkLag(
  lag: unknown,
  cfg: ExactConfig,
  rows: number,
  steps: number,
  malformed: (why: string) => never,
): asserts lag is ExactLag {
  const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
  const l = lag as ExactLag | null;
  if (
    l === null ||
    typeof l !== 'object' ||
    !(l.last instanceof Uint32Array) ||
    l.last.length !== rows ||
    !(l.ring instanceof Uint8Array) ||
    l.ring.length !== cfg.ringSize * S.EMB_RING_BYTES ||
    !isCount(l.base) ||
    !Number.isFinite(l.logDecay) ||
    !isCount(l.cursor) ||
    l.cursor >= rows ||
    !isCount(l.flushedAt) ||
    l.flushedAt > steps ||
    l.base > steps
  )
    malformed('its exact-mode history does not fit the table');
  for (let r = 0; r < l.last.length; r++) if (l.last[r] > steps) malformed(`row ${r} is ahead of the table`);
}
