// WasmEmbedding: a TensorFlow.js layer whose table is an engine `Embedding`. The forward pass
// gathers the batch's rows in wasm and hands tfjs one copy of them; the backward pass is a custom
// gradient that sends the output-gradient rows straight to `Embedding.update` (the sparse, fused
// backward + optimizer step of FBGEMM's TBE), so tfjs never sees a dense table gradient and its
// own optimizer never sees the table.
//
// tfjs only runs a gradient function when the op lies on a path from a trainable variable to the
// loss, and the ids are not a variable: the layer owns one trainable variable of zero elements
// (`backward_hook`) that it feeds to the custom-gradient op beside the ids. Its gradient is empty,
// so any optimizer leaves it as it is; setting `trainable = false` takes it (and so the table's
// updates) out of training.

import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { initializers, layers, LayerVariable, type Shape } from '@tensorflow/tfjs-layers';

// tfjs-layers' LayerArgs and Kwargs, from its public Layer class: a deep import of
// '@tensorflow/tfjs-layers/dist/...' in the declarations does not resolve under TypeScript's
// node16/nodenext resolution (no exports map, no extension).
/** tfjs-layers' `LayerArgs` (the arguments every Layer takes). */
export type LayerArgs = NonNullable<ConstructorParameters<typeof layers.Layer>[0]>;
type Kwargs = Parameters<InstanceType<typeof layers.Layer>['call']>[1];
import { TableVariable, type Part } from './table-variable.js';
import { sameShape } from './tensor-io.js';
import { Embedding, ShardedEmbedding, type EmbeddingOptions, type EmbeddingStateDict } from '../index.js';

/**
 * Arguments of {@link WasmEmbedding}: tfjs's embedding-layer arguments (`inputDim`, `outputDim`,
 * `inputLength`, `maskZero`, and every `LayerArgs` such as `name`, `trainable`, `inputShape`,
 * `batchInputShape`, `weights`) plus the table's options (`optimizer`, `lr`, `mode`, `betas`,
 * `eps`, `weightDecay`, ..., `init`, `seed`: see `EmbeddingOptions`).
 */
export interface WasmEmbeddingArgs extends LayerArgs, EmbeddingOptions {
  /** Number of rows of the table (the vocabulary size): ids lie in `[0, inputDim)`. */
  inputDim: number;
  /** Floats per row: the size of each output vector. */
  outputDim: number;
  /**
   * The length of the id sequences, when it is fixed (a number, or one number per axis after the
   * batch axis); as tfjs's `embedding` layer, needed for a `flatten` after the layer.
   */
  inputLength?: number | number[];
  /** Id 0 is padding: the layer outputs a mask (`ids != 0`) for the layers after it. Default false. */
  maskZero?: boolean;
  /**
   * Save the table's optimizer state (`optimizer/<name>` per state tensor, and `optimizer/step`)
   * with the model's weights, so that a reloaded model continues training where it stopped.
   * Default true; with false only `embeddings` is saved, and a reloaded table starts its
   * optimizer afresh.
   */
  saveState?: boolean;
  /**
   * The table's initial weights (see `EmbeddingInit`). Default: U[-0.05, 0.05), as tfjs's
   * `embedding` layer (`randomUniform`); `init: 'normal'` is PyTorch's N(0, 1).
   */
  init?: EmbeddingOptions['init'];
}

/** tfjs's default embeddings initializer: `randomUniform` with minval -0.05, maxval 0.05. */
const TFJS_DEFAULT_INIT = { distribution: 'uniform', low: -0.05, high: 0.05 } as const;

/** The `LayerArgs` keys and this layer's own; every other key is a table option. */
const LAYER_KEYS = new Set([
  'inputShape',
  'batchInputShape',
  'batchSize',
  'dtype',
  'name',
  'trainable',
  'weights',
  'inputDType',
  'inputDim',
  'outputDim',
  'inputLength',
  'maskZero',
  'saveState',
  'customObjects', // added to the config by tfjs's deserialization
]);

/** tfjs embedding-layer arguments that would make tfjs own (regularize, constrain) the table. */
const REFUSED: Record<string, string> = {
  embeddingsInitializer:
    "use the table option 'init' ('zeros', 'normal', 'uniform', { distribution: 'uniform', low, high }, or the values)",
  embeddingsRegularizer: "the table is not a tfjs weight; use the table option 'weightDecay'",
  embeddingsConstraint: 'the table is not a tfjs weight, so tfjs constraints cannot reach it',
  activityRegularizer: 'add the penalty to the loss instead',
};

/**
 * A tfjs layer whose embedding table lives in engine memory and is trained by the engine's sparse
 * optimizers (`Embedding`): any table optimizer (`'adam'`, `'adamw'`, `'sgd'`, `'adagrad'`,
 * `'adamax'`, `'lion'`, `'adadelta'`, `'nadam'`, `'radam'`, ...) with its options, in `'lazy'` or
 * `'exact'` mode.
 *
 * - Forward: the rows of the batch's ids (any input rank; the output has shape
 *   `[...ids.shape, outputDim]`), gathered in wasm and copied once into a new tensor. No tensor is
 *   ever backed by engine memory.
 * - Backward: a custom gradient (`tf.customGrad`) sends the output gradient's rows, with their
 *   ids, to `Embedding.update`, which sums the rows of duplicate ids and steps only the touched
 *   rows. The gradient function returns no table gradient, so a training step costs the batch's
 *   rows, not the table's: a 1M x 64 table steps as fast as a 1024 x 64 one.
 * - The table is not a trainable tfjs weight: `model.compile`'s optimizer (tfjs's own, or
 *   `wasmOptimizer`) trains the other layers and never sees it. The table steps inside the
 *   gradient computation, once per call of the layer per training step (a layer applied twice in
 *   one model steps twice), and only while the layer is `trainable`.
 * - Saving: `getConfig` and `tf.serialization.registerClass` rebuild the layer with its options
 *   (`tf.loadLayersModel` knows `'WasmEmbedding'` once this module is imported). The weights
 *   `embeddings` (`[inputDim, outputDim]`, as tfjs's `embedding` layer, so `getWeights()[0]` and
 *   `setWeights([embeddings])` trade tables with it), `optimizer/<state>` and `optimizer/step`
 *   (unless `saveState: false`) are read from the table when tfjs reads them (`model.save`,
 *   `getWeights`) and written into it when tfjs writes them (`tf.loadLayersModel`,
 *   `loadWeights`, `setWeights`). What `getWeights()` returns is a snapshot: it is disposed when
 *   the table next changes (copy it with `clone()` to keep it). In exact mode the state is
 *   brought up to date (flushed) when read, so a reloaded table continues to float32 rounding.
 *
 * Needs `await init()` from `wasm-optim` before the first layer is created.
 *
 * ```ts
 * const model = tf.sequential({ layers: [
 *   new WasmEmbedding({ inputDim: 1_000_000, outputDim: 64, inputLength: 8, optimizer: 'adam', lr: 1e-3 }),
 *   tf.layers.flatten(), tf.layers.dense({ units: 10, activation: 'softmax' }),
 * ] });
 * model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
 * await model.fit(ids, labels, { epochs: 3 });
 * ```
 */
export class WasmEmbedding extends layers.Layer {
  /** The class name tfjs serialization registers. */
  static className = 'WasmEmbedding';

  /** Number of rows (ids lie in `[0, inputDim)`). */
  readonly inputDim: number;
  /** Floats per row. */
  readonly outputDim: number;
  /** The fixed length of the id sequences, if given. */
  readonly inputLength: number | number[] | undefined;
  /** Whether id 0 is padding (the layer outputs a mask). */
  readonly maskZero: boolean;
  /** Whether the optimizer state is saved with the weights. */
  readonly saveState: boolean;

  private readonly embeddingTable: Embedding;
  private readonly tableConfig: Record<string, serialization.ConfigDictValue>;
  private hook: LayerVariable | null = null;
  private tableVars: TableVariable[] = [];
  /** Values written by tfjs (`loadWeights`, `setWeights`), applied to the table before its next use. */
  private staged: { weights?: Float32Array; state: Record<string, Float32Array>; step?: number } = { state: {} };
  private stagedCount = 0;
  /** Bumped whenever the table changes; snapshots of another version are stale. */
  private version = 0;
  private tableDisposed = false;

  /**
   * Creates the layer and its table (in engine memory: call `await init()` first). The table's
   * options are checked here; a bad one throws the table's TypeError or RangeError, with the
   * layer's name in front.
   */
  constructor(args: WasmEmbeddingArgs) {
    if (args === null || typeof args !== 'object')
      throw new TypeError(
        `WasmEmbedding: expected an object of arguments ({ inputDim, outputDim, ... }), got ${String(args)}`,
      );
    const a = { ...args } as WasmEmbeddingArgs & Record<string, unknown>;
    for (const key of Object.keys(REFUSED)) {
      if (a[key] !== undefined && a[key] !== null)
        throw new TypeError(`WasmEmbedding: argument '${key}' is not supported: ${REFUSED[key]}`);
      delete a[key];
    }
    if (a.batchInputShape == null && a.inputShape == null) {
      // As tfjs's embedding layer: the layer can open a sequential model without an inputShape.
      const batch = a.batchSize ?? null;
      a.batchInputShape = a.inputLength == null ? [batch, null] : [batch, ...toList(a.inputLength)];
    }
    super(a);
    const who = `WasmEmbedding '${this.name}'`;
    this.inputDim = checkPositiveInt(who, 'inputDim', a.inputDim);
    this.outputDim = checkPositiveInt(who, 'outputDim', a.outputDim);
    if (a.inputLength != null) {
      for (const n of toList(a.inputLength)) {
        if (n !== null && (!Number.isInteger(n) || n < 1))
          throw new RangeError(
            `${who}: 'inputLength' must be a positive integer or a list of them (null for a free axis), got ${JSON.stringify(a.inputLength)}`,
          );
      }
    }
    this.inputLength = a.inputLength ?? undefined;
    this.maskZero = a.maskZero === true;
    this.supportsMasking = this.maskZero;
    this.saveState = a.saveState !== false;

    const options: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(a)) if (!LAYER_KEYS.has(k) && v !== undefined && v !== null) options[k] = v;
    if (options.init === undefined) options.init = TFJS_DEFAULT_INIT;
    try {
      this.embeddingTable = new Embedding(this.inputDim, this.outputDim, options as EmbeddingOptions);
    } catch (e) {
      throw prefixed(e, who);
    }
    // What getConfig() writes: the options as given (less the engine and initial values, which
    // the saved weights carry), the resolved hyperparameters, and the seed actually used.
    const t = this.embeddingTable;
    const config: Record<string, serialization.ConfigDictValue> = {};
    for (const [k, v] of Object.entries(options)) {
      if (k === 'engine') continue;
      if (k === 'init' && typeof v !== 'string' && !isDistribution(v)) {
        config.init = 'zeros';
        continue;
      }
      config[k] = v as serialization.ConfigDictValue;
    }
    Object.assign(config, t.options as Record<string, serialization.ConfigDictValue>, {
      optimizer: t.optimizer,
      mode: t.mode,
    });
    if (t.seed !== null) config.seed = t.seed;
    this.tableConfig = config;
  }

  /**
   * The engine table (an `Embedding`): read or change its learning rate (`table.lr`), look rows
   * up, save it with `table.save()`. Values written by tfjs (`setWeights`, a model load) are
   * applied before it is returned.
   */
  get table(): Embedding {
    this.applyStaged();
    return this.embeddingTable;
  }

  /** Creates the layer's tfjs-side weights: the zero-element backward hook and the table's views. */
  override build(inputShape: Shape | Shape[]): void {
    void inputShape;
    // A trainable variable of zero elements: it puts the custom-gradient op on tfjs's tape.
    this.hook = this.addWeight('backward_hook', [0], 'float32', initializers.zeros(), undefined, true);
    const t = this.embeddingTable;
    const shape = [this.inputDim, this.outputDim];
    this.tableVars = [new TableVariable(this, { kind: 'weights' }, 'embeddings', shape, 'float32')];
    if (this.saveState) {
      for (const name of t.stateKeys)
        this.tableVars.push(new TableVariable(this, { kind: 'state', name }, `optimizer/${name}`, shape, 'float32'));
      this.tableVars.push(new TableVariable(this, { kind: 'step' }, 'optimizer/step', [], 'int32'));
    }
    this.nonTrainableWeights = this.tableVars;
    this.built = true;
  }

  /**
   * The layer's weights, the table first: `embeddings`, the optimizer state and step (unless
   * `saveState: false`), then the zero-element `backward_hook` (when trainable).
   */
  override get weights(): LayerVariable[] {
    const hook = this.hook !== null && this.trainable ? [this.hook] : [];
    const frozenHook = this.hook !== null && !this.trainable ? [this.hook] : [];
    return [...(this.tableVars ?? []), ...frozenHook, ...hook];
  }

  /**
   * Sets the weights: all of them, in the order of `weights`, or just `[embeddings]` (a tensor
   * of `[inputDim, outputDim]`, e.g. from tfjs's own `embedding` layer), which replaces the
   * table's values and keeps its optimizer state.
   */
  override setWeights(weights: tf.Tensor[]): void {
    if (!Array.isArray(weights))
      throw new TypeError(
        `WasmEmbedding '${this.name}'.setWeights: expected an array of tensors, got ${String(weights)}`,
      );
    const params = this.weights;
    const targets = weights.length === 1 && params.length > 1 ? [params[0]] : params;
    if (weights.length !== targets.length) {
      throw new RangeError(
        `WasmEmbedding '${this.name}'.setWeights: got ${weights.length} tensors; the layer takes [embeddings] or all its ${params.length} weights [${params.map((p) => p.originalName).join(', ')}]`,
      );
    }
    weights.forEach((w, i) => {
      if (!(w instanceof tf.Tensor))
        throw new TypeError(`WasmEmbedding '${this.name}'.setWeights: weights[${i}] is not a tensor`);
      if (!sameShape(w.shape, targets[i].shape)) {
        throw new RangeError(
          `WasmEmbedding '${this.name}'.setWeights: weights[${i}] has shape [${w.shape}], ${targets[i].originalName} needs [${targets[i].shape}]`,
        );
      }
    });
    // Every value is checked before any is staged.
    const commits = weights.map((w, i) => {
      const t = targets[i];
      return t instanceof TableVariable ? t.prepareWrite(w) : () => t.write(w);
    });
    for (const commit of commits) commit();
  }

  /** The output shape: the ids' shape with `outputDim` appended (as tfjs's `embedding` layer). */
  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    if (this.inputLength == null) return [...shape, this.outputDim];
    const lens: (number | null)[] = toList(this.inputLength).slice();
    if (lens.length !== shape.length - 1) {
      throw new RangeError(
        `WasmEmbedding '${this.name}': 'inputLength' is ${JSON.stringify(this.inputLength)}, but the input has shape [${shape.map(String)}]`,
      );
    }
    for (let k = 0; k < lens.length; k++) {
      const s = shape[k + 1];
      if (lens[k] != null && s != null && lens[k] !== s) {
        throw new RangeError(
          `WasmEmbedding '${this.name}': 'inputLength' is ${JSON.stringify(this.inputLength)}, but the input has shape [${shape.map(String)}]`,
        );
      }
      if (lens[k] == null) lens[k] = s;
    }
    return [shape[0], ...lens, this.outputDim];
  }

  /** With `maskZero`: the mask `ids != 0`; otherwise none. */
  override computeMask(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    if (!this.maskZero) return null as unknown as tf.Tensor; // tfjs: no mask
    return tf.tidy(() => {
      const x = oneTensor(inputs, this.name);
      return tf.notEqual(x, tf.zerosLike(x));
    });
  }

  /** Looks the ids up (see the class doc); under a gradient tape the table steps in the backward pass. */
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    void kwargs;
    const x = oneTensor(inputs, this.name);
    if (this.hook === null)
      throw new Error(`WasmEmbedding '${this.name}': the layer is not built; apply it to an input first`);
    this.applyStaged();
    const who = `WasmEmbedding '${this.name}'`;
    const ids = this.readIds(x, who);
    const shape = [...x.shape, this.outputDim];
    const table = this.embeddingTable;
    const lookup = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [xs, hook] = args as tf.Tensor[];
      const value = toTensor(table, ids, shape);
      return {
        value,
        gradFunc: (dy: tf.Tensor) => {
          const grads = dy.dataSync() as Float32Array;
          try {
            table.update(ids, grads);
          } catch (e) {
            throw prefixed(e, who);
          }
          this.tableChanged();
          return [tf.zeros(xs.shape), tf.zeros(hook.shape)];
        },
      };
    });
    return lookup(x, this.hook.read());
  }

  /** The layer's config: tfjs's embedding-layer keys, `saveState`, and the table's options. */
  override getConfig(): serialization.ConfigDict {
    const config: serialization.ConfigDict = {
      inputDim: this.inputDim,
      outputDim: this.outputDim,
      inputLength: (this.inputLength ?? null) as serialization.ConfigDictValue,
      maskZero: this.maskZero,
      saveState: this.saveState,
      ...this.tableConfig,
    };
    return { ...config, ...super.getConfig() };
  }

  /** Disposes the tfjs-side weights and the engine table (when the layer's reference count reaches 0). */
  protected override disposeWeights(): number {
    const n = super.disposeWeights();
    if (!this.tableDisposed) {
      this.embeddingTable.dispose();
      this.tableDisposed = true;
    }
    return n;
  }

  // -------------------------------------------------------------------------------------------
  // Internals, used by TableVariable.

  /** @internal The table's current version (snapshots of another version are stale). */
  get tableVersion(): number {
    return this.version;
  }

  /** @internal A fresh copy of one part of the table, as a tensor that tfjs owns. */
  snapshot(part: Part, shape: number[]): tf.Tensor {
    this.applyStaged();
    const t = this.embeddingTable;
    if (part.kind === 'step') return tf.scalar(t.stepCount, 'int32');
    if (isSharded(t)) {
      // One live view cannot span the shards: copy through stateDict.
      const d = t.stateDict();
      return tf.tensor(part.kind === 'weights' ? d.weights : d.state[part.name], shape, 'float32');
    }
    if (part.kind === 'weights') {
      const view = t.weights;
      return tf.tensor(backendCopies() ? view : view.slice(), shape, 'float32');
    }
    return tf.tensor(t.state(part.name), shape, 'float32'); // state() returns a copy
  }

  /**
   * @internal Checks a value written by tfjs for one part of the table and returns the function
   * that stages it (it reaches the table before the table is next used). Nothing is staged when
   * the check throws.
   */
  prepareWrite(part: Part, value: tf.Tensor, who: string): () => void {
    const data = value.dataSync();
    if (part.kind === 'step') {
      const n = data[0];
      if (!Number.isSafeInteger(n) || n < 0)
        throw new RangeError(`${who}: the step count must be a non-negative integer, got ${n}`);
      return () => this.commitWrite(() => (this.staged.step = n));
    }
    const f = data instanceof Float32Array ? data : Float32Array.from(data);
    for (let i = 0; i < f.length; i++) {
      if (!Number.isFinite(f[i]))
        throw new RangeError(
          `${who}: element ${i} (row ${Math.floor(i / this.outputDim)}) is ${f[i]}; the table takes finite values only`,
        );
    }
    return () =>
      this.commitWrite(() =>
        part.kind === 'weights' ? (this.staged.weights = f) : (this.staged.state[part.name] = f),
      );
  }

  private commitWrite(write: () => unknown): void {
    write();
    this.stagedCount++;
    this.tableChanged();
  }

  private applyStaged(): void {
    if (this.stagedCount === 0) return;
    const s = this.staged;
    this.staged = { state: {} };
    this.stagedCount = 0;
    const t = this.embeddingTable;
    if (Object.keys(s.state).length === 0 && s.step === undefined && !isSharded(t)) {
      if (s.weights) t.weights.set(s.weights); // exact mode: `weights` flushes first
    } else {
      const d: EmbeddingStateDict = t.stateDict();
      if (s.weights) d.weights = s.weights;
      Object.assign(d.state, s.state);
      if (s.step !== undefined) d.stepCount = s.step;
      t.loadStateDict(d);
    }
    this.tableChanged();
  }

  private tableChanged(): void {
    this.version++;
    for (const v of this.tableVars) v.releaseSnapshot();
  }

  /** The ids of `x` as an Int32Array, each checked to be an integer in [0, inputDim). */
  private readIds(x: tf.Tensor, who: string): Int32Array {
    if (x.rank === 0)
      throw new RangeError(
        `${who}: expects ids of rank >= 1 (a batch of ids, e.g. [batch] or [batch, length]), got a scalar`,
      );
    if (this.inputLength != null) {
      const lens = toList(this.inputLength);
      if (x.rank !== lens.length + 1 || lens.some((n, i) => n != null && n !== x.shape[i + 1])) {
        throw new RangeError(
          `${who}: expects ids of shape [batch, ${lens.map((n) => n ?? 'any').join(', ')}] (inputLength ${JSON.stringify(this.inputLength)}), got shape [${x.shape}]`,
        );
      }
    }
    if (x.dtype !== 'int32' && x.dtype !== 'float32')
      throw new TypeError(`${who}: ids must be an int32 or float32 tensor of integers, got dtype ${x.dtype}`);
    const data = x.dataSync() as Int32Array | Float32Array;
    const rows = this.inputDim;
    const isInt = data instanceof Int32Array;
    const ids = isInt ? data : new Int32Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (!isInt && !Number.isInteger(v))
        throw new TypeError(
          `${who}: the input holds ${v} at ${position(x.shape, i)}; ids must be integers in [0, inputDim = ${rows})`,
        );
      if (v < 0 || v >= rows)
        throw new RangeError(
          `${who}: id ${v} at ${position(x.shape, i)} is outside [0, inputDim = ${rows}); nothing was looked up or changed`,
        );
      if (!isInt) ids[i] = v;
    }
    return ids;
  }
}

serialization.registerClass(WasmEmbedding);

// -------------------------------------------------------------------------------------------------

/** True when the active backend copies a tensor's values at creation (tfjs-wasm: into its heap). */
function backendCopies(): boolean {
  return tf.getBackend() === 'wasm';
}

/**
 * The rows of `ids` as a new tensor. On tfjs-wasm the backend copies the values into its own heap
 * at creation, so the engine's gather buffer is handed over as it is (one copy); elsewhere (the
 * cpu backend keeps the array it is given) the rows are gathered into a new array.
 */
function toTensor(table: Embedding, ids: Int32Array, shape: number[]): tf.Tensor {
  const values = backendCopies() ? table.lookupView(ids) : table.lookup(ids);
  return tf.tensor(values, shape, 'float32');
}

/** A table too large for one engine block is a `ShardedEmbedding`: no live view spans its shards. */
function isSharded(t: Embedding): boolean {
  return (t as unknown) instanceof ShardedEmbedding;
}

function oneTensor(inputs: tf.Tensor | tf.Tensor[], name: string): tf.Tensor {
  if (Array.isArray(inputs)) {
    if (inputs.length !== 1)
      throw new RangeError(`WasmEmbedding '${name}': expects one input tensor of ids, got ${inputs.length}`);
    return inputs[0];
  }
  return inputs;
}

function toList<T>(x: T | T[]): T[] {
  return Array.isArray(x) ? x : [x];
}

function isDistribution(v: unknown): boolean {
  return (
    v !== null &&
    typeof v === 'object' &&
    !ArrayBuffer.isView(v) &&
    !Array.isArray(v) &&
    'distribution' in (v as object)
  );
}

function checkPositiveInt(who: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    throw new RangeError(`${who}: '${name}' must be a positive integer, got ${String(value)}`);
  return value;
}

/** `[b, t]` for flat index `i` of a tensor of `shape`. */
function position(shape: number[], i: number): string {
  const idx: number[] = [];
  for (let k = shape.length - 1; k >= 0; k--) {
    idx.unshift(i % shape[k]);
    i = Math.floor(i / shape[k]);
  }
  return `[${idx.join(', ')}]`;
}

/** The error with `who: ` in front of its message (same class and stack). */
function prefixed(e: unknown, who: string): unknown {
  if (e instanceof Error && !e.message.startsWith(who)) e.message = `${who}: ${e.message}`;
  return e;
}
