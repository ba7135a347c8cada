// The reason for wasm-optim/inline: a bundler that leaves asset URLs alone (esbuild here) turns it
// into one JavaScript file that runs with no .wasm beside it. The main entry bundled the same way
// cannot find its wasm: that contrast shows the test can fail.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Bundles a tiny program that imports `entry` and takes one Adam step; returns the bundle's folder. */
async function bundle(entry: string): Promise<string> {
  const src = mkdtempSync(join(tmpdir(), 'wasm-optim-src-'));
  const out = mkdtempSync(join(tmpdir(), 'wasm-optim-bundle-'));
  dirs.push(src, out);
  const program = join(src, 'main.js');
  writeFileSync(
    program,
    [
      `import { init, Adam } from ${JSON.stringify(fileURLToPath(new URL(entry, import.meta.url)))};`,
      'const engine = await init();',
      'const opt = new Adam({ lr: 0.01 }), w = opt.param(new Float32Array([1, 2]));',
      'w.grad.set([0.5, -0.5]); opt.step();',
      'console.log(JSON.stringify({ simd: engine.simd, data: Array.from(w.data) }));',
    ].join('\n'),
  );
  await build({
    entryPoints: [program],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outfile: join(out, 'app.mjs'),
    logLevel: 'silent',
  });
  return out;
}

function run(dir: string): string {
  return execFileSync(process.execPath, [join(dir, 'app.mjs')], {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
}

describe('bundling', () => {
  it('the inline entry bundles into one file that runs alone', async () => {
    const dir = await bundle('../dist/inline.js');
    expect(readdirSync(dir)).toEqual(['app.mjs']);
    const result = JSON.parse(run(dir));
    expect(result.data).toEqual([0.99, 2.01].map(Math.fround)); // first Adam step: lr * sign(g)
    expect(typeof result.simd).toBe('boolean');
  });

  it('the main entry bundled the same way looks for its .wasm beside the bundle and fails', async () => {
    const dir = await bundle('../dist/index.js');
    expect(() => run(dir)).toThrow(/wasm-optim\.simd\.wasm|ENOENT/);
  });
});
