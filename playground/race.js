// The race without the page: one engine optimizer per contender, each with a 2-element param (x, y)
// in engine memory. Every step computes the landscape's gradient at each contender's position,
// writes it into param.grad and calls step(); the engine does the updates. No DOM: Node runs it too.
import { gaussian } from './landscapes.js';

/** Colors of the contenders, in roster order (more are generated for classes added later). */
const COLORS = [
  '#e6194b',
  '#f58231',
  '#ffe119',
  '#3cb44b',
  '#42d4f4',
  '#4363d8',
  '#b04be0',
  '#f032e6',
  '#ffffff',
  '#bfef45',
  '#fabed4',
  '#469990',
  '#dcbeff',
  '#c08b4a',
  '#aaffc3',
  '#ff8080',
  '#9aa5ff',
  '#808000',
];

/**
 * The contenders: the optimizers of the package, configured from the sliders and built on
 * `engine`. `s` holds lrAdaptive, lrSgd, beta1, beta2, eps.
 */
const ROSTER = [
  { name: 'SGD', make: (api, s, engine) => new api.SGD({ lr: s.lrSgd, engine }) },
  { name: 'Momentum', make: (api, s, engine) => new api.SGD({ lr: s.lrSgd, momentum: s.beta1, engine }) },
  {
    name: 'Nesterov',
    make: (api, s, engine) => new api.SGD({ lr: s.lrSgd, momentum: s.beta1, nesterov: true, engine }),
  },
  { name: 'Adagrad', make: (api, s, engine) => new api.Adagrad({ lr: s.lrAdaptive, eps: s.eps, engine }) },
  { name: 'RMSprop', make: (api, s, engine) => new api.RMSprop({ lr: s.lrAdaptive, eps: s.eps, engine }) },
  {
    name: 'Adam',
    make: (api, s, engine) => new api.Adam({ lr: s.lrAdaptive, betas: [s.beta1, s.beta2], eps: s.eps, engine }),
  },
  {
    name: 'AdamW',
    make: (api, s, engine) =>
      new api.AdamW({ lr: s.lrAdaptive, betas: [s.beta1, s.beta2], eps: s.eps, weightDecay: 0.01, engine }),
  },
  {
    name: 'AMSGrad',
    make: (api, s, engine) =>
      new api.Adam({ lr: s.lrAdaptive, betas: [s.beta1, s.beta2], eps: s.eps, amsgrad: true, engine }),
  },
];
const COVERED = new Set(['SGD', 'Adagrad', 'RMSprop', 'Adam', 'AdamW']);

/**
 * Exported classes that the generic rule below would set up badly on these landscapes:
 * RAdam's first steps are un-adapted momentum SGD, so it takes the geometric mean of the two
 * learning rates; SGDHD's hypergradient step is in lr per squared gradient, so it is scaled by the
 * squared gradient norm at the start (the lr then changes by at most ~10% per step at first).
 */
const SPECIAL = {
  RAdam: (C, s, engine) =>
    new C({ lr: Math.sqrt(s.lrSgd * s.lrAdaptive), betas: [s.beta1, s.beta2], eps: s.eps, engine }),
  SGDHD: (C, s, engine, L) => {
    const [gx, gy] = L.grad(L.start[0], L.start[1]);
    return new C({ lr: s.lrSgd, hypergradLr: (0.1 * s.lrSgd) / Math.max(gx * gx + gy * gy, 1e-12), engine });
  },
};

/**
 * The roster for `api` (the package's module namespace): the fixed contenders, then every other
 * exported subclass of Optimizer. Those join with their own defaults, their lr scaled as the
 * sliders scale Adam's and SGD's: Adam-like classes (with `betas`) take
 * `default lr × lr (adaptive) / 0.001` and the sliders' betas and ε, SGD-like ones (with
 * `momentum`) `default lr × lr (SGD) / 0.001`, and others (Adadelta) keep their default lr;
 * SPECIAL lists the exceptions.
 * @returns {{ name: string, color: string, make: (api: object, s: object, engine: object, landscape: object) => object }[]}
 */
export function roster(api) {
  const list = [...ROSTER];
  for (const name of Object.keys(api).sort()) {
    const C = api[name];
    if (COVERED.has(name) || typeof C !== 'function' || C === api.Optimizer || !(C.prototype instanceof api.Optimizer))
      continue;
    const special = SPECIAL[name];
    if (special) {
      list.push({ name, make: (_api, s, engine, L) => special(C, s, engine, L) });
      continue;
    }
    list.push({
      name,
      make: (_api, s, engine) => {
        const probe = new C({ engine });
        const known = C.declaration?.options ?? [];
        const lr = probe.lr;
        probe.dispose();
        const o = { lr };
        if (known.includes('betas')) {
          o.lr = lr * (s.lrAdaptive / 1e-3);
          o.betas = [s.beta1, s.beta2];
          if (known.includes('eps')) o.eps = s.eps;
        } else if (known.includes('momentum')) {
          o.lr = lr * (s.lrSgd / 1e-3);
        }
        return new C({ ...o, engine });
      },
    });
  }
  return list.map((c, i) => ({ ...c, color: COLORS[i % COLORS.length] }));
}

/**
 * Starts a race on `landscape` with slider settings `s` ({ lrAdaptive, lrSgd, beta1, beta2, eps }).
 * Contenders whose options are rejected are listed in `skipped` with the reason.
 */
export function createRace(api, engine, landscape, s) {
  const noise = landscape.noise ? gaussian(12345) : null;
  const skipped = [];
  const runners = [];
  for (const c of roster(api)) {
    let opt;
    try {
      opt = c.make(api, s, engine, landscape);
    } catch (e) {
      skipped.push({ name: c.name, reason: e.message });
      continue;
    }
    const p = opt.param(new Float32Array(landscape.start));
    const start = landscape.f(landscape.start[0], landscape.start[1]);
    runners.push({
      name: c.name,
      color: c.color,
      opt,
      p,
      path: [[p.data[0], p.data[1]]],
      losses: [start],
      startLoss: start,
      diverged: null,
    });
  }
  let steps = 0;

  /** Takes `n` steps of every contender (the noisy landscape gives all of them the same noise). */
  function step(n = 1) {
    for (let k = 0; k < n; k++) {
      const nx = noise ? noise() * landscape.noise : 0;
      const ny = noise ? noise() * landscape.noise : 0;
      for (const r of runners) {
        if (r.diverged) continue;
        const d = r.p.data;
        const [gx, gy] = landscape.grad(d[0], d[1]);
        r.p.grad[0] = gx + nx;
        r.p.grad[1] = gy + ny;
        try {
          r.opt.step();
        } catch (e) {
          r.diverged = e.message;
          continue;
        }
        const x = r.p.data[0];
        const y = r.p.data[1];
        const loss = landscape.f(x, y);
        if (!Number.isFinite(loss)) r.diverged = `the loss became ${loss}`;
        r.path.push([x, y]);
        r.losses.push(loss);
      }
      steps++;
    }
  }

  return {
    landscape,
    runners,
    skipped,
    step,
    get steps() {
      return steps;
    },
    /** A plain summary: per contender its position, current and starting loss, and status. */
    state() {
      return {
        landscape: landscape.id,
        steps,
        optimizers: runners.map((r) => ({
          name: r.name,
          x: r.path[r.path.length - 1][0],
          y: r.path[r.path.length - 1][1],
          loss: r.losses[r.losses.length - 1],
          startLoss: r.startLoss,
          diverged: r.diverged,
        })),
        skipped,
      };
    },
    dispose() {
      for (const r of runners) r.opt.dispose();
    },
  };
}
