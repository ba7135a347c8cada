// The seeded generator every test draws its data from (one copy: the test files and helpers
// import it from here, so a seed means the same numbers everywhere).

export { rng } from '../scripts/rng.mjs';

/** `n` floats in (-scale, scale) from `r`, one in twenty of them 1000 times larger (gradient outliers). */
export function randomArray(n: number, r: () => number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (r() * 2 - 1) * scale * (r() < 0.05 ? 1e3 : 1);
  return a;
}
