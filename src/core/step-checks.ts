// The cold half of a dense step's gradient check: the refusals and the exact overflow checks that
// run only when the step's one-comparison bounds do not already show the gradients fine, and the
// validation of `step()`'s options. The hot half (one max |g| pass, the bounds) is in step().

import { l2Decay, type AnyDeclaration } from './declaration.js';
import type { Engine } from './engine.js';
import { NonFiniteGradientError } from './errors.js';
import { checkF32Scale, effectiveOverflow, squareOverflow, type StepCheckHost } from './finite-check.js';
import { checkKnownKeys, checkNumber, describe } from './options.js';
import type { Param } from './param.js';

/** @internal The error of a step whose raw gradients hold NaN/Infinity (`table`: its `n` tensors). */
export function nonFiniteError(
  kind: string,
  engine: Engine,
  table: number,
  n: number,
  params: readonly Param[],
): NonFiniteGradientError {
  const bad = engine.firstNonFiniteGrad(table, n);
  return new NonFiniteGradientError(
    `${kind}.step: the gradient of param #${bad - 1} (length ${params[bad - 1].length}) holds NaN or Infinity; ` +
      `nothing was changed. Fix the gradients, or pass nonFinite: 'skip' to skip such steps.`,
  );
}

/**
 * @internal Why the gradients the kernel would use overflow float32 (the effective gradient, or
 * its square for optimizers that square it), with what to do, or null when they do not: the exact
 * check behind the step's bound (`maxAbs` the raw max |g| when read, `norm` the measured norm).
 */
export function overflowReason(
  host: StepCheckHost,
  decl: AnyDeclaration,
  table: number,
  n: number,
  scale: number,
  lo: number,
  hi: number,
  maxAbs: number | undefined,
  norm: number | undefined,
): string | null {
  const why = effectiveOverflow(host, table, scale, lo, hi, maxAbs, norm);
  if (why !== null)
    return `${why}; nothing was changed. Lower gradScale (or the loss scale), or pass nonFinite: 'skip' to skip such steps.`;
  if (!decl.squaresGradient) return null;
  const sq = squareOverflow(maxAbs ?? host.engine.gradMaxAbs(table, n), scale, lo, hi);
  return sq === null
    ? null
    : `${sq}; nothing was changed. Scale the gradients down (gradScale or the loss scale), or pass nonFinite: 'skip' to skip such steps.`;
}

/** @internal The checked `gradScale` of `step(options)` (`kind` names the optimizer). */
export function checkStepScale(kind: string, options: { gradScale?: number }): number {
  if (options === null || typeof options !== 'object')
    throw new TypeError(`${kind}.step: options must be an object, got ${describe(options)}`);
  checkKnownKeys(`${kind}.step`, options, ['gradScale', 'hvp', 'gradFn']);
  const s = checkNumber(`${kind}.step`, 'gradScale', options.gradScale ?? 1, { min: 0, minExclusive: true });
  return checkF32Scale(`${kind}.step`, 'gradScale', s);
}

/**
 * @internal What a dense step's gradient check reads of an optimizer (made once per optimizer): its
 * params, and per param its group's signed gradient scale and L2 weight decay.
 */
export function stepCheckHost(
  kind: string,
  engine: Engine,
  params: readonly Param[],
  decl: AnyDeclaration,
  groups: { readonly states: readonly { readonly opts: { readonly maximize: boolean } }[] },
): StepCheckHost {
  const l2 = (o: object): number => l2Decay(decl, o as Record<string, unknown>);
  return {
    kind,
    engine,
    params,
    scaleAndL2: (i, scale) => {
      const o = groups.states[params[i].group].opts;
      return { s: o.maximize ? -scale : scale, wd: l2(o) };
    },
    maxL2: () => {
      let m = 0;
      for (const g of groups.states) m = Math.max(m, l2(g.opts));
      return m;
    },
  };
}
