// The seeded generator every test draws its data from (one copy: the test files and helpers
// import it from here, so a seed means the same numbers everywhere).

export { rng } from '../scripts/rng.mjs';
