// The contract's TensorFlow.js example in one model: a WasmEmbedding table (updated sparsely by its
// own backward pass) in front of dense layers that wasmOptimizer trains, inside model.fit, on the
// cpu and wasm backends. The table's zero-element hook variable is trainable, so wasmOptimizer
// sees it in every step: the step must take it (nothing to update) and train the rest.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfwasm from '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { init } from '../src/index.js';
import { WasmEmbedding, wasmOptimizer } from '../src/tfjs/index.js';

const require = createRequire(import.meta.url);
tfwasm.setWasmPaths(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/');

beforeAll(async () => {
  await init();
});

describe.each(['cpu', 'wasm'] as const)('WasmEmbedding + wasmOptimizer in one model (%s backend)', (backend) => {
  it('model.fit trains the table and the dense layers, and the loss falls', async () => {
    const warn = console.warn;
    console.warn = () => {};
    try {
      expect(await tf.setBackend(backend)).toBe(true);
      await tf.ready();
    } finally {
      console.warn = warn;
    }
    const rows = 50,
      dim = 8,
      batch = 64;
    const emb = new WasmEmbedding({
      inputDim: rows,
      outputDim: dim,
      inputLength: 1,
      optimizer: 'adam',
      lr: 0.05,
      seed: 3,
    });
    const model = tfl.sequential({
      layers: [
        emb,
        tfl.layers.flatten(),
        tfl.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: 'zeros' }),
      ],
    });
    model.compile({
      optimizer: wasmOptimizer('AdamW', { lr: 0.05, weightDecay: 0.01 }),
      loss: 'categoricalCrossentropy',
    });
    // Label: the parity of the id, which only the table can carry.
    const ids = Array.from({ length: batch }, (_, i) => (i * 7) % rows);
    const xs = tf.tensor2d(ids, [batch, 1], 'int32');
    const ys = tf.cast(
      tf.oneHot(
        tf.tensor1d(
          ids.map((id) => id % 2),
          'int32',
        ),
        2,
      ),
      'float32',
    );
    const before = emb.getWeights()[0].dataSync().slice();
    const kernelBefore = model.layers[2].getWeights()[0].dataSync().slice();
    const h = await model.fit(xs, ys, { epochs: 8, batchSize: 16, shuffle: false, verbose: 0 });
    const losses = h.history.loss as number[];
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] * 0.8);
    // Both were trained: the table by its own update, the dense kernel by wasmOptimizer.
    expect(Array.from(emb.getWeights()[0].dataSync())).not.toEqual(Array.from(before));
    expect(Array.from(model.layers[2].getWeights()[0].dataSync())).not.toEqual(Array.from(kernelBefore));
    tf.dispose([xs, ys]);
    model.dispose();
  }, 120_000);
});
