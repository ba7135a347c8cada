// References for dense optimizers with 16- and 8-bit state (test/lean-state.test.ts,
// test/quant-step.test.ts), written from bitsandbytes' 8-bit blockwise optimizers
// (bitsandbytes-foundation/bitsandbytes, csrc/kernels.cu `kOptimizerStatic8bit2StateBlockwise`,
// bitsandbytes/optim/optimizer.py `Optimizer2State.init_state`) and lean-storage.md's rounding bits;
// and the check that a quantized step is the float32 step of the decoded state, then encoded.
import { expect } from 'vitest';
import { Adam, AdamW, Adagrad, Lion, RMSprop, SGD, type Engine } from '../src/index.js';
import type { Optimizer } from '../src/core/optimizer.js';
import { dynamicMap } from '../src/embedding/dynamic-map.js';

/** Any dense optimizer. */
export type AnyOpt = Optimizer<Record<string, unknown>>;
/** The optimizers that take 16- and 8-bit state, by name. */
export const CLASSES = { Adam, AdamW, SGD, RMSprop, Adagrad, Lion } as unknown as Record<
  string,
  new (o: Record<string, unknown>) => AnyOpt
>;
/** bitsandbytes' two dynamic maps. */
export const MAPS = { signed: dynamicMap(true), unsigned: dynamicMap(false) };
/** The state tensors stored with the signed map. */
export const SIGNED = new Set(['exp_avg', 'momentum_buffer', 'grad_avg']);
/** bitsandbytes' block size. */
export const BLOCK = 256;

/** The nearest entry of `map` to q (float64 distance), ties to the entry nearer zero. */
export function nearest(map: Float32Array, q: number): number {
  let lo = 0,
    hi = 255;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (map[mid] <= q) lo = mid;
    else hi = mid;
  }
  const dl = Math.abs(q - map[lo]),
    dh = Math.abs(map[hi] - q);
  if (dl !== dh) return dl < dh ? lo : hi;
  return Math.abs(map[lo]) < Math.abs(map[hi]) ? lo : hi;
}

/** bitsandbytes' blockwise quantization of `x`: per block of 256 its absmax (float32) and the nearest codes of x / absmax (float32 division). */
export function quantize(x: Float32Array, signed: boolean): { codes: Uint8Array; absmax: Float32Array } {
  const map = signed ? MAPS.signed : MAPS.unsigned;
  const codes = new Uint8Array(x.length);
  const absmax = new Float32Array(Math.ceil(x.length / BLOCK));
  for (let b = 0; b < absmax.length; b++) {
    const end = Math.min(x.length, (b + 1) * BLOCK);
    let a = 0;
    for (let j = b * BLOCK; j < end; j++) a = Math.max(a, Math.abs(x[j]));
    absmax[b] = a;
    for (let j = b * BLOCK; j < end; j++) codes[j] = a === 0 ? (signed ? 127 : 0) : nearest(map, Math.fround(x[j] / a));
  }
  return { codes, absmax };
}

/** The values codes stand for: map[code] * absmax (one float32 multiply; absmax 0 gives +0). */
export function dequantize(q: { codes: Uint8Array; absmax: Float32Array }, signed: boolean): Float32Array {
  const map = signed ? MAPS.signed : MAPS.unsigned;
  const out = new Float32Array(q.codes.length);
  for (let j = 0; j < out.length; j++) {
    const a = q.absmax[Math.floor(j / BLOCK)];
    out[j] = a === 0 ? 0 : Math.fround(map[q.codes[j]] * a);
  }
  return out;
}

/** The stored bytes of an int8 tensor: codes, zeros to 16 bytes, then the absmax words. */
export function storedBytes(q: { codes: Uint8Array; absmax: Float32Array }): Uint8Array {
  const pad = Math.ceil(q.codes.length / 16) * 16;
  const out = new Uint8Array(pad + 4 * q.absmax.length);
  out.set(q.codes);
  out.set(new Uint8Array(q.absmax.buffer), pad);
  return out;
}

// lean-storage.md's counter-based rounding bits (MurmurHash3's fmix32), for bf16 state: tensor
// `index`, slot `s` is the row `index * 4 + s` of step t's key.
const mul = Math.imul;
/** MurmurHash3's 32-bit finaliser. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = mul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = mul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
/** bf16 state's stochastic rounding of `x` (lean-storage.md's bits of `seed`, step `t`, row `row`). */
export function bf16Sr(x: Float32Array, seed: number, t: number, row: number): Uint16Array {
  const key = fmix32((seed >>> 0) ^ fmix32((t + mul(Math.floor(seed / 2 ** 32), 0x9e3779b9)) >>> 0));
  const rk = fmix32((key + mul(row, 0x9e3779b9)) >>> 0);
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let e = 0; e < x.length; e++) {
    const h = fmix32((rk ^ mul((e >>> 1) + 1, 0x85ebca77)) >>> 0);
    const r16 = e & 1 ? h >>> 16 : h & 0xffff;
    out[e] = ((bits[e] + r16) >>> 0) >>> 16;
  }
  return out;
}

/** The bits of float32 values. */
export const bitsOf = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);
/** The first index where `a` and `b` differ, -1 if none (-2: other lengths). */
export function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/**
 * Steps a `kind` optimizer with `options` and `stateType` on params of `sizes` elements (drawn by
 * `init`) with the gradients `grad(t, i, out)` fills, for `steps` steps; after each one, checks
 * against the float32 optimizer run on the decoded state (loaded through a state dict) and the same
 * params and gradients: the params bit for bit, and each stored state tensor as the reference
 * quantizer (int8: blockwise absmax, nearest codes) or the reference stochastic rounding (bf16) of
 * its new float32 state; a float32 tensor (int8 under 4096 elements) as that state itself.
 */
export function checkQuantSteps(
  engine: Engine,
  kind: string,
  options: Record<string, unknown>,
  stateType: 'int8' | 'bf16',
  inits: readonly Float32Array[],
  steps: number,
  grad: (t: number, i: number, out: Float32Array) => void,
): void {
  const seed = 12345;
  const q = new CLASSES[kind]({ ...options, stateType, seed, engine });
  const ps = inits.map((x) => q.param(x));
  // The kernel's state slots (the rounding keys and the maps go by slot).
  const decl = (q.constructor as unknown as { declaration: { stateLayout(o: object): (string | null)[] } }).declaration;
  const layout = decl.stateLayout(q.options);
  try {
    for (let t = 1; t <= steps; t++) {
      const grads = inits.map((x, i) => {
        const g = new Float32Array(x.length);
        grad(t, i, g);
        return g;
      });
      const f = new CLASSES[kind]({ ...options, engine });
      const fps = ps.map((p) => f.param(p.data.slice()));
      f.loadStateDict(q.stateDict());
      fps.forEach((p, i) => p.grad.set(grads[i]));
      ps.forEach((p, i) => p.grad.set(grads[i]));
      expect(f.step()).toBe(q.step());
      ps.forEach((p, i) => {
        const n = inits[i].length;
        const where = `${kind} ${JSON.stringify(options)} ${stateType} step ${t} size ${n}`;
        expect(firstDiff(bitsOf(p.data), bitsOf(fps[i].data)), `${where}: params`).toBe(-1);
        const stored = stateType === 'bf16' || n >= 4096;
        for (const k of p.stateKeys) {
          const want = fps[i].state(k);
          if (!stored) {
            expect(p.storedState(k), where).toBeNull();
            expect(firstDiff(bitsOf(p.state(k)), bitsOf(want)), `${where}: ${k} (float32 below 4096)`).toBe(-1);
          } else if (stateType === 'int8') {
            const qz = quantize(want, SIGNED.has(k));
            expect(firstDiff(p.storedState(k)!, storedBytes(qz)), `${where}: ${k} codes`).toBe(-1);
            expect(firstDiff(bitsOf(p.state(k)), bitsOf(dequantize(qz, SIGNED.has(k)))), `${where}: ${k}`).toBe(-1);
          } else {
            const sr = bf16Sr(want, seed, t, i * 4 + layout.indexOf(k));
            const got = new Uint16Array(p.storedState(k)!.buffer);
            expect(firstDiff(got, sr), `${where}: ${k} bf16 bits`).toBe(-1);
          }
        }
      });
      f.dispose();
    }
  } finally {
    q.dispose();
  }
}
