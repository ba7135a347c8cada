// Dense optimizer steps: every optimizer exported by the package, at each size, against a plain JS
// loop of the same formula, tfjs-core (cpu and wasm backends), the same loop in C compiled natively
// (C SSE) and by clang to wasm SIMD in this process (the wasm limit), and the memory roofline (a
// wasm kernel that moves the same bytes with no arithmetic).
import { grads, params } from '../lib/data.js';
import { useBackend } from '../lib/tfjs.js';
import { rooflineKernel } from '../lib/roofline.js';
import {
  IMPORT_MEMORY,
  RESET_EVERY,
  clangKernel,
  clangKernelOnParam,
  clangWasm,
  hasClangKernel,
  resetEvery,
} from '../lib/wasm-clang.js';

export const DENSE_SIZES = [1024, 4096, 65536, 262144, 1048576, 4194304, 16777216];
export const DENSE_SIZES_QUICK = [1024, 65536];

const LR = 1e-3;
/**
 * Rounds per size (the run's --rounds, when given, or --quick wins):
 * the same time budget in 12 rounds instead of 3. Steps of microseconds on a shared VM meet bursts
 * of load from the other core that last longer than one contender's turn; shorter turns spread them
 * over the contenders. Measured on AMD EPYC family 23 (load 3-6), engine / wasm limit: 8 repeats in
 * one process, lowest-highest 0.72-1.02 with 3 × 200 ms vs 0.87-1.05 with 12 × 50 ms (RMSprop 1K),
 * 0.73-0.99 vs 0.87-0.99 (Adam 1K); three alternating `bench/index.js` runs (Adam, RMSprop, NAdam,
 * SGD at 1K and 4K): NAdam 1K 1.03/0.78/0.81 vs 0.84/0.84/0.84, 4K 0.79/0.92/0.97 vs 0.93/0.92/0.92,
 * RMSprop 4K 0.92/0.79/0.98 vs 0.97/0.93/-. What more rounds cannot fix: in 3 of the 24 cells of the
 * 12-round runs the wasm limit ran at 0.65-0.7× its usual speed through all 12 rounds with a spread
 * under 1% (a state of that process's contender, not load). From 4M on, the other core's work
 * shares the L3 the step's arrays fill: at every size since 2026-12-06 (up to 256K before). AMD EPYC
 * family 26, load 3-6, SGD, Nesterov and centered RMSprop at 4M and 16M over the wasm limit (on
 * the engine's arrays), two runs each way, alternated: 3 rounds 0.96-1.12, 12 rounds 0.99-1.01
 * (one cell 1.17). It costs the slowest contenders at 16M (plain JS, tfjs-wasm: five samples of
 * 30-100 ms a round) a few seconds a group.
 */
export const DENSE_FINE_ROUNDS = 12;

/** tfjs's cpu backend is measured up to this size by default (it is flat and slow beyond). */
export const TFJS_CPU_MAX = 1048576;

/**
 * A plain JS step over Float32Arrays, written as a user would (float64 scalars, one loop).
 * @typedef {(n: number) => () => void} JsFactory
 */

// Each known optimizer: engine constructor and options, state tensor count (for the roofline), the
// plain JS loop, the tfjs optimizer, and the C loop (bench/c/dense.c).
/** @type {Record<string, { title: string, className: string, options: object, states: number, js?: JsFactory, tfjs?: (tf: any) => any, tfjsNote?: string, c?: string, targets: boolean }>} */
const SPECS = {
  adam: {
    title: 'Adam',
    className: 'Adam',
    options: { lr: LR },
    states: 2,
    c: 'adam',
    targets: true,
    tfjs: (tf) => tf.train.adam(LR, 0.9, 0.999, 1e-8),
    js: (n) => {
      const p = params(n),
        g = grads(n),
        m = new Float32Array(n),
        v = new Float32Array(n);
      let t = 0;
      return resetEvery(() => {
        t++;
        const ss = LR / (1 - 0.9 ** t),
          ib = 1 / Math.sqrt(1 - 0.999 ** t);
        for (let i = 0; i < n; i++) {
          const gi = g[i];
          const mi = (m[i] = 0.9 * m[i] + 0.1 * gi);
          const vi = (v[i] = 0.999 * v[i] + 0.001 * gi * gi);
          p[i] -= (ss * mi) / (Math.sqrt(vi) * ib + 1e-8);
        }
      }, [p, m, v]);
    },
  },
  adamw: {
    title: 'AdamW',
    className: 'AdamW',
    options: { lr: LR, weightDecay: 0.01 },
    states: 2,
    c: 'adamw',
    targets: true,
    tfjsNote: 'tfjs-core has no AdamW',
    js: (n) => {
      const p = params(n),
        g = grads(n),
        m = new Float32Array(n),
        v = new Float32Array(n);
      let t = 0;
      const decay = 1 - LR * 0.01;
      return resetEvery(() => {
        t++;
        const ss = LR / (1 - 0.9 ** t),
          ib = 1 / Math.sqrt(1 - 0.999 ** t);
        for (let i = 0; i < n; i++) {
          const gi = g[i];
          const mi = (m[i] = 0.9 * m[i] + 0.1 * gi);
          const vi = (v[i] = 0.999 * v[i] + 0.001 * gi * gi);
          p[i] = p[i] * decay - (ss * mi) / (Math.sqrt(vi) * ib + 1e-8);
        }
      }, [p, m, v]);
    },
  },
  'sgd-momentum': {
    title: 'SGD with momentum 0.9',
    className: 'SGD',
    options: { lr: LR, momentum: 0.9 },
    states: 1,
    c: 'sgd-momentum',
    targets: true,
    tfjs: (tf) => tf.train.momentum(LR, 0.9),
    js: (n) => {
      const p = params(n),
        g = grads(n),
        b = new Float32Array(n);
      let t = 0;
      return resetEvery(() => {
        t++;
        if (t === 1) {
          for (let i = 0; i < n; i++) {
            b[i] = g[i];
            p[i] -= LR * g[i];
          }
        } else {
          for (let i = 0; i < n; i++) {
            const bi = (b[i] = 0.9 * b[i] + g[i]);
            p[i] -= LR * bi;
          }
        }
      }, [p, b]);
    },
  },
  adagrad: {
    title: 'Adagrad',
    className: 'Adagrad',
    options: { lr: 0.01 },
    states: 1,
    c: 'adagrad',
    targets: true,
    tfjs: (tf) => tf.train.adagrad(0.01, 0),
    js: (n) => {
      const p = params(n),
        g = grads(n),
        s = new Float32Array(n);
      return resetEvery(() => {
        for (let i = 0; i < n; i++) {
          const gi = g[i];
          const si = (s[i] += gi * gi);
          p[i] -= (0.01 * gi) / (Math.sqrt(si) + 1e-10);
        }
      }, [p, s]);
    },
  },
  rmsprop: {
    title: 'RMSprop',
    className: 'RMSprop',
    options: { lr: 0.01 },
    states: 1,
    c: 'rmsprop',
    targets: true,
    tfjs: (tf) => tf.train.rmsprop(0.01, 0.99, 0, 1e-8, false),
    js: (n) => {
      const p = params(n),
        g = grads(n),
        s = new Float32Array(n);
      return resetEvery(() => {
        for (let i = 0; i < n; i++) {
          const gi = g[i];
          const si = (s[i] = 0.99 * s[i] + 0.01 * gi * gi);
          p[i] -= (0.01 * gi) / (Math.sqrt(si) + 1e-8);
        }
      }, [p, s]);
    },
  },
  adamax: {
    title: 'Adamax',
    className: 'Adamax',
    options: { lr: 2e-3 },
    states: 2,
    c: 'adamax',
    targets: false,
    tfjs: (tf) => tf.train.adamax(2e-3, 0.9, 0.999, 1e-8, 0),
    js: (n) => {
      const p = params(n),
        g = grads(n),
        m = new Float32Array(n),
        u = new Float32Array(n);
      let t = 0;
      return resetEvery(() => {
        t++;
        const clr = 2e-3 / (1 - 0.9 ** t);
        for (let i = 0; i < n; i++) {
          const gi = g[i];
          const mi = (m[i] = 0.9 * m[i] + 0.1 * gi);
          const ui = (u[i] = Math.max(0.999 * u[i], Math.abs(gi) + 1e-8));
          p[i] -= (clr * mi) / ui;
        }
      }, [p, m, u]);
    },
  },
  adadelta: {
    title: 'Adadelta',
    className: 'Adadelta',
    options: { lr: 1 },
    states: 2,
    c: 'adadelta',
    targets: false,
    tfjs: (tf) => tf.train.adadelta(1, 0.9, 1e-6),
    js: (n) => {
      const p = params(n),
        g = grads(n),
        s = new Float32Array(n),
        a = new Float32Array(n);
      return resetEvery(() => {
        for (let i = 0; i < n; i++) {
          const gi = g[i];
          const si = (s[i] = 0.9 * s[i] + 0.1 * gi * gi);
          const d = (Math.sqrt(a[i] + 1e-6) / Math.sqrt(si + 1e-6)) * gi;
          a[i] = 0.9 * a[i] + 0.1 * d * d;
          p[i] -= d;
        }
      }, [p, s, a]);
    },
  },
  nadam: {
    title: 'NAdam',
    className: 'NAdam',
    options: { lr: 2e-3 },
    states: 2,
    c: 'nadam',
    targets: false,
    tfjsNote: 'tfjs-core has no NAdam',
    js: (n) => {
      const p = params(n),
        g = grads(n),
        m = new Float32Array(n),
        v = new Float32Array(n);
      let t = 0;
      let prod = 1;
      return resetEvery(() => {
        t++;
        const mu = 0.9 * (1 - 0.5 * 0.96 ** (t * 0.004));
        const mu1 = 0.9 * (1 - 0.5 * 0.96 ** ((t + 1) * 0.004));
        prod *= mu;
        const cg = (2e-3 * (1 - mu)) / (1 - prod),
          cm = (2e-3 * mu1) / (1 - prod * mu1);
        const bc2 = 1 - 0.999 ** t;
        for (let i = 0; i < n; i++) {
          const gi = g[i];
          const mi = (m[i] = 0.9 * m[i] + 0.1 * gi);
          const vi = (v[i] = 0.999 * v[i] + 0.001 * gi * gi);
          const d = Math.sqrt(vi / bc2) + 1e-8;
          p[i] -= (cg * gi) / d + (cm * mi) / d;
        }
      }, [p, m, v]);
    },
  },
  radam: {
    title: 'RAdam',
    className: 'RAdam',
    options: { lr: LR },
    states: 2,
    c: 'radam',
    targets: false,
    tfjsNote: 'tfjs-core has no RAdam',
    js: (n) => {
      const p = params(n),
        g = grads(n),
        m = new Float32Array(n),
        v = new Float32Array(n);
      let t = 0;
      const rhoInf = 2 / (1 - 0.999) - 1;
      return resetEvery(() => {
        t++;
        const b2t = 0.999 ** t,
          bc1 = 1 - 0.9 ** t,
          bc2 = 1 - b2t;
        const rho = rhoInf - (2 * t * b2t) / bc2;
        const rect = rho > 5 ? Math.sqrt(((rho - 4) * (rho - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rho)) : 0;
        const cr = (LR / bc1) * rect * Math.sqrt(bc2),
          cp = LR / bc1;
        for (let i = 0; i < n; i++) {
          const gi = g[i];
          const mi = (m[i] = 0.9 * m[i] + 0.1 * gi);
          const vi = (v[i] = 0.999 * v[i] + 0.001 * gi * gi);
          p[i] -= rho > 5 ? (cr * mi) / (Math.sqrt(vi) + 1e-8) : cp * mi;
        }
      }, [p, m, v]);
    },
  },
  lion: {
    title: 'Lion',
    className: 'Lion',
    options: { lr: 1e-4 },
    states: 1,
    c: 'lion',
    targets: false,
    tfjsNote: 'tfjs-core has no Lion',
    js: (n) => {
      const p = params(n),
        g = grads(n),
        m = new Float32Array(n);
      return resetEvery(() => {
        for (let i = 0; i < n; i++) {
          const gi = g[i];
          const c = 0.9 * m[i] + 0.1 * gi;
          m[i] = 0.99 * m[i] + 0.01 * gi;
          p[i] -= 1e-4 * Math.sign(c);
        }
      }, [p, m]);
    },
  },
  // Variants of the options (issue #17: every dense optimizer and variant against its wasm limit;
  // the same options as bench/kernel-ab.js). Engine, C and roofline columns only.
  amsgrad: {
    title: 'Adam with amsgrad',
    className: 'Adam',
    options: { lr: LR, amsgrad: true },
    states: 3,
    c: 'amsgrad',
    targets: false,
  },
  'adam-l2': {
    title: 'Adam with L2 weight decay 0.01',
    className: 'Adam',
    options: { lr: LR, weightDecay: 0.01 },
    states: 2,
    c: 'adam-l2',
    targets: false,
  },
  sgd: {
    title: 'SGD',
    className: 'SGD',
    options: { lr: LR },
    states: 0,
    c: 'sgd',
    targets: false,
  },
  'sgd-nesterov': {
    title: 'SGD with Nesterov momentum 0.9',
    className: 'SGD',
    options: { lr: LR, momentum: 0.9, nesterov: true },
    states: 1,
    c: 'sgd-nesterov',
    targets: false,
  },
  'rmsprop-centered': {
    title: 'RMSprop, centered',
    className: 'RMSprop',
    options: { lr: 0.01, centered: true },
    states: 2,
    c: 'rmsprop-centered',
    targets: false,
  },
};

/** Contender ids, in table order, with their labels. */
export const CONTENDERS = {
  engine: 'wasm-optim',
  'engine-scalar': 'scalar build',
  'engine-checked': "nonFinite 'throw'",
  js: 'plain JS',
  'tfjs-cpu': 'tfjs-cpu',
  'tfjs-wasm': 'tfjs-wasm',
  'c-sse': 'C SSE',
  'wasm-clang': 'wasm (clang)',
  roofline: 'roofline',
};

/** The ratio columns' names where they differ from the contender's label. */
const RATIO_LABELS = { 'wasm-clang': 'wasm limit' };

/** The dense targets of BENCHMARKS.md (engine throughput over the contender's). */
export const DENSE_TARGETS = [
  { contender: 'c-sse', min: 0.9, at: 'every', label: '≥ 0.9× C SSE at every size' },
  { contender: 'tfjs-wasm', min: 8, at: 'every', label: '≥ 8× tfjs-wasm' },
  { contender: 'js', min: 10, at: 'every', label: '≥ 10× plain JS' },
  { contender: 'roofline', min: 0.85, at: 16777216, label: '≥ 85% of the roofline at 16M' },
];

/** The wasm-limit targets of BENCHMARKS.md: every dense optimizer with a C loop. */
export const WASM_LIMIT_TARGETS = [
  { contender: 'wasm-clang', min: 0.9, at: 'every', upTo: 1024, label: '≥ 0.9× the wasm limit at 1K' },
  { contender: 'wasm-clang', min: 0.97, at: 'every', from: 4096, label: '≥ 0.97× the wasm limit at 4K–16M' },
];

/** Adam's own target against native C (BENCHMARKS.md). */
const ADAM_C_TARGET = {
  contender: 'c-sse',
  min: 0.95,
  at: 'every',
  from: 4096,
  upTo: 1048576,
  label: 'Adam ≥ 0.95× C SSE at 4K–1M',
};

/**
 * The engine's class and options of every known spec that has a loop in bench/c/dense.c, by bench
 * kernel id: what bench/kernel-ab.js steps and test/bench-yardsticks checks bit for bit against the
 * wasm limit, so that both use the options the dense groups measure.
 * @returns {[string, string, object][]} [id, className, options]
 */
export function clangKernelSpecs() {
  return Object.entries(SPECS)
    .filter(([id, spec]) => spec.c === id && hasClangKernel(id))
    .map(([id, spec]) => [id, spec.className, spec.options]);
}

/**
 * The dense optimizer groups to run: the known specs whose class the package exports, then any
 * other exported Optimizer subclass (engine and roofline only, with a note).
 * @param {Record<string, any>} lib the package's exports
 */
export function denseSpecs(lib) {
  const out = [];
  const covered = new Set();
  for (const [id, spec] of Object.entries(SPECS)) {
    const cls = lib[spec.className];
    if (typeof cls !== 'function') continue;
    covered.add(spec.className);
    out.push({ id, ...spec });
  }
  for (const [name, cls] of Object.entries(lib)) {
    if (typeof cls !== 'function' || covered.has(name) || cls === lib.Optimizer) continue;
    if (!(lib.Optimizer && cls.prototype instanceof lib.Optimizer)) continue;
    covered.add(name);
    out.push({
      id: name.toLowerCase(),
      title: name,
      className: name,
      options: {},
      states: -1,
      targets: false,
      unknown: true,
    });
  }
  return out;
}

/**
 * Plans the tasks of one dense group.
 * @param {any} ctx the run's context (see bench/index.js)
 * @param {ReturnType<typeof denseSpecs>[number]} spec
 */
export function denseGroup(ctx, spec) {
  const { lib, engine } = ctx;
  const sizes = ctx.sizes ?? (ctx.quick ? DENSE_SIZES_QUICK : DENSE_SIZES);
  const notes = [];
  let states = spec.states;
  if (states < 0) {
    // An optimizer this suite does not know yet: count its state tensors from a tiny instance.
    const probe = new lib[spec.className]({ engine });
    states = probe.param(4).stateKeys.length;
    probe.dispose();
    notes.push(
      `${spec.title}: no plain-JS, tfjs or C reference in bench/groups/dense.js yet; engine and roofline only`,
    );
  }
  const contenders = ['engine'];
  if (spec.id === 'adam') contenders.push('engine-scalar', 'engine-checked');
  if (spec.js) contenders.push('js');
  if (spec.tfjs) contenders.push('tfjs-cpu', 'tfjs-wasm');
  else if (spec.tfjsNote) notes.push(spec.tfjsNote);
  if (spec.c) contenders.push('c-sse');
  if (spec.c && hasClangKernel(spec.id)) contenders.push('wasm-clang');
  if (states <= 2) contenders.push('roofline');
  else notes.push(`no roofline for ${states} state tensors`);

  const cpuMax = ctx.tfjsCpuMax ?? TFJS_CPU_MAX;
  if (spec.tfjs && sizes.some((n) => n > cpuMax)) {
    notes.push(
      `tfjs-cpu runs up to ${cpuMax} elements (a few Melem/s at every size; a 16M step takes seconds); --tfjs-cpu-max N changes that`,
    );
  }
  const tasks = [];
  for (const n of sizes) {
    for (const c of contenders) {
      if (c === 'tfjs-cpu' && n > cpuMax) continue;
      tasks.push({
        name: `${spec.id}/${c}/${n}`,
        contender: c,
        n,
        elems: n,
        rounds: DENSE_FINE_ROUNDS,
        setup: () => setupDense(ctx, spec, states, c, n),
      });
    }
  }
  return {
    id: spec.id,
    title: `${spec.title}: one dense step`,
    kind: 'dense',
    unit: 'Melem/s',
    xLabel: 'elements',
    baseline: 'engine',
    contenders: contenders.map((id) => ({
      id,
      label: CONTENDERS[id],
      ...(RATIO_LABELS[id] ? { ratioLabel: RATIO_LABELS[id] } : {}),
    })),
    targets: [
      ...(spec.targets ? DENSE_TARGETS : []),
      ...(spec.id === 'adam' ? [ADAM_C_TARGET] : []),
      ...(contenders.includes('wasm-clang') ? WASM_LIMIT_TARGETS : []),
    ],
    notes,
    tasks,
  };
}

/**
 * The engine column's param per group and size (`${id}/${n}`), for the wasm limit to run on the same
 * arrays (lib/wasm-clang.js clangKernelOnParam); the engine's set-up runs first (contender order) and
 * its dispose removes the entry.
 */
const engineParams = new Map();

/**
 * Sets up one contender at one size, once for all the rounds of the task. Returns the operation
 * to time (`fn`, with an optional `before` hook run before each round and `dispose`), an
 * `external` measurement (the C programs time themselves), or why there is none.
 */
async function setupDense(ctx, spec, states, contender, n) {
  const { lib } = ctx;
  switch (contender) {
    case 'engine':
    case 'engine-scalar':
    case 'engine-checked': {
      const engine = contender === 'engine-scalar' ? ctx.scalarEngine : ctx.engine;
      const nonFinite = contender === 'engine-checked' ? 'throw' : 'ignore';
      const opt = new lib[spec.className]({ ...spec.options, engine, nonFinite });
      let p;
      try {
        p = opt.param(params(n));
        p.grad.set(grads(n));
      } catch (e) {
        opt.dispose();
        throw e;
      }
      // Views, not copies: another contender's set-up may grow the engine's memory (and replace them).
      const views = () => [p.data, ...p.stateKeys.map((k) => p.state(k))];
      const key = `${spec.id}/${n}`;
      if (contender === 'engine') engineParams.set(key, { param: p, memory: engine.memory });
      const dispose = () => {
        if (engineParams.get(key)?.param === p) engineParams.delete(key);
        opt.dispose();
      };
      return { fn: resetEvery(() => opt.step(), views), dispose };
    }
    case 'js':
      return { fn: spec.js(n) };
    case 'tfjs-cpu':
    case 'tfjs-wasm': {
      const { tf, skipped } = await ctx.tfjs();
      if (!tf) return { skipped };
      const backend = contender.slice(5);
      await useBackend(tf, backend);
      // Counted on this backend only: tf.memory() counts every backend's tensors, and the other
      // tfjs contender's are alive until its own dispose.
      const live = () => tf.findBackend(backend).numDataIds();
      const before = live();
      let v, g, opt, init;
      const saved = [];
      const dispose = () => {
        opt?.dispose();
        v?.dispose();
        g?.dispose();
        init?.dispose();
        for (const s of saved) s.saved.dispose();
        const leaked = live() - before;
        if (leaked > 0) ctx.note(`tfjs ${contender}: ${leaked} tensors left after ${spec.id}/${n}`);
      };
      try {
        init = tf.tensor1d(params(n));
        v = tf.variable(init);
        g = tf.tensor1d(grads(n));
        opt = spec.tfjs(tf);
        const map = { [v.name]: g };
        opt.applyGradients(map); // creates the optimizer's state now, on this backend
        // The state variables (getWeights also returns the step count, a tensor of its own), kept
        // as they are after this first step so that the resets (resetEvery) can restore them: the
        // param goes back to `init`, as every contender's does.
        for (const w of await opt.getWeights()) {
          if (w.tensor instanceof tf.Variable) saved.push({ variable: w.tensor, saved: w.tensor.clone() });
          else w.tensor.dispose();
        }
        let k = 0;
        const step = () => {
          if (k === RESET_EVERY) {
            v.assign(init);
            for (const s of saved) s.variable.assign(s.saved);
            k = 0;
          }
          k++;
          opt.applyGradients(map);
        };
        // Tensors stay on the backend that made them: switch back before each round.
        return { fn: step, before: () => useBackend(tf, backend), dispose };
      } catch (e) {
        dispose();
        return { error: tfjsError(e) };
      }
    }
    case 'c-sse': {
      if (ctx.c.skipped) return { skipped: ctx.c.skipped };
      return {
        external: () => {
          const [out] = ctx.c.run('dense', [spec.c, String(ctx.timeMs), String(n)]);
          return { samples: out.samples, reps: out.reps };
        },
      };
    }
    case 'wasm-clang': {
      // The same C loop compiled by clang to wasm SIMD, in this process's V8 (bench/lib/wasm-clang.js),
      // on the engine column's own arrays (its memory imported) so that the two differ only in code;
      // in a memory of its own when the engine column was not set up (a filtered run).
      const on = engineParams.get(`${spec.id}/${n}`);
      const wasm = clangWasm(on ? IMPORT_MEMORY : []);
      if (wasm.skipped) return { skipped: wasm.skipped };
      const k = on
        ? clangKernelOnParam(wasm.module, spec.id, on)
        : clangKernel(wasm.module, spec.id, { n, fill: [params(n), grads(n)] });
      return { fn: k.run, dispose: () => {} };
    }
    case 'roofline': {
      // The bench-only kernel in a memory of its own, built like the engine column (SIMD or not).
      const roof = rooflineKernel({ simd: ctx.engine.simd, n, buffers: 2 + states, fill: [params(n), grads(n)] });
      // It does no arithmetic, but it pays for the same resets as the others.
      const views = [roof.views[0], ...roof.views.slice(2)];
      return { fn: resetEvery(roof.run, views), dispose: () => {} };
    }
    default:
      throw new Error(`unknown contender ${contender}`);
  }
}

/** tfjs's out-of-memory errors are expected at the largest sizes: say so plainly. */
export function tfjsError(e) {
  const msg = String(e?.message ?? e);
  if (/memory|allocat|RangeError|Aborted/i.test(msg)) return `out of memory (${msg.split('\n')[0].slice(0, 120)})`;
  return msg.split('\n')[0].slice(0, 200);
}
