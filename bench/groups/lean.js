// Memory-lean tables (docs/lean-tables.md): one update of a rows x 64 table with 4096 Zipf-like ids,
// fp32 Adam (768 B a row) against row-wise Adagrad (260 B), partial row-wise Adam (516 B) and FTRL
// (768 B, more arithmetic), all lazy, in the engine. The target is the issue's: row-wise Adagrad at
// least twice as fast as fp32 Adam on the same run, pinned to one core. The yardsticks
// (bench/c/lean.c, ./lean-c.js): the row loops of fp32 Adam, bf16 + int8 Adam (the engine's format
// and bits) and row-wise Adagrad in plain C, natively (gcc) and in wasm (clang), on the same ids
// coalesced before timing: row loops only, to set against the engine's row phase (bench/lean-ab.js
// --phases --c), and each other: what ratio the best known way reaches on this CPU.
import { grads, params, ZipfIds } from '../lib/data.js';
import { coalesced, engineMaps, LEAN_C_METHODS, leanWasm, runNative, wasmRunner } from './lean-c.js';

export const DIM = 64;
export const K = 4096;
const BATCHES = 64; // distinct id batches, cycled through

export const LEAN_ROWS = [262144];
export const LEAN_ROWS_QUICK = [16384];

const CONTENDERS = [
  { id: 'engine-rowwise-adagrad', label: 'row-wise Adagrad', optimizer: 'rowwiseAdagrad', lr: 1e-2 },
  { id: 'engine-adam', label: 'Adam fp32', optimizer: 'adam', lr: 1e-3 },
  { id: 'engine-partial-rowwise-adam', label: 'partial row-wise Adam', optimizer: 'partialRowwiseAdam', lr: 1e-3 },
  { id: 'engine-ftrl', label: 'FTRL', optimizer: 'ftrl', lr: 1e-2 },
];

/** The C yardsticks: row loops only (bench/c/lean.c), natively and in wasm. */
const YARDSTICKS = [
  { id: 'yardstick-c-adam', label: 'yardstick: C rows, fp32 Adam (gcc)', build: 'native', method: 'adam32' },
  { id: 'yardstick-c-int8', label: 'yardstick: C rows, bf16 + int8 Adam (gcc)', build: 'native', method: 'adam8' },
  { id: 'yardstick-c-adagrad', label: 'yardstick: C rows, row-wise Adagrad (gcc)', build: 'native', method: 'adagrad' },
  { id: 'yardstick-wasm-adam', label: 'yardstick: C rows, fp32 Adam (clang wasm)', build: 'wasm', method: 'adam32' },
  {
    id: 'yardstick-wasm-int8',
    label: 'yardstick: C rows, bf16 + int8 Adam (clang wasm)',
    build: 'wasm',
    method: 'adam8',
  },
  {
    id: 'yardstick-wasm-adagrad',
    label: 'yardstick: C rows, row-wise Adagrad (clang wasm)',
    build: 'wasm',
    method: 'adagrad',
  },
];

/**
 * Plans the lean group, or returns null when the package has no lean table optimizers.
 * @param {any} ctx
 */
export function leanGroup(ctx) {
  if (typeof ctx.lib.Embedding !== 'function' || !ctx.lib.TABLE_OPTIMIZER_NAMES?.includes('rowwiseAdagrad'))
    return null;
  const rowsList = ctx.quick ? LEAN_ROWS_QUICK : LEAN_ROWS;
  const tasks = [];
  for (const rows of rowsList) {
    let data;
    const get = () => (data ??= makeData(rows));
    for (const c of CONTENDERS) {
      tasks.push({
        name: `lean/${c.id}/${rows}`,
        contender: c.id,
        n: rows,
        elems: K * DIM,
        setup: () => setupLean(ctx, c, rows, get()),
      });
    }
    for (const y of YARDSTICKS) {
      tasks.push({
        name: `lean/${y.id}/${rows}`,
        contender: y.id,
        n: rows,
        elems: K * DIM,
        setup: () => setupYardstick(ctx, y, rows, get()),
      });
    }
  }
  return {
    id: 'lean',
    title: `Lean tables: update of a rows × ${DIM} table, ${K} Zipf ids, by optimizer (bytes per row)`,
    kind: 'sparse',
    unit: 'Melem/s',
    xLabel: 'table rows',
    baseline: 'engine-rowwise-adagrad',
    showMs: true,
    contenders: [...CONTENDERS, ...YARDSTICKS].map(({ id, label }) => ({ id, label })),
    targets: [{ contender: 'engine-adam', min: 2, at: 'every', label: 'row-wise Adagrad ≥ 2× fp32 Adam' }],
    notes: [
      `throughput counts the ${K}×${DIM} gradient elements of one update; ${BATCHES} id batches are cycled; lazy mode, nonFinite: 'ignore'; bytes per row: Adam and FTRL 768, partial row-wise Adam 516, row-wise Adagrad 260`,
      `the yardstick rows (bench/c/lean.c) time row loops only, the ids coalesced before timing (${Object.entries(
        LEAN_C_METHODS,
      )
        .filter(([m]) => ['adam32', 'adam8', 'adagrad'].includes(m))
        .map(([m, d]) => `${m}: ${d}`)
        .join(
          '; ',
        )}): compare them with each other, and with the engine's row phase (bench/lean-ab.js --phases --c), not with whole updates`,
    ],
    tasks,
  };
}

/** The group's update data for a table of `rows`: BATCHES Zipf id batches of K ids, one gradient block. */
export function makeData(rows) {
  const zipf = new ZipfIds(rows);
  const ids = [];
  for (let b = 0; b < BATCHES; b++) ids.push(zipf.draw(K));
  return { ids, grads: grads(K * DIM, 3) };
}

/**
 * A timed task that updates the table `create()` makes with the id batches of `data` in turn (the
 * lean and lean-storage groups), or the first line of the error when the table cannot be made.
 * @param {{ ids: Int32Array[], grads: Float32Array }} data
 * @param {() => Promise<any> | any} create
 */
export async function cycledUpdate(data, create) {
  let b = 0;
  const nextIds = () => data.ids[(b = (b + 1) % BATCHES)];
  let emb;
  try {
    emb = await create();
  } catch (e) {
    return { error: String(e.message ?? e).split('\n')[0] };
  }
  return { fn: () => emb.update(nextIds(), data.grads), dispose: () => emb.dispose() };
}

function setupLean(ctx, c, rows, data) {
  return cycledUpdate(
    data,
    () =>
      new ctx.lib.Embedding(rows, DIM, {
        optimizer: c.optimizer,
        lr: c.lr,
        nonFinite: 'ignore',
        init: params(rows * DIM, 5),
        engine: ctx.sparseEngine,
      }),
  );
}

/** A yardstick task: lean.c's row loop natively (a child process) or in wasm (this process), or why it is skipped. */
function setupYardstick(ctx, y, rows, data) {
  const maps = engineMaps(ctx.lib);
  if (y.build === 'native') {
    return {
      external: () => {
        const out = runNative(y.method, rows, DIM, data, maps, ctx.timeMs, ctx.c?.clock ?? 'wall');
        return out.skipped ? { skipped: out.skipped } : { samples: out.samples, reps: out.reps };
      },
    };
  }
  const w = leanWasm();
  if (!w.module) return { skipped: w.skipped };
  const run = wasmRunner(w.module, y.method, rows, DIM, coalesced(data, DIM), maps, params(rows * DIM, 5));
  return { fn: run.fn };
}
