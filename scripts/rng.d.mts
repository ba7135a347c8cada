/** A seeded uniform generator on [0, 1) (mulberry32); see rng.mjs. */
export declare function rng(seed: number): () => number;
