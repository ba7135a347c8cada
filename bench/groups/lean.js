// Memory-lean tables (docs/lean-tables.md): one update of a rows x 64 table with 4096 Zipf-like ids,
// fp32 Adam (768 B a row) against row-wise Adagrad (260 B), partial row-wise Adam (516 B) and FTRL
// (768 B, more arithmetic), all lazy, in the engine. The target is the issue's: row-wise Adagrad at
// least twice as fast as fp32 Adam on the same run, pinned to one core.
import { grads, params, ZipfIds } from '../lib/data.js';

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
  }
  return {
    id: 'lean',
    title: `Lean tables: update of a rows × ${DIM} table, ${K} Zipf ids, by optimizer (bytes per row)`,
    kind: 'sparse',
    unit: 'Melem/s',
    xLabel: 'table rows',
    baseline: 'engine-rowwise-adagrad',
    showMs: true,
    contenders: CONTENDERS.map(({ id, label }) => ({ id, label })),
    targets: [{ contender: 'engine-adam', min: 2, at: 'every', label: 'row-wise Adagrad ≥ 2× fp32 Adam' }],
    notes: [
      `throughput counts the ${K}×${DIM} gradient elements of one update; ${BATCHES} id batches are cycled; lazy mode, nonFinite: 'ignore'; bytes per row: Adam and FTRL 768, partial row-wise Adam 516, row-wise Adagrad 260`,
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
