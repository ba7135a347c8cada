// What each optimizer declares about its meta-gradients (`OptimizerDeclaration.meta`): the
// hyperparameters it can track, its fused kernel (assembly/meta/), and the derivatives of its
// kernel's per-step scalars with respect to each hyperparameter, computed in float64 (the
// recurrences they feed: docs/meta-gradients.md).

import { SLOT as S } from '../core/abi.js';
import type { MetaDeclaration } from '../core/declaration.js';

// The options each one reads (structural, so that this file does not import the optimizers that
// import it).
type AdamLike = { lr: number; betas: readonly [number, number]; weightDecay: number; amsgrad: boolean };
type SGDLike = { momentum: number };
type RMSpropLike = { momentum: number; centered: boolean };
type AdagradLike = { lr: number; lrDecay: number };

const d = (name: string, of: string): number => (name === of ? 1 : 0);

/** Adam's (`decoupled` false) or AdamW's. */
export function adamMeta(decoupled: boolean): MetaDeclaration<AdamLike> {
  const kind = decoupled ? 'AdamW' : 'Adam';
  return {
    names: ['lr', 'beta1', 'beta2', 'eps', 'weightDecay'],
    kernel: 'adamMetaStep',
    slots: () => 3,
    refuse: (o) =>
      o.amsgrad ? `AMSGrad's running maximum is not differentiated here; create the ${kind} with amsgrad: false` : null,
    writeHyper(h, o, t, name) {
      const b1 = o.betas[0],
        b2 = o.betas[1],
        lr = o.lr,
        wd = o.weightDecay;
      const bc1 = 1 - b1 ** t,
        bc2 = 1 - b2 ** t;
      // stepSize = lr / bc1: d/dlr = 1/bc1; d/db1 = lr t b1^(t-1) / bc1^2 (d bc1/db1 = -t b1^(t-1)).
      h.f32(S.MADAM_DSS, name === 'lr' ? 1 / bc1 : name === 'beta1' ? (lr * t * b1 ** (t - 1)) / (bc1 * bc1) : 0);
      // invBc2Sqrt = bc2^(-1/2): d/db2 = t b2^(t-1) / (2 bc2^(3/2)).
      h.f32(S.MADAM_DIB, name === 'beta2' ? (t * b2 ** (t - 1)) / (2 * bc2 * Math.sqrt(bc2)) : 0);
      h.f32(S.MADAM_DB1, d(name, 'beta1'));
      h.f32(S.MADAM_DB2, d(name, 'beta2'));
      h.f32(S.MADAM_DEPS, d(name, 'eps'));
      h.f32(S.MADAM_DWD, decoupled ? 0 : d(name, 'weightDecay'));
      // AdamW's factor 1 - lr wd.
      h.f32(S.MADAM_DDC, decoupled ? (name === 'lr' ? -wd : name === 'weightDecay' ? -lr : 0) : 0);
    },
  };
}

/** SGD's. */
export const sgdMeta: MetaDeclaration<SGDLike> = {
  names: ['lr', 'momentum', 'dampening', 'weightDecay'],
  kernel: 'sgdMetaStep',
  slots: (o) => (o.momentum !== 0 ? 2 : 1),
  refuse: (o, name) =>
    (name === 'momentum' || name === 'dampening') && o.momentum === 0
      ? `with momentum 0 SGD keeps no momentum buffer, which the derivative needs; create the SGD with momentum > 0`
      : null,
  writeHyper(h, _o, _t, name) {
    h.f32(S.MSGD_DLR, d(name, 'lr'));
    h.f32(S.MSGD_DMU, d(name, 'momentum'));
    h.f32(S.MSGD_DOMD, -d(name, 'dampening'));
    h.f32(S.MSGD_DWD, d(name, 'weightDecay'));
  },
};

/** RMSprop's. */
export const rmspropMeta: MetaDeclaration<RMSpropLike> = {
  names: ['lr', 'alpha', 'eps', 'weightDecay', 'momentum'],
  kernel: 'rmspropMetaStep',
  slots: (o) => (o.centered ? 4 : o.momentum > 0 ? 3 : 2),
  refuse: (o, name) =>
    name === 'momentum' && o.momentum === 0
      ? `with momentum 0 RMSprop keeps no momentum buffer, which the derivative needs; create the RMSprop with momentum > 0`
      : null,
  writeHyper(h, _o, _t, name) {
    h.f32(S.MRMS_DLR, d(name, 'lr'));
    h.f32(S.MRMS_DAL, d(name, 'alpha'));
    h.f32(S.MRMS_DEPS, d(name, 'eps'));
    h.f32(S.MRMS_DWD, d(name, 'weightDecay'));
    h.f32(S.MRMS_DMU, d(name, 'momentum'));
  },
};

/** Adagrad's. */
export const adagradMeta: MetaDeclaration<AdagradLike> = {
  names: ['lr', 'lrDecay', 'eps', 'weightDecay', 'initialAccumulatorValue'],
  kernel: 'adagradMetaStep',
  slots: () => 2,
  refuse: (_o, name, steps) =>
    name === 'initialAccumulatorValue' && steps > 0
      ? `the accumulators were filled before step 1; track it before the first step`
      : null,
  writeHyper(h, o, t, name) {
    // clr = lr / (1 + (t-1) lrDecay).
    const q = 1 + (t - 1) * o.lrDecay;
    h.f32(S.MADAGRAD_DCLR, name === 'lr' ? 1 / q : name === 'lrDecay' ? (-o.lr * (t - 1)) / (q * q) : 0);
    h.f32(S.MADAGRAD_DEPS, d(name, 'eps'));
    h.f32(S.MADAGRAD_DWD, d(name, 'weightDecay'));
  },
  // sum starts at initialAccumulatorValue: its tangent starts at 1.
  initTangent: (name, slot) => (name === 'initialAccumulatorValue' && slot === 1 ? 1 : 0),
};
