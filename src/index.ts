/**
 * wasm-optim: gradient-descent optimizers as fused WebAssembly SIMD kernels behind a zero-copy
 * TypeScript API. `await init()`, create an optimizer, add params, write gradients into
 * `param.grad`, call `step()`.
 * @packageDocumentation
 */
export * from './api.js';
export { init, createEngine } from './files.js';
