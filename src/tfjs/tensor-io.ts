// Moving float32 values between tfjs tensors and engine memory with as few copies as tfjs's public
// API allows, and never letting engine memory become a tensor's backing store.
//
// - In: `tensor.dataSync()` is the backend's own array on the cpu backend (no copy), so
//   `dst.set(tensor.dataSync())` is one copy. On the wasm backend `dataSync()` slices the tfjs heap
//   (a copy) before our `set` (a second one), so there we read the tensor's bytes in place through
//   the backend's public `dataIdMap` (its `memoryOffset`) and the module's `HEAPU8`: one copy.
// - Out: the cpu backend (and webgl, which keeps the values until it uploads them) stores the
//   array `tf.tensor` is given, so we hand it a copy (`slice()`): one copy. The wasm backend copies
//   into its own heap inside `tf.tensor`, so there the engine view is passed as is: one copy.

import * as tf from '@tensorflow/tfjs-core';

/** The parts of tfjs-backend-wasm's `BackendWasm` (public members) the fast paths read. */
interface WasmBackendLike {
  dataIdMap: { get(id: object): { memoryOffset?: number; shape?: number[]; dtype?: string } | undefined };
  wasm: { HEAPU8: Uint8Array };
}

/** tfjs's wasm backend when it is the active one, else null. */
function activeWasmBackend(): WasmBackendLike | null {
  if (tf.getBackend() !== 'wasm') return null;
  const b = tf.backend() as unknown as Partial<WasmBackendLike>;
  if (!b || typeof b.dataIdMap?.get !== 'function' || !(b.wasm?.HEAPU8 instanceof Uint8Array)) return null;
  return b as WasmBackendLike;
}

/**
 * The float32 values of `t` without a copy where the backend allows it: a view of the wasm
 * backend's heap (valid until tfjs next allocates: use it at once), or the cpu backend's own
 * array. Read it, never keep or write it.
 */
export function readFloat32(t: tf.Tensor): Float32Array {
  const b = activeWasmBackend();
  if (b !== null) {
    const d = b.dataIdMap.get(t.dataId as object);
    if (d !== undefined && typeof d.memoryOffset === 'number') {
      return new Float32Array(b.wasm.HEAPU8.buffer, b.wasm.HEAPU8.byteOffset + d.memoryOffset, t.size);
    }
  }
  const v = t.dataSync();
  if (!(v instanceof Float32Array)) throw new TypeError(`wasm-optim/tfjs: expected float32 data, got ${t.dtype}`);
  return v;
}

/** Copies `t`'s values into `dst` (one copy on the cpu and wasm backends). */
export function copyInto(dst: Float32Array, t: tf.Tensor): void {
  dst.set(readFloat32(t));
}

/**
 * A new float32 tensor holding a copy of `values` (engine memory, say): never a tensor whose
 * backing store is `values` itself. One copy on the cpu and wasm backends.
 */
export function tensorFrom(values: Float32Array, shape: readonly number[]): tf.Tensor {
  // Only the wasm backend is known to copy inside tf.tensor; every other backend gets a copy.
  const own = activeWasmBackend() !== null ? values : values.slice();
  return tf.tensor(own, shape as number[], 'float32');
}

/** Two shapes are equal (`null`: a dimension tfjs leaves open). */
export function sameShape(a: readonly (number | null)[], b: readonly (number | null)[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}
