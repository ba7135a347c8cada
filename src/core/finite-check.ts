// The gradient check of a dense step, in the precision the kernels compute in: a step is refused
// (under nonFinite 'throw' / 'skip') when a raw gradient is NaN/±Infinity, and also when the
// gradient the kernel would use is not finite in float32 although every raw gradient is:
// `clamp(g, lo, hi) * gscale` overflowing (a large gradScale or loss scale), or the L2-decayed
// `clamp(g) * gscale + wd * p` overflowing. One read of the gradients (wasm `gradMaxAbs`, the same
// pass that used to look for NaN) gives max |g|; the product is checked from it. The params are
// read only when a bound says that `wd * p` could make the sum overflow (wd near 1 or above, or
// gradients near float32's limit), so the usual step costs what it did.

import type { Engine } from './engine.js';
import type { Param } from './param.js';

/** float32's largest finite value. */
export const F32_MAX = 3.4028234663852886e38;
/** The largest |g| whose float32 square is finite (sqrt(F32_MAX), rounded down to float32). */
export const F32_SQRT_MAX = 1.844674297419792e19;

/**
 * Why the kernel's gradients (raw max |g| `maxAbs`, clamped to [lo, hi], times `scale`) would
 * square to Infinity in float32, or null when they do not.
 */
export function squareOverflow(maxAbs: number, scale: number, lo: number, hi: number): string | null {
  const g = Math.fround(Math.min(maxAbs, Math.max(-Math.fround(lo), Math.fround(hi))) * Math.abs(Math.fround(scale)));
  if (g <= F32_SQRT_MAX) return null;
  return `a gradient of magnitude ${g} (max |g| ${maxAbs} times the gradient scale ${scale}) squares to more than float32 holds (3.4e38), which would make the squared-gradient state Infinity`;
}

/** A product or sum below this (in float64) is finite in float32 after rounding, with margin. */
export const F32_SAFE = F32_MAX * (1 - 2 ** -22);

/** A float32 scale (a gradient scale, a loss scale) is usable when it is finite and not 0 in float32. */
export function checkF32Scale(owner: string, name: string, value: number): number {
  const f = Math.fround(value);
  if (!Number.isFinite(f))
    throw new RangeError(
      `${owner}: option '${name}' is ${value}, beyond float32's range (±3.4e38), where the kernels compute; use a smaller value`,
    );
  if (f === 0)
    throw new RangeError(
      `${owner}: option '${name}' is ${value}, which is 0 in float32 (below 1.4e-45), where the kernels compute; use a larger value`,
    );
  return value;
}

/** What the step check needs of the optimizer. */
export interface StepCheckHost {
  readonly kind: string;
  readonly engine: Engine;
  readonly params: readonly Param[];
  /** The signed gradient scale (maximize flips it) and L2 weight decay of param `i`'s group. */
  scaleAndL2(i: number, scale: number): { s: number; wd: number };
  /** The largest L2 weight decay of any group (0: none adds `wd * p` to the gradient). */
  maxL2(): number;
}

/**
 * Why the kernel's gradients would not be finite with `scale` (the step's total gradient scale)
 * and clamp bounds [lo, hi], or null when they are. `maxAbs` is max |g| over the raw gradients
 * (finite), or undefined when not measured; `norm` an upper bound of it (the clamped gradients'
 * L2 norm) when known, to skip the pass.
 */
export function effectiveOverflow(
  host: StepCheckHost,
  table: number,
  scale: number,
  lo: number,
  hi: number,
  maxAbs: number | undefined,
  norm?: number,
): string | null {
  const s = Math.abs(Math.fround(scale));
  const flo = Math.fround(lo),
    fhi = Math.fround(hi);
  const bound = Math.max(-flo, fhi);
  const wdMax = host.maxL2();
  // The kernels' product clamp(g) * s in float32 is the correctly rounded exact product (both
  // factors are float32), so it is finite exactly when fround(max|clamp(g)| * s) is.
  const safe = (m: number): number => Math.fround(Math.min(m, bound) * s);
  const l2Safe = (e: number): boolean => wdMax === 0 || e + wdMax * F32_MAX * (1 + 2 ** -23) <= F32_MAX;
  if (maxAbs === undefined && norm !== undefined && Number.isFinite(norm)) {
    const e = norm * s * (1 + 2 ** -23);
    if (e <= F32_MAX && l2Safe(e)) return null;
  }
  const m = maxAbs ?? host.engine.gradMaxAbs(table, host.params.length);
  const eff = safe(m);
  if (Number.isFinite(eff)) {
    if (l2Safe(eff)) return null;
    return l2Overflow(host, scale, flo, fhi);
  }
  // Name the first param whose scaled gradient overflows.
  const x = host.engine.exports;
  for (let i = 0; i < host.params.length; i++) {
    const p = host.params[i];
    const pm = new Float32Array(new Uint32Array([x.maxAbsBits(p.offset(1), p.length) >>> 0]).buffer)[0];
    if (!Number.isFinite(safe(pm))) {
      return `the gradient of param #${i} (length ${p.length}, max |g| ${pm}) times the gradient scale ${scale} overflows float32 (±3.4e38)`;
    }
  }
  return `the scaled gradients overflow float32 (max |g| ${m}, scale ${scale})`;
}

/** The exact check of `clamp(g) * s + wd * p` for every param with L2 decay (the rare path). */
function l2Overflow(host: StepCheckHost, scale: number, lo: number, hi: number): string | null {
  const x = host.engine.exports;
  for (let i = 0; i < host.params.length; i++) {
    const p = host.params[i];
    const { s, wd } = host.scaleAndL2(i, scale);
    if (wd === 0) continue;
    const j = (
      x.firstL2Overflow as (P: number, G: number, n: number, gs: number, lo: number, hi: number, wd: number) => number
    )(p.offset(0), p.offset(1), p.length, s, lo, hi, wd);
    if (j >= 0) {
      return `param #${i}'s gradient with L2 weight decay, g * ${s} + ${wd} * p, overflows float32 at element ${j} (g ${p.grad[j]}, p ${p.data[j]})`;
    }
  }
  return null;
}
