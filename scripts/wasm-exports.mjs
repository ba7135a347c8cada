// An asc transform (asconfig.json "transform"): after asc has compiled assembly/index.ts and before
// Binaryen optimizes, it keeps the module's function exports to the functions JavaScript calls,
// `EngineFunctions` of src/core/abi.ts as scripts/abi-scan.mjs reads them from the sources, plus
// the start function. `export * from` also exports the helpers that other AssemblyScript files
// import (`@inline` accessors such as descParam or embU32, and functions marked `@internal`); with
// their exports gone Binaryen inlines or drops them, and V8 wraps fewer exports at every
// instantiation (AMD EPYC family 23, Node 20: 22 fewer exports, instantiation 0.55 -> 0.50 ms).
import { scanAbi } from './abi-scan.mjs';

/** The exports kept besides the ABI's functions: asc's start function (`exportStart`, threads builds). */
const KEPT = new Set(['_initialize']);

/** Names of the function exports of a Binaryen module (binaryen.js `Module`). */
export function functionExports(binaryen, module) {
  const names = [];
  for (let i = 0, n = module.getNumExports(); i < n; i++) {
    const info = binaryen.getExportInfo(module.getExportByIndex(i));
    if (info.kind === binaryen.ExternalFunction) names.push(info.name);
  }
  return names;
}

/**
 * Removes from `module` the function exports that are neither in `keep` nor in `KEPT`; returns
 * their names. Throws, naming them, when a function of `keep` is not exported (a stale
 * src/core/abi.ts or a function the scan misread).
 */
export function keepExports(binaryen, module, keep) {
  const names = functionExports(binaryen, module);
  const exported = new Set(names);
  const missing = [...keep].filter((n) => !exported.has(n));
  if (missing.length)
    throw new Error(
      `wasm-exports: the ABI's functions ${missing.join(', ')} are not exported by the module (run node scripts/gen-abi.mjs)`,
    );
  const dropped = names.filter((n) => !keep.has(n) && !KEPT.has(n));
  for (const n of dropped) module.removeExport(n);
  return dropped;
}

/** The transform asc instantiates (asc sets `this.binaryen` on its prototype). */
export default class WasmExports {
  afterCompile(module) {
    keepExports(this.binaryen, module, new Set(scanAbi().fns.keys()));
  }
}
