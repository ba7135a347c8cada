// Everything the package exports except `init()` and `createEngine()`, whose default wasm source
// differs by entry: the main entry (src/index.ts) finds the .wasm files (src/files.ts), the
// `wasm-optim/inline` entry (src/inline.ts) carries them. Keeping them out of this list keeps the
// inline entry's module graph free of the `new URL('….wasm', import.meta.url)` that bundlers copy.
export { getEngine, simdSupported, Engine } from './core/engine.js';
export { initSync, createEngineSync } from './core/load.js';
export type { InitOptions, DebugOptions, WasmSource, EngineExports } from './core/engine.js';
export type { WasmBuild } from './core/load.js';
export type { WasmBytes, WasmInstance, WasmMemory, WasmModule } from './core/wasm-types.js';
export { Param } from './core/param.js';
export { Optimizer } from './core/optimizer.js';
export type {
  BaseOptions,
  OptimizerStateDict,
  ParamStateDict,
  ParamGroupStateDict,
  StepOptions,
  GroupOptions,
} from './core/optimizer.js';
export { ParamGroup } from './core/param-group.js';
export { QUANT_OPTIMIZERS, type StateStorageOptions } from './core/state-type.js';
export type {
  MetaGradientMode,
  MetaGradientOptions,
  MetaGradientState,
  MetaStepOptions,
  HessianVectorProduct,
  GradientFunction,
} from './core/meta-gradients.js';
export type { MetaDeclaration, MetaKernelName } from './core/declaration.js';
export {
  Schedule,
  constantLR,
  stepLR,
  multiStepLR,
  exponentialLR,
  linearLR,
  cosineLR,
  oneCycleLR,
  sequentialLR,
  warmupLR,
  isSchedule,
  scheduleFromJSON,
} from './core/schedules.js';
export type { ScheduleSpec } from './core/schedules.js';
export type { NonFinitePolicy } from './core/options.js';
export { NonFiniteGradientError, DisposedError } from './core/errors.js';
export { Adam, AdamW } from './optimizers/adam.js';
export type { AdamOptions } from './optimizers/adam.js';
export { SGD } from './optimizers/sgd.js';
export type { SGDOptions } from './optimizers/sgd.js';
export { Adagrad } from './optimizers/adagrad.js';
export type { AdagradOptions } from './optimizers/adagrad.js';
export { RMSprop } from './optimizers/rmsprop.js';
export type { RMSpropOptions } from './optimizers/rmsprop.js';
export { Adamax } from './optimizers/adamax.js';
export type { AdamaxOptions } from './optimizers/adamax.js';
export { Adadelta } from './optimizers/adadelta.js';
export type { AdadeltaOptions } from './optimizers/adadelta.js';
export { NAdam } from './optimizers/nadam.js';
export type { NAdamOptions } from './optimizers/nadam.js';
export { RAdam } from './optimizers/radam.js';
export type { RAdamOptions } from './optimizers/radam.js';
export { Lion } from './optimizers/lion.js';
export type { LionOptions } from './optimizers/lion.js';
export { SGDHD, AdamHD } from './optimizers/hypergrad.js';
export { FTRL } from './optimizers/ftrl.js';
export type { FTRLOptions } from './optimizers/ftrl.js';
export type { RowwiseWeightDecayMode } from './optimizers/rowwise.js';
export type { SGDHDOptions, AdamHDOptions } from './optimizers/hypergrad.js';
export {
  CheckpointError,
  CHECKPOINT_VERSION,
  CHECKPOINT_MAGIC,
  crc32,
  encodeCheckpoint,
  decodeCheckpoint,
  inspectCheckpoint,
} from './core/checkpoint.js';
export type { CheckpointRefusal, CheckpointInfo, CheckpointTensor, DecodedCheckpoint } from './core/checkpoint.js';
export { encodeSafetensors, decodeSafetensors, SAFETENSORS_MAX_HEADER } from './core/safetensors.js';
export type {
  SafetensorsDtype,
  SafetensorsArray,
  SafetensorsTensor,
  SafetensorsTensorInput,
  SafetensorsFile,
} from './core/safetensors.js';
export { memoryStats } from './core/memory-stats.js';
export { MAX_STEP_COUNT, TABLE_MAX_STEPS } from './core/limits.js';
export type { MemoryStats } from './core/memory-stats.js';
export { shutdownThreads } from './core/engine.js';
export { ThreadPool, ThreadPoolError, DEFAULT_MIN_PARALLEL_ELEMENTS, MAX_THREADS } from './threads/pool.js';
export { threadsUnavailableReason } from './threads/setup.js';
export type { ThreadJob, ThreadOptions } from './threads/pool.js';
export { Embedding, createEmbeddingTable } from './embedding/embedding.js';
export { LocalEmbedding } from './embedding/local.js';
export { EmbeddingTableBase } from './embedding/table-base.js';
export { LeanEmbedding, leanLayout, WEIGHT_TYPES, STATE_TYPES } from './embedding/lean.js';
export type { WeightType, StateType, LeanLayout, LeanPlacement } from './embedding/lean.js';
export { dynamicMap } from './embedding/dynamic-map.js';
export type { EmbeddingTable } from './embedding/table.js';
export {
  rowFootprint,
  tableStateSlots,
  type RowFootprint,
  type TableStateSlot,
  type TableMemoryStats,
} from './embedding/footprint.js';
export { OPTIMIZERS, TABLE_OPTIMIZERS, TABLE_OPTIMIZER_NAMES, TABLE_ONLY_DECLARATIONS } from './optimizers/registry.js';
export type { OptimizerName } from './optimizers/registry.js';
export { StepSeries, COMMON_OPTIONS } from './core/declaration.js';
export type { OptimizerDeclaration, AnyDeclaration, HyperWriter, CommonResolved } from './core/declaration.js';
export { SLOT } from './core/abi.js';
export type { SlotName, ExportName, EngineFunctions, TableKernelName } from './core/abi.js';
export type {
  EmbeddingOptions,
  EmbeddingOptimizer,
  EmbeddingMode,
  EmbeddingInit,
  EmbeddingInitDistribution,
  EmbeddingStateDict,
} from './embedding/embedding.js';
export { ShardedEmbedding, shardRowsFor, SHARD_MAX_FLOATS, SHARD_MAX_BYTES } from './embedding/sharded.js';
export type { ShardedEmbeddingOptions, EmbeddingShard } from './embedding/sharded.js';
