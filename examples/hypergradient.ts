// `npm run example:hypergradient`: hypergradient descent (Baydin et al. 2018) on logistic
// regression, the paper's first experiment in miniature. SGD and Adam start from a learning rate
// that is too small; SGD-HD and Adam-HD start from the same rate and adapt it online from the dot
// product of consecutive gradients / update directions (computed in the pass that reads the
// gradients anyway). Prints the training loss per epoch and where each rate went.
// Flags: --epochs N (default 6), --seed S (default 1).
import { init, Adam, AdamHD, SGD, SGDHD, type Optimizer, type BaseOptions } from '../src/index.js';
import { rng } from '../scripts/rng.mjs';

function parse(argv: string[]): { epochs: number; seed: number } {
  const f = { epochs: 6, seed: 1 };
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const v = Number(inline ?? argv[++i]);
    if ((name === '--epochs' || name === '--seed') && Number.isInteger(v) && v >= (name === '--seed' ? 0 : 1))
      f[name.slice(2) as 'epochs' | 'seed'] = v;
    else throw new RangeError(`hypergradient: bad flag '${argv[i]}' (flags: --epochs N >= 1, --seed S >= 0)`);
  }
  return f;
}

const flags = parse(process.argv.slice(2));
const D = 100,
  N = 4000,
  BATCH = 50;
const r = rng(flags.seed);
const gauss = (): number => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
// A teacher w* labels random inputs; 5% of the labels are flipped.
const teacher = Float64Array.from({ length: D }, gauss);
const X = Array.from({ length: N }, () => Float32Array.from({ length: D }, gauss));
const Y = X.map((x) => {
  const z = x.reduce((s, xi, j) => s + xi * teacher[j], 0);
  return (z > 0 ? 1 : 0) ^ (r() < 0.05 ? 1 : 0);
});

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

function loss(w: Float32Array, b: number): number {
  let s = 0;
  for (let i = 0; i < N; i++) {
    const p = sigmoid(X[i].reduce((a, xi, j) => a + xi * w[j], b));
    s -= Y[i] ? Math.log(p + 1e-12) : Math.log(1 - p + 1e-12);
  }
  return s / N;
}

/** Trains logistic regression with `opt`; returns the loss after each epoch and the final rate. */
function train(opt: Optimizer<BaseOptions>): { losses: number[]; lr: number } {
  const w = opt.param(D);
  const b = opt.param(1);
  const order = Array.from({ length: N }, (_, i) => i);
  const shuffle = rng(flags.seed + 1);
  const losses: number[] = [];
  for (let epoch = 0; epoch < flags.epochs; epoch++) {
    for (let i = N - 1; i > 0; i--) {
      const k = Math.floor(shuffle() * (i + 1));
      [order[i], order[k]] = [order[k], order[i]];
    }
    for (let s = 0; s < N; s += BATCH) {
      opt.zeroGrad();
      const gw = w.grad,
        gb = b.grad,
        wd = w.data,
        bd = b.data[0];
      for (let q = s; q < s + BATCH; q++) {
        const x = X[order[q]];
        const e = (sigmoid(x.reduce((a, xi, j) => a + xi * wd[j], bd)) - Y[order[q]]) / BATCH;
        for (let j = 0; j < D; j++) gw[j] += e * x[j];
        gb[0] += e;
      }
      opt.step();
    }
    losses.push(loss(w.data, b.data[0]));
  }
  const lr = opt.lr;
  opt.dispose();
  return { losses, lr };
}

await init();
const runs: [string, () => Optimizer<BaseOptions>][] = [
  ['SGD     lr 0.001', () => new SGD({ lr: 0.001 }) as unknown as Optimizer<BaseOptions>],
  [
    'SGD-HD  lr 0.001, beta 0.001',
    () => new SGDHD({ lr: 0.001, hypergradLr: 0.001 }) as unknown as Optimizer<BaseOptions>,
  ],
  ['Adam    lr 0.0001', () => new Adam({ lr: 1e-4 }) as unknown as Optimizer<BaseOptions>],
  [
    'Adam-HD lr 0.0001, beta 1e-5',
    () => new AdamHD({ lr: 1e-4, hypergradLr: 1e-5 }) as unknown as Optimizer<BaseOptions>,
  ],
];
console.log(
  `logistic regression, ${N} samples x ${D} features, batch ${BATCH}; training loss per epoch (log 2 = 0.693 at the start)`,
);
for (const [name, make] of runs) {
  const { losses, lr } = train(make());
  console.log(`${name.padEnd(30)} ${losses.map((l) => l.toFixed(4)).join('  ')}   final lr ${lr.toPrecision(3)}`);
}
