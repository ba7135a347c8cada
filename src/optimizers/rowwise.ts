// The row-wise table optimizers of FBGEMM's table-batched embeddings (pytorch/FBGEMM,
// fbgemm_gpu/codegen/genscript/optimizers.py: `rowwise_adagrad` and `partial_rowwise_adam`), one
// declaration each. They keep one float of optimizer state per table row (beside Adam's per-element
// first moment for the partial row-wise Adam), so they exist for tables only: no dense class.
// Kernels: assembly/optimizers/rowwise/ (formulas there), row loops in assembly/embedding/lean.ts.

import { SLOT as S } from '../core/abi.js';
import type { CommonResolved, OptimizerDeclaration } from '../core/declaration.js';
import { checkChoice, checkNumber } from '../core/options.js';
import { betasAndEps, type BetasAndEps } from './parts.js';

/** How `rowwiseAdagrad` applies `weightDecay` (FBGEMM's `WeightDecayMode` L2 and DECOUPLE). */
export type RowwiseWeightDecayMode = 'l2' | 'decoupled';

/** Row-wise Adagrad's resolved options. */
export interface RowwiseAdagradResolved extends CommonResolved {
  eps: number;
  weightDecayMode: RowwiseWeightDecayMode;
  initialAccumulatorValue: number;
}

/**
 * Row-wise Adagrad (table optimizer `'rowwiseAdagrad'`), FBGEMM's `EXACT_ROWWISE_ADAGRAD` (TorchRec's
 * default for embedding tables), one accumulator `sum` per row:
 * `g' = g + wd w` (L2 mode); `sum += mean_d(g'^2)`; `mult = lr / (sqrt(sum) + eps)`;
 * `w = c w - mult g` with `c = 1 - mult wd` (L2), `1 - lr wd` (decoupled) or 1 (`weightDecay` 0).
 * Options: `lr` (default 0.01), `eps` (1e-8, FBGEMM's), `weightDecay` (0), `weightDecayMode`
 * (`'l2'` or `'decoupled'`, default `'l2'`), `initialAccumulatorValue` (0, TorchRec's), `maximize`,
 * `nonFinite`. Mode `'exact'` replays missed steps when a closed form exists: decoupled decay
 * (untouched rows shrink by `1 - lr wd` per step, FBGEMM's `DECOUPLE_GLOBAL`) or no decay.
 */
export const rowwiseAdagradDecl: OptimizerDeclaration<RowwiseAdagradResolved> = {
  name: 'RowwiseAdagrad',
  table: 'rowwiseAdagrad',
  options: ['lr', 'eps', 'weightDecay', 'weightDecayMode', 'initialAccumulatorValue', 'maximize', 'nonFinite'],
  defaults: { lr: 1e-2, weightDecay: 0 },
  resolve: (o, owner) => ({
    eps: checkNumber(owner, 'eps', o.eps ?? 1e-8, { min: 0 }),
    weightDecayMode: checkChoice(owner, 'weightDecayMode', o.weightDecayMode ?? 'l2', ['l2', 'decoupled'] as const),
    initialAccumulatorValue: checkNumber(owner, 'initialAccumulatorValue', o.initialAccumulatorValue ?? 0, { min: 0 }),
  }),
  stateLayout: () => ['sum'],
  rowState: ['sum'],
  initState: (_name, view, o) => view.fill(o.initialAccumulatorValue),
  writeHyper(h, o, _t, gradScale, _series, stepOnly) {
    h.f32(S.RWADAGRAD_GSCALE, gradScale);
    h.f32(S.RWADAGRAD_LR, o.lr);
    h.f32(S.RWADAGRAD_DECAY, 1 - o.lr * o.weightDecay);
    if (stepOnly) return;
    const l2 = o.weightDecayMode === 'l2' && o.weightDecay !== 0;
    const dec = o.weightDecayMode === 'decoupled' && o.weightDecay !== 0;
    h.f32(S.RWADAGRAD_EPS, o.eps);
    h.f32(S.RWADAGRAD_WD, o.weightDecay);
    h.flag(S.RWADAGRAD_USE_L2, l2);
    h.flag(S.RWADAGRAD_USE_DEC, dec);
  },
  l2: (o) => (o.weightDecayMode === 'l2' ? o.weightDecay : 0),
  squaresGradient: true,
  rowKernel: S.EMB_KIND_ROWWISE_ADAGRAD,
};

/** Partial row-wise Adam's resolved options. */
export interface PartialRowwiseAdamResolved extends CommonResolved, BetasAndEps {}

/**
 * Partial row-wise Adam (table optimizer `'partialRowwiseAdam'`), FBGEMM's `PARTIAL_ROWWISE_ADAM`:
 * Adam's first moment `exp_avg` per element, its second moment `exp_avg_sq` one float per row:
 * `m = b1 m + (1 - b1) g`; `v = b2 v + (1 - b2) mean_d(g^2)`;
 * `w -= lr (m / (1 - b1^t) / (sqrt(v / (1 - b2^t)) + eps) + wd w)` (the decay is FBGEMM's: in the
 * update, scaled by lr). Options: `lr` (1e-3), `betas` ([0.9, 0.999]), `eps` (1e-8),
 * `weightDecay` (0), `maximize`, `nonFinite`. Mode `'exact'` replays missed steps in closed form
 * (Adam's, with the row's one second moment; docs/lean-tables.md).
 */
export const partialRowwiseAdamDecl: OptimizerDeclaration<PartialRowwiseAdamResolved> = {
  name: 'PartialRowwiseAdam',
  table: 'partialRowwiseAdam',
  options: ['lr', 'betas', 'eps', 'weightDecay', 'maximize', 'nonFinite'],
  defaults: { lr: 1e-3, weightDecay: 0 },
  resolve: (o, owner) => betasAndEps(o, owner),
  stateLayout: () => ['exp_avg', 'exp_avg_sq'],
  rowState: ['exp_avg_sq'],
  writeHyper(h, o, t, gradScale, series, stepOnly) {
    const b1 = o.betas[0],
      b2 = o.betas[1];
    h.f32(S.PRADAM_GSCALE, gradScale);
    h.f32(S.PRADAM_STEP_SIZE, o.lr / (1 - series.betas.b1.at(b1, t)));
    h.f32(S.PRADAM_INV_BC2_SQRT, 1 / Math.sqrt(1 - series.betas.b2.at(b2, t)));
    h.f32(S.PRADAM_LWD, o.lr * o.weightDecay);
    if (stepOnly) return;
    h.f32(S.PRADAM_BETA1, b1);
    h.f32(S.PRADAM_OMB1, 1 - b1);
    h.f32(S.PRADAM_BETA2, b2);
    h.f32(S.PRADAM_OMB2, 1 - b2);
    h.f32(S.PRADAM_EPS, o.eps);
    h.flag(S.PRADAM_USE_WD, o.weightDecay !== 0);
  },
  l2: () => 0,
  squaresGradient: true,
  rowKernel: S.EMB_KIND_PARTIAL_ROWWISE_ADAM,
};
