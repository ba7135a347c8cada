// Many tensors: a model is hundreds of tensors. 500 Adam params with Zipf-distributed sizes (4M
// elements in all) against one 4M param; one call into wasm per step either way, so the target is
// that the 500 step in at most 1.15x the time of the one.
import { grads, params, zipfSizes } from '../lib/data.js';

/** @param {any} ctx */
export function manyGroup(ctx) {
  const total = ctx.quick ? 262144 : 4194304;
  const count = ctx.quick ? 100 : 500;
  const sizes = zipfSizes(count, total);
  const contenders = [
    { id: `engine-${count}`, label: `${count} tensors` },
    { id: 'engine-1', label: '1 tensor' },
  ];
  const setup = (tensorSizes) => () => {
    const opt = new ctx.lib.Adam({ lr: 1e-3, engine: ctx.engine, nonFinite: 'ignore' });
    try {
      let seed = 1;
      for (const n of tensorSizes) {
        const p = opt.param(params(n, seed++));
        p.grad.set(grads(n, seed++));
      }
    } catch (e) {
      opt.dispose();
      throw e;
    }
    return { fn: () => opt.step(), dispose: () => opt.dispose() };
  };
  return {
    id: 'many',
    title: `Adam over ${count} tensors (Zipf sizes, ${total} elements in all) vs one tensor`,
    kind: 'many',
    unit: 'Melem/s',
    xLabel: 'elements in all',
    baseline: contenders[0].id,
    contenders,
    targets: [
      {
        contender: 'engine-1',
        min: 1 / 1.15,
        at: 'every',
        label: `${count} tensors step in ≤ 1.15× the time of one`,
        display: 'time',
      },
    ],
    notes: [
      `tensor sizes: largest ${sizes[0]}, median ${sizes[sizes.length >> 1]}, smallest ${sizes[sizes.length - 1]}`,
    ],
    tasks: [
      {
        name: `many/${contenders[0].id}/${total}`,
        contender: contenders[0].id,
        n: total,
        elems: total,
        setup: setup(sizes),
      },
      { name: `many/engine-1/${total}`, contender: 'engine-1', n: total, elems: total, setup: setup([total]) },
    ],
  };
}
