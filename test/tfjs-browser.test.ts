// The TensorFlow.js bridge in headless Chromium: test/browser/tfjs-bridge.ts bundled with esbuild
// (tfjs-core, its cpu and wasm backends, tfjs-layers and the bridge from src/), served with the
// engine's and tfjs's .wasm files from a temp folder on 127.0.0.1, run on both tfjs backends.
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type Browser } from './browser/chromium.js';
// @ts-expect-error plain JavaScript module without type declarations
import { startStaticServer } from '../scripts/static-server.mjs';

const require = createRequire(import.meta.url);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
let dir: string;
let browser: Browser;
let server: { url: string; close(): Promise<void> };

beforeAll(async () => {
  // <dir>/app/bridge.js finds the engine at ../dist/wasm-optim.simd.wasm, as src/engine.ts does.
  dir = mkdtempSync(join(tmpdir(), 'wasm-optim-tfjs-browser-'));
  mkdirSync(join(dir, 'app'));
  mkdirSync(join(dir, 'dist'));
  mkdirSync(join(dir, 'tfjs'));
  for (const f of ['wasm-optim.simd.wasm', 'wasm-optim.scalar.wasm'])
    copyFileSync(join(ROOT, 'dist', f), join(dir, 'dist', f));
  const tfjsWasm = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  for (const f of readdirSync(tfjsWasm).filter((f) => f.endsWith('.wasm')))
    copyFileSync(join(tfjsWasm, f), join(dir, 'tfjs', f));
  await build({
    entryPoints: [join(ROOT, 'test', 'browser', 'tfjs-bridge.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outfile: join(dir, 'app', 'bridge.js'),
    logLevel: 'silent',
  });
  writeFileSync(
    join(dir, 'app', 'index.html'),
    '<!doctype html><meta charset="utf-8"><title>tfjs bridge</title><script type="module" src="./bridge.js"></script>\n',
  );
  server = await startStaticServer({ root: dir });
  browser = await launchChromium();
}, 20 * 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the tfjs bridge in headless Chromium', () => {
  it("tracks tf.train.adam, reloads bit for bit and leaks nothing on tfjs's cpu and wasm backends", async () => {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(server.url + 'app/index.html');
    await page.waitForFunction(
      () => typeof (globalThis as unknown as { runBridge?: unknown }).runBridge === 'function',
    );
    const results = await page.evaluate(
      (wasmDir) =>
        (globalThis as unknown as { runBridge(d: string): Promise<Record<string, unknown>[]> }).runBridge(wasmDir),
      server.url + 'tfjs/',
    );
    expect(errors).toEqual([]);
    expect(results.map((r) => r.backend)).toEqual(['cpu', 'wasm']);
    for (const r of results) {
      expect(r.moved as number, String(r.backend)).toBeGreaterThan(0.1);
      // tfjs's float32 bias correction (see test/tfjs-optimizer.test.ts): well under 1e-5 here.
      expect(r.maxDiff as number, String(r.backend)).toBeLessThan(1e-5);
      expect(r.sameAfterReload, String(r.backend)).toBe(true);
      expect(r.loadedIsBridge, String(r.backend)).toBe(true);
      expect(r.tensorsAdded, String(r.backend)).toBe(0);
    }
    await page.close();
  });
});
