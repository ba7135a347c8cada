// Builds the engine's wasm (npm run asbuild) when dist/ lacks a build or assembly/ changed since:
// a fresh clone's `npm run demo` works after `npm ci` alone, without an install-time `prepare`
// script (which would also run, and warn, for everyone who installs the package).
import { execSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const outputs = [
  'wasm-optim.simd.wasm',
  'wasm-optim.scalar.wasm',
  'wasm-optim.threads.wasm',
  'wasm-optim.threads-scalar.wasm',
  'inline-wasm.js',
].map((f) => new URL(`dist/${f}`, root));

function mtime(url) {
  try {
    return statSync(url).mtimeMs;
  } catch {
    return -1;
  }
}

const oldest = Math.min(...outputs.map(mtime));
const newestSource = Math.max(
  mtime(new URL('asconfig.json', root)),
  // The build's transform and the scan it reads the ABI with (the module's exports).
  mtime(new URL('scripts/wasm-exports.mjs', root)),
  mtime(new URL('scripts/abi-scan.mjs', root)),
  ...readdirSync(new URL('assembly/', root), { recursive: true }).map((f) => mtime(new URL(`assembly/${f}`, root))),
);
if (oldest < 0 || newestSource > oldest) {
  console.error(
    oldest < 0
      ? 'ensure-wasm: no wasm build in dist/ yet: npm run asbuild (a few minutes)'
      : 'ensure-wasm: assembly/ changed: npm run asbuild',
  );
  execSync('npm run asbuild', { cwd: root, stdio: 'inherit' });
}
