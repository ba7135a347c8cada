// A module Web Worker that imports the package by a plain relative path (import maps do not
// reach workers), runs the shared workload and posts the float bits back.
import * as api from '../../dist/index.js';
import { runAll } from './workload.js';

self.onmessage = async (event) => {
  try {
    const result = await runAll(api, event.data?.initArg);
    self.postMessage({
      ok: true,
      result,
      isWorker: typeof WorkerGlobalScope !== 'undefined' && self instanceof WorkerGlobalScope,
    });
  } catch (e) {
    self.postMessage({ ok: false, error: String(e?.stack ?? e) });
  }
};
