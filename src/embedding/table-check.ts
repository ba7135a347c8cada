// The float32 range checks of an embedding update, after the coalescing pass (assembly
// embCoalesce) has checked every row it will apply for NaN/Infinity and left max |g| over those
// rows (sums of duplicate ids included) in the descriptor's EMB_GMAX word. From that one number:
// - optimizers that square the gradient into their state (the declaration's `squaresGradient`)
//   refuse rows whose square overflows float32, as the dense step does (src/core/finite-check.ts);
// - with L2 weight decay the rows are updated from `g + wd * w` (float32), which can overflow
//   although every gradient is finite: a bound clears the usual update, and only when it fails is
//   every touched row checked element by element.

import type { Engine } from '../core/engine.js';
import { F32_MAX, F32_SAFE, F32_SQRT_MAX } from '../core/finite-check.js';

/** float32 bits to their value. */
export function f32FromBits(bits: number): number {
  return new Float32Array(new Uint32Array([bits >>> 0]).buffer)[0];
}

/** Where the coalesced update lives (byte addresses; see assembly/embedding/apply.ts embCoalesce). */
export interface CoalescedUpdate {
  /** The unique row ids, in the order of their first id in the batch. */
  readonly uniq: number;
  /** Each unique row's gradient row (the caller's row, or a sum of duplicates). */
  readonly gptr: number;
  /** How many unique rows. */
  readonly unique: number;
  /** max |g| over the rows the update applies (finite). */
  readonly maxG: number;
}

/** The rows an update applies, wherever they are (engine memory, or a sharded table's sums in JavaScript). */
export interface AppliedRows {
  /** How many rows. */
  readonly unique: number;
  /** max |g| over them (finite). */
  readonly maxG: number;
  /** Row `r`'s id. */
  id(r: number): number;
  /** max |g| of row `r`. */
  maxAbs(r: number): number;
  /** Row `r`'s gradient: an array and the index of its first element. */
  grad(r: number): readonly [ArrayLike<number>, number];
  /** Where the rows' float32 weights are (called only when the L2 bound fails: it may gather them). */
  weights(): (r: number) => readonly [ArrayLike<number>, number];
}

/**
 * Why the update's gradients would not stay finite in float32 in the row kernel, or null:
 * `squares` when the optimizer squares g into its state, `wd` the L2 weight decay (0: none),
 * `sign` -1 with maximize.
 */
export function rangeCheck(rows: AppliedRows, dim: number, squares: boolean, wd: number, sign: number): string | null {
  if (squares && rows.maxG > F32_SQRT_MAX) {
    let id = -1;
    for (let r = 0; r < rows.unique && id < 0; r++) if (rows.maxAbs(r) > F32_SQRT_MAX) id = rows.id(r);
    return `the gradient of id ${id} has magnitude ${rows.maxG}, whose square is more than float32 holds (3.4e38), which would make the squared-gradient state Infinity`;
  }
  if (wd === 0 || rows.maxG + wd * F32_MAX * (1 + 2 ** -20) <= F32_SAFE) return null;
  const at = rows.weights();
  const w32 = Math.fround(wd);
  for (let r = 0; r < rows.unique; r++) {
    const [g, go] = rows.grad(r);
    const [w, wo] = at(r);
    for (let j = 0; j < dim; j++) {
      const e = Math.fround(sign * g[go + j] + Math.fround(w32 * w[wo + j]));
      if (!Number.isFinite(e))
        return `the gradient of id ${rows.id(r)} with L2 weight decay, g + ${wd} * w, overflows float32 at column ${j} (g ${g[go + j]}, w ${w[wo + j]})`;
    }
  }
  return null;
}

/**
 * The rows of an update coalesced in engine memory (`c`), with `weights` saying where their float32
 * weights are (the float32 index of the weights of row `r` of the coalesced list, id `id`). They are presented by ascending id
 * (the order is built only when a check looks at single rows), so that a message names the
 * smallest id that fails, whatever order the coalescing listed them in.
 */
export function coalescedRows(
  engine: Engine,
  c: CoalescedUpdate,
  dim: number,
  weights: () => (r: number, id: number) => number,
): AppliedRows {
  let order: Uint32Array | null = null;
  const at = (r: number): number => {
    if (order === null) {
      const ids = engine.heapU32.slice(c.uniq >>> 2, (c.uniq >>> 2) + c.unique);
      order = Uint32Array.from(ids.keys()).sort((a, b) => ids[a] - ids[b]);
    }
    return order[r];
  };
  const id = (r: number): number => engine.heapU32[(c.uniq >>> 2) + at(r)];
  const gptr = (r: number): number => engine.heapU32[(c.gptr >>> 2) + at(r)];
  return {
    unique: c.unique,
    maxG: c.maxG,
    id,
    maxAbs: (r) => f32FromBits(engine.exports.maxAbsBits(gptr(r), dim)),
    grad: (r) => [engine.heapF32, gptr(r) >>> 2],
    weights: () => {
      const w = weights();
      return (r) => [engine.heapF32, w(at(r), id(r))];
    },
  };
}
