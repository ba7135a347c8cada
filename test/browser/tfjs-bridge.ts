// The TensorFlow.js bridge in a page (bundled by test/tfjs-browser.test.ts with esbuild): on tfjs's
// cpu and wasm backends, wasmOptimizer('Adam') against tf.train.adam on fixed gradients, a model
// saved with its optimizer and reloaded that continues bit for bit, and tensor accounting.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { init } from '../../src/index.js';
import { WasmOptimizer, wasmOptimizer } from '../../src/tfjs/index.js';

const bits = (ws: tf.Tensor[]): string[] =>
  ws.map((w) => Array.from(new Uint32Array((w.dataSync() as Float32Array).slice().buffer)).join(','));

function model(): tfl.Sequential {
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ units: 8, activation: 'tanh', inputShape: [5] }));
  m.add(tfl.layers.dense({ units: 2 }));
  return m;
}

async function onBackend(backend: string): Promise<Record<string, unknown>> {
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend ${backend} did not start`);
  await tf.ready();
  // 1. fixed gradients: the bridge against tf.train.adam
  const v = tf.variable(
    tf.tensor(
      Float32Array.from({ length: 12 }, (_, i) => Math.sin(i + 1)),
      [3, 4],
    ),
    true,
    `page_${backend}_v`,
  );
  const r = tf.variable(v.clone(), true, `page_${backend}_r`);
  const ours = wasmOptimizer('Adam', { lr: 0.05, eps: 1e-7 });
  const theirs = tf.train.adam(0.05, 0.9, 0.999, 1e-7);
  for (let s = 0; s < 30; s++) {
    const g = tf.tensor(
      Float32Array.from({ length: 12 }, (_, i) => Math.cos(3 * i + s)),
      [3, 4],
    );
    ours.applyGradients({ [v.name]: g });
    theirs.applyGradients([{ name: r.name, tensor: g }]);
    g.dispose();
  }
  const a = v.dataSync(),
    b = r.dataSync();
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
  const moved = Math.abs(a[0] - Math.fround(Math.sin(1)));
  ours.dispose();
  theirs.dispose();
  tf.dispose([v, r]);
  // 2. save with the optimizer, reload, continue
  const m = model();
  const x = tf.randomNormal([16, 5], 0, 1, 'float32', 3),
    y = tf.randomNormal([16, 2], 0, 1, 'float32', 4);
  m.compile({
    optimizer: wasmOptimizer('AdamW', { lr: 0.01, groups: [{ match: /bias/, weightDecay: 0 }] }),
    loss: 'meanSquaredError',
  });
  for (let s = 0; s < 3; s++) await m.trainOnBatch(x, y);
  let artifacts: tf.io.ModelArtifacts | undefined;
  await m.save(
    tf.io.withSaveHandler(async (art) => {
      artifacts = art;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    { includeOptimizer: true },
  );
  const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts as tf.io.ModelArtifacts));
  const n0 = tf.memory().numTensors;
  for (let s = 0; s < 3; s++) {
    await m.trainOnBatch(x, y);
    await loaded.trainOnBatch(x, y);
  }
  const tensorsAdded = tf.memory().numTensors - n0;
  const sameAfterReload = bits(m.getWeights()).join('|') === bits(loaded.getWeights()).join('|');
  const loadedIsBridge =
    loaded.optimizer instanceof WasmOptimizer && (loaded.optimizer as WasmOptimizer).iterations === 6;
  (m.optimizer as WasmOptimizer).dispose();
  (loaded.optimizer as WasmOptimizer).dispose();
  m.dispose();
  loaded.dispose();
  tf.dispose([x, y]);
  return { backend: tf.getBackend(), maxDiff, moved, sameAfterReload, loadedIsBridge, tensorsAdded };
}

/** Runs everything; `wasmDir` is where tfjs-backend-wasm's .wasm files are served. */
export async function runBridge(wasmDir: string): Promise<Record<string, unknown>[]> {
  await init();
  setWasmPaths(wasmDir);
  const out = [];
  for (const backend of ['cpu', 'wasm']) out.push(await onBackend(backend));
  return out;
}

(globalThis as unknown as { runBridge: typeof runBridge }).runBridge = runBridge;
