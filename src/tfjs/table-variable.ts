// The tfjs weights of a WasmEmbedding (./embedding.ts): each stands for a part of the engine
// table (its weights, one optimizer state tensor, the step count) without holding a copy.

import * as tf from '@tensorflow/tfjs-core';
import { LayerVariable } from '@tensorflow/tfjs-layers';
import { sameShape } from './tensor-io.js';

/** The part of the table a {@link TableVariable} stands for. */
export type Part = { kind: 'weights' } | { kind: 'state'; name: string } | { kind: 'step' };

/** What a {@link TableVariable} asks of its layer (`WasmEmbedding`). */
export interface TableOwner {
  /** The layer's name (in messages). */
  readonly name: string;
  /** Changes whenever the table does (a snapshot older than it is stale). */
  readonly tableVersion: number;
  /** A new tensor holding `part` of the table now. */
  snapshot(part: Part, shape: number[]): tf.Tensor;
  /** Checks `value` for `part` and returns the function that stages it. */
  prepareWrite(part: Part, value: tf.Tensor, who: string): () => void;
}

/**
 * A tfjs `LayerVariable` that stands for a part of an engine table (the weights, one optimizer
 * state tensor, or the step count) without holding a copy: `read()` returns a snapshot taken from
 * the table, `write()` stages values that the layer copies into the table before its next use.
 */
export class TableVariable extends LayerVariable {
  private snap: tf.Tensor | null = null;
  private snapVersion = -1;

  constructor(
    private readonly layer: TableOwner,
    private readonly part: Part,
    name: string,
    shape: number[],
    dtype: 'float32' | 'int32',
  ) {
    const placeholder = tf.zeros([0], dtype);
    super(placeholder, dtype, name, false);
    placeholder.dispose();
    (this as { shape: number[] }).shape = shape;
  }

  override read(): tf.Variable {
    this.assertNotDisposed();
    if (this.snap === null || this.snapVersion !== this.layer.tableVersion) {
      this.releaseSnapshot();
      this.snap = tf.keep(this.layer.snapshot(this.part, this.shape as number[]));
      this.snapVersion = this.layer.tableVersion;
    }
    // Typed as a Variable by tfjs-layers; only tensor reads are made of it.
    return this.snap as tf.Variable;
  }

  override write(newVal: tf.Tensor): this {
    this.prepareWrite(newVal)();
    return this;
  }

  /** @internal Checks `newVal` and returns the function that stages it (see `WasmEmbedding.prepareWrite`). */
  prepareWrite(newVal: tf.Tensor): () => void {
    this.assertNotDisposed();
    const who = `WasmEmbedding '${this.layer.name}' weight '${this.originalName}'`;
    if (!sameShape(newVal.shape, this.shape as number[]))
      throw new RangeError(`${who}: shape mismatch, [${newVal.shape}] written to [${this.shape}]`);
    if (newVal === this.snap) return () => {};
    return this.layer.prepareWrite(this.part, newVal, who);
  }

  override dispose(): void {
    this.assertNotDisposed();
    this.releaseSnapshot();
    super.dispose();
  }

  /** Disposes the snapshot (the table changed). */
  releaseSnapshot(): void {
    if (this.snap !== null && !this.snap.isDisposed) this.snap.dispose();
    this.snap = null;
  }
}
