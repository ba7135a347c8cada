// The last step of `npm run asbuild:simd` (after strip-abi-globals): the SIMD build split in two modules for the
// main entry's init() in Node (src/core/cold.ts). V8 decodes and validates every function of a module
// when it compiles it (~9 µs per KB here, page faults of the copies included), so the kernels that
// few programs call are left out of the module init() compiles:
// - dist/wasm-optim.simd-core.wasm: the SIMD build without the cold exports (COLD_FUNCTIONS of
//   src/core/cold.ts) and the functions only they reach; it exports its mutable globals (the
//   allocator's root, the RNG state, ...) as `~g.<name>`;
// - dist/wasm-optim.simd-cold.wasm: the same program's cold functions only, on the core's memory
//   (imported as env.memory) and globals (imported from `core`), without data segments (the core
//   instance has written them already: the same program, the same addresses). The engine
//   compiles it on the first use of a cold function.
// The whole SIMD build stays as it is (init(url), the inline entry, browsers, threads). A new export
// lands in the core module unless it is added to COLD_FUNCTIONS.
//   node scripts/split-wasm.mjs [simd.wasm core.wasm cold.wasm]
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import binaryen from 'binaryen';

/** COLD_FUNCTIONS of src/core/cold.ts: the functions of the cold module (the engine's list too). */
export function readCold(coldTs = readFileSync(new URL('../src/core/cold.ts', import.meta.url), 'utf8')) {
  const body = /export const COLD_FUNCTIONS = \[\n([\s\S]*?)\n\] as const;/.exec(coldTs);
  if (!body) throw new Error('split-wasm: no COLD_FUNCTIONS in src/core/cold.ts');
  return body[1].split('\n').map((l) => {
    const m = /^\s*'(\w+)',$/.exec(l);
    if (!m) throw new Error(`split-wasm: cannot read the COLD_FUNCTIONS line '${l}' of src/core/cold.ts`);
    return m[1];
  });
}

/** The export name of a mutable global of the core module (the cold module imports it from `core`). */
export const globalExport = (name) => `~g.${name}`;

function read(bytes) {
  const m = binaryen.readBinary(bytes);
  m.setFeatures(binaryen.Features.All);
  return m;
}

function exportsOf(m) {
  const out = [];
  for (let i = 0, n = m.getNumExports(); i < n; i++) out.push(binaryen.getExportInfo(m.getExportByIndex(i)));
  return out;
}

function mutableGlobals(m) {
  const out = [];
  for (let i = 0, n = m.getNumGlobals(); i < n; i++) {
    const g = binaryen.getGlobalInfo(m.getGlobalByIndex(i));
    if (g.mutable && !g.module) out.push(g);
  }
  return out;
}

function emit(m, what) {
  if (!m.validate()) throw new Error(`split-wasm: the ${what} module does not validate`);
  const bytes = m.emitBinary();
  m.dispose();
  return bytes;
}

/** The core and cold modules of a one-thread build (`bytes`); throws when a cold name is not exported. */
export function splitWasm(bytes, cold = readCold()) {
  const core = read(bytes);
  const names = new Set(exportsOf(core).map((e) => e.name));
  const missing = cold.filter((n) => !names.has(n));
  if (missing.length)
    throw new Error(`split-wasm: COLD_FUNCTIONS names functions the build does not export: ${missing.join(', ')}`);
  const globals = mutableGlobals(core);
  for (const g of globals) core.addGlobalExport(g.name, globalExport(g.name));
  for (const n of cold) core.removeExport(n);
  core.runPasses(['remove-unused-module-elements']);

  const rest = read(bytes);
  const keep = new Set(cold);
  for (const e of exportsOf(rest)) if (!keep.has(e.name)) rest.removeExport(e.name);
  for (const g of globals) {
    rest.removeGlobal(g.name);
    rest.addGlobalImport(g.name, 'core', globalExport(g.name), g.type, true);
  }
  // The core instance has run the start function (if any) on the memory and globals both share.
  if (rest.getStart()) rest.setStart(0);
  const mem = rest.getMemoryInfo();
  rest.setMemory(mem.initial, mem.max ?? -1, null, [], mem.shared, false, '0');
  rest.addMemoryImport('0', 'env', 'memory', mem.shared);
  rest.runPasses(['remove-unused-module-elements']);
  return { core: emit(core, 'core'), cold: emit(rest, 'cold') };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dist = new URL('../dist/', import.meta.url);
  const [from, toCore, toCold] =
    process.argv.length > 2
      ? process.argv.slice(2)
      : ['simd', 'simd-core', 'simd-cold'].map((b) => new URL(`wasm-optim.${b}.wasm`, dist));
  const { core, cold } = splitWasm(readFileSync(from));
  writeFileSync(toCore, core);
  writeFileSync(toCold, cold);
}
