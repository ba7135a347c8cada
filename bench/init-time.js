#!/usr/bin/env node
// One sample of the package's start-up in a fresh process: the time to import the built entry,
// then the time of `await init()` from that warm import (compile and instantiate the engine).
// Prints {"importMs","initMs"} as JSON. bench/lib/init.js runs it many times, interleaved.
//   node bench/init-time.js [entry]   (default: dist/index.js)
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const entry = pathToFileURL(resolve(process.argv[2] ?? new URL('../dist/index.js', import.meta.url).pathname)).href;
const t0 = performance.now();
const pkg = await import(entry);
const t1 = performance.now();
await pkg.init();
const t2 = performance.now();
console.log(JSON.stringify({ importMs: t1 - t0, initMs: t2 - t1 }));
