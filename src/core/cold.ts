// The cold half of the split SIMD build (scripts/split-wasm.mjs): the kernels few programs call
// live in a second module that an engine compiles and instantiates on the first use of one of them,
// on the engine's memory and globals. The module `init()` compiles in Node is then ~40% smaller
// (decoding and validating it is most of `init()`). An engine of a whole build (any other build,
// or a source the caller gives) has every function in its own module and nothing here applies.

import type { WasmModule } from './wasm-types.js';

/**
 * @internal the functions of the cold module: meta-gradients, hypergradients, 8-bit state, lean
 * tables, FTRL, the exact mode's catch-up. scripts/split-wasm.mjs reads this list; a function not
 * named here stays in the core module (the default for a new export).
 */
export const COLD_FUNCTIONS = [
  'adamMetaStep',
  'sgdMetaStep',
  'rmspropMetaStep',
  'adagradMetaStep',
  'hdDots',
  'hdSgdStep',
  'adamQStep',
  'sgdQStep',
  'rmspropQStep',
  'adagradQStep',
  'lionQStep',
  'quantEncodeInt8',
  'quantDecodeInt8',
  'leanApply',
  'leanRestore',
  'leanLookup',
  'leanRead',
  'leanWrite',
  'leanRecord',
  'leanEncodeWeightsTest',
  'leanDecodeWeightsTest',
  'leanEncodeTest',
  'ftrlStep',
  'embCatchUpRange',
] as const;

/** @internal a cold module, compiled once (from its bytes, read when first needed) for every engine that uses it. */
export interface ColdModule {
  module(): WasmModule;
}

/** @internal the cold module whose wasm bytes `bytes()` gives synchronously, called once, on first use. */
export function coldModule(bytes: () => BufferSource): ColdModule {
  let compiled: WasmModule | undefined;
  return { module: () => (compiled ??= new WebAssembly.Module(bytes())) };
}

/**
 * @internal the exports of a core `instance` (inherited: the object V8 makes its function objects
 * in lazily, on first read) and, as getters of its own, the cold functions: the first read of one
 * instantiates the cold module on the instance's memory and globals (the core exports its mutable
 * globals as `~g.*`) and puts the functions in place of the getters.
 */
export function withColdExports(instance: WebAssembly.Instance, cold: ColdModule): WebAssembly.Exports {
  const core = instance.exports;
  const exports = Object.create(core) as Record<string, unknown>;
  const load = (): void => {
    const fns = new WebAssembly.Instance(cold.module(), { env: { memory: core.memory }, core }).exports;
    for (const name of COLD_FUNCTIONS) Object.defineProperty(exports, name, { value: fns[name] });
  };
  for (const name of COLD_FUNCTIONS) {
    Object.defineProperty(exports, name, {
      configurable: true,
      get(): unknown {
        load();
        return exports[name];
      },
    });
  }
  return exports as WebAssembly.Exports;
}
