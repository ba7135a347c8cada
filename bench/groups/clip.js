// Gradient clipping's cost: an Adam step with `clipGradNorm` (one read pass over the gradients
// measures the norm in float64; the scale is folded into the update kernel) or `clipGradValue` (a
// clamp inside the kernel) against the same step without clipping, at 4M elements (target: at
// most 1.15x the time). All with the default options: the default `nonFinite: 'throw'` step reads
// the gradients once before the update (the non-finite check), and with clipGradNorm the norm pass
// is that check (a NaN/Infinity norm is a non-finite step), so the column that isolates what
// clipping adds is the default step. The step with `nonFinite: 'ignore'` (no pre-pass at all) is
// shown too: against it the norm costs a whole extra read of the gradients.
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
    { id: 'engine-checked', label: 'no clipping', options: {} },
    { id: 'engine', label: "no clipping, nonFinite 'ignore'", options: { nonFinite: 'ignore' } },
  ];
  const tasks = [];
  for (const n of sizes) {
    for (const c of contenders) {
      tasks.push({
        name: `clip/${c.id}/${n}`,
        contender: c.id,
        n,
        elems: n,
        setup: () => {
          const opt = new ctx.lib.Adam({ lr: 1e-3, engine: ctx.engine, ...c.options });
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
    targets: [
      {
        contender: 'engine-checked',
        min: 1 / 1.15,
        at: sizes.includes(4194304) ? 4194304 : 'every',
        display: 'time',
        label: 'clipGradNorm costs < 15% at 4M (≤ 1.15× the time of the same step without clipping, default options)',
      },
    ],
    notes: [
      'ratios are clipGradNorm over each; every column uses the default options except the last',
      "the default step (nonFinite 'throw') reads the gradients once before the update to check them; with clipGradNorm that read is the float64 norm pass, which also serves as the check",
      "against a step with nonFinite 'ignore' (no pre-pass) the norm costs one extra read of the gradients: 1/7 of an Adam step's memory traffic, plus the float64 arithmetic",
    ],
    tasks,
  };
}
