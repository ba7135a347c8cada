#!/usr/bin/env node
// One sample of the package's start-up in a fresh process: the time to import the built entry,
// then the time of `await init()` from that warm import (read, compile and instantiate the engine).
// Prints {"importMs","initMs"} as JSON. bench/lib/init.js runs it many times, interleaved.
// With --parts it does init()'s steps one by one instead, with the same calls, and prints where the
// time goes: {"importMs","readMs","compileMs","instantiateMs","engineMs"} (engineMs: the Engine
// constructor, which runs the module's start function and checks its ABI).
//   node bench/init-time.js [--parts] [entry]   (default entry: dist/index.js)
import * as fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const args = process.argv.slice(2);
const parts = args.includes('--parts');
const file = args.find((a) => a !== '--parts');
const entry = pathToFileURL(resolve(file ?? new URL('../dist/index.js', import.meta.url).pathname)).href;
const t0 = performance.now();
const pkg = await import(entry);
const t1 = performance.now();
if (!parts) {
  await pkg.init();
  const t2 = performance.now();
  console.log(JSON.stringify({ importMs: t1 - t0, initMs: t2 - t1 }));
} else {
  // What init() does in Node for the SIMD build (src/core/load.ts): read the file (with the
  // entry's own reader where it has one, readWholeFile), compile and instantiate synchronously,
  // then make the Engine. Where the build is split (scripts/split-wasm.mjs), init() loads its core
  // module; the cold one waits for the first use of a cold kernel.
  const load = await import(new URL('./core/load.js', entry).href).catch(() => ({}));
  const dist = new URL('../dist/', entry);
  const core = new URL('wasm-optim.simd-core.wasm', dist);
  const url = fs.existsSync(core) ? core : new URL('wasm-optim.simd.wasm', dist);
  const t1r = performance.now();
  const bytes = load.readWholeFile ? load.readWholeFile(fs, url) : fs.readFileSync(url);
  const t2 = performance.now();
  const module = new WebAssembly.Module(bytes);
  const t3 = performance.now();
  const instance = new WebAssembly.Instance(module, {
    env: {
      abort() {
        throw new Error('abort');
      },
    },
  });
  const t4 = performance.now();
  new pkg.Engine(instance, module);
  const t5 = performance.now();
  console.log(
    JSON.stringify({
      importMs: t1 - t0,
      readMs: t2 - t1r,
      compileMs: t3 - t2,
      instantiateMs: t4 - t3,
      engineMs: t5 - t4,
    }),
  );
}
