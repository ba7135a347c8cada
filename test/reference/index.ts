// The float64 reference optimizers by the name of the real optimizer they mirror.
import { RefAdam, RefAdamW, type RefAdamOptions } from './adam.js';
import { RefAdagrad, type RefAdagradOptions } from './adagrad.js';
import { RefRMSprop, type RefRMSpropOptions } from './rmsprop.js';
import { RefSGD, type RefSGDOptions } from './sgd.js';
import { RefAdamax, type RefAdamaxOptions } from './adamax.js';
import { RefAdadelta, type RefAdadeltaOptions } from './adadelta.js';
import { RefNAdam, type RefNAdamOptions } from './nadam.js';
import { RefRAdam, type RefRAdamOptions } from './radam.js';
import { RefLion, type RefLionOptions } from './lion.js';
import { RefFTRL, type RefFTRLOptions } from './ftrl.js';
import type { RefOptimizer } from './base.js';

export { RefOptimizer, type RefState } from './base.js';
export { RefAdam, RefAdamW, RefSGD, RefAdagrad, RefRMSprop };
export type { RefAdamOptions, RefSGDOptions, RefAdagradOptions, RefRMSpropOptions };
export { RefAdamax, RefAdadelta, RefNAdam, RefRAdam, RefLion };
export type { RefAdamaxOptions, RefAdadeltaOptions, RefNAdamOptions, RefRAdamOptions, RefLionOptions };
export { RefFTRL, type RefFTRLOptions };

/** Reference classes keyed by the real optimizer's `kind`. Add new references here. */
export const REFERENCES = {
  Adam: RefAdam,
  AdamW: RefAdamW,
  SGD: RefSGD,
  Adagrad: RefAdagrad,
  RMSprop: RefRMSprop,
  Adamax: RefAdamax,
  Adadelta: RefAdadelta,
  NAdam: RefNAdam,
  RAdam: RefRAdam,
  Lion: RefLion,
  FTRL: RefFTRL,
} as const;

/** The optimizer kinds that have a reference. */
export type RefKind = keyof typeof REFERENCES;

/** A reference for `kind` with `options` (unknown keys such as `engine`/`nonFinite` are dropped). */
export function createReference(kind: RefKind, options: Record<string, unknown> = {}): RefOptimizer<object> {
  const { engine: _e, nonFinite: _n, ...rest } = options;
  const Ref = REFERENCES[kind] as unknown as new (o: object) => RefOptimizer<object>;
  return new Ref(rest);
}
