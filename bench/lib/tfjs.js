// tfjs-core with its `cpu` and `wasm` backends, loaded once per run. The wasm backend's binaries
// ship inside the npm package; `setWasmPaths` points at node_modules, so nothing is downloaded.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

let loaded;

/**
 * Loads tfjs-core and registers both backends. Resolves to `{ tf, version, skipped }`; when tfjs
 * is not installed, `tf` is null and `skipped` says why.
 */
export function loadTfjs() {
  loaded ??= (async () => {
    try {
      const require = createRequire(import.meta.url);
      const warn = console.warn;
      const log = console.log;
      // tfjs greets Node users with an advertisement for tfjs-node; keep the bench output clean.
      console.warn = console.log = () => {};
      let tf;
      try {
        tf = await import('@tensorflow/tfjs-core');
        await import('@tensorflow/tfjs-backend-cpu');
        const wasm = await import('@tensorflow/tfjs-backend-wasm');
        const dist = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/';
        wasm.setWasmPaths(dist);
        await tf.setBackend('wasm');
        await tf.ready();
        await tf.setBackend('cpu');
        await tf.ready();
        tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(1)).dataSync());
      } finally {
        console.warn = warn;
        console.log = log;
      }
      const version = require('@tensorflow/tfjs-core/package.json').version;
      return { tf, version, skipped: null, url: pathToFileURL(require.resolve('@tensorflow/tfjs-core')).href };
    } catch (e) {
      return {
        tf: null,
        version: null,
        skipped: `tfjs could not be loaded (${e.message}); the tfjs contenders were skipped`,
      };
    }
  })();
  return loaded;
}

/**
 * Switches tfjs to `backend` ('cpu' or 'wasm').
 * @param {any} tf
 * @param {string} backend
 */
export async function useBackend(tf, backend) {
  if (tf.getBackend() !== backend) {
    await tf.setBackend(backend);
    await tf.ready();
  }
}
