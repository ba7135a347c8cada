import { SLOT as S } from '../core/abi.js';
import type { CommonResolved, OptimizerDeclaration } from '../core/declaration.js';
import { checkBoolean, checkNumber } from '../core/options.js';
import { Optimizer, type BaseOptions } from '../core/optimizer.js';
import type { Schedule } from '../core/schedules.js';
import { sgdMeta } from './meta.js';

/** Options of `SGD` (PyTorch 2.x names in camelCase). */
export interface SGDOptions extends BaseOptions {
  /** Learning rate. Default 1e-3. */
  lr?: number | Schedule;
  /** Momentum factor. Default 0. */
  momentum?: number;
  /** Dampening for momentum. Default 0. */
  dampening?: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0). Default false. */
  nesterov?: boolean;
  /** L2 weight decay added to the gradient. Default 0. */
  weightDecay?: number;
}

/** SGD's resolved options. */
export interface SGDResolved extends CommonResolved {
  momentum: number;
  dampening: number;
  nesterov: boolean;
}

/** SGD's declaration (tables: `'sgd'`). */
export const sgdDecl: OptimizerDeclaration<SGDResolved> = {
  name: 'SGD',
  table: 'sgd',
  options: ['lr', 'momentum', 'dampening', 'nesterov', 'weightDecay', 'maximize', 'nonFinite'],
  defaults: { lr: 1e-3, weightDecay: 0 },
  resolve(o, owner) {
    const r = {
      momentum: checkNumber(owner, 'momentum', o.momentum ?? 0, { min: 0 }),
      dampening: checkNumber(owner, 'dampening', o.dampening ?? 0),
      nesterov: checkBoolean(owner, 'nesterov', o.nesterov ?? false),
    };
    if (r.nesterov && (r.momentum <= 0 || r.dampening !== 0)) {
      throw new RangeError(
        `${owner}: option 'nesterov' needs momentum > 0 and dampening 0, got momentum ${r.momentum}, dampening ${r.dampening}`,
      );
    }
    return r;
  },
  stateLayout: (o) => [o.momentum !== 0 ? 'momentum_buffer' : null],
  writeHyper(h, o, t, gradScale, _series, stepOnly) {
    h.f32(S.SGD_GSCALE, gradScale);
    h.f32(S.SGD_LR, o.lr);
    h.flag(S.SGD_FIRST, t === 1);
    if (stepOnly) return;
    h.f32(S.SGD_MOMENTUM, o.momentum);
    h.f32(S.SGD_OMD, 1 - o.dampening);
    h.f32(S.SGD_WD, o.weightDecay);
    h.flag(S.SGD_USE_MOMENTUM, o.momentum !== 0);
    h.flag(S.SGD_NESTEROV, o.nesterov);
    h.flag(S.SGD_USE_WD, o.weightDecay !== 0);
  },
  // The first-step flag is the only slot that moves with t.
  steadyFrom: () => 2,
  kernel: 'sgdStep',
  quantKernel: 'sgdQStep',
  rowKernel: S.EMB_KIND_SGD,
  meta: sgdMeta,
};

/**
 * Stochastic gradient descent with PyTorch's momentum:
 * `d = g + wd p; buf = d (first step) | momentum buf + (1 - dampening) d;
 *  d = nesterov ? d + momentum buf : buf; p -= lr d`.
 * State per param: `momentum_buffer` (when momentum != 0).
 */
export class SGD extends Optimizer<SGDOptions> {
  static readonly declaration = sgdDecl;
}
