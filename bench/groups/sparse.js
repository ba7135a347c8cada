// Embedding tables with sparse updates: Adam on a rows x 64 table, 4096 ids per update, in two
// regimes: Zipf-like ids (ids repeat, as words do: group `sparse`) and hot ids (90% from 256 rows:
// group `sparse-hot`, where coalescing dominates). Time per update(): the engine's lazy and exact
// modes (and lazy Adamax and Lion, for their cost next to Adam's; lazy with the gradients already in
// engine memory through gradView, as the C loops have theirs), a plain JS lazy loop, the C lazy
// loops (radix-sort, slot-per-row and hybrid coalescing, slot per row with prefetched rows, and the
// engine's hash-and-chains coalescing with prefetched rows: the fastest), the row-touch limit
// (bench/c/sparse.c, prefetched too), the wasm limit of a whole update (sparse.c's chains and
// prefetch methods compiled by clang to wasm SIMD and run in this process, on the native loops' ids
// and gradients: ../lib/wasm-clang-sparse.js; no prefetch instruction in wasm), and
// tfjs-wasm's dense whole-table Adam step (the only way tfjs can do it; Zipf regime only).
// Every contender's table is resident before timing: the C program writes all its pages (random
// weights, memset moments), so the engine's memory and the JS loop's arrays are touched page by
// page too (../lib/pages.js), and no first-touch fault lands in a timed update.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { grads, HotIds, params, ZipfIds } from '../lib/data.js';
import { touchPages } from '../lib/pages.js';
import { sparseUpdater, sparseWasm } from '../lib/wasm-clang-sparse.js';
import { useBackend } from '../lib/tfjs.js';
import { tfjsError } from './dense.js';

const DIM = 64;
const K = 4096;
const BATCHES = 64; // distinct id batches, cycled through
const LR = 1e-3;

export const SPARSE_ROWS = [262144, 1048576];
export const SPARSE_ROWS_QUICK = [16384];

const CONTENDERS = [
  { id: 'engine-lazy', label: 'wasm-optim lazy' },
  { id: 'engine-lazy-view', label: 'wasm-optim lazy (gradView)' },
  { id: 'engine-exact', label: 'wasm-optim exact' },
  { id: 'engine-lazy-adamax', label: 'wasm-optim lazy Adamax' },
  { id: 'engine-lazy-lion', label: 'wasm-optim lazy Lion' },
  { id: 'js-lazy', label: 'plain JS lazy' },
  { id: 'c-lazy', label: 'C lazy (radix sort)' },
  { id: 'c-direct', label: 'C lazy (slot per row)' },
  { id: 'c-hybrid', label: 'C lazy (hybrid)' },
  { id: 'c-prefetch', label: 'C lazy (slot per row, prefetch)' },
  { id: 'c-chains', label: 'C lazy (hash + chains, prefetch)' },
  { id: 'c-touch', label: 'row-touch limit' },
  { id: 'wasm-clang-chains', label: 'wasm (clang) chains', ratioLabel: 'wasm limit (chains)' },
  { id: 'wasm-clang-prefetch', label: 'wasm (clang) prefetch', ratioLabel: 'wasm limit (prefetch)' },
  { id: 'tfjs-wasm-dense', label: 'tfjs-wasm dense' },
];

/** The C program's method for each C contender (bench/c/sparse.c). */
const C_METHODS = {
  'c-lazy': 'radix',
  'c-direct': 'direct',
  'c-hybrid': 'hybrid',
  'c-prefetch': 'prefetch',
  'c-chains': 'chains',
  'c-touch': 'touch',
};

/** The id regimes: how a batch's ids are drawn. */
export const SPARSE_REGIMES = {
  zipf: { group: 'sparse', title: 'Zipf ids', ids: (rows) => new ZipfIds(rows) },
  hot: { group: 'sparse-hot', title: 'hot ids (90% from 256 rows)', ids: (rows) => new HotIds(rows) },
};

/**
 * Plans the embedding group of one id regime, or returns null when the package has no `Embedding` yet.
 * @param {any} ctx
 * @param {keyof typeof SPARSE_REGIMES} [regime]
 */
export function sparseGroup(ctx, regime = 'zipf') {
  if (typeof ctx.lib.Embedding !== 'function') return null;
  const rg = SPARSE_REGIMES[regime];
  const rowsList = ctx.quick ? SPARSE_ROWS_QUICK : SPARSE_ROWS;
  // tfjs's dense whole-table step does not depend on the ids: measured once, in the Zipf group.
  const contenders = CONTENDERS.filter((c) => regime === 'zipf' || c.id !== 'tfjs-wasm-dense');
  const tasks = [];
  for (const rows of rowsList) {
    let data;
    const get = () => (data ??= makeData(ctx, rows, rg));
    for (const c of contenders) {
      tasks.push({
        name: `${rg.group}/${c.id}/${rows}`,
        contender: c.id,
        n: rows,
        elems: K * DIM,
        setup: () => setupSparse(ctx, c.id, rows, get(), regime),
      });
    }
  }
  return {
    id: rg.group,
    title: `Embedding update: Adam, rows × ${DIM} table, ${K} ${rg.title} per update`,
    kind: 'sparse',
    unit: 'Melem/s',
    xLabel: 'table rows',
    baseline: 'engine-lazy',
    showMs: true,
    contenders: contenders.map((c) => (c.id === 'c-touch' ? { ...c, ratioLabel: 'row-touch' } : c)),
    targets: [
      ...(regime === 'zipf'
        ? [{ contender: 'tfjs-wasm-dense', min: 2000, at: 'every', label: '≥ 2000× the tfjs dense step' }]
        : []),
      { contender: 'c-lazy', min: 1, at: 'every', label: 'at least the speed of the C lazy loop (radix sort)' },
      { contender: 'c-direct', min: 1, at: 'every', label: 'at least the speed of the C lazy loop (slot per row)' },
      { contender: 'c-hybrid', min: 1, at: 'every', label: 'at least the speed of the C lazy loop (hybrid)' },
      {
        contender: 'c-prefetch',
        min: 1,
        at: 'every',
        label: 'at least the speed of the C lazy loop (slot per row, prefetch)',
      },
      {
        contender: 'c-chains',
        min: 1,
        at: 'every',
        label: 'at least the speed of the C lazy loop (hash + chains, prefetch)',
      },
      { contender: 'c-touch', min: 0.8, at: 'every', label: '≥ 0.8× the row-touch limit' },
      ...(regime === 'zipf'
        ? [{ contender: 'engine-exact', max: 1.3, at: 'every', label: 'exact mode ≤ 1.3× the time of lazy' }]
        : []),
    ],
    notes: [
      `throughput counts the ${K}×${DIM} gradient elements of one update; ${BATCHES} id batches are cycled; the engine runs with nonFinite: 'ignore' (no check, like the JS and C loops)`,
    ],
    tasks,
  };
}

function makeData(ctx, rows, rg) {
  const source = rg.ids(rows);
  const ids = [];
  for (let b = 0; b < BATCHES; b++) ids.push(source.draw(K));
  const unique = ids.reduce((s, a) => s + new Set(a).size, 0) / BATCHES;
  ctx.note(`${rg.group} ${rows} rows: ${unique.toFixed(0)} distinct ids per batch of ${K} on average`);
  return { ids, grads: grads(K * DIM, 3) };
}

/** Sets up one contender for one table size, once for all rounds (see setupDense in dense.js). */
async function setupSparse(ctx, contender, rows, data, regime) {
  let b = 0;
  const nextIds = () => data.ids[(b = (b + 1) % BATCHES)];
  switch (contender) {
    case 'engine-lazy':
    case 'engine-exact':
    case 'engine-lazy-adamax':
    case 'engine-lazy-lion': {
      const [, mode, optimizer = 'adam'] = contender.split('-');
      let emb;
      try {
        emb = newEmbedding(ctx, rows, mode, optimizer);
      } catch (e) {
        return { error: String(e.message ?? e).split('\n')[0] };
      }
      touchPages(emb.engine.memory.buffer);
      return { fn: () => emb.update(nextIds(), data.grads), dispose: () => emb.dispose() };
    }
    case 'engine-lazy-view': {
      // The gradients already in engine memory (written once into gradView, as the C loops have
      // theirs in their own memory): update() copies nothing in.
      let emb;
      try {
        emb = newEmbedding(ctx, rows, 'lazy');
      } catch (e) {
        return { error: String(e.message ?? e).split('\n')[0] };
      }
      emb.gradView(K).set(data.grads);
      touchPages(emb.engine.memory.buffer);
      return { fn: () => emb.update(nextIds(), emb.gradView(K)), dispose: () => emb.dispose() };
    }
    case 'js-lazy': {
      const step = jsLazyAdam(rows);
      return { fn: () => step(nextIds(), data.grads) };
    }
    case 'c-lazy':
    case 'c-direct':
    case 'c-hybrid':
    case 'c-prefetch':
    case 'c-chains':
    case 'c-touch': {
      if (ctx.c.skipped) return { skipped: ctx.c.skipped };
      const file = join(ctx.c.dir, `ids-${regime}-${rows}.bin`);
      const all = new Int32Array(BATCHES * K);
      data.ids.forEach((a, i) => all.set(a, i * K));
      writeFileSync(file, new Uint8Array(all.buffer));
      return {
        external: () => {
          const [out] = ctx.c.run('sparse', [
            String(rows),
            String(DIM),
            String(K),
            file,
            String(BATCHES),
            String(ctx.timeMs),
            C_METHODS[contender],
          ]);
          return { samples: out.samples, reps: out.reps };
        },
      };
    }
    case 'wasm-clang-chains':
    case 'wasm-clang-prefetch': {
      // sparse.c's update in this process: its own table and gradients (filled as the native
      // program fills them), the same id batches in the same order.
      const w = sparseWasm();
      if (w.skipped) return { skipped: w.skipped };
      const method = contender.slice('wasm-clang-'.length);
      return sparseUpdater(w.module, method, { rows, dim: DIM, k: K, batches: data.ids });
    }
    case 'tfjs-wasm-dense': {
      const { tf, skipped } = await ctx.tfjs();
      if (!tf) return { skipped };
      await useBackend(tf, 'wasm');
      const before = tf.memory().numTensors;
      let v, g, opt;
      const dispose = () => {
        try {
          opt?.dispose();
          v?.dispose();
          g?.dispose();
        } catch {
          // a backend that ran out of memory may refuse to dispose; nothing more to free
        }
        const leaked = tf.memory().numTensors - before;
        if (leaked > 0) ctx.note(`tfjs wasm: ${leaked} tensors left after the ${rows}-row table`);
      };
      try {
        const init = tf.tensor2d(params(rows * DIM), [rows, DIM]);
        v = tf.variable(init);
        init.dispose();
        // The dense gradient of one update: zero outside the batch's rows.
        const dense = new Float32Array(rows * DIM);
        const ids = data.ids[0];
        for (let i = 0; i < K; i++) for (let d = 0; d < DIM; d++) dense[ids[i] * DIM + d] += data.grads[i * DIM + d];
        g = tf.tensor2d(dense, [rows, DIM]);
        opt = tf.train.adam(LR, 0.9, 0.999, 1e-8);
        const map = { [v.name]: g };
        opt.applyGradients(map); // allocates the moments now: an out-of-memory shows here
        return { fn: () => opt.applyGradients(map), before: () => useBackend(tf, 'wasm'), dispose };
      } catch (e) {
        dispose();
        return { error: tfjsError(e) };
      }
    }
    default:
      throw new Error(`unknown contender ${contender}`);
  }
}

function newEmbedding(ctx, rows, mode, optimizer = 'adam') {
  const opts = { optimizer, lr: LR, mode, nonFinite: 'ignore', init: params(rows * DIM, 5) };
  try {
    return new ctx.lib.Embedding(rows, DIM, { ...opts, engine: ctx.sparseEngine });
  } catch (e) {
    // A table that does not take an `engine` option uses the default one.
    if (/engine/.test(String(e?.message))) return new ctx.lib.Embedding(rows, DIM, opts);
    throw e;
  }
}

/**
 * Lazy Adam in plain JS, written as a user would: sum duplicate ids' gradients with a Map, then
 * update each distinct row, with the bias correction from the table's update count.
 */
function jsLazyAdam(rows) {
  const w = params(rows * DIM, 5),
    m = new Float32Array(rows * DIM),
    v = new Float32Array(rows * DIM);
  const acc = new Float32Array(K * DIM);
  for (const a of [m, v, acc]) touchPages(a);
  let t = 0;
  return (ids, g) => {
    t++;
    const ss = LR / (1 - 0.9 ** t),
      ib = 1 / Math.sqrt(1 - 0.999 ** t);
    const slot = new Map();
    let used = 0;
    for (let i = 0; i < ids.length; i++) {
      let s = slot.get(ids[i]);
      if (s === undefined) {
        s = used++;
        slot.set(ids[i], s);
        for (let d = 0; d < DIM; d++) acc[s * DIM + d] = g[i * DIM + d];
      } else {
        for (let d = 0; d < DIM; d++) acc[s * DIM + d] += g[i * DIM + d];
      }
    }
    for (const [row, s] of slot) {
      const base = row * DIM;
      for (let d = 0; d < DIM; d++) {
        const gd = acc[s * DIM + d];
        const md = (m[base + d] = 0.9 * m[base + d] + 0.1 * gd);
        const vd = (v[base + d] = 0.999 * v[base + d] + 0.001 * gd * gd);
        w[base + d] -= (ss * md) / (Math.sqrt(vd) * ib + 1e-8);
      }
    }
  };
}
