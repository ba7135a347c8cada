// The TensorFlow.js optimizer bridge (src/tfjs/optimizer.ts) on tfjs's cpu and wasm backends in
// Node: it tracks tfjs's own Adam, saves and reloads with a model bit for bit, trains with the
// optimizers tfjs lacks, names the variable in its errors, leaks no tensors and never lets a tensor
// alias engine memory. Plus: the main entry of the built package never imports tfjs.
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { Adam, NonFiniteGradientError, OPTIMIZERS, cosineLR, init } from '../src/index.js';
import { WasmOptimizer, wasmOptimizer, META_WEIGHT } from '../src/tfjs/index.js';

const require = createRequire(import.meta.url);
const ROOT = fileURLToPath(new URL('..', import.meta.url));

beforeAll(async () => {
  await init();
  setWasmPaths(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/');
});

/** A small dense model (6 -> 16 tanh -> 3), its weights from tfjs's initializers. */
function makeModel(): tfl.Sequential {
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ units: 16, activation: 'tanh', inputShape: [6] }));
  m.add(tfl.layers.dense({ units: 3 }));
  return m;
}

/** The same model twice: equal starting weights. */
function twinModels(): [tfl.Sequential, tfl.Sequential] {
  const a = makeModel();
  const b = makeModel();
  b.setWeights(a.getWeights());
  return [a, b];
}

function data(seed = 1): { x: tf.Tensor; y: tf.Tensor } {
  return { x: tf.randomNormal([64, 6], 0, 1, 'float32', seed), y: tf.randomNormal([64, 3], 0, 1, 'float32', seed + 1) };
}

const weightsOf = (m: tfl.LayersModel): Float32Array[] => m.getWeights().map((w) => w.dataSync() as Float32Array);

function maxAbsDiff(a: Float32Array[], b: Float32Array[]): number {
  let d = 0;
  a.forEach((x, i) => x.forEach((v, j) => (d = Math.max(d, Math.abs(v - b[i][j])))));
  return d;
}

function sameBits(a: Float32Array[], b: Float32Array[]): boolean {
  return (
    a.length === b.length &&
    a.every((x, i) =>
      Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(
        Buffer.from(b[i].buffer, b[i].byteOffset, b[i].byteLength),
      ),
    )
  );
}

/** Saves `model` with its optimizer into memory and loads it back (a new model, new variables). */
async function roundTrip(model: tfl.LayersModel): Promise<tfl.LayersModel> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    { includeOptimizer: true },
  );
  return tfl.loadLayersModel(tf.io.fromMemory(artifacts as tf.io.ModelArtifacts));
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`wasmOptimizer on tfjs's ${backend} backend`, () => {
    beforeAll(async () => {
      expect(await tf.setBackend(backend)).toBe(true);
      await tf.ready();
    });

    it('Adam tracks tf.train.adam(lr, 0.9, 0.999, 1e-7) in model.fit for 50 steps, to float32 rounding', async () => {
      const [a, b] = twinModels();
      const { x, y } = data();
      a.compile({ optimizer: wasmOptimizer('Adam', { lr: 0.01, eps: 1e-7 }), loss: 'meanSquaredError' });
      b.compile({ optimizer: tf.train.adam(0.01, 0.9, 0.999, 1e-7), loss: 'meanSquaredError' });
      let worst = 0;
      const losses: number[] = [];
      for (let s = 0; s < 50; s++) {
        // model.fit on one full batch is one optimizer step.
        const ha = await a.fit(x, y, { epochs: 1, batchSize: 64, shuffle: false, verbose: 0 });
        const hb = await b.fit(x, y, { epochs: 1, batchSize: 64, shuffle: false, verbose: 0 });
        const la = ha.history.loss[0] as number,
          lb = hb.history.loss[0] as number;
        expect(Math.abs(la - lb)).toBeLessThanOrEqual(1e-5 * lb);
        losses.push(la);
        worst = Math.max(worst, maxAbsDiff(weightsOf(a), weightsOf(b)));
      }
      // The two differ only in float32 rounding (tfjs: bias corrections in float32 tensors, the
      // engine: in float64), which training carries along: |w| < 2, and the gap stays under 1e-5.
      expect(worst).toBeLessThan(1e-5);
      expect(losses[49]).toBeLessThan(0.7 * losses[0]);
      expect((a.optimizer as WasmOptimizer).iterations).toBe(50);
      tf.dispose([x, y]);
      a.dispose();
      b.dispose();
    });

    it('applyGradients, map and array forms, equals tf.train.adam on fixed gradients to a few float32 ulps', () => {
      const init0 = Float32Array.from({ length: 40 }, (_, i) => Math.sin(i + 1));
      const v1 = tf.variable(tf.tensor(init0, [8, 5]));
      const v2 = tf.variable(tf.tensor(init0.slice(0, 8), [8]));
      const r1 = tf.variable(tf.tensor(init0, [8, 5]));
      const r2 = tf.variable(tf.tensor(init0.slice(0, 8), [8]));
      const ours = wasmOptimizer('Adam', { lr: 0.05, eps: 1e-7 });
      const theirs = tf.train.adam(0.05, 0.9, 0.999, 1e-7);
      for (let s = 0; s < 50; s++) {
        const g1 = tf.tensor(
          Float32Array.from({ length: 40 }, (_, i) => Math.cos(3 * i + s)),
          [8, 5],
        );
        // gradients of 1e-6: sqrt(v) is near eps, so eps's value and place matter
        const g2 = tf.tensor(
          Float32Array.from({ length: 8 }, (_, i) => 1e-6 * Math.sin(5 * i - s)),
          [8],
        );
        if (s % 2 === 0) ours.applyGradients({ [v1.name]: g1, [v2.name]: g2 });
        else
          ours.applyGradients([
            { name: v1.name, tensor: g1 },
            { name: v2.name, tensor: g2 },
          ]);
        theirs.applyGradients([
          { name: r1.name, tensor: g1 },
          { name: r2.name, tensor: g2 },
        ]);
        tf.dispose([g1, g2]);
      }
      // A fixed gradient sequence does not feed rounding back: the steps differ by roundings of
      // the update (a few 2^-24 of lr) and by tfjs's bias correction 1 - beta2^t, which it keeps in
      // float32: its relative error 2^-24 / (1 - 0.999^t) (6e-5 at t = 1) halves under the sqrt.
      let bound = 0;
      for (let t = 1; t <= 50; t++) bound += 0.05 * (2 ** -25 / (1 - 0.999 ** t) + 8 * 2 ** -24);
      const d = maxAbsDiff(
        [v1.dataSync() as Float32Array, v2.dataSync() as Float32Array],
        [r1.dataSync() as Float32Array, r2.dataSync() as Float32Array],
      );
      expect(d).toBeLessThan(bound);
      // and both moved by about lr per step
      expect(Math.abs((v1.dataSync()[0] as number) - init0[0])).toBeGreaterThan(0.1);
      ours.dispose();
      theirs.dispose();
      tf.dispose([v1, v2, r1, r2]);
    });

    it('model.save with includeOptimizer and a reload continue training bit for bit (AdamW, groups, an lr schedule)', async () => {
      const model = makeModel();
      const { x, y } = data(7);
      const opt = wasmOptimizer('AdamW', {
        lr: cosineLR({ peak: 0.02, decaySteps: 40, warmupSteps: 3 }),
        weightDecay: 0.05,
        // An underscore in the pattern: tfjs-layers camel-cases strings holding one when it reads a config.
        groups: [{ match: /_Dense\d+\/bias/, weightDecay: 0, lr: 0.01 }],
      });
      model.compile({ optimizer: opt, loss: 'meanSquaredError' });
      for (let s = 0; s < 5; s++) await model.trainOnBatch(x, y);
      const loaded = await roundTrip(model);
      const lopt = loaded.optimizer as WasmOptimizer;
      expect(lopt).toBeInstanceOf(WasmOptimizer);
      expect(lopt).not.toBe(opt);
      expect(lopt.kind).toBe('AdamW');
      expect(lopt.iterations).toBe(5);
      expect(lopt.groupOf('dense_Dense9/bias')).toBe(1);
      expect(lopt.groupOf('dense_Dense9/kernel')).toBe(0);
      expect(sameBits(weightsOf(loaded), weightsOf(model))).toBe(true);
      for (let s = 0; s < 5; s++) {
        await model.trainOnBatch(x, y);
        await loaded.trainOnBatch(x, y);
        expect(sameBits(weightsOf(loaded), weightsOf(model))).toBe(true);
      }
      // The loaded state went where it belongs: the bias groups' params, at step 10.
      expect(lopt.engineOptimizer.stepCount).toBe(10);
      expect(lopt.variableNames.filter((n) => lopt.paramOf(n)?.group === 1)).toHaveLength(2);
      // A reload must not continue from fresh state: without setWeights the weights part after a step.
      const fresh = makeModel();
      fresh.setWeights(model.getWeights());
      fresh.compile({
        optimizer: WasmOptimizer.fromConfig(WasmOptimizer, opt.getConfig()) as WasmOptimizer,
        loss: 'meanSquaredError',
      });
      await model.trainOnBatch(x, y);
      await fresh.trainOnBatch(x, y);
      expect(sameBits(weightsOf(fresh), weightsOf(model))).toBe(false);
      tf.dispose([x, y]);
      for (const m of [model, loaded, fresh]) m.dispose();
      opt.dispose();
      lopt.dispose();
    });

    it('getWeights/setWeights move the state between optimizers by variable name (minimize)', async () => {
      const w = tf.variable(tf.tensor([0.5, -1.5, 2, 3], [2, 2]), true, 'bridge_w');
      const b = tf.variable(tf.tensor([0.1, -0.2]), true, 'bridge_b');
      const loss = () =>
        tf.tidy(() => tf.sum(tf.square(tf.add(tf.matMul(w, tf.ones([2, 1])), tf.reshape(b, [2, 1])))) as tf.Scalar);
      const a = wasmOptimizer('NAdam', { lr: 0.01 });
      for (let s = 0; s < 4; s++) a.minimize(loss);
      const weights = await a.getWeights();
      expect(weights.map((t) => t.name)).toEqual([
        'iter',
        META_WEIGHT,
        'bridge_w/exp_avg',
        'bridge_w/exp_avg_sq',
        'bridge_b/exp_avg',
        'bridge_b/exp_avg_sq',
      ]);
      const c = wasmOptimizer('NAdam', { lr: 0.01 });
      await c.setWeights(weights);
      const saved = [w.dataSync().slice(), b.dataSync().slice()] as Float32Array[];
      a.minimize(loss);
      const afterA = [w.dataSync().slice(), b.dataSync().slice()] as Float32Array[];
      w.assign(tf.tensor(saved[0], [2, 2]));
      b.assign(tf.tensor(saved[1]));
      c.minimize(loss); // c binds w and b at this step, with the state a had
      expect(sameBits([w.dataSync() as Float32Array, b.dataSync() as Float32Array], afterA)).toBe(true);
      // The weights belong to the optimizer until its next getWeights(): setWeights kept copies.
      const n = tf.memory().numTensors;
      await a.getWeights();
      expect(tf.memory().numTensors).toBe(n);
      a.dispose();
      c.dispose();
      expect(tf.memory().numTensors).toBe(n - weights.length);
      tf.dispose([w, b]);
    });

    it('AdamW, NAdam, RAdam and Lion train a tfjs model (the loss falls)', async () => {
      const { x, y } = data(11);
      const target = tf.tidy(() => tf.matMul(x, tf.randomNormal([6, 3], 0, 1, 'float32', 5)));
      for (const [kind, lr] of [
        ['AdamW', 0.02],
        ['NAdam', 0.02],
        ['RAdam', 0.02],
        ['Lion', 0.003],
      ] as const) {
        const model = makeModel();
        model.compile({ optimizer: wasmOptimizer(kind, { lr }), loss: 'meanSquaredError' });
        const h = await model.fit(x, target, { epochs: 40, batchSize: 16, shuffle: false, verbose: 0 });
        const loss = h.history.loss as number[];
        expect(loss[39], kind).toBeLessThan(0.3 * loss[0]);
        (model.optimizer as WasmOptimizer).dispose();
        model.dispose();
      }
      tf.dispose([x, y, target]);
    });

    it('param groups chosen by variable name: no weight decay for the biases', () => {
      const k = tf.variable(tf.ones([3, 2]), true, 'grp_layer/kernel');
      const bias = tf.variable(tf.ones([2]), true, 'grp_layer/bias');
      const opt = wasmOptimizer('SGD', { lr: 0.1, weightDecay: 0.5, groups: [{ match: 'bias', weightDecay: 0 }] });
      opt.applyGradients({ [k.name]: tf.zeros([3, 2]), [bias.name]: tf.zeros([2]) });
      // SGD with L2 decay and a zero gradient: p -= lr * wd * p = 0.95 p; the bias group has wd 0.
      expect(Array.from(k.dataSync())).toEqual(new Array(6).fill(Math.fround(1 - Math.fround(0.1 * 0.5))));
      expect(Array.from(bias.dataSync())).toEqual([1, 1]);
      expect(opt.paramOf(bias)?.group).toBe(1);
      expect(opt.paramOf(k)?.group).toBe(0);
      opt.dispose();
      tf.dispose([k, bias]);
    });

    it('bad inputs throw errors that name the variable, and change nothing', () => {
      const v = tf.variable(tf.tensor([1, 2, 3, 4], [2, 2]), true, 'bad_v');
      const opt = wasmOptimizer('Adam', { lr: 0.1 });
      const g = tf.ones([2, 2]);
      opt.applyGradients({ bad_v: g });
      const before = v.dataSync().slice();
      const state = opt.paramOf(v)!.state('exp_avg').slice();
      // not a variable
      const t = tf.ones([2, 2]);
      expect(() => opt.applyGradients({ bad_v: g, not_a_variable: t })).toThrow(
        /'not_a_variable' is not the name of a tf\.Variable/,
      );
      expect(() =>
        opt.applyGradients([
          { name: 'bad_v', tensor: g },
          { name: 'not_a_variable_either', tensor: t },
        ]),
      ).toThrow(/is not the name of a tf\.Variable/);
      // gradient shape unlike the variable's
      const wrong = tf.ones([4]);
      expect(() => opt.applyGradients({ bad_v: wrong })).toThrow(
        /gradient of variable 'bad_v' has shape \[4\], the variable \[2,2\]/,
      );
      // dtype
      const iv = tf.variable(tf.tensor([1, 2], [2], 'int32'), true, 'bad_int');
      expect(() => opt.applyGradients({ bad_int: tf.ones([2]) })).toThrow(
        /variable 'bad_int' is int32; the optimizer updates float32 variables only/,
      );
      expect(() => opt.applyGradients({ bad_v: tf.ones([2, 2], 'int32') })).toThrow(
        /gradient of variable 'bad_v' is int32/,
      );
      // non-finite gradient
      const nan = tf.tensor([1, NaN, 0, 0], [2, 2]);
      expect(() => opt.applyGradients({ bad_v: nan })).toThrow(NonFiniteGradientError);
      expect(() => opt.applyGradients({ bad_v: nan })).toThrow(
        /gradient of variable 'bad_v' holds NaN or Infinity; nothing was changed/,
      );
      expect(Array.from(v.dataSync())).toEqual(Array.from(before));
      expect(Array.from(opt.paramOf(v)!.state('exp_avg'))).toEqual(Array.from(state));
      expect(opt.iterations).toBe(1);
      // a shape change between steps: the variable is replaced by one of another shape, same name
      v.dispose();
      const v2 = tf.variable(tf.ones([3, 2]), true, 'bad_v');
      expect(() => opt.applyGradients({ bad_v: tf.ones([3, 2]) })).toThrow(
        /variable 'bad_v' had shape \[2,2\] at its first step and has \[3,2\] now/,
      );
      expect(Array.from(v2.dataSync())).toEqual([1, 1, 1, 1, 1, 1]);
      // unknown kind, bad options, bad group pattern
      expect(() => wasmOptimizer('Adamm' as 'Adam')).toThrow(/unknown kind string Adamm; use one of Adam, AdamW/);
      expect(() => wasmOptimizer('Adam', { lr: -1 })).toThrow(RangeError);
      expect(() => wasmOptimizer('Adam', { groups: [{ match: 3 as unknown as string }] })).toThrow(
        /groups\[0\]\.match must be a RegExp/,
      );
      expect(() => wasmOptimizer('SGD', { groups: [{ match: /x/, nonFinite: 'skip' } as never] })).toThrow(
        /applies to the whole optimizer/,
      );
      opt.dispose();
      expect(() => opt.applyGradients({})).toThrow(/disposed/);
      tf.dispose([g, t, wrong, iv, nan, v2]);
    });

    it("a first step with a NaN gradient binds nothing; nonFinite: 'skip' skips the step", () => {
      const v = tf.variable(tf.tensor([1, 2]), true, 'nan_first');
      const nan = tf.tensor([NaN, 1]);
      const g = tf.tensor([1, 1]);
      const opt = wasmOptimizer('Adam', { lr: 0.1 });
      expect(() => opt.applyGradients({ nan_first: nan })).toThrow(/gradient of variable 'nan_first' holds NaN/);
      expect(opt.variableNames).toEqual([]);
      expect(opt.engineOptimizer.params).toHaveLength(0);
      opt.applyGradients({ nan_first: g });
      expect(Array.from(v.dataSync())).toEqual([0.9, 1.9].map(Math.fround)); // Adam's first step: lr * sign(g)
      const skip = wasmOptimizer('Adam', { lr: 0.1, nonFinite: 'skip' });
      skip.applyGradients({ nan_first: nan });
      expect(skip.iterations).toBe(0);
      expect(skip.variableNames).toEqual([]);
      expect(Array.from(v.dataSync())).toEqual([0.9, 1.9].map(Math.fround));
      opt.dispose();
      skip.dispose();
      tf.dispose([v, nan, g]);
    });

    it('setWeights refuses weights that are not a WasmOptimizer of the same kind', async () => {
      const v = tf.variable(tf.ones([3]), true, 'sw_v');
      const a = wasmOptimizer('Adam');
      a.applyGradients({ sw_v: tf.ones([3]) });
      const sgd = wasmOptimizer('SGD');
      await expect(sgd.setWeights(await a.getWeights())).rejects.toThrow(
        /the weights are a Adam's; this optimizer is a SGD/,
      );
      const theirs = tf.train.adam();
      theirs.applyGradients([{ name: 'sw_v', tensor: tf.ones([3]) }]);
      const b = wasmOptimizer('Adam');
      await expect(b.setWeights(await theirs.getWeights())).rejects.toThrow(/not a WasmOptimizer's/);
      // state of the wrong size for a bound variable: nothing changes
      const w = await a.getWeights();
      const bad = w.map((x) => (x.name === 'sw_v/exp_avg' ? { name: x.name, tensor: tf.ones([4]) } : x));
      const c = wasmOptimizer('Adam');
      c.applyGradients({ sw_v: tf.ones([3]) });
      await expect(c.setWeights(bad)).rejects.toThrow(
        /'sw_v\/exp_avg' is float32 of 4 values; variable 'sw_v' has shape \[3\]/,
      );
      expect(c.iterations).toBe(1);
      for (const o of [a, sgd, theirs, b, c]) o.dispose();
      v.dispose();
    });

    it('leaves no tensors behind: tf.memory().numTensors is unchanged by steps', async () => {
      const model = makeModel();
      const { x, y } = data(3);
      const opt = wasmOptimizer('Adam', { lr: 0.01 });
      model.compile({ optimizer: opt, loss: 'meanSquaredError' });
      await model.trainOnBatch(x, y); // the first step binds the variables
      const n = tf.memory().numTensors;
      for (let s = 0; s < 5; s++) await model.trainOnBatch(x, y);
      expect(tf.memory().numTensors).toBe(n);
      const loss = () => tf.tidy(() => tf.losses.meanSquaredError(y, model.predict(x) as tf.Tensor) as tf.Scalar);
      opt.minimize(loss);
      expect(tf.memory().numTensors).toBe(n);
      const grads = tf.variableGrads(loss);
      opt.applyGradients(grads.grads);
      tf.dispose([grads.value, ...Object.values(grads.grads)]);
      expect(tf.memory().numTensors).toBe(n);
      tf.dispose([x, y]);
      model.dispose();
      opt.dispose();
    });

    it('never aliases engine memory: a tensor held from before a step keeps its values, also after the engine memory grows', () => {
      const v = tf.variable(tf.tensor([1, 2, 3, 4]), true, 'alias_v');
      const opt = wasmOptimizer('SGD', { lr: 0.5 });
      opt.applyGradients({ alias_v: tf.ones([4]) });
      const held = tf.clone(v); // shares the variable's current data
      const values = Array.from(held.dataSync());
      expect(values).toEqual([0.5, 1.5, 2.5, 3.5]);
      opt.applyGradients({ alias_v: tf.ones([4]) });
      expect(Array.from(held.dataSync())).toEqual(values);
      expect(Array.from(v.dataSync())).toEqual([0, 1, 2, 3]);
      // Grow the engine memory (detaches every old view of it).
      const big = new Adam({ lr: 0.1 });
      big.param(32 * 1024 * 1024);
      expect(Array.from(held.dataSync())).toEqual(values);
      expect(Array.from(v.dataSync())).toEqual([0, 1, 2, 3]);
      opt.applyGradients({ alias_v: tf.ones([4]) });
      expect(Array.from(v.dataSync())).toEqual([-0.5, 0.5, 1.5, 2.5]);
      big.dispose();
      opt.dispose();
      tf.dispose([v, held]);
    });

    it('keeps int8 state (stateType) of a variable without a gradient bit for bit', () => {
      // int8 only: its encode is deterministic (nearest code), so a fresh optimizer is the reference;
      // bf16 rounds stochastically with bits keyed by the optimizer's step, which the skip moves on.
      for (const stateType of ['int8'] as const) {
        const n = 5000; // int8 quantizes tensors from 4096 elements
        const a = tf.variable(tf.fill([n], 1), true, `q_a_${stateType}`);
        const b = tf.variable(tf.fill([n], 2), true, `q_b_${stateType}`);
        const opt = wasmOptimizer('Adam', { lr: 0.1, stateType });
        const gv = Float32Array.from({ length: n }, (_, j) => Math.sin(j + 1));
        const g = tf.tensor(gv);
        opt.applyGradients({ [a.name]: g, [b.name]: g });
        opt.applyGradients({ [a.name]: g }); // b has no gradient: its stored state must come back as it was
        opt.applyGradients({ [a.name]: g, [b.name]: g });
        // b's second step equals an engine Adam's second step with the same storage.
        const ref = new Adam({ lr: 0.1, stateType });
        const p = ref.param(new Float32Array(n).fill(2));
        for (let s = 0; s < 2; s++) {
          p.grad.set(gv);
          ref.step();
        }
        expect(Array.from(b.dataSync()), stateType).toEqual(Array.from(p.data));
        ref.dispose();
        opt.dispose();
        tf.dispose([a, b, g]);
      }
    });

    it('reads back a variable changed outside the optimizer, and leaves a variable without a gradient alone', () => {
      const a = tf.variable(tf.tensor([1, 1]), true, 'ext_a');
      const b = tf.variable(tf.tensor([2, 2]), true, 'ext_b');
      const opt = wasmOptimizer('Adam', { lr: 0.1 });
      const ga = tf.tensor([1, -1]),
        gb = tf.tensor([0.5, 0.25]);
      opt.applyGradients({ ext_a: ga, ext_b: gb });
      a.assign(tf.tensor([10, 10]));
      opt.applyGradients({ ext_a: ga }); // b has no gradient: not updated, its step count stays 1
      expect(Array.from(b.dataSync())).toEqual(Array.from(new Float32Array([2 - 0.1, 2 - 0.1])));
      // a stepped from the assigned values: 10 - 0.1 * (bias-corrected m / sqrt(v)) = 10 -/+ 0.1
      expect(Array.from(a.dataSync()).map((x) => Math.round(x * 1e4) / 1e4)).toEqual([9.9, 10.1]);
      opt.applyGradients({ ext_a: ga, ext_b: gb });
      // b's second step equals an engine Adam's second step on the same gradients.
      const ref = new Adam({ lr: 0.1 });
      const p = ref.param([2, 2]);
      for (let s = 0; s < 2; s++) {
        p.grad.set([0.5, 0.25]);
        ref.step();
      }
      expect(Array.from(b.dataSync())).toEqual(Array.from(p.data));
      ref.dispose();
      opt.dispose();
      tf.dispose([a, b, ga, gb]);
    });

    it('is registered for tfjs serialization; getConfig/fromConfig round-trip options, schedules and groups', () => {
      expect(tf.serialization.SerializationMap.getMap().classNameMap.WasmOptimizer?.[0]).toBe(WasmOptimizer);
      const opt = wasmOptimizer('RMSprop', {
        lr: cosineLR({ peak: 0.1, decaySteps: 10 }),
        alpha: 0.9,
        centered: true,
        clipGradNorm: 1,
        groups: [{ match: /my_bias$/i, lr: 0.5 }],
      });
      const config = opt.getConfig();
      expect(JSON.stringify(config)).not.toContain('_'); // safe from tfjs-layers' camel-casing
      const back = WasmOptimizer.fromConfig(WasmOptimizer, JSON.parse(JSON.stringify(config))) as WasmOptimizer;
      expect(back.kind).toBe('RMSprop');
      expect(back.getConfig()).toEqual(config);
      expect(back.engineOptimizer.options).toEqual(opt.engineOptimizer.options);
      expect(back.engineOptimizer.paramGroups[1].options).toEqual(opt.engineOptimizer.paramGroups[1].options);
      expect(back.groupOf('layer/MY_bias')).toBe(1);
      expect(back.groupOf('layer/my_biasx')).toBe(0);
      opt.dispose();
      back.dispose();
    });

    it('steps every dense optimizer of the registry', () => {
      const kinds = Object.keys(OPTIMIZERS) as (keyof typeof OPTIMIZERS)[];
      expect(kinds).toEqual(
        expect.arrayContaining([
          'Adam',
          'AdamW',
          'SGD',
          'Adagrad',
          'RMSprop',
          'Adamax',
          'Adadelta',
          'NAdam',
          'RAdam',
          'Lion',
          'SGDHD',
          'AdamHD',
        ]),
      );
      for (const kind of kinds) {
        const v = tf.variable(tf.tensor([1, -1, 0.5]), true, `kind_${kind}`);
        const opt = wasmOptimizer(kind, kind === 'Adadelta' ? { lr: 1 } : { lr: 0.01 });
        const g = tf.tensor([1, -1, 0.5]);
        for (let s = 0; s < 3; s++) opt.applyGradients({ [v.name]: g });
        const after = v.dataSync();
        expect(after[0], kind).toBeLessThan(1);
        expect(after[1], kind).toBeGreaterThan(-1);
        expect(opt.iterations).toBe(3);
        opt.dispose();
        tf.dispose([v, g]);
      }
    });
  });
}

describe('package entries', () => {
  /** Every module the built file imports, transitively (relative imports resolved). */
  function importGraph(entry: string): { files: string[]; bare: string[] } {
    const files = new Set<string>();
    const bare = new Set<string>();
    const visit = (file: string): void => {
      if (files.has(file)) return;
      files.add(file);
      const src = readFileSync(file, 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/^\s*\/\/.*$/gm, '');
      for (const m of src.matchAll(
        /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g,
      )) {
        const spec = m[1] ?? m[2] ?? m[3];
        if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
        else bare.add(spec);
      }
    };
    visit(entry);
    return { files: [...files], bare: [...bare] };
  }

  it('the built main entry never imports tfjs; wasm-optim/tfjs is its own entry', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    const main = join(ROOT, pkg.exports['.'].default);
    const tfjs = join(ROOT, pkg.exports['./tfjs'].default);
    expect(existsSync(main), 'dist/index.js is missing: run `npm run build` (npm test does)').toBe(true);
    expect(existsSync(tfjs), 'dist/tfjs/index.js is missing: run `npm run build`').toBe(true);
    expect(existsSync(join(ROOT, pkg.exports['./tfjs'].types))).toBe(true);
    const g = importGraph(main);
    expect(g.files.length).toBeGreaterThan(5);
    expect(g.bare.filter((s) => s.includes('tensorflow'))).toEqual([]);
    expect(g.files.filter((f) => f.includes(`${join('dist', 'tfjs')}`))).toEqual([]);
    // ... while the tfjs entry does import tfjs-core, and the main entry (not a copy of it).
    const t = importGraph(tfjs);
    expect(t.bare).toContain('@tensorflow/tfjs-core');
    expect(t.files).toContain(main);
    // tfjs is an optional peer dependency
    expect(pkg.peerDependencies['@tensorflow/tfjs-core']).toBeDefined();
    expect(pkg.peerDependenciesMeta['@tensorflow/tfjs-core'].optional).toBe(true);
    expect(pkg.dependencies?.['@tensorflow/tfjs-core']).toBeUndefined();
  });
});
