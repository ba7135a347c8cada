/**
 * wasm-optim: gradient-descent optimizers as fused WebAssembly SIMD kernels behind a zero-copy
 * TypeScript API. `await init()`, create an optimizer, add params, write gradients into
 * `param.grad`, call `step()`.
 * @packageDocumentation
 */
export { init, initSync, getEngine, createEngine, createEngineSync, simdSupported, Engine } from './engine.js';
export type { InitOptions, WasmSource, EngineExports } from './engine.js';
export { Param } from './param.js';
export { Optimizer } from './optimizer.js';
export type { BaseOptions, OptimizerStateDict, ParamStateDict, ParamGroupStateDict, StepOptions, GroupOptions } from './optimizer.js';
export { ParamGroup } from './param-group.js';
export { Schedule, constantLR, stepLR, multiStepLR, exponentialLR, linearLR, cosineLR, oneCycleLR, sequentialLR, warmupLR, isSchedule, scheduleFromJSON } from './schedules.js';
export type { ScheduleSpec } from './schedules.js';
export type { NonFinitePolicy } from './options.js';
export { NonFiniteGradientError, DisposedError } from './errors.js';
export { Adam, AdamW } from './adam.js';
export type { AdamOptions } from './adam.js';
export { SGD } from './sgd.js';
export type { SGDOptions } from './sgd.js';
export { Adagrad } from './adagrad.js';
export type { AdagradOptions } from './adagrad.js';
export { RMSprop } from './rmsprop.js';
export type { RMSpropOptions } from './rmsprop.js';
export { Adamax } from './adamax.js';
export type { AdamaxOptions } from './adamax.js';
export { Adadelta } from './adadelta.js';
export type { AdadeltaOptions } from './adadelta.js';
export { NAdam } from './nadam.js';
export type { NAdamOptions } from './nadam.js';
export { RAdam } from './radam.js';
export type { RAdamOptions } from './radam.js';
export { Lion } from './lion.js';
export type { LionOptions } from './lion.js';
export { SGDHD, AdamHD } from './hypergrad.js';
export type { SGDHDOptions, AdamHDOptions } from './hypergrad.js';
export { CheckpointError, CHECKPOINT_VERSION, CHECKPOINT_MAGIC, crc32, encodeCheckpoint, decodeCheckpoint, inspectCheckpoint } from './checkpoint.js';
export type { CheckpointRefusal, CheckpointInfo, CheckpointTensor, DecodedCheckpoint } from './checkpoint.js';
export { encodeSafetensors, decodeSafetensors, SAFETENSORS_MAX_HEADER } from './safetensors.js';
export type { SafetensorsDtype, SafetensorsArray, SafetensorsTensor, SafetensorsTensorInput, SafetensorsFile } from './safetensors.js';
export { memoryStats } from './memory-stats.js';
export type { MemoryStats } from './memory-stats.js';
export { shutdownThreads } from './engine.js';
export { ThreadPool, ThreadPoolError, threadsUnavailableReason, DEFAULT_MIN_PARALLEL_ELEMENTS, MAX_THREADS } from './threads.js';
export type { ThreadJob, ThreadOptions } from './threads.js';
export { Embedding } from './embedding.js';
export type { EmbeddingOptions, EmbeddingOptimizer, EmbeddingMode, EmbeddingInit, EmbeddingInitDistribution, EmbeddingStateDict } from './embedding.js';
export { ShardedEmbedding, shardRowsFor, SHARD_MAX_FLOATS, SHARD_MAX_BYTES } from './sharded-embedding.js';
export type { ShardedEmbeddingOptions } from './sharded-embedding.js';
