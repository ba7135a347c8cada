// WasmEmbedding (src/tfjs/embedding.ts): a tfjs-layers layer whose table is an engine Embedding.
// Forward = the table's rows; backward = Embedding.update with the summed output gradients; it
// trains inside model.fit on tfjs's cpu and wasm backends; the table goes through model.save and
// tf.loadLayersModel; bad inputs name the layer.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfwasm from '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { init, Embedding, NonFiniteGradientError, type EmbeddingOptions } from '../src/index.js';
import { WasmEmbedding } from '../src/tfjs/index.js';
import { rng } from './rng.js';

const BACKENDS = ['cpu', 'wasm'] as const;
type Backend = (typeof BACKENDS)[number];

const require = createRequire(import.meta.url);
tfwasm.setWasmPaths(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/');

async function useBackend(name: Backend): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`tfjs backend ${name} failed to start`);
  await tf.ready();
}

const quiet = { warn: console.warn, log: console.log };
beforeAll(async () => {
  await init();
  // tfjs advertises tfjs-node on the console in Node.
  console.warn = () => {};
  await useBackend('cpu');
  tf.zeros([1]).dispose();
  console.warn = quiet.warn;
});
afterAll(async () => {
  await useBackend('cpu');
});

/** An int32 tensor of ids in [0, rows), seeded. */
function randomIds(shape: number[], rows: number, seed: number): tf.Tensor {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Int32Array(n);
  for (let i = 0; i < n; i++) v[i] = Math.floor(r() * rows);
  return tf.tensor(v, shape, 'int32');
}

/** Snapshot of a save: the artifacts, via an in-memory handler. */
async function saveToMemory(model: tfl.LayersModel): Promise<tf.io.ModelArtifacts> {
  let artifacts: tf.io.ModelArtifacts | null = null;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return artifacts as unknown as tf.io.ModelArtifacts;
}

function tableModel(layer: WasmEmbedding, units = 1): tfl.Sequential {
  return tfl.sequential({
    layers: [
      layer,
      tfl.layers.flatten(),
      tfl.layers.dense({
        units,
        activation: units > 1 ? 'softmax' : 'linear',
        kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }),
      }),
    ],
  });
}

describe.each(BACKENDS)('WasmEmbedding on the tfjs %s backend', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('forward: the output holds the table rows of the ids, shape [...ids.shape, outputDim]', () => {
    const layer = new WasmEmbedding({ inputDim: 50, outputDim: 6, seed: 11 });
    const ids = tf.tensor2d(
      [
        [3, 0, 49],
        [7, 7, 1],
      ],
      [2, 3],
      'int32',
    );
    const out = layer.apply(ids) as tf.Tensor;
    expect(out.shape).toEqual([2, 3, 6]);
    expect(out.dtype).toBe('float32');
    const want = layer.table.lookup(new Int32Array([3, 0, 49, 7, 7, 1]));
    expect(Array.from(out.dataSync())).toEqual(Array.from(want));
    // float32 ids holding integers are accepted, as by tfjs's embedding layer
    const out2 = layer.apply(tf.tensor1d([49, 3], 'float32')) as tf.Tensor;
    expect(out2.shape).toEqual([2, 6]);
    expect(Array.from(out2.dataSync())).toEqual(Array.from(layer.table.lookup(new Int32Array([49, 3]))));
    // the default initialisation is tfjs's: U[-0.05, 0.05)
    const w = layer.table.weights;
    expect(Math.max(...w)).toBeLessThan(0.05);
    expect(Math.min(...w)).toBeGreaterThanOrEqual(-0.05);
    tf.dispose([ids, out, out2]);
    layer.dispose();
  });

  it('the output is a copy: later updates and lookups do not change it', () => {
    const layer = new WasmEmbedding({ inputDim: 20, outputDim: 4, optimizer: 'sgd', lr: 1, seed: 2 });
    const ids = tf.tensor1d([5, 6], 'int32');
    const out = layer.apply(ids) as tf.Tensor;
    const before = Array.from(out.dataSync());
    layer.table.update(new Int32Array([5, 6]), new Float32Array(8).fill(1));
    const other = layer.apply(tf.tensor1d([1, 2], 'int32')) as tf.Tensor; // reuses the engine's gather buffer
    expect(Array.from(out.dataSync())).toEqual(before);
    expect(Array.from(layer.table.lookup(new Int32Array([5])))).toEqual(
      before.slice(0, 4).map((v) => Math.fround(v - 1)),
    );
    tf.dispose([ids, out, other]);
    layer.dispose();
  });

  it('backward: one Embedding.update with the output gradients (duplicate ids summed), like a table stepped by hand', () => {
    for (const options of [
      { optimizer: 'adam', lr: 0.01 },
      { optimizer: 'adamw', lr: 0.01, weightDecay: 0.1, mode: 'exact' },
      { optimizer: 'sgd', lr: 0.5, momentum: 0.9 },
      { optimizer: 'adagrad', lr: 0.1 },
    ] as EmbeddingOptions[]) {
      const layer = new WasmEmbedding({ inputDim: 30, outputDim: 8, seed: 5, ...options });
      const byHand = new Embedding(30, 8, {
        seed: 5,
        init: { distribution: 'uniform', low: -0.05, high: 0.05 },
        ...options,
      });
      expect(Array.from(layer.table.weights)).toEqual(Array.from(byHand.weights));
      const idList = [
        [4, 9, 4],
        [29, 0, 4],
      ];
      const ids = tf.tensor2d(idList, [2, 3], 'int32');
      layer.apply(ids); // build
      const hook = layer.trainableWeights[0].read() as tf.Variable;
      for (let step = 0; step < 3; step++) {
        // loss = sum(out * C): the output gradient is C
        const c = tf.randomNormal([2, 3, 8], 0, 1, 'float32', 100 + step);
        const { grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(ids) as tf.Tensor, c)) as tf.Scalar, [hook]);
        expect(grads[hook.name].shape).toEqual([0]);
        byHand.update(new Int32Array(idList.flat()), c.dataSync() as Float32Array);
        tf.dispose([c, grads[hook.name]]);
      }
      expect(layer.table.stepCount).toBe(3);
      expect(Array.from(layer.table.weights)).toEqual(Array.from(byHand.weights));
      for (const k of byHand.stateKeys) expect(Array.from(layer.table.state(k))).toEqual(Array.from(byHand.state(k)));
      ids.dispose();
      layer.dispose();
      byHand.dispose();
    }
  });

  it('inside model.fit: the table steps once per batch with the summed output gradients', async () => {
    // y = sum_j E[ids_j] . K_j (a frozen dense layer); the loss is mean(y) over the batch, so the
    // gradient of row ids_bj is K_j / B: exact in float32 for these K and B.
    const B = 4,
      L = 3,
      D = 4;
    const layer = new WasmEmbedding({
      inputDim: 40,
      outputDim: D,
      inputLength: L,
      optimizer: 'adam',
      lr: 0.05,
      seed: 9,
    });
    const byHand = new Embedding(40, D, {
      optimizer: 'adam',
      lr: 0.05,
      seed: 9,
      init: { distribution: 'uniform', low: -0.05, high: 0.05 },
    });
    const kValues = Array.from({ length: L * D }, (_, i) => (i % 5) - 2);
    const dense = tfl.layers.dense({
      units: 1,
      useBias: false,
      trainable: false,
      weights: [tf.tensor2d(kValues, [L * D, 1])],
    });
    const model = tfl.sequential({ layers: [layer, tfl.layers.flatten(), dense] });
    model.compile({ optimizer: tf.train.sgd(0.1), loss: (_yTrue: tf.Tensor, yPred: tf.Tensor) => tf.mean(yPred, -1) });
    const xs = randomIds([2 * B, L], 40, 1);
    await model.fit(xs, tf.zeros([2 * B, 1]), { epochs: 2, batchSize: B, shuffle: false, verbose: 0 });
    const idData = xs.dataSync() as Int32Array;
    const grads = new Float32Array(B * L * D);
    for (let i = 0; i < B * L; i++) for (let d = 0; d < D; d++) grads[i * D + d] = kValues[(i % L) * D + d] / B;
    for (let epoch = 0; epoch < 2; epoch++) {
      for (let b = 0; b < 2; b++) byHand.update(idData.subarray(b * B * L, (b + 1) * B * L), grads);
    }
    expect(layer.table.stepCount).toBe(4);
    expect(Array.from(layer.table.weights)).toEqual(Array.from(byHand.weights));
    xs.dispose();
    model.dispose();
    byHand.dispose();
  });

  it('trains a model with dense layers in model.fit (tfjs Adam for the dense part): loss falls, only the batch rows move', async () => {
    // Class = whether the first id is below 30; ids in [0, 60), rows 60..99 never used.
    const layer = new WasmEmbedding({
      inputDim: 100,
      outputDim: 8,
      inputLength: 4,
      optimizer: 'adam',
      lr: 0.05,
      seed: 4,
    });
    const model = tableModel(layer, 2);
    model.compile({ optimizer: tf.train.adam(0.02), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const xs = randomIds([256, 4], 60, 8);
    const ids = xs.dataSync() as Int32Array;
    const labels = new Float32Array(256 * 2);
    for (let i = 0; i < 256; i++) labels[i * 2 + (ids[i * 4] < 30 ? 1 : 0)] = 1;
    const ys = tf.tensor2d(labels, [256, 2]);
    const unused = layer.table.lookup(Int32Array.from({ length: 40 }, (_, i) => 60 + i));
    const denseBefore = model.layers[2].getWeights()[0].dataSync().slice();
    const tensorCounts: number[] = [];
    const h = await model.fit(xs, ys, {
      epochs: 12,
      batchSize: 32,
      verbose: 0,
      callbacks: { onEpochEnd: async () => void tensorCounts.push(tf.memory().numTensors) },
    });
    const loss = h.history.loss as number[];
    expect(loss[loss.length - 1]).toBeLessThan(loss[0] * 0.5);
    expect((h.history.acc as number[]).at(-1)).toBeGreaterThan(0.9);
    expect(layer.table.stepCount).toBe(12 * 8);
    expect(Array.from(layer.table.lookup(Int32Array.from({ length: 40 }, (_, i) => 60 + i)))).toEqual(
      Array.from(unused),
    );
    expect(Array.from(model.layers[2].getWeights()[0].dataSync())).not.toEqual(Array.from(denseBefore));
    expect(new Set(tensorCounts.slice(1)).size).toBe(1); // no tensor leaks per step
    tf.dispose([xs, ys]);
    model.dispose();
  });

  it('trainable = false freezes the table (and the hook is out of the trainable weights)', async () => {
    const layer = new WasmEmbedding({ inputDim: 30, outputDim: 4, inputLength: 2, seed: 1 });
    const model = tableModel(layer);
    layer.trainable = false;
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'meanSquaredError' });
    const before = layer.table.weights.slice();
    const xs = randomIds([16, 2], 30, 3);
    await model.fit(xs, tf.ones([16, 1]), { epochs: 2, batchSize: 8, verbose: 0 });
    expect(layer.table.stepCount).toBe(0);
    expect(Array.from(layer.table.weights)).toEqual(Array.from(before));
    expect(layer.trainableWeights).toEqual([]);
    xs.dispose();
    model.dispose();
  });

  it('a 1M x 64 table trains inside model.fit (tfjs own embedding layer cannot: dense gradient / no kernel)', async () => {
    const rows = 1 << 20;
    const layer = new WasmEmbedding({
      inputDim: rows,
      outputDim: 64,
      inputLength: 8,
      optimizer: 'adam',
      lr: 0.01,
      seed: 12,
    });
    const model = tableModel(layer);
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'meanSquaredError' });
    const xs = randomIds([512, 8], rows, 77);
    const ys = tf.randomNormal([512, 1], 0, 1, 'float32', 5);
    const probe = new Int32Array([(xs.dataSync() as Int32Array)[0], rows - 1]);
    const before = layer.table.lookup(probe);
    const h = await model.fit(xs, ys, { epochs: 3, batchSize: 128, verbose: 0 });
    const loss = h.history.loss as number[];
    expect(loss[2]).toBeLessThan(loss[0]);
    expect(layer.table.stepCount).toBe(12);
    const after = layer.table.lookup(probe);
    expect(Array.from(after.subarray(0, 64))).not.toEqual(Array.from(before.subarray(0, 64)));
    if (!(xs.dataSync() as Int32Array).includes(rows - 1))
      expect(Array.from(after.subarray(64))).toEqual(Array.from(before.subarray(64)));
    tf.dispose([xs, ys]);
    model.dispose();
    expect(layer.table.isDisposed).toBe(true); // model.dispose frees the engine table too
  });

  it('model.save / tf.loadLayersModel round trip: same predictions, table, optimizer state; training continues bit for bit', async () => {
    const layer = new WasmEmbedding({
      inputDim: 64,
      outputDim: 5,
      inputLength: 3,
      optimizer: 'adamw',
      lr: 0.02,
      weightDecay: 0.05,
      seed: 21,
    });
    const model = tableModel(layer);
    model.compile({ optimizer: tf.train.sgd(0.05), loss: 'meanSquaredError' });
    const xs = randomIds([32, 3], 64, 31);
    const ys = tf.randomNormal([32, 1], 0, 1, 'float32', 6);
    await model.fit(xs, ys, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0 });
    const artifacts = await saveToMemory(model);
    const names = artifacts.weightSpecs!.map((s) => s.name);
    expect(names).toEqual(
      expect.arrayContaining([
        `${layer.name}/embeddings`,
        `${layer.name}/optimizer/exp_avg`,
        `${layer.name}/optimizer/exp_avg_sq`,
        `${layer.name}/optimizer/step`,
      ]),
    );
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
    const twin = loaded.layers[0] as WasmEmbedding;
    expect(twin).toBeInstanceOf(WasmEmbedding);
    expect(twin.getConfig()).toMatchObject({
      inputDim: 64,
      outputDim: 5,
      inputLength: 3,
      optimizer: 'adamw',
      lr: 0.02,
      weightDecay: 0.05,
      mode: 'lazy',
      seed: 21,
    });
    expect(twin.table.stepCount).toBe(8);
    expect(Array.from(twin.table.weights)).toEqual(Array.from(layer.table.weights));
    for (const k of ['exp_avg', 'exp_avg_sq'])
      expect(Array.from(twin.table.state(k))).toEqual(Array.from(layer.table.state(k)));
    const p1 = model.predict(xs) as tf.Tensor,
      p2 = loaded.predict(xs) as tf.Tensor;
    expect(Array.from(p2.dataSync())).toEqual(Array.from(p1.dataSync()));
    // both continue with the same data and a fresh SGD (stateless) for the dense part
    loaded.compile({ optimizer: tf.train.sgd(0.05), loss: 'meanSquaredError' });
    await model.fit(xs, ys, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 });
    await loaded.fit(xs, ys, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 });
    expect(Array.from(twin.table.weights)).toEqual(Array.from(layer.table.weights));
    expect(Array.from((loaded.predict(xs) as tf.Tensor).dataSync())).toEqual(
      Array.from((model.predict(xs) as tf.Tensor).dataSync()),
    );
    tf.dispose([xs, ys, p1, p2]);
    model.dispose();
    loaded.dispose();
  });

  it('saveState: false saves only the embeddings; a reload starts the table optimizer afresh', async () => {
    const layer = new WasmEmbedding({
      inputDim: 10,
      outputDim: 3,
      inputLength: 2,
      saveState: false,
      optimizer: 'sgd',
      momentum: 0.9,
      lr: 0.1,
      seed: 2,
    });
    const model = tfl.sequential({ layers: [layer, tfl.layers.flatten(), tfl.layers.dense({ units: 1 })] });
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const xs = randomIds([8, 2], 10, 4);
    await model.fit(xs, tf.ones([8, 1]), { epochs: 1, batchSize: 4, verbose: 0 });
    const artifacts = await saveToMemory(model);
    expect(
      artifacts
        .weightSpecs!.filter((s) => s.name.startsWith(layer.name))
        .map((s) => s.name)
        .sort(),
    ).toEqual([`${layer.name}/backward_hook`, `${layer.name}/embeddings`]);
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
    const twin = loaded.layers[0] as WasmEmbedding;
    expect(twin.table.stepCount).toBe(0);
    expect(Array.from(twin.table.weights)).toEqual(Array.from(layer.table.weights));
    xs.dispose();
    model.dispose();
    loaded.dispose();
  });

  it('trades tables with tfjs own embedding layer through getWeights()[0] / setWeights([embeddings])', () => {
    const theirs = tfl.layers.embedding({ inputDim: 12, outputDim: 4 });
    const ids = tf.tensor2d(
      [
        [1, 11],
        [0, 5],
      ],
      [2, 2],
      'int32',
    );
    const want = (theirs.apply(ids) as tf.Tensor).dataSync();
    const mine = new WasmEmbedding({ inputDim: 12, outputDim: 4, seed: 1 });
    mine.apply(ids);
    const stepBefore = mine.table.stepCount;
    mine.setWeights(theirs.getWeights());
    expect(Array.from((mine.apply(ids) as tf.Tensor).dataSync())).toEqual(Array.from(want));
    expect(mine.table.stepCount).toBe(stepBefore);
    // and back: getWeights()[0] is the table, [inputDim, outputDim]
    const w = mine.getWeights();
    expect(w[0].shape).toEqual([12, 4]);
    theirs.setWeights([w[0]]);
    expect(Array.from((theirs.apply(ids) as tf.Tensor).dataSync())).toEqual(Array.from(want));
    // a snapshot from getWeights() is released when the table changes
    const snap = mine.getWeights()[0];
    expect(mine.table.stepCount).toBe(stepBefore); // reading the table again keeps the snapshot
    expect(snap.isDisposed).toBe(false);
    const hook = mine.trainableWeights[0].read() as tf.Variable;
    tf.variableGrads(() => tf.sum(mine.apply(ids) as tf.Tensor) as tf.Scalar, [hook]);
    expect(snap.isDisposed).toBe(true);
    // tfjs's `weights` layer argument (initial weights) takes [embeddings] too
    const seeded = new WasmEmbedding({ inputDim: 12, outputDim: 4, weights: [theirs.getWeights()[0]] });
    expect(Array.from((seeded.apply(ids) as tf.Tensor).dataSync())).toEqual(Array.from(want));
    ids.dispose();
    theirs.dispose();
    mine.dispose();
  });
});

describe('WasmEmbedding config, masks and errors', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('getConfig / fromConfig rebuild the layer and its table options (through tfjs serialization)', () => {
    const layer = new WasmEmbedding({
      inputDim: 16,
      outputDim: 4,
      inputLength: [2],
      maskZero: true,
      optimizer: 'adam',
      lr: 3e-3,
      betas: [0.8, 0.99],
      amsgrad: true,
      mode: 'exact',
      nonFinite: 'skip',
      init: 'normal',
      seed: 99,
      name: 'tokens',
    });
    const json = tfl.sequential({ layers: [layer] }).toJSON(null, false) as Record<string, unknown>;
    const back = tfl.models.modelFromJSON({ modelTopology: json } as never);
    return back.then((m) => {
      const twin = m.layers[0] as WasmEmbedding;
      expect(twin.name).toBe('tokens');
      expect(twin.table.options).toEqual(layer.table.options);
      expect(twin.table.mode).toBe('exact');
      expect(twin.table.seed).toBe(99);
      expect(Array.from(twin.table.weights)).toEqual(Array.from(layer.table.weights));
      expect(twin.maskZero).toBe(true);
      m.dispose();
    });
  });

  it('exact mode: a saved and reloaded table continues to float32 rounding (its rows are flushed when saved)', async () => {
    const layer = new WasmEmbedding({
      inputDim: 50,
      outputDim: 4,
      inputLength: 2,
      optimizer: 'adamw',
      lr: 0.05,
      weightDecay: 0.1,
      mode: 'exact',
      seed: 3,
    });
    const model = tableModel(layer);
    model.compile({ optimizer: tf.train.sgd(0.05), loss: 'meanSquaredError' });
    const xs = randomIds([32, 2], 50, 5);
    const ys = tf.randomNormal([32, 1], 0, 1, 'float32', 2);
    await model.fit(xs, ys, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0 });
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(await saveToMemory(model)));
    loaded.compile({ optimizer: tf.train.sgd(0.05), loss: 'meanSquaredError' });
    await model.fit(xs, ys, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0 });
    await loaded.fit(xs, ys, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0 });
    const a = layer.table.weights,
      b = (loaded.layers[0] as WasmEmbedding).table.weights;
    expect((loaded.layers[0] as WasmEmbedding).table.stepCount).toBe(16);
    for (let i = 0; i < a.length; i++)
      expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(a[i]!)));
    tf.dispose([xs, ys]);
    model.dispose();
    loaded.dispose();
  });

  it('a random seed is recorded in the config, so a rebuilt layer draws the same table', () => {
    const layer = new WasmEmbedding({ inputDim: 8, outputDim: 2 });
    const seed = layer.getConfig().seed as number;
    expect(Number.isSafeInteger(seed)).toBe(true);
    const twin = new WasmEmbedding({ ...(layer.getConfig() as object), name: undefined } as never);
    expect(Array.from(twin.table.weights)).toEqual(Array.from(layer.table.weights));
  });

  it('maskZero: the mask is ids != 0; without maskZero there is none', () => {
    const layer = new WasmEmbedding({ inputDim: 10, outputDim: 2, maskZero: true, seed: 1 });
    const ids = tf.tensor2d([[0, 3, 0]], [1, 3], 'int32');
    expect(Array.from((layer.computeMask(ids) as tf.Tensor).dataSync())).toEqual([0, 1, 0]);
    const plain = new WasmEmbedding({ inputDim: 10, outputDim: 2, seed: 1 });
    expect(plain.computeMask(ids)).toBeNull();
    ids.dispose();
  });

  it('bad ids: out of range, negative, non-integer, NaN: errors name the layer and nothing changes', () => {
    const layer = new WasmEmbedding({ inputDim: 10, outputDim: 2, name: 'words', seed: 1 });
    const inModel = new WasmEmbedding({ inputDim: 10, outputDim: 2, name: 'words2', inputLength: 2, seed: 1 });
    const before = layer.table.weights.slice();
    expect(() => layer.apply(tf.tensor2d([[1, 10]], [1, 2], 'int32'))).toThrow(
      /WasmEmbedding 'words': id 10 at \[0, 1\] is outside \[0, inputDim = 10\)/,
    );
    expect(() => layer.apply(tf.tensor1d([-1], 'int32'))).toThrow(RangeError);
    expect(() => layer.apply(tf.tensor1d([2, 1.5]))).toThrow(
      /WasmEmbedding 'words': the input holds 1.5 at \[1\]; ids must be integers in \[0, inputDim = 10\)/,
    );
    expect(() => layer.apply(tf.tensor1d([NaN]))).toThrow(/holds NaN/);
    expect(() => layer.apply(tf.tensor1d([1], 'bool'))).toThrow(/int32 or float32/);
    // inside model.fit too
    expect(layer.table.stepCount).toBe(0);
    expect(Array.from(layer.table.weights)).toEqual(Array.from(before));
    const model = tfl.sequential({ layers: [inModel, tfl.layers.flatten(), tfl.layers.dense({ units: 1 })] });
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const before2 = inModel.table.weights.slice();
    return expect(model.fit(tf.tensor2d([[1, 99]], [1, 2], 'int32'), tf.ones([1, 1]), { verbose: 0 }))
      .rejects.toThrow(/WasmEmbedding 'words2': id 99 at \[0, 1\]/)
      .then(() => {
        expect(inModel.table.stepCount).toBe(0);
        expect(Array.from(inModel.table.weights)).toEqual(Array.from(before2));
      });
  });

  it('wrong input rank: a scalar, or a shape that contradicts inputLength', () => {
    const layer = new WasmEmbedding({ inputDim: 10, outputDim: 2, name: 'seq', inputLength: 3, seed: 1 });
    expect(() => layer.apply(tf.scalar(1, 'int32'))).toThrow(/WasmEmbedding 'seq': expects ids of rank >= 1/);
    expect(() => layer.apply(tf.tensor1d([1, 2, 3], 'int32'))).toThrow(
      /WasmEmbedding 'seq': expects ids of shape \[batch, 3\] \(inputLength 3\), got shape \[3\]/,
    );
    expect(() => layer.apply(tf.zeros([2, 4], 'int32'))).toThrow(/got shape \[2,4\]/);
    expect(() =>
      tfl.sequential({
        layers: [new WasmEmbedding({ inputDim: 10, outputDim: 2, inputLength: 3, batchInputShape: [null, 4] })],
      }),
    ).toThrow(/'inputLength' is 3, but the input has shape \[null,4\]/);
  });

  it('bad arguments: a refused tfjs argument, bad sizes, a bad table option name the layer or the fix', () => {
    expect(() => new WasmEmbedding({ inputDim: 10, outputDim: 2, embeddingsInitializer: 'zeros' } as never)).toThrow(
      /argument 'embeddingsInitializer' is not supported: use the table option 'init'/,
    );
    expect(() => new WasmEmbedding({ inputDim: 10, outputDim: 2, embeddingsRegularizer: 'l2' } as never)).toThrow(
      /weightDecay/,
    );
    expect(() => new WasmEmbedding({ inputDim: 0, outputDim: 2, name: 'e' })).toThrow(
      /WasmEmbedding 'e': 'inputDim' must be a positive integer, got 0/,
    );
    expect(() => new WasmEmbedding({ inputDim: 10, outputDim: 2.5, name: 'e' })).toThrow(
      /'outputDim' must be a positive integer/,
    );
    expect(() => new WasmEmbedding({ inputDim: 10, outputDim: 2, name: 'e', lr: -1 })).toThrow(
      /WasmEmbedding 'e': .*lr/,
    );
    expect(
      () => new WasmEmbedding({ inputDim: 10, outputDim: 2, name: 'e', optimizer: 'adam', momentum: 0.9 } as never),
    ).toThrow(/WasmEmbedding 'e': .*unknown option 'momentum'/);
    expect(() => new WasmEmbedding({ inputDim: 10, outputDim: 2, name: 'e', inputLength: 0 })).toThrow(
      /'inputLength' must be a positive integer/,
    );
  });

  it('a non-finite output gradient throws from the backward pass naming the layer, and the table is unchanged', () => {
    const layer = new WasmEmbedding({ inputDim: 10, outputDim: 2, name: 'nf', seed: 1 });
    const ids = tf.tensor1d([1, 2], 'int32');
    layer.apply(ids);
    const before = layer.table.weights.slice();
    const hook = layer.trainableWeights[0].read() as tf.Variable;
    const backward = () =>
      tf.variableGrads(
        () =>
          tf.sum(
            tf.mul(
              layer.apply(ids) as tf.Tensor,
              tf.tensor2d([
                [1, NaN],
                [1, 1],
              ]),
            ),
          ) as tf.Scalar,
        [hook],
      );
    expect(backward).toThrow(NonFiniteGradientError);
    expect(backward).toThrow(/WasmEmbedding 'nf': Embedding.update: grads\[1\] is NaN/);
    expect(layer.table.stepCount).toBe(0);
    expect(Array.from(layer.table.weights)).toEqual(Array.from(before));
  });

  it('setWeights and loaded values are checked: wrong count, wrong shape, non-finite values', () => {
    const layer = new WasmEmbedding({ inputDim: 4, outputDim: 2, name: 'sw', seed: 1 });
    layer.apply(tf.tensor1d([1], 'int32'));
    expect(() => layer.setWeights([tf.zeros([4, 2]), tf.zeros([4, 2])])).toThrow(
      /WasmEmbedding 'sw'.setWeights: got 2 tensors; the layer takes \[embeddings\] or all its 5 weights/,
    );
    expect(() => layer.setWeights([tf.zeros([4, 3])])).toThrow(
      /weights\[0\] has shape \[4,3\], sw\/embeddings needs \[4,2\]/,
    );
    expect(() => layer.setWeights([tf.tensor2d([1, 2, 3, 4, 5, 6, 7, Infinity], [4, 2])])).toThrow(
      /element 7 \(row 3\) is Infinity/,
    );
    const w = layer.getWeights().map((t) => t.clone());
    w[3] = tf.scalar(-1, 'int32');
    expect(() => layer.setWeights(w)).toThrow(/step count must be a non-negative integer, got -1/);
  });
});
