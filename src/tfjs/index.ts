/**
 * wasm-optim/tfjs: the TensorFlow.js bridge. `wasmOptimizer(kind, options)` is a `tf.Optimizer`
 * running one of the engine's dense optimizers; `WasmEmbedding` is a `tf.layers.Layer` whose table
 * is an engine `Embedding`, updated sparsely by its own backward pass. `@tensorflow/tfjs-core` (and
 * `@tensorflow/tfjs-layers` for models and layers) are optional peer dependencies: only this entry
 * imports them, never the main one. Call `await init()` (from 'wasm-optim') before creating anything
 * here.
 * @packageDocumentation
 */
export { WasmOptimizer, wasmOptimizer, META_WEIGHT } from './optimizer.js';
export type {
  WasmOptimizerKind,
  WasmOptimizerOptions,
  WasmOptimizerOptionsByKind,
  WasmParamGroup,
} from './optimizer.js';
export { readFloat32, copyInto, tensorFrom } from './tensor-io.js';
export { WasmEmbedding } from './embedding.js';
export type { WasmEmbeddingArgs } from './embedding.js';
