// The comparison BENCHMARKS.md asks for: the tagger's table as a tfjs-core variable trained by
// tfjs's own optimizer. tfjs has no sparse optimizer, so each update is a dense gradient of the
// whole table (the batch's rows scattered into zeros) applied by `optimizer.applyGradients`.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ScoreTable } from './tagger.js';

let tables = 0;

/** tfjs optimizers the comparison supports (tfjs-core has no AdamW). */
export type TfjsOptimizer = 'adam' | 'adagrad' | 'sgd';
/** tfjs backends: `wasm` (SIMD kernels, the fast one) or `cpu` (plain JavaScript). */
export type TfjsBackend = 'wasm' | 'cpu';

/**
 * A table of `rows * dim` zeros in tfjs on `backend`, trained by tfjs's `optimizer` with the
 * engine's defaults (Adam: betas 0.9/0.999, eps 1e-8; Adagrad: accumulator starting at 0, where
 * tfjs would start at 0.1).
 */
export async function createTfjsTable(
  backend: TfjsBackend,
  rows: number,
  dim: number,
  optimizer: TfjsOptimizer,
  lr: number,
): Promise<ScoreTable & { readonly version: string }> {
  const require = createRequire(import.meta.url);
  const warn = console.warn;
  const log = console.log;
  // tfjs advertises tfjs-node on the console when it loads in Node; keep the demo's output clean.
  console.warn = console.log = () => {};
  let tf: typeof import('@tensorflow/tfjs-core');
  let w: import('@tensorflow/tfjs-core').Variable;
  try {
    tf = await import('@tensorflow/tfjs-core');
    if (backend === 'wasm') {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      wasm.setWasmPaths(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/');
    } else {
      await import('@tensorflow/tfjs-backend-cpu');
    }
    if (!(await tf.setBackend(backend))) throw new Error(`tfjs: the ${backend} backend failed to start`);
    await tf.ready();
    // The first kernel run prints the message on the cpu backend.
    w = tf.variable(tf.zeros([rows, dim]), true, `scores${++tables}`);
  } finally {
    console.warn = warn;
    console.log = log;
  }
  const version = (require('@tensorflow/tfjs-core/package.json') as { version: string }).version;
  const opt =
    optimizer === 'adam'
      ? tf.train.adam(lr, 0.9, 0.999, 1e-8)
      : optimizer === 'adagrad'
        ? tf.train.adagrad(lr, 0)
        : tf.train.sgd(lr);
  return {
    version,
    begin(ids) {
      const weights = tf.tidy(() => tf.gather(w, tf.tensor1d(ids, 'int32')).dataSync() as Float32Array);
      return { weights, grads: new Float32Array(ids.length * dim) };
    },
    apply(ids, grads) {
      tf.tidy(() => {
        const g = tf.scatterND(tf.tensor2d(ids, [ids.length, 1], 'int32'), tf.tensor2d(grads, [ids.length, dim]), [
          rows,
          dim,
        ]);
        opt.applyGradients([{ name: w.name, tensor: g }]);
      });
    },
    all() {
      return w.dataSync() as Float32Array;
    },
    dispose() {
      opt.dispose();
      w.dispose();
    },
  };
}
