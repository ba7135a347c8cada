// One fixed, deterministic workload run the same way in Node, in a browser page and in a Web
// Worker; the browser tests compare the returned float bits. Plain JavaScript (no build step):
// the browser loads this file as it is. Gradients come from an integer PRNG and + - * only, so
// every JavaScript engine computes the same float32 inputs.

import { rng } from '../../scripts/rng.mjs';

export { rng };

/** The dense configurations: every optimizer and the options that change its kernel's path. */
export const DENSE_CONFIGS = [
  ['Adam', { lr: 0.01 }],
  ['Adam', { lr: 0.02, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.01, amsgrad: true }],
  ['AdamW', { lr: 0.01, weightDecay: 0.05, maximize: true }],
  ['SGD', { lr: 0.05 }],
  ['SGD', { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }],
  ['SGD', { lr: 0.05, momentum: 0.8, dampening: 0.1 }],
  ['Adagrad', { lr: 0.1, lrDecay: 1e-3, initialAccumulatorValue: 0.1, weightDecay: 1e-3 }],
  ['RMSprop', { lr: 0.01 }],
  ['RMSprop', { lr: 0.01, centered: true, momentum: 0.5, weightDecay: 1e-3 }],
];

/**
 * DENSE_CONFIGS, then every other optimizer class `api` exports (NAdam, RAdam, Lion, ...) with
 * its defaults and lr 0.01, so that new optimizers are covered without editing this file.
 */
export function denseConfigs(api) {
  const named = new Set(DENSE_CONFIGS.map(([kind]) => kind));
  const extra = Object.entries(api)
    .filter(
      ([name, C]) =>
        !named.has(name) && typeof C === 'function' && C !== api.Optimizer && C.prototype instanceof api.Optimizer,
    )
    .map(([name]) => name)
    .sort() // a namespace lists its names sorted, vitest's module objects in source order
    .map((name) => [name, { lr: 0.01 }]);
  return [...DENSE_CONFIGS, ...extra];
}

/** Tensor lengths: SIMD bodies, scalar tails and a tensor that is only a tail. */
export const LENGTHS = [1, 3, 4, 17, 257, 1030];
export const STEPS = 25;

/** The exact float32 bits of `view`, as base64 (compact to send from a browser, quick to compare). */
export function bits(view) {
  const bytes = new Uint8Array(Float32Array.from(view).buffer);
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/**
 * Runs every dense configuration (denseConfigs) for STEPS steps on `engine` with the classes of
 * `api` (the package's module namespace) and returns, per configuration, the float bits of every param and
 * every state tensor. One param joins after 5 steps (its own step count), and lr changes halfway.
 */
export function runDense(api, engine) {
  const out = {};
  denseConfigs(api).forEach(([kind, options], c) => {
    const random = rng(1000 + c);
    const opt = new api[kind]({ ...options, engine });
    const params = LENGTHS.map((n) => opt.param(Float32Array.from({ length: n }, () => random() * 4 - 2)));
    const targets = LENGTHS.map((n) => Float32Array.from({ length: n }, () => random() * 2 - 1));
    for (let t = 0; t < STEPS; t++) {
      if (t === 5) {
        params.push(opt.param(Float32Array.from({ length: 33 }, () => random() - 0.5)));
        targets.push(new Float32Array(33));
      }
      if (t === 12) opt.lr = opt.lr * 0.5;
      params.forEach((p, i) => {
        const data = p.data;
        const grad = p.grad;
        const target = targets[i];
        for (let j = 0; j < data.length; j++) grad[j] = (data[j] - target[j]) * 0.5 + (random() - 0.5) * 0.1;
      });
      opt.step();
    }
    const state = opt.stateDict();
    out[`${c}:${kind}`] = {
      stepCount: opt.stepCount,
      params: params.map((p) => bits(p.data)),
      state: state.params.map((s) => Object.fromEntries(Object.entries(s.state).map(([k, v]) => [k, bits(v)]))),
    };
    opt.dispose();
  });
  return out;
}

/** The embedding configurations: every optimizer in lazy and exact mode, and a seeded init. */
export const EMBEDDING_CONFIGS = [
  { optimizer: 'adam', mode: 'lazy', lr: 0.01, weightDecay: 0.01 },
  { optimizer: 'adam', mode: 'exact', lr: 0.01 },
  { optimizer: 'adamw', mode: 'exact', lr: 0.01, amsgrad: true },
  { optimizer: 'adamw', mode: 'lazy', lr: 0.02, betas: [0.8, 0.95], eps: 1e-6 },
  { optimizer: 'sgd', mode: 'lazy', lr: 0.05, momentum: 0.9, nesterov: true },
  { optimizer: 'sgd', mode: 'exact', lr: 0.05, momentum: 0.8 },
  { optimizer: 'adagrad', mode: 'lazy', lr: 0.1, lrDecay: 1e-3, initialAccumulatorValue: 0.1 },
  { optimizer: 'adagrad', mode: 'exact', lr: 0.1 },
  { optimizer: 'adam', mode: 'lazy', lr: 0.01, seed: 7 }, // the table's own seeded N(0, 1) init
];
export const EMBEDDING_ROWS = 300;
export const EMBEDDING_DIM = 19;
const EMBEDDING_UPDATES = 20;

function embeddingInit(c) {
  const random = rng(5000 + c);
  return Float32Array.from({ length: EMBEDDING_ROWS * EMBEDDING_DIM }, () => random() * 2 - 1);
}

/**
 * Runs every embedding configuration: EMBEDDING_UPDATES updates of 48 ids drawn with repeats
 * (skewed towards low ids, as words are), then a lookup and a flush. Returns the float bits of the
 * lookup, of the weights and of every state tensor.
 */
export function runEmbedding(api, engine) {
  const out = {};
  EMBEDDING_CONFIGS.forEach((options, c) => {
    const random = rng(2000 + c);
    const init = options.seed === undefined ? { init: embeddingInit(c) } : {};
    const table = new api.Embedding(EMBEDDING_ROWS, EMBEDDING_DIM, { ...options, ...init, engine });
    for (let u = 0; u < EMBEDDING_UPDATES; u++) {
      const ids = Int32Array.from({ length: 48 }, () => Math.floor(random() * random() * EMBEDDING_ROWS));
      const grads = Float32Array.from({ length: 48 * EMBEDDING_DIM }, () => random() - 0.5);
      table.update(ids, grads);
    }
    const looked = table.lookup(Int32Array.from([0, 1, 2, 150, 299, 0]));
    table.flush();
    out[`${c}:${options.optimizer}/${options.mode}`] = {
      updates: table.stepCount,
      lookup: bits(looked),
      weights: bits(table.weights),
      state: Object.fromEntries(table.stateKeys.map((k) => [k, bits(table.state(k))])),
    };
    table.dispose();
  });
  return out;
}

/** The starting weights of embedding configuration `c` (when it is given values). */
export function initialEmbedding(c) {
  return bits(embeddingInit(c));
}

/** The starting values runDense uses for configuration `c` (to check that the params moved). */
export function initialParams(c) {
  const random = rng(1000 + c);
  return LENGTHS.map((n) => bits(Float32Array.from({ length: n }, () => random() * 4 - 2)));
}

/**
 * Runs the dense and the embedding workloads on the default engine (`api.init(initArg)`) and on a
 * fresh engine of each build, and reports which build the default engine is. Used by the page,
 * the worker and Node.
 */
export async function runAll(api, initArg) {
  const engine = await api.init(initArg);
  const simd = await api.createEngine({ simd: true });
  const scalar = await api.createEngine({ simd: false });
  return {
    defaultSimd: engine.simd,
    default: runDense(api, engine),
    simd: runDense(api, simd),
    scalar: runDense(api, scalar),
    embedding: {
      default: runEmbedding(api, engine),
      simd: runEmbedding(api, simd),
      scalar: runEmbedding(api, scalar),
    },
  };
}
