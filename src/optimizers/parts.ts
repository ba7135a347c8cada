// What several optimizer declarations share: the Adam family's `betas` and `eps` (PyTorch's
// defaults, one validation). Their hyper writers stay one line per slot in each declaration: a
// shared writer of the betas, eps and weight-decay slots (called after `if (stepOnly) return;`,
// so never on a usual step) made RAdam's and Adam's 16-float steps 10-25% slower in V8 (A/B in one
// pinned process, AMD EPYC family 23), so it was not kept.

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
