// The consumer matrix (issue 16): the packed tarball, installed into a scratch project as a user
// installs it, used the ways docs/browser-and-bundlers.md describes: Node ESM and require(),
// TypeScript strict (node16, nodenext, bundler; no DOM lib), Vite (page and module Web Worker, run
// in headless Chromium), webpack 5 (no warnings), esbuild ESM and IIFE, Bun and Deno. Each case
// works, or fails with a wasm-optim error that names the fix.
//
// The install is cached under os.tmpdir()/wasm-optim-consumers-<checkout>/<hash of the tarball and the
// lockfile>: a second run with the same build skips `npm install`. The tools come from this
// repository's devDependencies (npm ci installs them); Bun and Deno from their npm packages, and
// their cases print a note and pass when those cannot run here.
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type Browser } from './browser/chromium.js';
// @ts-expect-error plain JavaScript module without type declarations
import { startStaticServer } from '../scripts/static-server.mjs';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'node_modules', '.bin');
/** The first Adam step moves each element by lr * sign(g): every case must print these. */
const EXPECTED = [0.99, 2.01].map(Math.fround);

let app: string; // the scratch project with the tarball installed
let work: string; // this run's build outputs
let browser: Browser | undefined;
let server: { url: string; close(): Promise<void> } | undefined;

/** Packs the package (dist/ is built by npm test first) and installs it into a cached scratch project. */
function installTarball(): string {
  const packDir = mkdtempSync(join(tmpdir(), 'wasm-optim-pack-'));
  try {
    const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', packDir], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tarball = join(packDir, (JSON.parse(out) as { filename: string }[])[0].filename);
    const hash = createHash('sha256')
      .update(readFileSync(tarball))
      .update(readFileSync(join(ROOT, 'package-lock.json')))
      .digest('hex')
      .slice(0, 16);
    // One cache per checkout: two checkouts testing at once must not delete each other's installs.
    const cache = join(tmpdir(), `wasm-optim-consumers-${createHash('sha256').update(ROOT).digest('hex').slice(0, 8)}`);
    const dir = join(cache, hash);
    if (existsSync(join(dir, 'node_modules', 'wasm-optim', 'package.json'))) return dir;
    mkdirSync(cache, { recursive: true });
    for (const old of existsSync(cache) ? readdirSync(cache) : [])
      rmSync(join(cache, old), { recursive: true, force: true }); // one build kept
    const tmp = mkdtempSync(join(cache, 'installing-'));
    cpSync(tarball, join(tmp, 'wasm-optim.tgz'));
    writeFileSync(
      join(tmp, 'package.json'),
      JSON.stringify(
        { name: 'consumer', private: true, type: 'module', dependencies: { 'wasm-optim': 'file:./wasm-optim.tgz' } },
        null,
        2,
      ),
    );
    // What a user sees: npm's own warnings (an install script, an engines mismatch) fail the case.
    const log = execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=warn'], {
      cwd: tmp,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    writeFileSync(join(tmp, 'install.log'), log);
    renameSync(tmp, dir);
    return dir;
  } finally {
    rmSync(packDir, { recursive: true, force: true });
  }
}

/** The program every case runs: init, one Adam step, the result as JSON. */
function program(specifier: string): string {
  return [
    `import { init, Adam } from '${specifier}';`,
    'export async function run() {',
    '  const engine = await init();',
    '  const opt = new Adam({ lr: 0.01 }), w = opt.param(new Float32Array([1, 2]));',
    '  w.grad.set([0.5, -0.5]); opt.step();',
    '  return { simd: engine.simd, data: Array.from(w.data) };',
    '}',
    '',
  ].join('\n');
}

/** A Node/Bun/Deno script that prints the result, or the error's message on stderr. */
const NODE_MAIN =
  "import { run } from './program.js';\nrun().then((r) => console.log(JSON.stringify(r)), (e) => { console.error(e.message); process.exit(1); });\n";
/** A browser entry that leaves the result (or the error) on globalThis for the test to read. */
const PAGE_MAIN =
  "import { run } from './program.js';\nrun().then((r) => { globalThis.__result = r; }, (e) => { globalThis.__error = String(e && e.message || e); });\n";

/** A fresh folder in this run's work dir holding `files`. */
function project(name: string, files: Record<string, string>): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    writeFileSync(join(dir, f), text);
  }
  return dir;
}

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name).slice(dir.length + 1))
    .sort();
}

async function node(args: string[], cwd: string): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, args, { cwd, timeout: 60_000 });
    return { ok: true, stdout, stderr };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    return { ok: false, stdout: err.stdout ?? '', stderr: err.stderr ?? err.message };
  }
}

/** Opens `path` (under the static server's root, the work dir) in Chromium; the page's result or error. */
async function inChromium(
  path: string,
): Promise<{ result?: { simd: boolean; data: number[] }; error?: string; pageErrors: string[] }> {
  if (!browser || !server) throw new Error('no browser');
  const page = await browser.context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  try {
    await page.goto(new URL(path, server.url).href);
    await page
      .waitForFunction(() => '__result' in globalThis || '__error' in globalThis, undefined, { timeout: 20_000 })
      .catch(() => {});
    return {
      ...(await page.evaluate(() => ({
        result: (globalThis as { __result?: never }).__result,
        error: (globalThis as { __error?: string }).__error,
      }))),
      pageErrors,
    };
  } finally {
    await page.close();
  }
}

const HTML = (script: string): string =>
  `<!doctype html><meta charset="utf-8"><script type="module" src="${script}"></script>\n`;

beforeAll(async () => {
  app = installTarball();
  work = mkdtempSync(join(tmpdir(), 'wasm-optim-consumer-run-'));
  // The scratch project's node_modules serve every case (symlinked, so resolution matches a user's).
  writeFileSync(join(app, 'program.js'), program('wasm-optim'));
  writeFileSync(join(app, 'program-inline.js'), program('wasm-optim/inline'));
  server = await startStaticServer({ root: work });
  browser = await launchChromium();
}, 10 * 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A project in the work dir whose node_modules is the scratch install. */
function consumer(name: string, extra: Record<string, string>, specifier = 'wasm-optim'): string {
  const dir = project(name, {
    'package.json': JSON.stringify({ name, private: true, type: 'module' }),
    'program.js': program(specifier),
    ...extra,
  });
  execFileSync('ln', ['-s', join(app, 'node_modules'), join(dir, 'node_modules')]);
  return dir;
}

describe('the packed tarball', () => {
  it('installs without warnings and ships no unused files', () => {
    expect(
      readFileSync(join(app, 'install.log'), 'utf8')
        .replace(/^\s*(added|changed) \d+ packages? in .*$/gm, '')
        .trim(),
    ).toBe('');
    const pkg = join(app, 'node_modules', 'wasm-optim');
    const shipped = files(pkg);
    expect(shipped.filter((f) => /\.wat$|\.debug\.|\.tgz$|^test\/|^bench\/|^assembly\//.test(f))).toEqual([]);
    // Every source map's sources are in the tarball.
    for (const map of shipped.filter((f) => f.endsWith('.js.map'))) {
      for (const s of (JSON.parse(readFileSync(join(pkg, map), 'utf8')) as { sources: string[] }).sources) {
        expect(existsSync(join(pkg, map, '..', s)), `${map} -> ${s}`).toBe(true);
      }
    }
    const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as {
      scripts?: Record<string, string>;
      engines: { node: string };
    };
    expect(Object.keys(manifest.scripts ?? {}).filter((s) => /^(pre|post)?(install|prepare)$/.test(s))).toEqual([]);
    expect(manifest.engines.node).toBe('^20.19.0 || >=22.12.0'); // require(esm) without a flag
  });
});

describe('Node', () => {
  it('ESM import of the main and the inline entry', async () => {
    const dir = consumer('node-esm', {
      'main.js': NODE_MAIN,
      'inline.js': NODE_MAIN.replace('./program.js', './program-inline.js'),
      'program-inline.js': program('wasm-optim/inline'),
    });
    for (const main of ['main.js', 'inline.js']) {
      const r = await node([main], dir);
      expect(r.stderr, main).toBe('');
      expect(JSON.parse(r.stdout).data, main).toEqual(EXPECTED);
    }
  });

  it('require() (Node 20.19+), and the .wasm files resolve through exports', async () => {
    const dir = consumer('node-cjs', {
      'main.cjs': [
        "const { init, Adam } = require('wasm-optim');",
        "const { readFileSync } = require('node:fs');",
        "const bytes = readFileSync(require.resolve('wasm-optim/wasm/scalar'));",
        'init(bytes).then((engine) => {',
        '  const opt = new Adam({ lr: 0.01 }), w = opt.param(new Float32Array([1, 2]));',
        '  w.grad.set([0.5, -0.5]); opt.step();',
        "  console.log(JSON.stringify({ simd: engine.simd, data: Array.from(w.data), files: ['simd', 'threads', 'threads-scalar'].map((b) => require.resolve('wasm-optim/wasm/' + b).split('/').pop()) }));",
        '});',
      ].join('\n'),
    });
    const r = await node(['main.cjs'], dir);
    expect(r.stderr.replace(/.*ExperimentalWarning.*\n|.*--trace-warnings.*\n/g, '')).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.data).toEqual(EXPECTED);
    expect(out.simd).toBe(false);
    expect(out.files).toEqual(['wasm-optim.simd.wasm', 'wasm-optim.threads.wasm', 'wasm-optim.threads-scalar.wasm']);
  });
});

// The declarations type-check with and without TypeScript's DOM lib, and without skipLibCheck: the
// WebAssembly namespace and BufferSource, which only the DOM (or WebWorker) lib declares, are named
// through src/core/wasm-types.ts (the global type when the project has it, else a structural one).
describe('TypeScript strict', () => {
  const source = [
    "import { init, Adam, Embedding, cosineLR, type AdamOptions } from 'wasm-optim';",
    "import { wasmBytes } from 'wasm-optim/inline';",
    'const options: AdamOptions = { lr: 1e-3, betas: [0.9, 0.999] };',
    'export async function main(): Promise<number> {',
    '  await init({ source: wasmBytes() });',
    '  const opt = new Adam({ ...options, lr: cosineLR({ peak: 1e-3, decaySteps: 100 }) });',
    '  const w = opt.param(new Float32Array(4));',
    '  w.grad.set([1, 2, 3, 4]); opt.step();',
    // Internals are not in the declarations, and what must not be written is readonly.
    '  // @ts-expect-error internal (stripped from the declarations)',
    "  opt.checkGroup(0, 'x');",
    '  // @ts-expect-error internal',
    '  opt.dropParamsTo(opt.paramsMark());',
    '  // @ts-expect-error internal',
    '  w.birth = 3;',
    '  // @ts-expect-error read only: add params with opt.param()',
    '  opt.params.push(w);',
    "  const emb = new Embedding(10, 4, { optimizer: 'adam', lr: 1e-3 });",
    '  emb.update(new Int32Array([1]), new Float32Array(4));',
    '  return w.data[0] + emb.weights[0];',
    '}',
    '',
  ].join('\n');
  it.each([
    ['node16', 'node16', false],
    ['nodenext', 'nodenext', false],
    ['bundler', 'esnext', false],
    ['bundler', 'esnext', true],
  ])('moduleResolution %s, module %s, DOM lib %s', async (resolution, module, dom) => {
    const lib = dom ? ['ES2022', 'DOM'] : ['ES2022'];
    const dir = consumer(`ts-${resolution}-${dom ? 'dom' : 'nodom'}`, {
      'main.ts': source,
      'tsconfig.json': JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          target: 'ES2022',
          module,
          moduleResolution: resolution,
          lib,
          types: dom ? [] : ['node'],
          typeRoots: [join(ROOT, 'node_modules', '@types')],
          skipLibCheck: false,
        },
        files: ['main.ts'],
      }),
    });
    const r = await node([join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], dir);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.ok).toBe(true);
  });
});

describe('bundlers', () => {
  it('Vite: the main entry copies its .wasm and runs in Chromium', async () => {
    const dir = consumer('vite-main', { 'index.html': HTML('./main.js'), 'main.js': PAGE_MAIN });
    const { build } = await import('vite');
    await build({ root: dir, base: './', logLevel: 'silent', build: { outDir: 'dist' } });
    expect(files(join(dir, 'dist')).filter((f) => f.endsWith('.wasm'))).toHaveLength(4); // each build an init() may choose
    const r = await inChromium('vite-main/dist/index.html');
    expect(r.pageErrors).toEqual([]);
    expect(r.error).toBeUndefined();
    expect(r.result?.data).toEqual(EXPECTED);
  });

  it('Vite: the inline entry carries no .wasm files and runs in Chromium', async () => {
    const dir = consumer('vite-inline', { 'index.html': HTML('./main.js'), 'main.js': PAGE_MAIN }, 'wasm-optim/inline');
    const { build } = await import('vite');
    await build({ root: dir, base: './', logLevel: 'silent', build: { outDir: 'dist' } });
    expect(files(join(dir, 'dist')).filter((f) => f.endsWith('.wasm'))).toEqual([]);
    const r = await inChromium('vite-inline/dist/index.html');
    expect(r.error).toBeUndefined();
    expect(r.result?.data).toEqual(EXPECTED);
  });

  it('Vite: a module Web Worker runs the engine', async () => {
    const dir = consumer('vite-worker', {
      'index.html': HTML('./main.js'),
      'main.js': [
        "const w = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });",
        'w.onmessage = (e) => { if (e.data.error) globalThis.__error = e.data.error; else globalThis.__result = e.data; };',
        "w.onerror = (e) => { globalThis.__error = 'worker: ' + e.message; };",
      ].join('\n'),
      'worker.js':
        "import { run } from './program.js';\nrun().then((r) => postMessage(r), (e) => postMessage({ error: String(e.message) }));\n",
    });
    const { build } = await import('vite');
    await build({ root: dir, base: './', logLevel: 'silent', build: { outDir: 'dist' }, worker: { format: 'es' } });
    const r = await inChromium('vite-worker/dist/index.html');
    expect(r.error).toBeUndefined();
    expect(r.result?.data).toEqual(EXPECTED);
  });

  it('webpack 5: no warnings, the .wasm emitted, runs in Chromium', async () => {
    const dir = consumer('webpack', {
      'main.js': PAGE_MAIN,
      'index.html': '<!doctype html><script src="dist/main.js"></script>\n',
    });
    const { default: webpack } = await import('webpack');
    const stats = await new Promise<import('webpack').Stats>((resolve, reject) => {
      webpack(
        {
          mode: 'production',
          context: dir,
          entry: './main.js',
          output: { path: join(dir, 'dist'), publicPath: 'auto' },
          infrastructureLogging: { level: 'none' },
        },
        (err, s) => (err || !s ? reject(err) : resolve(s)),
      );
    });
    const info = stats.toJson({ all: false, warnings: true, errors: true });
    expect(info.errors ?? []).toEqual([]);
    expect((info.warnings ?? []).map((w) => w.message)).toEqual([]);
    expect(files(join(dir, 'dist')).some((f) => f.endsWith('.wasm'))).toBe(true);
    const r = await inChromium('webpack/index.html');
    expect(r.error).toBeUndefined();
    expect(r.result?.data).toEqual(EXPECTED);
  });

  it('esbuild: the inline entry bundles to one ESM file and one IIFE that run alone', async () => {
    const dir = consumer(
      'esbuild-inline',
      {
        'main.js': NODE_MAIN,
        'page.js': PAGE_MAIN,
        'index.html': '<!doctype html><script src="page.iife.js"></script>\n',
      },
      'wasm-optim/inline',
    );
    const { build } = await import('esbuild');
    await build({
      absWorkingDir: dir,
      entryPoints: ['main.js'],
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      mainFields: ['module', 'main'],
      outfile: 'out/app.mjs',
      logLevel: 'silent',
    });
    expect(readdirSync(join(dir, 'out'))).toEqual(['app.mjs']);
    const r = await node(['out/app.mjs'], dir);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout).data).toEqual(EXPECTED);
    await build({
      absWorkingDir: dir,
      entryPoints: ['page.js'],
      bundle: true,
      format: 'iife',
      platform: 'browser',
      outfile: 'page.iife.js',
      logLevel: 'silent',
    });
    const p = await inChromium('esbuild-inline/index.html');
    expect(p.error).toBeUndefined();
    expect(p.result?.data).toEqual(EXPECTED);
  });

  it('esbuild: the main entry, which needs its .wasm served, fails with an error that names the fix', async () => {
    const dir = consumer('esbuild-main', {
      'main.js': NODE_MAIN,
      'page.js': PAGE_MAIN,
      'index.html':
        '<!doctype html><script type="module" src="out/page.mjs"></script><!-- iife --><script src="out/page.iife.js"></script>\n',
    });
    const { build } = await import('esbuild');
    // ESM: esbuild keeps import.meta.url, but does not copy the .wasm beside the bundle.
    await build({
      absWorkingDir: dir,
      entryPoints: ['page.js'],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      outfile: 'out/page.mjs',
      logLevel: 'silent',
    });
    writeFileSync(join(dir, 'esm.html'), HTML('out/page.mjs'));
    const esm = await inChromium('esbuild-main/esm.html');
    expect(esm.error).toMatch(
      /could not load the engine's wasm: HTTP 404 .*\/wasm-optim\.simd\.wasm; serve the file and pass its URL, init\(url\) .*'wasm-optim\/wasm\/simd'.*'wasm-optim\/inline'/,
    );
    // IIFE: no import.meta.url at all.
    await build({
      absWorkingDir: dir,
      entryPoints: ['page.js'],
      bundle: true,
      format: 'iife',
      platform: 'browser',
      outfile: 'out/page.iife.js',
      logLevel: 'silent',
    });
    writeFileSync(join(dir, 'iife.html'), '<!doctype html><script src="out/page.iife.js"></script>\n');
    const iife = await inChromium('esbuild-main/iife.html');
    expect(iife.error).toMatch(
      /this bundle has no import\.meta\.url .*Import from 'wasm-optim\/inline' instead.*init\(url\)/,
    );
    // Following the message: copy the file, pass its URL.
    cpSync(join(app, 'node_modules', 'wasm-optim', 'dist', 'wasm-optim.simd.wasm'), join(dir, 'engine.wasm'));
    writeFileSync(join(dir, 'page.js'), PAGE_MAIN.replace('./program.js', './fixed.js'));
    writeFileSync(
      join(dir, 'fixed.js'),
      program('wasm-optim').replace('await init()', "await init(new URL('engine.wasm', location.href))"),
    );
    await build({
      absWorkingDir: dir,
      entryPoints: ['page.js'],
      bundle: true,
      format: 'iife',
      platform: 'browser',
      outfile: 'out/page.iife.js',
      logLevel: 'silent',
    });
    const fixed = await inChromium('esbuild-main/iife.html');
    expect(fixed.error).toBeUndefined();
    expect(fixed.result?.data).toEqual(EXPECTED);
  });
});

/** Runs `tool` from its npm package, or returns null (with a note) where it cannot run here. */
async function runtime(tool: 'bun' | 'deno'): Promise<string | null> {
  const bin = join(BIN, tool);
  try {
    await run(bin, ['--version'], { timeout: 30_000 });
    return bin;
  } catch (e) {
    console.log(
      `consumers: ${tool} is not runnable here (${(e as Error).message.split('\n')[0]}); its case only checks that much. Install it with npm ci (devDependency '${tool}').`,
    );
    return null;
  }
}

describe('other runtimes', () => {
  it.each(['bun', 'deno'] as const)('%s runs the main and the inline entry', async (tool) => {
    const bin = await runtime(tool);
    if (!bin) return;
    const dir = consumer(tool, {
      'main.js': NODE_MAIN,
      'inline.js': NODE_MAIN.replace('./program.js', './program-inline.js'),
      'program-inline.js': program('wasm-optim/inline'),
    });
    for (const main of ['main.js', 'inline.js']) {
      const args = tool === 'deno' ? ['run', '--quiet', '--allow-read', main] : [main];
      const { stdout } = await run(bin, args, {
        cwd: dir,
        timeout: 120_000,
        env: { ...process.env, DENO_DIR: join(work, '.deno'), NO_COLOR: '1' },
      });
      expect(JSON.parse(stdout).data, `${tool} ${main}`).toEqual(EXPECTED);
    }
  });
});
