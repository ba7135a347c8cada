// Builds the bench-only wasm (the roofline kernel, bench/wasm/roofline.ts) into bench/.build/, in
// a SIMD and a scalar build, with bench/wasm/asconfig.json. It is not part of the package's wasm:
// only the benchmark loads it (bench/lib/roofline.js). `npm run bench:build` runs this file;
// bench/index.js calls ensureBenchWasm() too, which rebuilds only what is missing or older than
// its sources.
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
/** Where the bench-only builds go (gitignored). */
export const BENCH_BUILD = resolve(HERE, '..', '.build');
const CONFIG = join(HERE, 'asconfig.json');
const SOURCES = [join(HERE, 'roofline.ts'), CONFIG, fileURLToPath(import.meta.url)];
/** The asconfig target of each build and the file it writes. */
export const BENCH_WASM = {
  simd: join(BENCH_BUILD, 'roofline.simd.wasm'),
  scalar: join(BENCH_BUILD, 'roofline.scalar.wasm'),
};

function stale(out) {
  if (!existsSync(out)) return true;
  const built = statSync(out).mtimeMs;
  return SOURCES.some((s) => statSync(s).mtimeMs > built);
}

/**
 * Compiles every bench-only build that is missing or older than its sources; returns the targets
 * it compiled. Throws with asc's diagnostics if a build fails.
 */
export async function ensureBenchWasm({ force = false, log = () => {} } = {}) {
  const todo = Object.keys(BENCH_WASM).filter((t) => force || stale(BENCH_WASM[t]));
  if (todo.length === 0) return todo;
  const { default: asc } = await import('assemblyscript/asc');
  for (const target of todo) {
    let stderr = '';
    const { error } = await asc.main(['--config', CONFIG, '--target', target], {
      stdout: { write: () => true },
      stderr: { write: (s) => ((stderr += s), true) },
    });
    if (error) throw new Error(`bench:build: asc failed for the ${target} roofline build: ${error.message}\n${stderr}`);
    log(`bench:build: wrote ${BENCH_WASM[target]}`);
  }
  return todo;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const force = process.argv.includes('--force');
  ensureBenchWasm({ force, log: console.log }).then(
    (built) => built.length === 0 && console.log('bench:build: bench/.build is up to date'),
    (e) => {
      console.error(e.message);
      process.exit(1);
    },
  );
}
