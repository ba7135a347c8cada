// The package in a real browser: headless Chromium (Debian's package, installed by the set-up when
// missing) loads the built entry with no bundler from a static server on 127.0.0.1, in a page and
// in a module Web Worker, and its results (dense optimizers and embedding tables) must equal
// Node's to the bit. Also: init() sources,
// the inlined entry, and the playground (200 steps on every landscape, and its screenshot).
import { mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
// Node runs the same built files the browser loads (npm test builds first).
import * as api from '../dist/index.js';
import { launchChromium, type Browser } from './browser/chromium.js';
// @ts-expect-error plain JavaScript modules without type declarations
import { startStaticServer } from '../scripts/static-server.mjs';
// @ts-expect-error plain JavaScript modules without type declarations
import { EMBEDDING_CONFIGS, denseConfigs, initialEmbedding, initialParams, runAll } from './browser/workload.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
// The README's screenshot is refreshed only when asked (UPDATE_SCREENSHOT=1 npm test): a test run
// otherwise leaves the checkout as it found it, and the screenshot goes to the temp directory.
const SCREENSHOT =
  process.env.UPDATE_SCREENSHOT === '1'
    ? fileURLToPath(new URL('../docs/playground.png', import.meta.url))
    : join(tmpdir(), 'wasm-optim-playground.png');

/** Defined by test/browser/index.html: a dynamic import() from a page module (sees the import map). */
declare function load(specifier: string): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

// Tensors travel as base64 of their float32 bytes: equal strings are equal bits.
type DenseResult = Record<string, { stepCount: number; params: string[]; state: Record<string, string>[] }>;
type EmbeddingResult = Record<
  string,
  { updates: number; lookup: string; weights: string; state: Record<string, string> }
>;
interface AllResult {
  defaultSimd: boolean;
  default: DenseResult;
  simd: DenseResult;
  scalar: DenseResult;
  embedding: { default: EmbeddingResult; simd: EmbeddingResult; scalar: EmbeddingResult };
}

let browser: Browser;
let server: { url: string; requests: string[]; close(): Promise<void> };
let node: AllResult;

beforeAll(async () => {
  server = await startStaticServer({ root: ROOT });
  node = (await runAll(api)) as AllResult;
  browser = await launchChromium(); // installs Debian's chromium first when it is missing
}, 20 * 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** A fresh page on the test page (a new module graph, so a new `init()` singleton). */
async function openPage(path = 'test/browser/index.html'): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  // Count how the engine compiled its wasm: streaming (application/wasm) or from bytes.
  await page.addInitScript(() => {
    const w = window as unknown as { compiles: { streaming: number; bytes: number } };
    w.compiles = { streaming: 0, bytes: 0 };
    const streaming = WebAssembly.instantiateStreaming;
    const instantiate = WebAssembly.instantiate;
    WebAssembly.instantiateStreaming = (...args: Parameters<typeof streaming>) => {
      w.compiles.streaming++;
      return streaming(...args);
    };
    WebAssembly.instantiate = ((...args: [BufferSource | WebAssembly.Module, WebAssembly.Imports?]) => {
      if (!(args[0] instanceof WebAssembly.Module)) w.compiles.bytes++;
      return instantiate(...(args as [BufferSource]));
    }) as typeof instantiate;
  });
  await page.goto(server.url + path);
  if (path.startsWith('test/'))
    await page.waitForFunction(() => typeof (window as unknown as { load?: unknown }).load === 'function');
  return { page, errors };
}

function expectMoved(result: DenseResult): void {
  // The comparison is only worth something if every configuration changed its params.
  const configs = denseConfigs(api);
  expect(configs.length).toBeGreaterThanOrEqual(9 + 7); // the fixed ones and NAdam, RAdam, Lion, ... (every exported class)
  expect(Object.keys(result)).toHaveLength(configs.length);
  configs.forEach(([kind]: [string], c: number) => {
    const r = result[`${c}:${kind}`];
    expect(r.stepCount).toBe(25);
    r.params.slice(0, initialParams(c).length).forEach((bits, i) => expect(bits).not.toEqual(initialParams(c)[i]));
  });
}

function expectEmbeddingMoved(result: EmbeddingResult): void {
  EMBEDDING_CONFIGS.forEach((options: { optimizer: string; mode: string; seed?: number }, c: number) => {
    const r = result[`${c}:${options.optimizer}/${options.mode}`];
    expect(r.updates).toBe(20);
    if (options.seed === undefined) expect(r.weights).not.toEqual(initialEmbedding(c));
    expect(Buffer.from(r.lookup, 'base64').length).toBe(6 * 19 * 4);
  });
}

describe('the package in headless Chromium', () => {
  it('Node itself: both builds agree to the bit, and every param and table moved', () => {
    expect(node.simd).toEqual(node.scalar);
    expect(node.default).toEqual(node.simd);
    expectMoved(node.simd);
    expect(node.embedding.simd).toEqual(node.embedding.scalar);
    expect(node.embedding.default).toEqual(node.embedding.simd);
    expectEmbeddingMoved(node.embedding.simd);
  });

  it('a page importing the main entry by an import map runs dense steps and embedding updates bit-identical to Node (SIMD and scalar builds)', async () => {
    const { page, errors } = await openPage();
    const before = server.requests.length;
    const out = await page.evaluate(async () => {
      const pkg = await load('wasm-optim');
      const { runAll: run } = await load('/test/browser/workload.js');
      const result = await run(pkg);
      return { result, compiles: (window as unknown as { compiles: unknown }).compiles };
    });
    const fetched = server.requests.slice(before);
    expect(errors).toEqual([]);
    expect(out.result.defaultSimd).toBe(true); // Chromium has WebAssembly SIMD
    expect(out.result.simd).toEqual(node.simd);
    expect(out.result.scalar).toEqual(node.scalar);
    expect(out.result.default).toEqual(node.simd);
    expectMoved(out.result.simd);
    expect(out.result.embedding).toEqual(node.embedding);
    // init() found the wasm next to the module and compiled it while streaming (application/wasm).
    expect(fetched).toContain('/dist/wasm-optim.simd.wasm');
    expect(fetched).toContain('/dist/wasm-optim.scalar.wasm');
    expect(out.compiles).toEqual({ streaming: 3, bytes: 0 });
    await page.close();
  });

  it('a module Web Worker imports the package by a relative path and gets the same bits (dense and embedding)', async () => {
    const { page, errors } = await openPage();
    const reply = await page.evaluate(
      () =>
        new Promise<{ ok: boolean; error?: string; isWorker?: boolean; result?: unknown }>((resolve) => {
          const worker = new Worker('/test/browser/worker.js', { type: 'module' });
          worker.onmessage = (e) => {
            resolve(e.data);
            worker.terminate();
          };
          worker.onerror = (e) => resolve({ ok: false, error: `worker error: ${e.message}` });
          worker.postMessage({});
        }),
    );
    expect(reply.error).toBeUndefined();
    expect(reply.ok).toBe(true);
    expect(reply.isWorker).toBe(true);
    const result = reply.result as AllResult;
    expect(result.defaultSimd).toBe(true);
    expect(result.default).toEqual(node.simd);
    expect(result.scalar).toEqual(node.scalar);
    expect(result.embedding).toEqual(node.embedding);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('the inline entry (wasm-optim/inline) fetches no .wasm, gives the same bits, and initSync() works on the main thread', async () => {
    const { page, errors } = await openPage();
    const before = server.requests.length;
    const out = await page.evaluate(async () => {
      const pkg = await load('wasm-optim/inline');
      const engine = pkg.initSync(); // synchronous: the bytes are already in the module
      const { runAll: run } = await load('/test/browser/workload.js');
      const result = await run(pkg);
      return { syncIsDefault: engine === pkg.getEngine(), syncSimd: engine.simd, result };
    });
    const fetched = server.requests.slice(before);
    expect(errors).toEqual([]);
    expect(fetched.filter((r) => r.includes('.wasm'))).toEqual([]);
    expect(fetched).toContain('/dist/inline.js');
    expect(fetched).toContain('/dist/inline-wasm.js');
    expect(out.syncIsDefault).toBe(true);
    expect(out.syncSimd).toBe(true);
    expect(out.result.default).toEqual(node.simd);
    expect(out.result.simd).toEqual(node.simd);
    expect(out.result.scalar).toEqual(node.scalar);
    expect(out.result.embedding).toEqual(node.embedding);
    await page.close();
  });

  it('threads: a cross-origin-isolated page runs createEngine({ threads: 2 }) on 2 threads with the same bits (main and inline entry)', async () => {
    for (const entry of ['wasm-optim', 'wasm-optim/inline']) {
      const { page, errors } = await openPage();
      const out = await page.evaluate(async (specifier) => {
        const pkg = await load(specifier);
        const { runDense } = await load('/test/browser/workload.js');
        const engine = await pkg.createEngine({ threads: 2, minParallelElements: 0 }); // split every tensor
        try {
          return {
            isolated: crossOriginIsolated,
            threads: engine.threads,
            fallback: engine.threadsFallbackReason,
            dense: runDense(pkg, engine),
          };
        } finally {
          await engine.shutdownThreads();
        }
      }, entry);
      expect(errors, entry).toEqual([]);
      expect(out.isolated, entry).toBe(true);
      expect(out.fallback, entry).toBeNull();
      expect(out.threads, entry).toBe(2);
      expect(out.dense, entry).toEqual(node.simd);
      await page.close();
    }
  });

  it('init(source) takes a URL, a Response (streamed, or from bytes when the type is not application/wasm) or bytes', async () => {
    const cases = {
      url: `init(new URL('/dist/wasm-optim.scalar.wasm', location.href))`,
      response: `init(await fetch('/dist/wasm-optim.scalar.wasm'))`,
      octetResponse: `init(await fetch('/dist/wasm-optim.scalar.wasm?type=octet'))`,
      bytes: `init(await (await fetch('/dist/wasm-optim.scalar.wasm')).arrayBuffer())`,
      options: `init({ source: '/dist/wasm-optim.scalar.wasm' })`,
    };
    const compiles: Record<string, unknown> = {};
    for (const [name, call] of Object.entries(cases)) {
      const { page, errors } = await openPage();
      const out = await page.evaluate(async (code) => {
        const pkg = await load('wasm-optim');
        const { runDense } = await load('/test/browser/workload.js');
        const init = pkg.init;
        const engine = await (new Function('init', `return (async () => ${code})()`)(init) as Promise<
          InstanceType<typeof pkg.Engine>
        >);
        const again = await pkg.init(); // a no-op now
        return {
          simd: engine.simd,
          same: again === engine,
          dense: runDense(pkg, engine),
          compiles: (window as unknown as { compiles: unknown }).compiles,
        };
      }, call);
      expect(errors, name).toEqual([]);
      expect(out.simd, name).toBe(false);
      expect(out.same, name).toBe(true);
      expect(out.dense, name).toEqual(node.scalar);
      compiles[name] = out.compiles;
      await page.close();
    }
    expect(compiles).toEqual({
      url: { streaming: 1, bytes: 0 },
      response: { streaming: 1, bytes: 0 },
      octetResponse: { streaming: 0, bytes: 1 },
      bytes: { streaming: 0, bytes: 1 },
      options: { streaming: 1, bytes: 0 },
    });
  });

  it('init() rejects bad sources clearly, resolves relative strings against the page, and can be retried after a failure', async () => {
    const { page } = await openPage();
    const out = await page.evaluate(async () => {
      const pkg = await load('wasm-optim');
      const failures: string[] = [];
      for (const bad of [42, null, [1, 2], { source: 7 }]) {
        try {
          await pkg.init(bad as never);
          failures.push('no error');
        } catch (e) {
          failures.push(`${(e as Error).name}: ${(e as Error).message}`);
        }
      }
      let notFound = '';
      try {
        // Relative to the page (/test/browser/), this is /test/dist/…, which does not exist.
        await pkg.init('../dist/wasm-optim.scalar.wasm');
      } catch (e) {
        notFound = (e as Error).message;
      }
      let uninitialized = '';
      try {
        pkg.getEngine();
      } catch (e) {
        uninitialized = (e as Error).message;
      }
      const engine = await pkg.init('../../dist/wasm-optim.scalar.wasm');
      return { failures, notFound, uninitialized, simd: engine.simd };
    });
    expect(out.failures).toEqual([
      expect.stringMatching(/^TypeError: .*init\(\) expects a URL, a Response, the wasm bytes.*got number/),
      expect.stringMatching(/^TypeError: .*got null/),
      expect.stringMatching(/^TypeError: .*got an array/),
      expect.stringMatching(/^TypeError: .*option 'source' must be .*got number/),
    ]);
    expect(out.notFound).toMatch(/HTTP 404 .*\/test\/dist\/wasm-optim\.scalar\.wasm/);
    expect(out.uninitialized).toMatch(/call `await init\(\)`/);
    expect(out.simd).toBe(false);
    await page.close();
  });
});

describe('the playground', () => {
  it('races every optimizer 200 steps on each landscape: every final loss is finite, Adam ends below its start', async () => {
    const { page, errors } = await openPage('playground/');
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    // The Step button takes one step.
    await page.click('#step');
    expect(await page.textContent('#stepCount')).toBe('step 1');
    // Run animates until paused; a slider restarts the race with its value.
    await page.click('#run');
    expect(await page.textContent('#run')).toBe('Pause');
    await page.waitForFunction(() => Number(document.getElementById('stepCount')!.textContent!.split(' ')[1]) >= 20);
    await page.click('#run');
    expect(await page.textContent('#run')).toBe('Run');
    const paused = await page.textContent('#stepCount');
    await page.waitForTimeout(200);
    expect(await page.textContent('#stepCount')).toBe(paused);
    await page.locator('#lrAdaptive').fill('-2');
    expect(await page.textContent('#lrAdaptiveOut')).toBe('0.010');
    expect(await page.textContent('#stepCount')).toBe('step 0');
    type State = {
      landscape: string;
      steps: number;
      optimizers: { name: string; loss: number; startLoss: number; diverged: string | null }[];
      skipped: unknown[];
    };
    const landscapes = await page.evaluate(
      () => (window as unknown as { playground: { landscapes: string[] } }).playground.landscapes,
    );
    expect(landscapes).toEqual(['rosenbrock', 'canyon', 'saddle', 'plateau', 'noisy']);
    // Rosenbrock last, so that the screenshot shows the banana valley.
    for (const id of [...landscapes.slice(1), landscapes[0]]) {
      const state = (await page.evaluate((lid) => {
        const pg = (
          window as unknown as {
            playground: { setLandscape(id: string): void; step(n: number): void; state(): unknown };
          }
        ).playground;
        pg.setLandscape(lid);
        pg.step(200);
        return pg.state();
      }, id)) as State;
      expect(state.landscape).toBe(id);
      expect(state.steps).toBe(200);
      expect(state.skipped).toEqual([]);
      const names = state.optimizers.map((o) => o.name);
      expect(names.slice(0, 8)).toEqual([
        'SGD',
        'Momentum',
        'Nesterov',
        'Adagrad',
        'RMSprop',
        'Adam',
        'AdamW',
        'AMSGrad',
      ]);
      for (const o of state.optimizers) {
        expect(o.diverged, `${id}/${o.name}`).toBeNull();
        expect(Number.isFinite(o.loss), `${id}/${o.name}: ${o.loss}`).toBe(true);
      }
      const adam = state.optimizers.find((o) => o.name === 'Adam')!;
      expect(adam.loss, id).toBeLessThan(adam.startLoss);
    }
    expect(await page.textContent('#stepCount')).toBe('step 200');
    const contenders = await page.evaluate(
      () =>
        (window as unknown as { playground: { state(): { optimizers: unknown[] } } }).playground.state().optimizers
          .length,
    );
    expect(contenders).toBeGreaterThanOrEqual(8);
    expect(await page.locator('#legend [role=listitem]').count()).toBe(contenders);
    // A click on a legend row hides that path, a second click shows it again.
    const sgdRow = page.locator('#legend [data-name="SGD"]');
    await sgdRow.click();
    expect(await sgdRow.getAttribute('class')).toBe('row off');
    await sgdRow.click();
    expect(await sgdRow.getAttribute('class')).toBe('row');
    expect(errors).toEqual([]);
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await page.mouse.move(0, 0);
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
    await page.close();
  });
  it("shows the meta-gradient of Adam's final loss, and a meta step moves lr and β1 against it", async () => {
    const { page, errors } = await openPage('playground/');
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    type Meta = { loss: number; dLdlr: number; dLdbeta1: number };
    const pg = () =>
      (window as unknown as { playground: { setLandscape(id: string): void; meta(): unknown; metaStep(): void } })
        .playground;
    const before = (await page.evaluate((src) => {
      const p = (0, eval)(src)();
      p.setLandscape('canyon');
      return p.meta();
    }, `(${pg.toString()})`)) as Meta;
    expect(Number.isFinite(before.loss) && Number.isFinite(before.dLdlr) && Number.isFinite(before.dLdbeta1)).toBe(
      true,
    );
    expect(await page.textContent('#metaNumbers')).toContain('dL/dlr');
    const lr = await page.textContent('#lrAdaptiveOut');
    await page.click('#metaStep');
    expect(await page.textContent('#lrAdaptiveOut')).not.toBe(lr);
    const after = (await page.evaluate((src) => (0, eval)(src)().meta(), `(${pg.toString()})`)) as Meta;
    expect(after.loss).toBeLessThan(before.loss);
    expect(errors).toEqual([]);
    await page.close();
  });
});
