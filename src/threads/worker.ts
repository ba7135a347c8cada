// The code a pool worker runs: a real, type-checked function that `workerSource()` turns into a
// self-contained script, so the same code runs from src/ (tests), from dist/ (the package) and in
// browsers (a Blob URL). Node starts it with `eval: true` and hands over the module and memory as
// workerData; a browser worker receives them in its first message (the few lines of start-up in
// `workerSource`). The function refers to nothing outside itself: its inputs are the control-block
// layout (./control.ts) and that data.

import { WORKER_LAYOUT, type WorkerLayout } from './control.js';

/** What a worker is given: the module, the shared memory, where the control block is, its index. */
interface WorkerData {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  ctrl: number;
  index: number;
  names: string[];
  spin: number;
}

/**
 * The worker's main loop: wait for work, claim chunks, run them, count them done. `post` answers
 * the pool, `exit` ends the worker.
 */
function workerMain(L: WorkerLayout, d: WorkerData, post: (m: unknown) => void, exit: (code?: number) => void): void {
  const memory = d.memory,
    index = d.index;
  const i32 = new Int32Array(memory.buffer),
    f64 = new Float64Array(memory.buffer),
    u8 = new Uint8Array(memory.buffer);
  const h = d.ctrl >> 2,
    w = (d.ctrl + L.WORKERS + index * L.WB) >> 2,
    chunks = d.ctrl + L.CHUNKS;
  const die = (): void => {
    Atomics.store(i32, w + L.STATUS, L.DEAD);
    Atomics.notify(i32, h + L.DONE);
  };
  const proc = (globalThis as { process?: { on?: (e: string, f: () => void) => void } }).process;
  if (proc && typeof proc.on === 'function') proc.on('exit', die);
  const instance = new WebAssembly.Instance(d.module, {
    env: {
      memory,
      abort: (_m: number, _f: number, l: number, c: number): never => {
        throw new Error('engine abort at ' + l + ':' + c);
      },
    },
  });
  const fns = d.names.map((n) => instance.exports[n] as (...a: number[]) => unknown);
  const spin = d.spin;
  let seen = Atomics.load(i32, h + L.SEQ);
  Atomics.store(i32, w + L.STATUS, L.OK);
  post('ready');
  const runChunk = (c: number): boolean => {
    const b = chunks + c * L.CB,
      b4 = b >> 2,
      b8 = b >> 3;
    i32[b4 + L.OWNER] = index;
    try {
      const fault = i32[w + L.FAULT];
      if (fault !== 0) {
        i32[w + L.FAULT] = 0;
        if (fault === 1) throw new Error('fault injected by a test hook');
        if (fault === 2) {
          die();
          exit(7);
          return false;
        }
        if (fault === 3) for (;;);
      }
      const n = i32[b4 + L.NARGS],
        a = b8 + L.ARGS,
        fn = fns[i32[b4 + L.FN]];
      let r: unknown;
      if (n <= 2) r = fn(f64[a], f64[a + 1]);
      else if (n <= 4) r = fn(f64[a], f64[a + 1], f64[a + 2], f64[a + 3]);
      else r = fn(f64[a], f64[a + 1], f64[a + 2], f64[a + 3], f64[a + 4], f64[a + 5], f64[a + 6], f64[a + 7]);
      f64[b8 + L.RESULT] = typeof r === 'number' ? r : 0;
      Atomics.store(i32, b4 + L.STATE, L.CDONE);
    } catch (e) {
      Atomics.store(i32, b4 + L.STATE, L.CERROR);
      if (Atomics.compareExchange(i32, h + L.ERR, 0, c + 1) === 0) {
        const text = 'worker ' + index + ' threw: ' + String((e && (e as Error).message) || e);
        let len = 0;
        for (let j = 0; j < text.length && len < 128; j++) {
          const ch = text.charCodeAt(j);
          u8[d.ctrl + L.ERRMSG + len++] = ch < 128 ? ch : 63;
        }
        Atomics.store(i32, h + L.ERRLEN, len);
      }
    }
    Atomics.add(i32, h + L.DONE, 1);
    Atomics.notify(i32, h + L.DONE);
    return true;
  };
  for (;;) {
    let s = Atomics.load(i32, h + L.SEQ);
    if (s === seen) {
      for (let k = 0; k < spin && s === seen; k++) s = Atomics.load(i32, h + L.SEQ);
      // While the pool announces work (ThreadPool.wake), keep spinning: the wake-up from a wait
      // costs more than the work's serial part that precedes it. At most HOT_MS, checked now and then.
      if (s === seen && Atomics.load(i32, h + L.HOT) !== 0) {
        const until = performance.now() + L.HOT_MS;
        while (s === seen && Atomics.load(i32, h + L.HOT) !== 0 && performance.now() < until)
          for (let k = 0; k < 256 && s === seen; k++) s = Atomics.load(i32, h + L.SEQ);
      }
      if (s === seen) {
        Atomics.wait(i32, h + L.SEQ, seen);
        continue;
      }
    }
    seen = s;
    if (Atomics.load(i32, h + L.QUIT) !== 0) {
      exit();
      return;
    }
    for (;;) {
      const v = Atomics.load(i32, h + L.CLAIM),
        next = v & 0xffff;
      if (next >= v >>> 16) break;
      if (Atomics.compareExchange(i32, h + L.CLAIM, v, v + 1) !== v) continue;
      if (!runChunk(next)) return;
    }
  }
}

/**
 * The worker's script: `workerMain` called with the control-block layout. A tool that keeps
 * function names (esbuild's keepNames, as tsx runs it) wraps named functions in a module-level
 * `__name(fn, name)` helper that the serialized function would miss: the script defines one.
 */
export function workerSource(): string {
  // The start-up stays in this string: a literal require('worker_threads') in the module would be
  // resolved by bundlers building for browsers.
  return `'use strict';
var __name = function (f) { return f; };
var main = (${workerMain.toString()}), L = ${JSON.stringify(WORKER_LAYOUT)};
if (typeof require === 'function' && typeof process !== 'undefined' && process.versions && process.versions.node) {
  var wt = require('worker_threads');
  main(L, wt.workerData, function (m) { wt.parentPort.postMessage(m); }, function (code) { if (code) process.exit(code); });
} else {
  self.onmessage = function (e) {
    self.onmessage = null;
    main(L, e.data, function (m) { self.postMessage(m); }, function () { self.close(); });
  };
}
`;
}
