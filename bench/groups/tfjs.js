// The TensorFlow.js bridge (wasm-optim/tfjs): one Adam step of a model's variables through
// `wasmOptimizer('Adam')` against tfjs's own `tf.train.adam`, both by `applyGradients` with the
// same gradient tensors, on tfjs's cpu and wasm backends (a group each). Two model sizes:
// 85,614 params (784-100-64-10 MLP) and 1,068,810 (784-1024-256-10). Targets: the bridge ≥ 5× tfjs
// on cpu, ≥ 1.0× on wasm. The split of the bridge's step is measured beside it: the gradient copies
// into engine memory (`copy-in`), the engine's update alone (`step`), and the write-back of the
// variables (`write-back`: a tensor holding a copy, `variable.assign`).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { fillUniform } from '../lib/data.js';
import { useBackend } from '../lib/tfjs.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The models' variable shapes (dense kernels and biases). */
export const TFJS_MODELS = {
  85614: [[784, 100], [100], [100, 64], [64], [64, 10], [10]],
  1068810: [[784, 1024], [1024], [1024, 256], [256], [256, 10], [10]],
};

const CONTENDERS = [
  { id: 'bridge', label: "wasmOptimizer('Adam')" },
  { id: 'tfjs', label: 'tf.train.adam' },
  { id: 'step', label: 'engine step alone' },
  { id: 'copy-in', label: 'gradients copied in' },
  { id: 'write-back', label: 'variables written back' },
  { id: 'naive-copy-in', label: 'copy-in by dataSync()' },
  { id: 'naive-write-back', label: 'write-back by slice()' },
];

let bridgeModule;
/** dist/tfjs/index.js (the built bridge), or null when it has not been built. */
async function loadBridge() {
  const file = join(ROOT, 'dist', 'tfjs', 'index.js');
  if (!existsSync(file)) return null;
  bridgeModule ??= await import(pathToFileURL(file).href);
  return bridgeModule;
}

/**
 * Plans the two tfjs groups (`tfjs-cpu`, `tfjs-wasm`).
 * @param {any} ctx
 */
export function tfjsGroups(ctx) {
  const sizes = (ctx.sizes ?? Object.keys(TFJS_MODELS).map(Number)).filter((n) => TFJS_MODELS[n]);
  const chosen = sizes.length ? sizes : Object.keys(TFJS_MODELS).map(Number);
  return ['cpu', 'wasm'].map((backend) => {
    const id = `tfjs-${backend}`;
    const tasks = [];
    for (const n of chosen) {
      for (const c of CONTENDERS) {
        tasks.push({
          name: `${id}/${c.id}/${n}`,
          contender: c.id,
          n,
          elems: n,
          setup: () => setupTask(ctx, backend, c.id, n),
        });
      }
    }
    return {
      id,
      title: `TensorFlow.js bridge on tfjs's ${backend} backend: one Adam step of a model's variables`,
      kind: 'tfjs',
      unit: 'Melem/s',
      xLabel: 'params',
      baseline: 'bridge',
      contenders: CONTENDERS,
      targets: [
        {
          contender: 'tfjs',
          min: backend === 'cpu' ? 5 : 1,
          at: 'every',
          label: backend === 'cpu' ? '≥ 5× tf.train.adam on cpu' : '≥ 1.0× tf.train.adam on wasm',
        },
      ],
      notes: [
        'both by applyGradients({ [variable.name]: gradient }) on 6 variables (dense kernels and biases); the bridge with its default options (a non-finite check before the update)',
        "step, copy-in and write-back are the bridge's parts, measured alone: bridge ≈ copy-in + step + write-back",
        "naive-copy-in (p.grad.set(g.dataSync())) and naive-write-back (assign(tf.tensor(p.data.slice()))) are the obvious two-copy routes, for comparison (on the cpu backend dataSync() is the backend's own array, so naive-copy-in is the same single copy there)",
        'leaks are checked by test/tfjs-optimizer.test.ts (tf.memory().numTensors), not here: the contenders of one size are alive together',
      ],
      tasks,
    };
  });
}

async function setupTask(ctx, backend, contender, n) {
  const { tf, skipped } = await ctx.tfjs();
  if (!tf) return { skipped };
  await useBackend(tf, backend);
  const bridge = contender === 'tfjs' ? null : await loadBridge();
  if (contender !== 'tfjs' && !bridge) return { skipped: 'dist/tfjs/index.js is missing (npm run build)' };
  const shapes = TFJS_MODELS[n];
  const vars = [],
    grads = [];
  let opt;
  const dispose = () => {
    opt?.dispose();
    tf.dispose([...vars, ...grads]);
  };
  try {
    shapes.forEach((shape, i) => {
      const size = shape.reduce((a, b) => a * b, 1);
      const init = tf.tensor(fillUniform(new Float32Array(size), 0.1, 11 + i), shape);
      vars.push(tf.variable(init));
      init.dispose();
      grads.push(tf.tensor(fillUniform(new Float32Array(size), 1e-2, 101 + i), shape));
    });
    const map = Object.fromEntries(vars.map((v, i) => [v.name, grads[i]]));
    const again = () => useBackend(tf, backend); // tensors stay on the backend that made them
    if (contender === 'tfjs') {
      opt = tf.train.adam(1e-3, 0.9, 0.999, 1e-8);
      opt.applyGradients(map); // creates its state now
      return { fn: () => opt.applyGradients(map), before: again, dispose };
    }
    opt = bridge.wasmOptimizer('Adam', { lr: 1e-3, engine: ctx.engine });
    opt.applyGradients(map); // binds the variables (their values copied in once)
    const params = vars.map((v) => opt.paramOf(v));
    switch (contender) {
      case 'bridge':
        return { fn: () => opt.applyGradients(map), before: again, dispose };
      case 'step':
        return { fn: () => opt.engineOptimizer.step(), before: again, dispose };
      case 'copy-in':
        return {
          fn: () => {
            for (let i = 0; i < grads.length; i++) bridge.copyInto(params[i].grad, grads[i]);
          },
          before: again,
          dispose,
        };
      case 'write-back':
        return {
          fn: () => {
            for (let i = 0; i < vars.length; i++) {
              const t = bridge.tensorFrom(params[i].data, vars[i].shape);
              vars[i].assign(t);
              t.dispose();
            }
          },
          before: again,
          dispose,
        };
      // What the obvious code costs: dataSync() (a copy of the tfjs heap on the wasm backend)
      // then set (a second copy); a slice() of engine memory (a copy) that tf.tensor copies again
      // into the wasm heap.
      case 'naive-copy-in':
        return {
          fn: () => {
            for (let i = 0; i < grads.length; i++) params[i].grad.set(grads[i].dataSync());
          },
          before: again,
          dispose,
        };
      case 'naive-write-back':
        return {
          fn: () => {
            for (let i = 0; i < vars.length; i++) {
              const t = tf.tensor(params[i].data.slice(), vars[i].shape);
              vars[i].assign(t);
              t.dispose();
            }
          },
          before: again,
          dispose,
        };
      default:
        throw new Error(`unknown contender ${contender}`);
    }
  } catch (e) {
    dispose();
    return { error: String(e?.message ?? e).split('\n')[0] };
  }
}
