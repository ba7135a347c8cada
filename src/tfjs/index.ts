/**
 * wasm-optim/tfjs: the TensorFlow.js bridge. `@tensorflow/tfjs-core` and `@tensorflow/tfjs-layers`
 * are optional peer dependencies: install them to use this entry (the main entry never imports
 * tfjs). Call `init()` from `wasm-optim` before creating a layer.
 * @packageDocumentation
 */
export { WasmEmbedding } from './embedding.js';
export type { WasmEmbeddingArgs } from './embedding.js';
