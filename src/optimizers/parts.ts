// Pieces several optimizer declarations share: the Adam family's `betas` and `eps` (PyTorch's
// defaults, one validation), and the hyper slots of a weight decay that is either L2 (added to the
// gradient) or decoupled (AdamW's `p *= 1 - lr wd`), which Adam/AdamW, NAdam and RAdam each write
// into slots of their own family (assembly/optimizers/<family>/slots.ts).

import type { HyperWriter } from '../core/declaration.js';
import { checkBetas, checkNumber } from '../core/options.js';

/** The Adam family's resolved `betas` and `eps`. */
export interface BetasAndEps {
  betas: [number, number];
  eps: number;
}

/** `betas` (default [0.9, 0.999]) and `eps` (default `epsDefault`), checked (`owner` names the optimizer). */
export function betasAndEps(o: Readonly<Record<string, unknown>>, owner: string, epsDefault = 1e-8): BetasAndEps {
  return {
    betas: checkBetas(owner, o.betas ?? [0.9, 0.999]),
    eps: checkNumber(owner, 'eps', o.eps ?? epsDefault, { min: 0 }),
  };
}

/** Where a family's hyper block holds an L2-or-decoupled weight decay. */
export interface DecaySlots {
  /** The L2 decay added to the gradient (0 when decoupled). */
  readonly l2: number;
  /** `1 - lr wd` when decoupled (it moves with lr: written on every step), else 1. */
  readonly decay: number;
  /** i32 flag: L2 decay in use. */
  readonly useL2: number;
  /** i32 flag: decoupled decay in use. */
  readonly useDecay: number;
}

/**
 * Writes weight decay `wd` at rate `lr`: decoupled (`p *= 1 - lr wd` before the update) or L2
 * (`g += wd p`), into `slots`; with `stepOnly` only the slot that moves with lr.
 */
export function writeDecay(
  h: HyperWriter,
  slots: DecaySlots,
  lr: number,
  wd: number,
  decoupled: boolean,
  stepOnly: boolean | undefined,
): void {
  h.f32(slots.decay, decoupled ? 1 - lr * wd : 1);
  if (stepOnly) return;
  h.f32(slots.l2, decoupled ? 0 : wd);
  h.flag(slots.useL2, !decoupled && wd !== 0);
  h.flag(slots.useDecay, decoupled && wd !== 0);
}

/** Where a family's hyper block holds its betas and eps (a family lacking one leaves it out). */
export interface MomentSlots {
  readonly beta1?: number;
  /** 1 - beta1 */
  readonly omb1: number;
  readonly beta2: number;
  /** 1 - beta2 */
  readonly omb2?: number;
  readonly eps?: number;
}

/** Writes `betas` (each with its complement `1 - beta`, computed in float64) and `eps` into `slots`. */
export function writeMoments(h: HyperWriter, slots: MomentSlots, betas: readonly number[], eps = 0): void {
  const b1 = betas[0],
    b2 = betas[1];
  if (slots.beta1 !== undefined) h.f32(slots.beta1, b1);
  h.f32(slots.omb1, 1 - b1);
  h.f32(slots.beta2, b2);
  if (slots.omb2 !== undefined) h.f32(slots.omb2, 1 - b2);
  if (slots.eps !== undefined) h.f32(slots.eps, eps);
}
