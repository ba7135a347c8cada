// The quantized steps (assembly/optimizers/quant/: step.ts, codec.ts) over every option the six
// optimizers with 16- and 8-bit state accept, sizes at and around the 4096 threshold and at the ends
// of a 256-element block and of the codecs' 16-element groups, every gradient regime, both builds:
// each step equals the float32 step of the decoded state, then encoded (test/quant-ref.ts, written
// from bitsandbytes' blockwise quantization). Crafted values put the encoder on the map's midpoints
// and their float32 neighbours, and the decoder on a block whose absmax is 0.
import { beforeAll, describe, expect, it } from 'vitest';
import { Adam, type Engine } from '../src/index.js';
import { BUILD_NAMES, engineFor } from './engines.js';
import { fillGrad, gaussian, REGIMES, rng } from './dense-util.js';
import { BLOCK, MAPS, bitsOf, checkQuantSteps, firstDiff, quantize, storedBytes } from './quant-ref.js';

/** Every option of the six optimizers (and the optimizer-wide clipping and nonFinite), in some combination. */
const CASES: { kind: string; options: Record<string, unknown> }[] = [
  { kind: 'Adam', options: {} },
  { kind: 'Adam', options: { amsgrad: true } },
  { kind: 'Adam', options: { lr: 0.01, weightDecay: 0.1, maximize: true, betas: [0.5, 0.9], eps: 1e-6 } },
  { kind: 'Adam', options: { amsgrad: true, weightDecay: 0.05, clipGradValue: 0.5, nonFinite: 'ignore' } },
  { kind: 'Adam', options: { clipGradNorm: 1 } },
  { kind: 'AdamW', options: {} },
  { kind: 'AdamW', options: { lr: 0.01, amsgrad: true, maximize: true } },
  { kind: 'AdamW', options: { weightDecay: 0.1, clipGradNorm: 0.5 } },
  { kind: 'SGD', options: { lr: 0.01, momentum: 0.9 } },
  { kind: 'SGD', options: { lr: 0.01, momentum: 0.9, dampening: 0.5, weightDecay: 0.01, maximize: true } },
  { kind: 'SGD', options: { lr: 0.01, momentum: 0.9, nesterov: true, clipGradValue: 0.1 } },
  { kind: 'SGD', options: { lr: 0.01 } },
  { kind: 'RMSprop', options: {} },
  { kind: 'RMSprop', options: { momentum: 0.5 } },
  { kind: 'RMSprop', options: { alpha: 0.9, eps: 1e-6, weightDecay: 0.01, maximize: true, clipGradNorm: 2 } },
  { kind: 'Adagrad', options: {} },
  { kind: 'Adagrad', options: { lrDecay: 0.01, initialAccumulatorValue: 0.1, weightDecay: 0.01 } },
  { kind: 'Adagrad', options: { maximize: true, eps: 1e-8, clipGradValue: 1 } },
  { kind: 'Lion', options: {} },
  { kind: 'Lion', options: { weightDecay: 0.1, betas: [0.95, 0.98], maximize: true } },
  { kind: 'Lion', options: { clipGradNorm: 1 } },
];
/**
 * Under the threshold (float32 state for int8); one block; a block plus 1, 15, 16, 17 (a 16-element
 * group and its scalar tail); 16 blocks plus 255, 17 blocks exactly, plus 1, plus 7.
 */
const SIZES = [7, 4096, 4097, 4111, 4112, 4113, 4351, 4352, 4353, 4359];
const STEPS = 4;

/**
 * Values a block's encoder has to get exactly right: the block's absmax `scale`, then for each
 * element a map entry, a midpoint between two neighbouring entries (as float32) or a float32
 * neighbour of one, times the scale, with either sign (`signed`), or values below the smallest
 * bucket, zeros and -0.
 */
function crafted(out: Float32Array, signed: boolean, r: () => number): void {
  const map = signed ? MAPS.signed : MAPS.unsigned;
  const up = (x: number, k: number): number => {
    const b = new Float32Array([x]);
    const u = new Int32Array(b.buffer);
    u[0] += k;
    return b[0];
  };
  for (let b0 = 0; b0 < out.length; b0 += BLOCK) {
    const scale = Math.fround(10 ** Math.floor(r() * 6 - 3) * (1 + r()));
    for (let j = b0; j < Math.min(out.length, b0 + BLOCK); j++) {
      const k = Math.floor(r() * 255);
      const mid = Math.fround((map[k] + map[k + 1]) / 2);
      const pick = Math.floor(r() * 8);
      let q =
        pick < 2
          ? map[k]
          : pick < 5
            ? mid
            : pick < 6
              ? up(Math.abs(mid), r() < 0.5 ? 1 : -1)
              : pick < 7
                ? r() * 1e-7
                : r() < 0.5
                  ? 0
                  : -0;
      if (!signed) q = Math.abs(q);
      else if (r() < 0.5) q = -q;
      out[j] = Math.fround(q * scale);
    }
    out[b0] = scale;
  }
}

for (const build of BUILD_NAMES) {
  describe(`quantized steps, ${build} build`, () => {
    let engine: Engine;
    beforeAll(async () => {
      engine = await engineFor(build);
    });

    for (const { kind, options } of CASES)
      for (const stateType of ['int8', 'bf16'] as const)
        it(`${kind} ${JSON.stringify(options)} ${stateType}: every regime and block end, the float32 step of the decoded state`, () => {
          const r = rng(31);
          const inits = SIZES.map((n) => Float32Array.from({ length: n }, () => gaussian(r)));
          checkQuantSteps(engine, kind, options, stateType, inits, STEPS, (t, i, g) => {
            fillGrad(g, REGIMES[(t + 2 * i) % REGIMES.length], r);
          });
        });

    for (const kind of ['SGD', 'Adagrad', 'Adam'])
      it(`${kind} int8: gradients on the maps' midpoints and their neighbours are encoded to the nearest code`, () => {
        // SGD's first momentum is the gradient itself (signed map); Adagrad's sum its square and
        // Adam's exp_avg_sq a multiple of it (unsigned map), exp_avg a multiple (signed).
        const r = rng(5);
        const sizes = [4096, 4113, 4359];
        const inits = sizes.map((n) => Float32Array.from({ length: n }, () => gaussian(r)));
        const options = kind === 'SGD' ? { lr: 0.01, momentum: 0.9 } : {};
        checkQuantSteps(engine, kind, options, 'int8', inits, 3, (_t, _i, g) => {
          crafted(g, kind !== 'Adagrad', r);
          if (kind === 'Adagrad') for (let j = 0; j < g.length; j++) g[j] = Math.fround(Math.sqrt(g[j]));
        });
      });

    it('a block whose absmax is 0 decodes to +0 whatever its codes, in state() and in the step', () => {
      const n = 4096 + 300;
      const q = new Adam({ lr: 0.01, stateType: 'int8', engine });
      const f = new Adam({ lr: 0.01, engine });
      const r = rng(8);
      const init = Float32Array.from({ length: n }, () => gaussian(r));
      const p = q.param(init),
        fp = f.param(init);
      // Codes 0 (the most negative entry of the signed map) and 1 with absmax 0: map[c] * 0 would be -0.
      const bytes = p.storedState('exp_avg')!;
      bytes.fill(0, 0, n);
      bytes.fill(1, 0, 100);
      bytes.fill(0, Math.ceil(n / 16) * 16);
      p.setStoredState('exp_avg', bytes);
      const m = p.state('exp_avg');
      expect(firstDiff(bitsOf(m), new Uint32Array(n))).toBe(-1);
      const g = fillGrad(new Float32Array(n), 'normal', r);
      p.grad.set(g);
      fp.grad.set(g);
      fp.setState('exp_avg', new Float32Array(n));
      fp.setState('exp_avg_sq', p.state('exp_avg_sq'));
      q.step();
      f.step();
      expect(firstDiff(bitsOf(p.data), bitsOf(fp.data))).toBe(-1);
      expect(firstDiff(p.storedState('exp_avg')!, storedBytes(quantize(fp.state('exp_avg'), true)))).toBe(-1);
      q.dispose();
      f.dispose();
    });
  });
}
