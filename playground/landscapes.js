// The 2-D test functions of the playground: value, gradient, the region drawn, where the race
// starts, the known minimum (for the log-scale loss chart) and learning rates that suit each one.
// Plain JavaScript, no dependencies; the Node tests import it too.

const sigmoid = (z) => 1 / (1 + Math.exp(-z));

/**
 * @typedef {object} Landscape
 * @property {string} id
 * @property {string} name
 * @property {string} about        one line shown under the plot
 * @property {(x: number, y: number) => number} f
 * @property {(x: number, y: number) => [number, number]} grad
 * @property {[number, number, number, number]} box   [xmin, xmax, ymin, ymax]
 * @property {[number, number]} start
 * @property {[number, number]} argmin
 * @property {number} fmin
 * @property {number} lrAdaptive   default lr of Adam, AdamW, AMSGrad, RMSprop, Adagrad
 * @property {number} lrSgd        default lr of SGD, momentum and Nesterov
 * @property {number} [noise]      standard deviation of the gradient noise
 */

/** @type {Landscape[]} */
export const LANDSCAPES = [
  {
    id: 'rosenbrock',
    name: 'Rosenbrock',
    about: "Rosenbrock's banana valley: (1 - x)^2 + 100 (y - x^2)^2, minimum 0 at (1, 1).",
    f: (x, y) => (1 - x) ** 2 + 100 * (y - x * x) ** 2,
    grad: (x, y) => [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)],
    box: [-2, 2, -1, 3],
    start: [-1.5, 2],
    argmin: [1, 1],
    fmin: 0,
    lrAdaptive: 0.1,
    lrSgd: 1e-3,
  },
  {
    id: 'canyon',
    name: 'Canyon 100:1',
    about: 'An ill-conditioned quadratic, (x^2 + 100 y^2) / 2: curvatures 1 and 100, minimum 0 at (0, 0).',
    f: (x, y) => 0.5 * (x * x + 100 * y * y),
    grad: (x, y) => [x, 100 * y],
    box: [-10, 10, -10, 10],
    start: [-8, 2],
    argmin: [0, 0],
    fmin: 0,
    lrAdaptive: 0.1,
    lrSgd: 0.012,
  },
  {
    id: 'saddle',
    name: 'Saddle',
    about:
      'x^2 - y^2 + y^4 / 4: a saddle at (0, 0) between two minima of -1 at (0, ±√2); the race starts on the ridge.',
    f: (x, y) => x * x - y * y + 0.25 * y ** 4,
    grad: (x, y) => [2 * x, -2 * y + y ** 3],
    box: [-3, 3, -3, 3],
    start: [-2.5, 1e-3],
    argmin: [0, Math.SQRT2],
    fmin: -1,
    lrAdaptive: 0.05,
    lrSgd: 0.02,
  },
  {
    id: 'plateau',
    name: 'Plateau and cliff',
    about: 'A near-flat plateau that ends in a cliff: 1 / (1 + e^(8 (x - 1.5))) + 0.002 (x - 3)^2 + 0.1 y^2.',
    f: (x, y) => sigmoid(-8 * (x - 1.5)) + 0.002 * (x - 3) ** 2 + 0.1 * y * y,
    grad: (x, y) => {
      const s = sigmoid(-8 * (x - 1.5));
      return [-8 * s * (1 - s) + 0.004 * (x - 3), 0.2 * y];
    },
    box: [-4, 4, -4, 4],
    start: [-3, 2.5],
    argmin: [3, 0],
    fmin: 0,
    lrAdaptive: 0.05,
    lrSgd: 0.05,
  },
  {
    id: 'noisy',
    name: 'Noisy quadratic',
    about: '(x^2 + 3 y^2) / 2 with Gaussian noise (σ = 1) added to every gradient; the loss shown is noise-free.',
    f: (x, y) => 0.5 * (x * x + 3 * y * y),
    grad: (x, y) => [x, 3 * y],
    box: [-5, 5, -5, 5],
    start: [-4, 3.5],
    argmin: [0, 0],
    fmin: 0,
    lrAdaptive: 0.1,
    lrSgd: 0.05,
    noise: 1,
  },
];

/** A seeded PRNG of standard normal samples (mulberry32 and Box-Muller), for reproducible noise. */
export function gaussian(seed) {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => {
    const u = 1 - uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
}
