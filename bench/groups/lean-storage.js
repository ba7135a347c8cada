// Lean storage (docs/lean-storage.md): Adam on a rows x 64 table with float32 storage against bf16
// weights with int8 (and bf16) state, 4096 Zipf ids per update; and, where the machine has the
// memory, an update of a 1-billion-parameter table (16M x 64, bf16 weights, int8 Adagrad state).
import { freemem, totalmem } from 'node:os';
import { cycledUpdate, DIM, K, LEAN_ROWS, LEAN_ROWS_QUICK, makeData } from './lean.js';

const LR = 1e-3;
const BILLION_ROWS = 2 ** 24;

const CONTENDERS = [
  { id: 'f32-adam', label: 'f32 weights + f32 Adam', opts: { optimizer: 'adam' } },
  {
    id: 'bf16-int8-adam',
    label: 'bf16 weights + int8 Adam',
    opts: { optimizer: 'adam', weightType: 'bf16', stateType: 'int8' },
  },
  {
    id: 'bf16-bf16-adam',
    label: 'bf16 weights + bf16 Adam',
    opts: { optimizer: 'adam', weightType: 'bf16', stateType: 'bf16' },
  },
  {
    id: 'bf16-int8-adagrad-1b',
    label: '1B params: bf16 + int8 Adagrad',
    opts: { optimizer: 'adagrad', weightType: 'bf16', stateType: 'int8' },
  },
];

/**
 * Plans the lean-storage group (id `lean`), or returns null when the package's tables take no `weightType`.
 * @param {any} ctx
 */
export function leanStorageGroup(ctx) {
  if (typeof ctx.lib.Embedding !== 'function') return null;
  const tasks = [];
  const rowsList = ctx.quick ? LEAN_ROWS_QUICK : LEAN_ROWS;
  const billion = !ctx.quick && totalmem() >= 6 * 2 ** 30 && freemem() >= 4 * 2 ** 30;
  for (const rows of [...rowsList, ...(billion ? [BILLION_ROWS] : [])]) {
    let data;
    const get = () => (data ??= makeData(rows));
    for (const c of CONTENDERS) {
      if ((rows === BILLION_ROWS) !== c.id.endsWith('-1b')) continue;
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
    id: 'lean-storage',
    title: `Lean tables: Adam on rows × ${DIM}, ${K} Zipf ids per update, by storage`,
    kind: 'sparse',
    unit: 'Melem/s',
    xLabel: 'table rows',
    // The ratios are the baseline's speed over each contender's: the lean table's over fp32 Adam's
    // is the target (it was the other way round, so that 3.4x slower read as met).
    baseline: 'bf16-int8-adam',
    showMs: true,
    contenders: CONTENDERS.map(({ id, label }) => ({ id, label })),
    targets: [{ contender: 'f32-adam', min: 1.5, at: 'every', label: 'bf16 + int8 Adam ≥ 1.5× f32 Adam' }],
    notes: [
      `bytes per row: f32 Adam 768, bf16 + int8 Adam 264, bf16 + bf16 Adam 384, bf16 + int8 Adagrad 196; nonFinite 'ignore' as in the sparse group`,
    ],
    tasks,
  };
}

function setupLean(ctx, c, rows, data) {
  return cycledUpdate(data, async () => {
    const engine = rows === BILLION_ROWS ? await ctx.lib.createEngine() : ctx.sparseEngine;
    return new ctx.lib.Embedding(rows, DIM, { ...c.opts, lr: LR, nonFinite: 'ignore', init: 'zeros', seed: 1, engine });
  });
}
