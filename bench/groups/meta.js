// Meta-gradients' cost: an Adam step of 1M elements with one tracked hyperparameter (lr), whose
// fused kernel also updates the tangents dθ/dlr, dm/dlr, dv/dlr (three more reads and writes per
// element, plus the gradient tangent H·dθ in 'hvp' mode) against the plain step (target: at most
// 2.5x the time, first-order). The 'hvp' column adds the read of the gradient tangent; the copy of
// the user's H·v into engine memory is outside the timed kernel only in the sense that it is the
// caller's work: it is included here (the callback returns a preallocated array).
import { grads, params } from '../lib/data.js';

/** True when the package's optimizers track meta-gradients. */
function supportsMeta(ctx) {
  try {
    const o = new ctx.lib.Adam({ engine: ctx.engine });
    o.param(4);
    o.trackMetaGradients(['lr']);
    o.dispose();
    return true;
  } catch {
    return false;
  }
}

/**
 * Plans the meta-gradient group, or returns null when the optimizers cannot track meta-gradients.
 * @param {any} ctx
 */
export function metaGroup(ctx) {
  if (!supportsMeta(ctx)) return null;
  const sizes = ctx.quick ? [65536] : [1048576];
  const contenders = [
    { id: 'engine-meta', label: 'Adam + d/dlr (first-order)', track: 'first-order' },
    { id: 'engine-meta-hvp', label: "Adam + d/dlr ('hvp', H·v copied in)", track: 'hvp' },
    { id: 'engine', label: 'Adam, plain step', track: null },
  ];
  const tasks = [];
  for (const n of sizes) {
    for (const c of contenders) {
      tasks.push({
        name: `meta/${c.id}/${n}`,
        contender: c.id,
        n,
        elems: n,
        setup: () => {
          const opt = new ctx.lib.Adam({ lr: 1e-3, engine: ctx.engine, nonFinite: 'ignore' });
          try {
            const p = opt.param(params(n));
            p.grad.set(grads(n));
            if (c.track) opt.trackMetaGradients(['lr'], { mode: c.track });
          } catch (e) {
            opt.dispose();
            throw e;
          }
          const hv = [grads(n)];
          const step = c.track === 'hvp' ? () => opt.step({ hvp: () => hv }) : () => opt.step();
          return { fn: step, dispose: () => opt.dispose() };
        },
      });
    }
  }
  return {
    id: 'meta',
    title: 'Meta-gradients: Adam step with one tracked hyperparameter vs the plain step',
    kind: 'meta',
    unit: 'Melem/s',
    xLabel: 'elements',
    baseline: 'engine-meta',
    contenders: contenders.map(({ id, label }) => ({ id, label })),
    targets: [
      {
        contender: 'engine',
        min: 1 / 2.5,
        at: 'every',
        display: 'time',
        label: 'one tracked hyperparameter costs ≤ 2.5× the time of the plain step (1M elements)',
      },
    ],
    notes: [
      "ratios are the tracked step over each; nonFinite 'ignore' in all three, so that the columns compare the kernels",
      "'hvp' adds the callback's tangent copy (a read of dθ out, the user's H·v in) and one more read in the kernel",
    ],
    tasks,
  };
}
