// The safetensors format (huggingface/safetensors), and the hand-off of optimizer and table state
// to PyTorch through it.
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
//
// The optimizer mapping follows `torch.optim.Optimizer.state_dict()`, flattened with dots:
// `param.<i>` (the i-th param's values), `state.<i>.<name>` (`exp_avg`, ..., `step` as a float32
// scalar), and `__metadata__.param_groups` (PyTorch's group keys, `params` as index lists).
// Tables use the same helpers from src/embedding/safetensors.ts.

import { CheckpointError, encodeCheckpoint, loadOptimizer, type CheckpointRefusal } from './checkpoint.js';
import type { CheckpointHost, OptimizerStateDict, ParamGroupStateDict } from './state-dict.js';
import { describe } from './options.js';
import type { AnyDeclaration } from './declaration.js';

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

function isCount(x: unknown): x is number {
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

// ---------------------------------------------------------------------------------------------
// Optimizers and tables <-> PyTorch's state_dict names.

/** Options of the engine that PyTorch has no group key for; kept in `__metadata__.wasm_optim`. */
const ENGINE_ONLY = ['nonFinite', 'clipGradNorm', 'clipGradValue'];
/** Group keys PyTorch writes that choose an implementation, not an update: ignored on load. */
const TORCH_ONLY = ['foreach', 'capturable', 'differentiable', 'fused', 'initial_lr'];
/** State entries derived from the step count (not engine tensors). */
const DERIVED_STATE = ['step', 'mu_product'];

const snake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (k: string): string => k.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

/** @internal PyTorch group keys of resolved options (engine-only ones left out). */
export function torchGroup(options: Record<string, unknown>): Record<string, unknown> {
  const g: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options))
    if (!ENGINE_ONLY.includes(k)) g[snake(k)] = Array.isArray(v) ? v.slice() : v;
  return g;
}

/** NAdam's `mu_product` after t steps: prod_{i<=t} b1 (1 - 0.5 * 0.96^(i psi)), in float64. */
function muProduct(b1: number, psi: number, t: number): number {
  let p = 1;
  for (let i = 1; i <= t; i++) p *= b1 * (1 - 0.5 * Math.pow(0.96, i * psi));
  return p;
}

/** The float32 scalar tensor of a step count (refused past 2^24, where float32 stops counting exactly). */
function stepTensor(step: number, what: string): SafetensorsTensorInput {
  if (Math.fround(step) !== step)
    throw new RangeError(
      `${what}: step ${step} has no exact float32 value (PyTorch keeps state['step'] as a float32 tensor); the hand-off holds up to 2^24 = 16777216 steps`,
    );
  return { dtype: 'F32', shape: [], data: new Float32Array([step]) };
}

/** @internal Writes the per-param state PyTorch would hold for a param that took `step` steps. */
export function putState(
  out: Record<string, SafetensorsTensorInput>,
  prefix: string,
  kind: string,
  options: Record<string, unknown>,
  step: number,
  shape: number[],
  state: Record<string, Float32Array>,
  what: string,
): void {
  for (const [k, v] of Object.entries(state)) out[`${prefix}.${k}`] = { dtype: 'F32', shape, data: v };
  out[`${prefix}.step`] = stepTensor(step, what);
  if (kind === 'NAdam') {
    const [b1] = options.betas as number[];
    out[`${prefix}.mu_product`] = {
      dtype: 'F32',
      shape: [],
      data: new Float32Array([muProduct(b1, options.momentumDecay as number, step)]),
    };
  }
}

/**
 * @internal Whether PyTorch holds state for a param that took `step` steps: from its first step on, and
 * from the start for Adagrad (whose constructor fills `sum` and `step`).
 */
export function hasState(kind: string, step: number): boolean {
  return step > 0 || kind === 'Adagrad';
}

type AnyOptimizer = CheckpointHost;

/**
 * The tensors and metadata of an optimizer as PyTorch's `optimizer.state_dict()` would hold them,
 * flattened: `param.<i>`, `state.<i>.<name>`, `state.<i>.step`; `__metadata__` holds `format`
 * (`pt`), `optimizer` (the class name), `param_groups` (JSON) and `wasm_optim` (JSON: the step
 * count, the engine-only options and the lr schedules, which PyTorch ignores). Called by
 * `Optimizer#saveSafetensors`.
 */
export function saveOptimizerSafetensors(opt: AnyOptimizer): Uint8Array {
  const what = `${opt.kind}.saveSafetensors`;
  const dict = opt.stateDict();
  const groups: ParamGroupStateDict[] = dict.groups ?? [
    { options: dict.options, lrSchedule: null, schedulePosition: 0 },
  ];
  const tensors: Record<string, SafetensorsTensorInput> = {};
  dict.params.forEach((ps, i) => {
    const shape = [ps.length];
    tensors[`param.${i}`] = { dtype: 'F32', shape, data: opt.params[i].data };
    const options = groups[ps.group ?? 0].options;
    if (hasState(opt.kind, ps.step)) putState(tensors, `state.${i}`, opt.kind, options, ps.step, shape, ps.state, what);
  });
  const paramGroups = groups.map((g, gi) => ({
    ...torchGroup(g.options),
    params: dict.params.flatMap((ps, i) => ((ps.group ?? 0) === gi ? [i] : [])),
  }));
  const engine: Record<string, unknown> = {
    kind: opt.kind,
    stepCount: dict.stepCount,
    options: Object.fromEntries(ENGINE_ONLY.map((k) => [k, dict.options[k] ?? null])),
  };
  if (dict.groups)
    engine.groups = dict.groups.map((g) => ({ lrSchedule: g.lrSchedule, schedulePosition: g.schedulePosition }));
  return encodeSafetensors(tensors, {
    format: 'pt',
    optimizer: opt.kind,
    param_groups: JSON.stringify(paramGroups),
    wasm_optim: JSON.stringify(engine),
  });
}

/** @internal The parsed `__metadata__.wasm_optim`, or null when the file has none (written by PyTorch). */
export function engineMeta(meta: Record<string, string>, what: string): Record<string, unknown> | null {
  if (meta.wasm_optim === undefined) return null;
  let v: unknown;
  try {
    v = JSON.parse(meta.wasm_optim);
  } catch {
    return refuse(
      'malformed',
      what,
      '__metadata__.wasm_optim is not JSON; remove it (it is optional) or write it again with saveSafetensors()',
    );
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    refuse('malformed', what, '__metadata__.wasm_optim is not a JSON object');
  return v as Record<string, unknown>;
}

/** @internal `__metadata__.param_groups` parsed and checked: a non-empty list of objects with `params` index lists. */
export function parseGroups(meta: Record<string, string>, what: string): Record<string, unknown>[] {
  if (meta.param_groups === undefined)
    refuse(
      'malformed',
      what,
      "__metadata__ has no 'param_groups'; write it as JSON.dumps(optimizer.state_dict()['param_groups'])",
    );
  let groups: unknown;
  try {
    groups = JSON.parse(meta.param_groups);
  } catch {
    return refuse('malformed', what, '__metadata__.param_groups is not JSON');
  }
  if (!Array.isArray(groups) || groups.length === 0)
    refuse('malformed', what, '__metadata__.param_groups must be a non-empty JSON list of groups');
  (groups as unknown[]).forEach((g, gi) => {
    if (g === null || typeof g !== 'object' || Array.isArray(g))
      refuse('malformed', what, `param_groups[${gi}] is not an object`);
    const p = (g as Record<string, unknown>).params;
    if (!Array.isArray(p) || !p.every(isCount))
      refuse('malformed', what, `param_groups[${gi}].params must be a list of param indices, got ${JSON.stringify(p)}`);
  });
  return groups as Record<string, unknown>[];
}

/**
 * @internal A group's options in engine names: PyTorch keys mapped to camelCase, implementation flags
 * dropped, unknown keys refused unless false or null (a feature the engine lacks, switched off).
 */
export function engineOptions(
  group: Record<string, unknown>,
  known: readonly string[],
  owner: string,
  where: string,
  what: string,
): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(group)) {
    if (k === 'params' || TORCH_ONLY.includes(k)) continue;
    const c = camel(k);
    // A switch the engine does not have, turned off (e.g. newer PyTorch's Adam writes
    // decoupled_weight_decay: false): the update is the engine's.
    if (!known.includes(c) && (v === false || v === null)) continue;
    if (!known.includes(c) || ENGINE_ONLY.includes(c)) {
      refuse(
        'layout',
        what,
        `${where} has '${k}', which ${owner} does not have (its keys: ${known
          .filter((x) => !ENGINE_ONLY.includes(x))
          .map(snake)
          .join(', ')}); load the file into the optimizer it was written for`,
      );
    }
    o[c] = v;
  }
  return o;
}

/** @internal A scalar step count from `state.<i>.step` (float or integer dtype, a non-negative integer value). */
export function readStep(t: SafetensorsTensor, name: string, what: string): number {
  if (t.data.length !== 1) refuse('layout', what, `'${name}' has shape [${t.shape.join(', ')}]; a step is a scalar`);
  if (t.dtype === 'F16' || t.dtype === 'BF16' || t.dtype === 'BOOL' || t.dtype.startsWith('F8'))
    refuse('layout', what, `'${name}' is ${t.dtype}; write the step as a float32 (or int64) scalar`);
  const v = Number(t.data[0]);
  if (!Number.isSafeInteger(v) || v < 0)
    refuse('layout', what, `'${name}' is ${v}, not a step count (a non-negative integer)`);
  return v;
}

/** @internal A float32 tensor's values, or a refusal naming it. */
export function readF32(t: SafetensorsTensor, name: string, what: string): Float32Array {
  if (t.dtype !== 'F32')
    refuse('layout', what, `'${name}' is ${t.dtype}; the engine holds float32: convert it first (tensor.float())`);
  return t.data as Float32Array;
}

/** @internal Refuses NAdam's `mu_product` when it does not follow from the step and the options. */
export function checkMuProduct(
  t: SafetensorsTensor | undefined,
  name: string,
  options: Record<string, unknown>,
  step: number,
  what: string,
): void {
  if (t === undefined) return;
  if (t.data.length !== 1 || (t.dtype !== 'F32' && t.dtype !== 'F64'))
    refuse('layout', what, `'${name}' must be a float scalar`);
  const betas = options.betas as unknown;
  const b1 = Array.isArray(betas) && typeof betas[0] === 'number' ? betas[0] : 0.9;
  const psi = typeof options.momentumDecay === 'number' ? options.momentumDecay : 4e-3;
  const want = muProduct(b1, psi, step);
  const got = Number(t.data[0]);
  // PyTorch multiplies in float32: a relative error of about one rounding per step.
  if (!(Math.abs(got - want) <= (step + 8) * 2 ** -23 * Math.abs(want) + 1e-37)) {
    refuse(
      'layout',
      what,
      `'${name}' is ${got} but step ${step} with betas[0] ${b1} and momentum_decay ${psi} give ${want}; the engine derives mu_product from the step count, so this state cannot be continued exactly`,
    );
  }
}

/**
 * Loads a safetensors file in PyTorch's flattened `state_dict()` names into `opt` (an optimizer
 * of the class named in `__metadata__.optimizer`): into one with params of the same sizes (the
 * `param.<i>` values are optional then), or into one with no params (they are created from
 * `param.<i>`, in index order, in the groups `param_groups` lists them in). Hyperparameters come
 * from `param_groups` (PyTorch keys, camelCased); options PyTorch lacks (`nonFinite`, clipping)
 * from `__metadata__.wasm_optim`, else the receiver keeps its own. Everything is checked before
 * anything changes (then `loadStateDict` checks again); a refused file throws a CheckpointError
 * and leaves `opt` as it was. Called by `Optimizer#loadSafetensors`.
 */
export function loadOptimizerSafetensors(opt: AnyOptimizer, bytes: Uint8Array | ArrayBuffer): void {
  const what = `${opt.kind}.loadSafetensors`;
  const file = decodeSafetensors(bytes, what);
  const meta = file.metadata;
  if (meta.optimizer === undefined)
    refuse('malformed', what, `__metadata__ has no 'optimizer' (the class name, e.g. '${opt.kind}')`);
  if (meta.optimizer !== opt.kind)
    refuse(
      'kind',
      what,
      `the file holds the state of ${meta.optimizer}, not ${opt.kind}; load it into a ${meta.optimizer}`,
    );
  const groups = parseGroups(meta, what);
  const eng = engineMeta(meta, what);
  // Param indices: each in exactly one group, together 0 .. n-1.
  const groupOf: number[] = [];
  groups.forEach((g, gi) => {
    for (const i of g.params as number[]) {
      if (groupOf[i] !== undefined)
        refuse('malformed', what, `param ${i} is in param_groups[${groupOf[i]}] and param_groups[${gi}]`);
      groupOf[i] = gi;
    }
  });
  const n = groupOf.length;
  for (let i = 0; i < n; i++)
    if (groupOf[i] === undefined) refuse('malformed', what, `param_groups list params up to ${n - 1} but not ${i}`);
  // Tensors: param.<i> and state.<i>.<name>, nothing else.
  const params: (SafetensorsTensor | undefined)[] = new Array(n).fill(undefined);
  const states: Record<string, SafetensorsTensor>[] = Array.from({ length: n }, () => ({}));
  for (const [name, t] of Object.entries(file.tensors)) {
    const m = /^param\.(\d+)$/.exec(name) ?? /^state\.(\d+)\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(name);
    if (!m)
      refuse(
        'layout',
        what,
        `tensor '${name}' is neither param.<i> nor state.<i>.<name>; is this an optimizer's file (a table's has 'weight')?`,
      );
    const i = Number(m[1]);
    if (String(i) !== m[1] || i >= n)
      refuse('layout', what, `tensor '${name}' names param ${m[1]}, but param_groups list params 0 to ${n - 1}`);
    if (m[2] === undefined) params[i] = t;
    else states[i][m[2]] = t;
  }
  const fresh = opt.params.length === 0;
  if (!fresh && n !== opt.params.length)
    refuse(
      'layout',
      what,
      `the file holds ${n} params but this ${opt.kind} has ${opt.params.length}; add params of the same sizes in the same order, or load into a new ${opt.kind} with no params`,
    );
  const given = params.filter((p) => p !== undefined).length;
  if (given !== n && (fresh || given !== 0)) {
    const missing = params.findIndex((p) => p === undefined);
    refuse(
      'layout',
      what,
      `tensor 'param.${missing}' is missing; ${fresh ? 'an optimizer with no params creates them from param.<i>' : 'give every param.<i> or none'}`,
    );
  }
  // Options: group 0's PyTorch keys plus the engine-only ones.
  const known = Object.keys(opt.options);
  const current = opt.options as Record<string, unknown>;
  const engOpts = (eng?.options ?? {}) as Record<string, unknown>;
  const only = Object.fromEntries(
    ENGINE_ONLY.filter((k) => known.includes(k)).map((k) => [k, k in engOpts ? engOpts[k] : current[k]]),
  );
  const groupOptions = groups.map((g, gi) => ({
    ...engineOptions(g, known, opt.kind, `param_groups[${gi}]`, what),
    ...only,
  }));
  const engGroups =
    Array.isArray(eng?.groups) && eng.groups.length === groups.length
      ? (eng.groups as Record<string, unknown>[])
      : null;
  // Per param: length, step and state tensors as the receiver's options ask.
  const lengths: number[] = [];
  const steps: number[] = [];
  const stateDicts: Record<string, Float32Array>[] = [];
  for (let i = 0; i < n; i++) {
    const p = params[i];
    const length = p ? readF32(p, `param.${i}`, what).length : opt.params[i].length;
    if (!fresh && length !== opt.params[i].length)
      refuse(
        'layout',
        what,
        `param.${i} has ${length} elements but param #${i} here has ${opt.params[i].length}; add params of the same sizes in the same order`,
      );
    const s = states[i];
    const names = Object.keys(s).filter((k) => !DERIVED_STATE.includes(k));
    let step = 0;
    const state: Record<string, Float32Array> = {};
    for (const k of names) {
      const v = readF32(s[k], `state.${i}.${k}`, what);
      if (v.length !== length)
        refuse('layout', what, `'state.${i}.${k}' has ${v.length} elements but param ${i} has ${length}`);
      if (p && s[k].shape.join() !== p.shape.join())
        refuse(
          'layout',
          what,
          `'state.${i}.${k}' has shape [${s[k].shape.join(', ')}] but param.${i} has [${p.shape.join(', ')}]`,
        );
      state[k] = v;
    }
    if (s.step !== undefined) step = readStep(s.step, `state.${i}.step`, what);
    else if (names.length > 0) {
      // PyTorch's SGD keeps no step: a momentum buffer means at least one step was taken.
      if (opt.kind === 'SGD' || opt.kind === 'SGDHD') step = 1;
      else refuse('layout', what, `'state.${i}.step' is missing beside state.${i}.${names[0]}`);
    }
    if (opt.kind === 'NAdam')
      checkMuProduct(s.mu_product, `state.${i}.mu_product`, groupOptions[groupOf[i]], step, what);
    else if (s.mu_product !== undefined)
      refuse('layout', what, `'state.${i}.mu_product' is NAdam state, not ${opt.kind}'s`);
    lengths.push(length);
    steps.push(step);
    stateDicts.push(state);
  }
  const maxStep = steps.reduce((a, b) => Math.max(a, b), 0);
  const stepCount = eng && isCount(eng.stepCount) ? eng.stepCount : maxStep;
  if (stepCount < maxStep)
    refuse('malformed', what, `__metadata__.wasm_optim.stepCount ${stepCount} is below a param's step ${maxStep}`);
  // A param with no state in the file has not stepped: its state is the optimizer's initial one.
  const dict: OptimizerStateDict = {
    kind: opt.kind,
    stepCount,
    options: groupOptions[0],
    params: stateDicts.map((state, i) => ({
      length: lengths[i],
      step: steps[i],
      state,
      ...(groupOf[i] !== 0 ? { group: groupOf[i] } : {}),
    })),
    groups: groupOptions.map((options, gi) => ({
      options,
      lrSchedule: (engGroups?.[gi]?.lrSchedule ?? null) as ParamGroupStateDict['lrSchedule'],
      schedulePosition: isCount(engGroups?.[gi]?.schedulePosition) ? (engGroups?.[gi]?.schedulePosition as number) : 0,
    })),
  };
  const expected = expectedStateNames(opt, dict);
  dict.params.forEach((ps, i) => {
    const want = expected[i];
    const got = Object.keys(ps.state);
    if (got.length === 0 && steps[i] === 0) {
      // The state a param has before its first step: the declaration's initState (Adagrad's sum,
      // FTRL's accumulator start at initialAccumulatorValue), else zeros.
      const decl = (opt.constructor as { declaration?: AnyDeclaration }).declaration;
      const given = groupOptions[groupOf[i]];
      for (const k of want) {
        const view = new Float32Array(ps.length);
        if (decl?.initState) decl.initState(k, view, { ...given, ...decl.resolve(given, what) });
        ps.state[k] = view;
      }
      return;
    }
    if (want.slice().sort().join() !== got.slice().sort().join()) {
      refuse(
        'layout',
        what,
        `param ${i} holds state [${got.join(', ')}] in the file but its options need [${want.join(', ')}]; check amsgrad / momentum / centered in param_groups`,
      );
    }
    ps.state = Object.fromEntries(want.map((k) => [k, ps.state[k]]));
  });
  // Hand over to the checkpoint loader: it checks everything again, creates params when the
  // optimizer has none, and undoes them if anything fails.
  const data = dict.params.map((ps, i) => {
    const p = params[i];
    return p ? (p.data as Float32Array) : opt.params[i].data.slice();
  });
  const payload = { ...dict, params: dict.params.map((ps, i) => ({ ...ps, data: data[i] })) };
  try {
    loadOptimizer(opt, encodeCheckpoint(opt.kind, payload as unknown as Record<string, unknown>));
  } catch (e) {
    if (e instanceof CheckpointError)
      throw new CheckpointError(e.reason, e.message.replace(`${opt.kind}.load:`, `${what}:`));
    if (e instanceof RangeError || e instanceof TypeError) throw new CheckpointError('layout', `${what}: ${e.message}`);
    throw e;
  }
}

/**
 * The state names each param needs under the file's options, from the optimizer's own
 * declaration (its `resolve` and `stateNames`, which allocate nothing: a refused file must not
 * even grow the engine's memory).
 */
function expectedStateNames(opt: AnyOptimizer, dict: OptimizerStateDict): string[][] {
  const decl = opt as unknown as { resolve(o: object): object; stateNames(o: object): string[] };
  const groups = dict.groups as ParamGroupStateDict[];
  let names: string[][];
  try {
    names = groups.map((g) => decl.stateNames(decl.resolve(g.options)));
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError)
      return refuse('layout', `${opt.kind}.loadSafetensors`, `param_groups hold invalid options: ${e.message}`);
    throw e;
  }
  return dict.params.map((ps) => names[ps.group ?? 0]);
}
