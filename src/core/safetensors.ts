// The safetensors format (huggingface/safetensors): encoding and decoding, checked.
//
// Layout of a file:
//   0      N            u64 little-endian: byte length of the header
//   8      header       N bytes of UTF-8 JSON, padded with spaces so that 8 + N is a multiple of 8:
//                       { "__metadata__": { string: string }, "<name>": { "dtype": "F32",
//                         "shape": [d0, d1, ...], "data_offsets": [begin, end] }, ... }
//   8 + N  data         every tensor's elements, little-endian, row-major, back to back with no
//                       gap or overlap; offsets are relative to the start of the data
// Tensors are written largest element first (then by name), so with the 8-byte aligned data start
// every tensor begins at a multiple of its element size (a zero-copy view where the input allows).
// The mapping of optimizer and table state to PyTorch's names is ./torch-state.ts.

import { CheckpointError, type CheckpointRefusal } from './checkpoint.js';
import { describe } from './options.js';

/** The element types of the safetensors format. */
export type SafetensorsDtype =
  | 'F64'
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'I64'
  | 'I32'
  | 'I16'
  | 'I8'
  | 'U64'
  | 'U32'
  | 'U16'
  | 'U8'
  | 'BOOL'
  | 'F8_E4M3'
  | 'F8_E5M2';

/**
 * The typed arrays that hold a tensor's elements: F64 `Float64Array`, F32 `Float32Array`, F16 and
 * BF16 `Uint16Array` (the raw bits), I64 `BigInt64Array`, U64 `BigUint64Array`, I32 `Int32Array`,
 * U32 `Uint32Array`, I16 `Int16Array`, U16 `Uint16Array`, I8 `Int8Array`, U8, BOOL and the F8
 * types `Uint8Array`.
 */
export type SafetensorsArray =
  | Float64Array
  | Float32Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array;

/** One tensor of a safetensors file. */
export interface SafetensorsTensor {
  /** Element type. */
  dtype: SafetensorsDtype;
  /** Dimensions, outermost first; `[]` for a scalar (one element). */
  shape: number[];
  /** The elements, row-major. After decoding, a view into the input bytes when alignment allows. */
  data: SafetensorsArray;
}

/** What `encodeSafetensors` takes for one tensor: `dtype` may be left out when the array type implies it. */
export interface SafetensorsTensorInput {
  /** Element type; default: from the array (`Float32Array` F32, `Uint16Array` U16, `Uint8Array` U8, ...). */
  dtype?: SafetensorsDtype;
  /** Dimensions; their product must equal `data.length`. */
  shape: readonly number[];
  /** The elements (may be a live view into engine memory: they are copied). */
  data: SafetensorsArray;
}

/** A decoded safetensors file. */
export interface SafetensorsFile {
  /** The tensors by name, in the order their data lies in the file. */
  tensors: Record<string, SafetensorsTensor>;
  /** The `__metadata__` string map (empty when the file has none). */
  metadata: Record<string, string>;
}

type ArrayCtor = {
  new (buffer: ArrayBuffer, offset: number, length: number): SafetensorsArray;
  BYTES_PER_ELEMENT: number;
};

const DTYPES: Record<SafetensorsDtype, ArrayCtor> = {
  F64: Float64Array,
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I64: BigInt64Array,
  U64: BigUint64Array,
  I32: Int32Array,
  U32: Uint32Array,
  I16: Int16Array,
  U16: Uint16Array,
  I8: Int8Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
  F8_E4M3: Uint8Array,
  F8_E5M2: Uint8Array,
};

/** The largest header the reference implementation reads (its MAX_HEADER_SIZE). */
export const SAFETENSORS_MAX_HEADER = 100_000_000;

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

function defaultDtype(a: unknown): SafetensorsDtype | null {
  if (a instanceof Float64Array) return 'F64';
  if (a instanceof Float32Array) return 'F32';
  if (a instanceof BigInt64Array) return 'I64';
  if (a instanceof BigUint64Array) return 'U64';
  if (a instanceof Int32Array) return 'I32';
  if (a instanceof Uint32Array) return 'U32';
  if (a instanceof Int16Array) return 'I16';
  if (a instanceof Uint16Array) return 'U16';
  if (a instanceof Int8Array) return 'I8';
  if (a instanceof Uint8Array && !(a instanceof Uint8ClampedArray)) return 'U8';
  return null;
}

/** @internal a whole number of elements or bytes (a safe non-negative integer). */
export function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** Copies `src`'s elements into `out` at `at`, little-endian whatever the host. */
function putLE(out: Uint8Array, at: number, src: SafetensorsArray): void {
  const bytes = new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  const size = src.BYTES_PER_ELEMENT;
  if (LITTLE_ENDIAN_HOST || size === 1) out.set(bytes, at);
  else
    for (let j = 0; j < bytes.length; j += size)
      for (let b = 0; b < size; b++) out[at + j + b] = bytes[j + size - 1 - b];
}

/**
 * Encodes tensors (and an optional `__metadata__` string map) in the safetensors format, as the
 * reference implementation lays it out: the header padded with spaces to an 8-byte boundary, the
 * tensors sorted by element size (largest first) and then by name, back to back, so that every
 * tensor starts at a multiple of its element size. Throws a TypeError or RangeError naming the
 * tensor when a name, dtype, shape or length is invalid.
 */
export function encodeSafetensors(
  tensors: Record<string, SafetensorsTensorInput>,
  metadata?: Record<string, string>,
): Uint8Array {
  const what = 'encodeSafetensors';
  if (tensors === null || typeof tensors !== 'object')
    throw new TypeError(
      `${what}: tensors must be an object of { dtype, shape, data } by name, got ${describe(tensors)}`,
    );
  if (metadata !== undefined && (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))) {
    throw new TypeError(`${what}: metadata must be an object of strings, got ${describe(metadata)}`);
  }
  for (const [k, v] of Object.entries(metadata ?? {})) {
    if (typeof v !== 'string')
      throw new TypeError(
        `${what}: metadata '${k}' is ${describe(v)}; safetensors metadata values are strings (JSON.stringify structured values)`,
      );
  }
  const list = Object.entries(tensors).map(([name, t]) => {
    if (name === '' || name === '__metadata__') throw new RangeError(`${what}: '${name}' cannot name a tensor`);
    if (t === null || typeof t !== 'object')
      throw new TypeError(`${what}: tensor '${name}' must be { dtype, shape, data }, got ${describe(t)}`);
    const dtype = t.dtype ?? defaultDtype(t.data);
    if (dtype === null)
      throw new TypeError(
        `${what}: tensor '${name}' holds ${describe(t.data)}; pass a Float32Array, Float64Array, Int32Array, ... (see SafetensorsArray)`,
      );
    const Ctor = DTYPES[dtype as SafetensorsDtype];
    if (!Ctor)
      throw new RangeError(
        `${what}: tensor '${name}' has unknown dtype ${JSON.stringify(dtype)}; use one of ${Object.keys(DTYPES).join(', ')}`,
      );
    if (!(t.data instanceof Ctor) || t.data instanceof Uint8ClampedArray) {
      throw new TypeError(
        `${what}: tensor '${name}' is ${dtype} but holds ${describe(t.data)}; ${dtype} takes a ${Ctor.name}`,
      );
    }
    if (!Array.isArray(t.shape) || !t.shape.every(isCount))
      throw new TypeError(
        `${what}: tensor '${name}' has shape ${describe(t.shape)}; a shape is an array of non-negative integers ([] for a scalar)`,
      );
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length)
      throw new RangeError(
        `${what}: tensor '${name}' has shape [${t.shape.join(', ')}] (${numel} elements) but ${t.data.length} elements`,
      );
    return {
      name,
      dtype: dtype as SafetensorsDtype,
      shape: t.shape.slice(),
      data: t.data,
      size: Ctor.BYTES_PER_ELEMENT,
    };
  });
  list.sort((a, b) => b.size - a.size || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata !== undefined && Object.keys(metadata).length > 0) header.__metadata__ = { ...metadata };
  let offset = 0;
  for (const t of list) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  const json = utf8.encode(JSON.stringify(header));
  const n = (json.length + 7) & ~7;
  if (n > SAFETENSORS_MAX_HEADER)
    throw new RangeError(
      `${what}: the header would take ${n} bytes, more than the ${SAFETENSORS_MAX_HEADER} safetensors readers accept; use fewer tensors or shorter metadata`,
    );
  if (8 + n + offset > Number.MAX_SAFE_INTEGER) throw new RangeError(`${what}: ${8 + n + offset} bytes is too large`);
  const out = new Uint8Array(8 + n + offset);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, n, true);
  dv.setUint32(4, 0, true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + n);
  let at = 8 + n;
  for (const t of list) {
    putLE(out, at, t.data);
    at += t.data.byteLength;
  }
  return out;
}

/** @internal A CheckpointError for a refused file, naming the caller. */
export function refuse(reason: CheckpointRefusal, what: string, why: string): never {
  throw new CheckpointError(reason, `${what}: ${why}`);
}

/**
 * Decodes and validates a safetensors file: header length, UTF-8 JSON starting with `{`, every
 * entry's `dtype`, `shape` and `data_offsets` (lengths that match the shape, data back to back
 * from offset 0 with no gap or overlap, nothing after the last tensor), `__metadata__` values
 * that are strings. A refused file throws a CheckpointError (`reason` 'truncated', 'corrupt' or
 * 'malformed') that says what is wrong. Tensors are views into `bytes` when aligned (copies
 * otherwise, and on big-endian hosts).
 */
export function decodeSafetensors(bytes: Uint8Array | ArrayBuffer, what = 'decodeSafetensors'): SafetensorsFile {
  if (!(bytes instanceof Uint8Array) && !(bytes instanceof ArrayBuffer)) {
    throw new TypeError(
      `${what}: expected the bytes of a safetensors file (a Uint8Array or an ArrayBuffer), got ${describe(bytes)}`,
    );
  }
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const bad = (why: string): never => refuse('malformed', what, `not a valid safetensors file: ${why}`);
  if (b.length < 8)
    refuse('truncated', what, `the file is truncated: ${b.length} bytes, fewer than the 8 of the header length`);
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const hi = dv.getUint32(4, true);
  const n = dv.getUint32(0, true) + hi * 0x100000000;
  if (n > SAFETENSORS_MAX_HEADER)
    bad(
      `the header length is ${n} bytes, more than the ${SAFETENSORS_MAX_HEADER} allowed (is this a safetensors file?)`,
    );
  if (8 + n > b.length)
    refuse('truncated', what, `the file is truncated: the header declares ${n} bytes but only ${b.length - 8} follow`);
  let text = '';
  try {
    text = utf8Strict.decode(b.subarray(8, 8 + n));
  } catch {
    bad('the header is not valid UTF-8');
  }
  if (!text.startsWith('{'))
    bad(`the header must be a JSON object starting with '{', it starts with ${JSON.stringify(text.slice(0, 8))}`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    bad(`the header is not JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) bad('the header is not a JSON object');
  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) bad('__metadata__ is not an object of strings');
      for (const [k, s] of Object.entries(v as Record<string, unknown>)) {
        if (typeof s !== 'string') bad(`__metadata__.${k} is ${describe(s)}, not a string`);
        metadata[k] = s as string;
      }
      continue;
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) bad(`tensor '${name}' is not an object`);
    const e = v as Record<string, unknown>;
    const extra = Object.keys(e).filter((k) => k !== 'dtype' && k !== 'shape' && k !== 'data_offsets');
    if (extra.length > 0)
      bad(`tensor '${name}' has unknown key(s) ${extra.join(', ')} (an entry holds dtype, shape and data_offsets)`);
    if (typeof e.dtype !== 'string' || !(e.dtype in DTYPES))
      bad(`tensor '${name}' has unknown dtype ${JSON.stringify(e.dtype)} (known: ${Object.keys(DTYPES).join(', ')})`);
    if (!Array.isArray(e.shape) || !e.shape.every(isCount))
      bad(`tensor '${name}' has shape ${JSON.stringify(e.shape)}, not a list of non-negative integers`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !isCount(off[0]) || !isCount(off[1]) || off[0] > off[1]) {
      bad(`tensor '${name}' has data_offsets ${JSON.stringify(off)}, not [begin, end] with 0 <= begin <= end`);
    }
    const [begin, end] = off as number[];
    const shape = e.shape as number[];
    const dtype = e.dtype as SafetensorsDtype;
    const numel = shape.reduce((x, y) => x * y, 1);
    const size = DTYPES[dtype].BYTES_PER_ELEMENT;
    if (end - begin !== numel * size)
      bad(
        `tensor '${name}' is ${dtype} of shape [${shape.join(', ')}] (${numel * size} bytes) but its data_offsets [${begin}, ${end}] span ${end - begin} bytes`,
      );
    entries.push({ name, dtype, shape, begin, end });
  }
  entries.sort((x, y) => x.begin - y.begin || x.end - y.end);
  let at = 0;
  for (const t of entries) {
    if (t.begin > at) bad(`bytes ${at} to ${t.begin} of the data belong to no tensor (before '${t.name}')`);
    if (t.begin < at)
      bad(
        `tensor '${t.name}' overlaps the tensor before it (its data starts at ${t.begin}, the previous ends at ${at})`,
      );
    at = t.end;
  }
  const dataLength = b.length - 8 - n;
  if (at > dataLength)
    refuse(
      'truncated',
      what,
      `the file is truncated: its tensors need ${at} bytes of data but ${dataLength} are present`,
    );
  if (at < dataLength)
    refuse(
      'corrupt',
      what,
      `${dataLength - at} bytes after the last tensor's data belong to no tensor (trailing bytes, or a damaged header)`,
    );
  const tensors: Record<string, SafetensorsTensor> = {};
  const base = 8 + n;
  for (const t of entries) {
    const C = DTYPES[t.dtype];
    const count = (t.end - t.begin) / C.BYTES_PER_ELEMENT;
    const offset = b.byteOffset + base + t.begin;
    let data: SafetensorsArray;
    if (LITTLE_ENDIAN_HOST && offset % C.BYTES_PER_ELEMENT === 0) {
      data = new C(b.buffer as ArrayBuffer, offset, count);
    } else {
      data = new C(new ArrayBuffer(t.end - t.begin), 0, count);
      const dst = new Uint8Array(data.buffer);
      const src = b.subarray(base + t.begin, base + t.end);
      const s = C.BYTES_PER_ELEMENT;
      if (LITTLE_ENDIAN_HOST || s === 1) dst.set(src);
      else for (let j = 0; j < dst.length; j += s) for (let k = 0; k < s; k++) dst[j + k] = src[j + s - 1 - k];
    }
    tensors[t.name] = { dtype: t.dtype, shape: t.shape, data };
  }
  return { tensors, metadata };
}
