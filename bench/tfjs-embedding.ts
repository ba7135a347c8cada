// Quick A/B of one training step (`model.trainOnBatch`) of an embedding model in tfjs-layers:
// WasmEmbedding (wasm-optim/tfjs) against tfjs's own `tf.layers.embedding` + `tf.train.adam`, and
// WasmEmbedding at 1024 x 64 against 1M x 64, interleaved in one process. Pin it to one core:
//
//   taskset -c 0 npx tsx bench/tfjs-embedding.ts [--reps 5] [--tfjs-reps 3] [--batch 64] [--length 8]
//
// The model: ids [batch, length] -> embedding (rows x 64) -> flatten -> dense(1), mean squared
// error; the dense layer is trained by tfjs's Adam, the table by the engine's lazy Adam
// (WasmEmbedding) or by tfjs's Adam on the dense table gradient (tfjs's own layer). Prints the
// median step time of each contender and the ratios.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfwasm from '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { init } from '../src/index.js';
import { WasmEmbedding } from '../src/tfjs/index.js';

const args = process.argv.slice(2);
const flag = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const REPS = flag('reps', 7);
const TFJS_REPS = flag('tfjs-reps', 3);
const BATCH = flag('batch', 64);
const LENGTH = flag('length', 8);
const DIM = 64;

const require = createRequire(import.meta.url);
tfwasm.setWasmPaths(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/');

interface Contender {
  name: string;
  model: tfl.LayersModel;
  rows: number;
  times: number[];
}

function makeModel(kind: 'wasm' | 'tfjs' | 'none', rows: number): tfl.LayersModel {
  if (kind === 'none') {
    // The rest of the step alone: the same flatten -> dense(1) on a constant [batch, length, 64] input.
    const model = tfl.sequential({
      layers: [tfl.layers.flatten({ inputShape: [LENGTH, DIM] }), tfl.layers.dense({ units: 1 })],
    });
    model.compile({ optimizer: tf.train.adam(1e-3), loss: 'meanSquaredError' });
    return model;
  }
  const emb =
    kind === 'wasm'
      ? new WasmEmbedding({ inputDim: rows, outputDim: DIM, inputLength: LENGTH, optimizer: 'adam', lr: 1e-3, seed: 1 })
      : tfl.layers.embedding({ inputDim: rows, outputDim: DIM, inputLength: LENGTH });
  const model = tfl.sequential({ layers: [emb, tfl.layers.flatten(), tfl.layers.dense({ units: 1 })] });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'meanSquaredError' });
  return model;
}

function batch(rows: number, seed: number): [tf.Tensor, tf.Tensor] {
  if (rows === 0)
    return [
      tf.randomNormal([BATCH, LENGTH, DIM], 0, 1, 'float32', seed),
      tf.randomNormal([BATCH, 1], 0, 1, 'float32', seed),
    ];
  let s = seed >>> 0;
  const ids = new Int32Array(BATCH * LENGTH);
  for (let i = 0; i < ids.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    ids[i] = Math.floor((s / 2 ** 32) * rows);
  }
  return [tf.tensor2d(ids, [BATCH, LENGTH], 'int32'), tf.randomNormal([BATCH, 1], 0, 1, 'float32', seed)];
}

async function step(c: Contender, seed: number): Promise<number> {
  const [x, y] = batch(c.rows, seed);
  const t0 = performance.now();
  await c.model.trainOnBatch(x, y);
  const ms = performance.now() - t0;
  tf.dispose([x, y]);
  return ms;
}

const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const fmt = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3));

async function run(backend: 'cpu' | 'wasm'): Promise<void> {
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend ${backend} failed to start`);
  await tf.ready();
  const contenders: Contender[] = [
    { name: 'WasmEmbedding 1024 x 64', model: makeModel('wasm', 1024), rows: 1024, times: [] },
    { name: 'WasmEmbedding 1M x 64', model: makeModel('wasm', 1 << 20), rows: 1 << 20, times: [] },
    { name: 'no embedding (dense part only)', model: makeModel('none', 0), rows: 0, times: [] },
  ];
  let tfjsOwn: Contender | null = {
    name: 'tf.layers.embedding 1024 x 64',
    model: makeModel('tfjs', 1024),
    rows: 1024,
    times: [],
  };
  // Warm-up (kernel compilation, optimizer slots), then interleaved reps.
  for (const c of contenders) for (let i = 0; i < 2; i++) await step(c, 1000 + i);
  try {
    await step(tfjsOwn, 999);
  } catch (e) {
    console.log(`  ${backend}: tf.layers.embedding cannot train here: ${(e as Error).message.split('\n')[0]}`);
    tfjsOwn.model.dispose();
    tfjsOwn = null;
  }
  for (let r = 0; r < REPS; r++) {
    for (const c of contenders) c.times.push(await step(c, r));
    if (tfjsOwn && r < TFJS_REPS) tfjsOwn.times.push(await step(tfjsOwn, r));
  }
  const all = tfjsOwn ? [...contenders, tfjsOwn] : contenders;
  console.log(
    `\n${backend} backend, batch ${BATCH} x ${LENGTH} ids, dim ${DIM} (median ms of ${REPS} interleaved steps; tfjs's own layer ${TFJS_REPS}):`,
  );
  for (const c of all)
    console.log(`  ${c.name.padEnd(32)} ${fmt(median(c.times)).padStart(9)} ms   [${c.times.map(fmt).join(', ')}]`);
  const small = median(contenders[0].times);
  console.log(`  WasmEmbedding's own share of the 1024 x 64 step: ${fmt(small - median(contenders[2].times))} ms`);
  console.log(`  1M x 64 step / 1024 x 64 step: ${(median(contenders[1].times) / small).toFixed(2)}x`);
  if (tfjsOwn)
    console.log(
      `  tf.layers.embedding step / WasmEmbedding step (1024 x 64): ${(median(tfjsOwn.times) / small).toFixed(0)}x`,
    );
  for (const c of all) c.model.dispose();
}

await init();
const warn = console.warn;
console.warn = () => {}; // tfjs advertises tfjs-node in Node
await tf.setBackend('cpu');
tf.zeros([1]).dispose();
console.warn = warn;
const cpu = (await import('node:os')).cpus()[0]?.model ?? 'unknown CPU';
console.log(`${cpu}, Node ${process.version}, tfjs ${tf.version_core}, ${new Date().toISOString()}`);
for (const backend of ['cpu', 'wasm'] as const) await run(backend);
