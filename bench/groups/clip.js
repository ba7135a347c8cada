// Gradient clipping's cost: an Adam step with `clipGradNorm` (one extra read pass over the
// gradients for the norm; the scale is folded into the update kernel) or `clipGradValue` (a clamp
// inside the kernel) against the plain step, at 4M elements (target: at most 1.15x the time).
import { grads, params } from '../lib/data.js';

/** True when the package's optimizers take the clipping options. */
function supportsClipping(ctx) {
  try {
    new ctx.lib.Adam({ engine: ctx.engine, clipGradNorm: 1, clipGradValue: 1 }).dispose();
    return true;
  } catch {
    return false;
  }
}

/**
 * Plans the clipping group, or returns null when the optimizers have no clipping options yet.
 * @param {any} ctx
 */
export function clipGroup(ctx) {
  if (!supportsClipping(ctx)) return null;
  const sizes = ctx.quick ? [65536] : [1048576, 4194304];
  const contenders = [
    { id: 'engine-norm', label: 'clipGradNorm', options: { clipGradNorm: 1 } },
    { id: 'engine-value', label: 'clipGradValue', options: { clipGradValue: 1e-3 } },
    { id: 'engine', label: 'no clipping', options: {} },
  ];
  const tasks = [];
  for (const n of sizes) {
    for (const c of contenders) {
      tasks.push({
        name: `clip/${c.id}/${n}`, contender: c.id, n, elems: n,
        setup: () => {
          const opt = new ctx.lib.Adam({ lr: 1e-3, engine: ctx.engine, nonFinite: 'ignore', ...c.options });
          try {
            const p = opt.param(params(n));
            p.grad.set(grads(n));
          } catch (e) {
            opt.dispose();
            throw e;
          }
          return { fn: () => opt.step(), dispose: () => opt.dispose() };
        },
      });
    }
  }
  return {
    id: 'clip',
    title: 'Gradient clipping: Adam step with clipGradNorm / clipGradValue vs without',
    kind: 'clip',
    unit: 'Melem/s',
    xLabel: 'elements',
    baseline: 'engine-norm',
    contenders: contenders.map(({ id, label }) => ({ id, label })),
    targets: [{
      contender: 'engine', min: 1 / 1.15, at: sizes.includes(4194304) ? 4194304 : 'every', display: 'time',
      label: 'clipGradNorm costs < 15% at 4M (≤ 1.15× the time of the plain step)',
    }],
    notes: ['the clipGradValue column is for reference; ratios are clipGradNorm over each'],
    tasks,
  };
}
