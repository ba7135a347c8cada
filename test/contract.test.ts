// The public contract (the names and behaviours outside checks and users rely on: the project's
// CONTRACT page), exercised once end to end through the public entries, so that a restructuring
// that drops, renames or retypes one of them fails here by name. The formulas themselves are
// checked against float64 references elsewhere (dense.test.ts, embedding*.test.ts, lean-*.test.ts,
// safetensors.test.ts, meta-gradients.test.ts, tfjs-*.test.ts); this file checks the surface.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as api from '../src/index.js';
import * as tfjsEntry from '../src/tfjs/index.js';
import { Adam, AdamW, Adagrad, Embedding, RMSprop, SGD, init, initSync } from '../src/index.js';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

/** The names and `__metadata__` of a safetensors file. */
function safetensorsHeader(bytes: Uint8Array): Record<string, unknown> {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
}

describe('contract: package', () => {
  it('is the ES module wasm-optim with typed ".", "./tfjs" entries and the four scripts', () => {
    expect(pkg.name).toBe('wasm-optim');
    expect(pkg.type).toBe('module');
    expect(pkg.exports['.'].types).toMatch(/\.d\.ts$/);
    expect(pkg.exports['.'].default).toMatch(/\.js$/);
    expect(pkg.exports['./tfjs'].types).toMatch(/\.d\.ts$/);
    for (const s of ['build', 'test', 'bench', 'demo']) expect(typeof pkg.scripts[s], s).toBe('string');
  });

  it('exports every contract name from the main entry and the tfjs entry', () => {
    const main = [
      'init',
      'initSync',
      'Adam',
      'AdamW',
      'SGD',
      'Adagrad',
      'RMSprop',
      'Adamax',
      'Adadelta',
      'NAdam',
      'RAdam',
      'Lion',
      'Embedding',
    ];
    for (const name of main) expect(typeof (api as Record<string, unknown>)[name], name).toBe('function');
    for (const name of ['wasmOptimizer', 'WasmEmbedding']) {
      expect(typeof (tfjsEntry as Record<string, unknown>)[name], name).toBe('function');
    }
  });

  it('init() is a no-op the second time; initSync needs bytes and says so', async () => {
    expect(await init()).toBe(await init());
    expect(() => (initSync as (b?: unknown) => unknown)()).toThrow(/initSync/);
  });
});

describe('contract: dense optimizers', () => {
  it('runs the documented Adam snippet', async () => {
    await init();
    const opt = new Adam({
      lr: 1e-3,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weightDecay: 0,
      amsgrad: false,
      maximize: false,
      nonFinite: 'throw',
    });
    const w = opt.param(new Float32Array([1, 2, 3]));
    const b = opt.param(256);
    expect(w.data).toBeInstanceOf(Float32Array);
    expect(b.data.length).toBe(256);
    w.grad.set([0.5, -0.5, 1]);
    opt.step();
    expect(opt.stepCount).toBe(1);
    expect(Array.from(w.data)).toEqual([1 - 1e-3, 2 + 1e-3, 3 - 1e-3].map(Math.fround));
    opt.zeroGrad();
    expect(Array.from(w.grad)).toEqual([0, 0, 0]);
    opt.lr = 5e-4;
    expect(opt.lr).toBe(5e-4);
    const other = new Adam();
    other.param(3);
    other.param(256);
    other.loadStateDict(opt.stateDict());
    expect(other.stepCount).toBe(1);
    // As in PyTorch, the state dict carries the optimizer's state, not the param values.
    expect(other.stateDict()).toEqual(opt.stateDict());
    opt.dispose();
    expect(() => opt.step()).toThrow();
    other.dispose();
  });

  it("has PyTorch 2.x defaults: AdamW's weight decay 0.01, Adagrad's eps 1e-10, RMSprop's lr 0.01 and alpha 0.99", async () => {
    await init();
    const opts = (o: { stateDict(): { options: Record<string, unknown> } }) => o.stateDict().options;
    expect(opts(new AdamW())).toMatchObject({ lr: 1e-3, weightDecay: 0.01, eps: 1e-8, amsgrad: false });
    expect(opts(new Adagrad())).toMatchObject({ lr: 1e-2, eps: 1e-10, lrDecay: 0, initialAccumulatorValue: 0 });
    expect(opts(new RMSprop())).toMatchObject({ lr: 0.01, alpha: 0.99, momentum: 0, centered: false });
    expect(opts(new SGD({ lr: 0.1 }))).toMatchObject({ momentum: 0, dampening: 0, nesterov: false });
  });

  it("nonFinite 'throw' changes nothing, 'skip' returns false; bad hyperparameters name the option", async () => {
    await init();
    for (const nonFinite of ['throw', 'skip'] as const) {
      const opt = new Adam({ lr: 0.1, nonFinite });
      const p = opt.param(new Float32Array([1, 2]));
      p.grad.set([NaN, 1]);
      if (nonFinite === 'throw') expect(() => opt.step()).toThrow();
      else expect(opt.step()).toBe(false);
      expect(Array.from(p.data)).toEqual([1, 2]);
      expect(opt.stepCount).toBe(0);
      opt.dispose();
    }
    expect(() => new Adam({ lr: -1 })).toThrow(RangeError);
    expect(() => new Adam({ lr: -1 })).toThrow(/lr/);
    expect(() => new SGD({ lr: 0.1, nesterov: true })).toThrow(/nesterov/);
    expect(() => new Adam({ betas: [1, 0.999] })).toThrow(/beta/);
  });
});

describe('contract: embedding tables', () => {
  it('runs the documented lazy and exact snippets', async () => {
    await init();
    for (const mode of ['lazy', 'exact'] as const) {
      const init0 = new Float32Array(10 * 4).map((_, i) => i / 40);
      const emb = new Embedding(10, 4, { optimizer: 'adam', lr: 1e-2, mode, init: init0 });
      const ids = new Int32Array([3, 7, 3]);
      expect(Array.from(emb.lookup(ids))).toEqual(
        Array.from(init0.subarray(12, 16)).concat(
          Array.from(init0.subarray(28, 32)),
          Array.from(init0.subarray(12, 16)),
        ),
      );
      emb.update(ids, new Float32Array(12).fill(1));
      emb.flush();
      expect(emb.weights.length).toBe(40);
      expect(emb.weights[12]).toBeCloseTo(init0[12] - 1e-2, 6);
      expect(emb.weights[0]).toBe(init0[0]);
      expect(() => emb.update(new Int32Array([10]), new Float32Array(4))).toThrow(RangeError);
      emb.dispose();
    }
    for (const optimizer of ['sgd', 'adagrad', 'adam', 'adamw'] as const) {
      const emb = new Embedding(4, 2, { optimizer, lr: 0.1 });
      emb.update([1], new Float32Array([1, 1]));
      emb.dispose();
    }
  });

  it('builds the lean tables with their footprint', async () => {
    await init();
    for (const optimizer of ['rowwiseAdagrad', 'partialRowwiseAdam', 'ftrl'] as const) {
      const emb = new Embedding(16, 64, { optimizer, lr: 0.05, weightType: 'bf16', seed: 1 });
      emb.update([2, 5], new Float32Array(128).fill(0.25));
      expect(emb.lookup([2])).toBeInstanceOf(Float32Array);
      const stats = emb.memoryStats();
      expect(stats.bytesPerRow).toBe(emb.bytesPerRow);
      expect(stats.weightBytesPerRow).toBe(128);
      emb.dispose();
    }
    const emb = new Embedding(16, 64, { optimizer: 'adam', weightType: 'f16', stateType: 'int8', seed: 3 });
    emb.update([1], new Float32Array(64).fill(0.1));
    expect(emb.bytesPerRow).toBeLessThanOrEqual(320);
    emb.dispose();
  });
});

describe('contract: safetensors, meta-gradients', () => {
  it("writes PyTorch's state_dict names and reads them back", async () => {
    await init();
    const opt = new Adam({ lr: 0.01 });
    opt.param(new Float32Array([1, 2, 3])).grad.set([1, 1, 1]);
    opt.step();
    const bytes = opt.saveSafetensors();
    expect(bytes).toBeInstanceOf(Uint8Array);
    const header = safetensorsHeader(bytes);
    for (const name of ['param.0', 'state.0.exp_avg', 'state.0.exp_avg_sq', 'state.0.step'])
      expect(header).toHaveProperty([name]);
    const meta = header.__metadata__ as Record<string, string>;
    expect(meta.optimizer).toBe('Adam');
    expect(JSON.parse(meta.param_groups)[0]).toMatchObject({ lr: 0.01, betas: [0.9, 0.999], params: [0] });
    const fresh = new Adam({ lr: 0.01 });
    fresh.param(3);
    fresh.loadSafetensors(bytes);
    expect(fresh.stepCount).toBe(1);
    const emb = new Embedding(4, 2, { optimizer: 'adagrad', lr: 0.1 });
    emb.update([1], new Float32Array([1, 1]));
    const t = safetensorsHeader(emb.saveSafetensors());
    expect(t).toHaveProperty(['weight']);
    expect(t).toHaveProperty(['state.0.sum']);
    for (const o of [opt, fresh, emb]) o.dispose();
  });

  it('tracks meta-gradients in the documented shape', async () => {
    await init();
    const opt = new Adam({ lr: 1e-2 });
    const p = opt.param(new Float32Array([1, -1]));
    opt.trackMetaGradients(['lr', 'beta1', 'beta2'], { mode: 'hvp' });
    for (let k = 0; k < 3; k++) {
      p.grad.set(p.data);
      opt.step({ hvp: (v) => v.map((x) => Float32Array.from(x)) });
    }
    const mg = opt.metaGradient([Float32Array.from(p.data)]);
    expect(Object.keys(mg).sort()).toEqual(['beta1', 'beta2', 'lr']);
    expect(mg.lr).toBeLessThan(0);
    opt.dispose();
  });
});
