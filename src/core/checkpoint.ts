// The binary checkpoint format: one self-checking byte string for an optimizer (or a table),
// portable between the SIMD and the scalar engine and between processes.
//
// Layout (every integer little-endian, like WebAssembly memory):
//   0   magic        8 bytes  89 57 4F 50 54 0D 0A 1A  ("\x89WOPT\r\n\x1A", PNG-style: the high
//                             byte catches 7-bit transfers, CR LF catches line-ending rewrites)
//   8   version      u32      FORMAT_VERSION
//   12  reserved     u32      0
//   16  total length u64      bytes in the whole checkpoint, checksum included
//   24  kind         u32 byte length, UTF-8, zero padding to a multiple of 4
//       meta         u32 byte length, UTF-8 JSON, zero padding to a multiple of 4: the structured
//                    state (hyperparameters, step counts, ...) with every typed array replaced
//                    by {"$tensor": i}
//       tensors      u32 count, then per tensor: u32 name length, UTF-8 path (e.g.
//                    "params.0.state.exp_avg"), padding to 4; u32 dtype (1 f32, 2 f64, 3 i32,
//                    4 u32, 5 u8); u32 element count; padding so that the data starts at a
//                    multiple of 16; the elements; padding to 4
//   end-4 CRC-32     u32      IEEE CRC-32 (zlib's) of every byte before it
// CRC-32 detects every error burst of up to 32 bits, so any corruption confined to one byte (or
// to four neighbouring bytes) is always caught.

/** The checkpoint format version this build writes and reads. */
export const CHECKPOINT_VERSION = 1;

/** The 8 bytes every checkpoint starts with: `\x89WOPT\r\n\x1A`. */
export const CHECKPOINT_MAGIC: readonly number[] = Object.freeze([0x89, 0x57, 0x4f, 0x50, 0x54, 0x0d, 0x0a, 0x1a]);

/** Why a checkpoint was refused (the `reason` of a CheckpointError). */
export type CheckpointRefusal =
  | 'magic' // not a checkpoint at all
  | 'version' // a format version this build does not read
  | 'truncated' // fewer bytes than the checkpoint declares
  | 'corrupt' // checksum mismatch, or trailing bytes after the checkpoint
  | 'malformed' // the checksum holds but the structure is invalid (written by something else)
  | 'kind' // a checkpoint of another optimizer or table kind
  | 'layout'; // params, lengths or state tensors that do not match the receiver

/**
 * Thrown when a checkpoint is refused. Nothing was changed. `reason` says why, in one word; the
 * message says why in full and what to do.
 */
export class CheckpointError extends RangeError {
  override name = 'CheckpointError';
  /** Why the checkpoint was refused. */
  readonly reason: CheckpointRefusal;

  constructor(reason: CheckpointRefusal, message: string) {
    super(message);
    this.reason = reason;
  }
}

/** The typed arrays a checkpoint can carry. */
export type CheckpointTensor = Float32Array | Float64Array | Int32Array | Uint32Array | Uint8Array;

/** A decoded checkpoint: its kind and its structured state with the tensors put back. */
export interface DecodedCheckpoint {
  /** Format version it was written with. */
  version: number;
  /** What it holds: an optimizer's kind (`'Adam'`, `'SGD'`, ...) or a table kind. */
  kind: string;
  /** The structured state, typed arrays included. */
  payload: Record<string, unknown>;
}

/** What `inspectCheckpoint` reports without loading anything. */
export interface CheckpointInfo {
  /** Format version it was written with. */
  version: number;
  /** What it holds: an optimizer's kind (`'Adam'`, ...) or `'Embedding'`. */
  kind: string;
  /** Total bytes. */
  byteLength: number;
  /** The structured state without the tensors (each tensor appears as `{ $tensor: i }`). */
  meta: Record<string, unknown>;
  /** Every tensor: its path in the state, element type and element count. */
  tensors: { name: string; dtype: string; length: number }[];
}

// ---------------------------------------------------------------------------------------------
// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), slicing by 8.

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

// Built on the first crc32() call, not at import: ~0.6 ms of every `import 'wasm-optim'` otherwise.
let crcTables: Uint32Array[] | undefined;
function crcTablesOnce(): Uint32Array[] {
  if (crcTables) return crcTables;
  const t: Uint32Array[] = [];
  for (let k = 0; k < 8; k++) t.push(new Uint32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let j = 0; j < 8; j++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[0][n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[0][n];
    for (let k = 1; k < 8; k++) {
      c = t[0][c & 0xff] ^ (c >>> 8);
      t[k][n] = c >>> 0;
    }
  }
  return (crcTables = t);
}

/** The CRC-32 (zlib's, IEEE) of `bytes`, or of its first `end` bytes. */
export function crc32(bytes: Uint8Array, end = bytes.length): number {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('crc32: expected a Uint8Array');
  if (!Number.isInteger(end) || end < 0 || end > bytes.length)
    throw new RangeError(`crc32: end must be an integer in [0, ${bytes.length}], got ${end}`);
  const [t0, t1, t2, t3, t4, t5, t6, t7] = crcTablesOnce();
  let c = 0xffffffff;
  let i = 0;
  if (LITTLE_ENDIAN_HOST && end >= 16) {
    // Whole 32-bit words, two at a time, once the address is aligned.
    while (((bytes.byteOffset + i) & 3) !== 0) c = t0[(c ^ bytes[i++]) & 0xff] ^ (c >>> 8);
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset + i, (end - i) >>> 2);
    const nw = words.length & ~1;
    for (let w = 0; w < nw; w += 2) {
      const a = c ^ words[w];
      const b = words[w + 1];
      c =
        t7[a & 0xff] ^
        t6[(a >>> 8) & 0xff] ^
        t5[(a >>> 16) & 0xff] ^
        t4[a >>> 24] ^
        t3[b & 0xff] ^
        t2[(b >>> 8) & 0xff] ^
        t1[(b >>> 16) & 0xff] ^
        t0[b >>> 24];
    }
    i += nw * 4;
  }
  for (; i < end; i++) c = t0[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Generic encoding of a structured state that holds typed arrays.

const DTYPES: {
  name: string;
  ctor: { new (b: ArrayBuffer, o: number, n: number): CheckpointTensor; BYTES_PER_ELEMENT: number };
}[] = [
  { name: '', ctor: Uint8Array }, // 0 unused
  { name: 'f32', ctor: Float32Array },
  { name: 'f64', ctor: Float64Array },
  { name: 'i32', ctor: Int32Array },
  { name: 'u32', ctor: Uint32Array },
  { name: 'u8', ctor: Uint8Array },
];

function dtypeOf(v: unknown): number {
  if (v instanceof Float32Array) return 1;
  if (v instanceof Float64Array) return 2;
  if (v instanceof Int32Array) return 3;
  if (v instanceof Uint32Array) return 4;
  if (v instanceof Uint8Array) return 5;
  return 0;
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const pad4 = (n: number): number => (n + 3) & ~3;
const pad16 = (n: number): number => (n + 15) & ~15;

interface Pending {
  name: Uint8Array;
  dtype: number;
  view: CheckpointTensor;
}

/** Replaces typed arrays by `{ $tensor: i }`; refuses values JSON would not give back exactly. */
function extract(value: unknown, path: string, out: Pending[]): unknown {
  const dt = dtypeOf(value);
  if (dt) {
    out.push({ name: utf8.encode(path), dtype: dt, view: value as CheckpointTensor });
    return { $tensor: out.length - 1 };
  }
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new RangeError(`checkpoint: ${path} is ${value}; a checkpoint stores finite numbers only`);
    if (Object.is(value, -0)) return 0;
    return value;
  }
  if (value === undefined) return undefined;
  if (Array.isArray(value)) return value.map((v, i) => extract(v, `${path}.${i}`, out) ?? null);
  if (typeof value === 'object' && !ArrayBuffer.isView(value)) {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (k === '$tensor') throw new RangeError(`checkpoint: ${path} uses the reserved key '$tensor'`);
      const x = extract(v, path ? `${path}.${k}` : k, out);
      if (x !== undefined) o[k] = x;
    }
    return o;
  }
  throw new TypeError(
    `checkpoint: ${path} is ${ArrayBuffer.isView(value) ? `a ${value.constructor.name}` : typeof value}, which a checkpoint cannot store`,
  );
}

/**
 * Encodes `payload` (a structured state: plain objects, arrays, finite numbers, strings,
 * booleans, null, and Float32Array / Float64Array / Int32Array / Uint32Array / Uint8Array
 * tensors) as a checkpoint of `kind`. Typed arrays may be live views into engine memory: they
 * are copied here, byte for byte.
 */
export function encodeCheckpoint(kind: string, payload: Record<string, unknown>): Uint8Array {
  const tensors: Pending[] = [];
  const meta = utf8.encode(JSON.stringify(extract(payload, '', tensors)));
  const kindBytes = utf8.encode(kind);
  let size = 24 + 4 + pad4(kindBytes.length) + 4 + pad4(meta.length) + 4;
  const starts: number[] = [];
  for (const t of tensors) {
    size += 4 + pad4(t.name.length) + 8;
    size = pad16(size);
    starts.push(size);
    size = pad4(size + t.view.byteLength);
  }
  size += 4;
  if (size > Number.MAX_SAFE_INTEGER) throw new RangeError(`checkpoint: ${size} bytes is too large`);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out.set(CHECKPOINT_MAGIC, 0);
  dv.setUint32(8, CHECKPOINT_VERSION, true);
  dv.setUint32(12, 0, true);
  dv.setUint32(16, size % 0x100000000, true);
  dv.setUint32(20, Math.floor(size / 0x100000000), true);
  let at = 24;
  const putBytes = (b: Uint8Array): void => {
    dv.setUint32(at, b.length, true);
    out.set(b, at + 4);
    at = pad4(at + 4 + b.length);
  };
  putBytes(kindBytes);
  putBytes(meta);
  dv.setUint32(at, tensors.length, true);
  at += 4;
  tensors.forEach((t, i) => {
    putBytes(t.name);
    dv.setUint32(at, t.dtype, true);
    dv.setUint32(at + 4, t.view.length, true);
    at = starts[i];
    const bytes = new Uint8Array(t.view.buffer, t.view.byteOffset, t.view.byteLength);
    if (LITTLE_ENDIAN_HOST || t.dtype === 5) {
      out.set(bytes, at);
    } else {
      const size = DTYPES[t.dtype].ctor.BYTES_PER_ELEMENT;
      for (let j = 0; j < bytes.length; j += size)
        for (let b = 0; b < size; b++) out[at + j + b] = bytes[j + size - 1 - b];
    }
    at = pad4(at + t.view.byteLength);
  });
  dv.setUint32(at, crc32(out, at), true);
  return out;
}

function asBytes(bytes: unknown, what: string): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes;
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  throw new TypeError(
    `${what}: expected the Uint8Array that save() returned (or its ArrayBuffer), got ${bytes === null ? 'null' : ArrayBuffer.isView(bytes) ? `a ${bytes.constructor.name}` : typeof bytes}`,
  );
}

/** Checks signature, version, length and checksum; returns the bytes and a DataView. */
function verify(input: unknown, what: string): { bytes: Uint8Array; dv: DataView; size: number } {
  const bytes = asBytes(input, what);
  const n = bytes.length;
  for (let i = 0; i < CHECKPOINT_MAGIC.length; i++) {
    if (i >= n)
      throw new CheckpointError(
        'truncated',
        `${what}: the checkpoint is truncated: ${n} bytes, not even a header (a checkpoint starts with 28 or more)`,
      );
    if (bytes[i] !== CHECKPOINT_MAGIC[i]) {
      throw new CheckpointError(
        'magic',
        `${what}: this is not a wasm-optim checkpoint (byte ${i} of the signature is 0x${bytes[i].toString(16).padStart(2, '0')}, expected 0x${CHECKPOINT_MAGIC[i].toString(16)}); pass the bytes that save() returned, unchanged`,
      );
    }
  }
  if (n < 28)
    throw new CheckpointError(
      'truncated',
      `${what}: the checkpoint is truncated: ${n} bytes, not even a header (a checkpoint starts with 28 or more)`,
    );
  const dv = new DataView(bytes.buffer, bytes.byteOffset, n);
  const version = dv.getUint32(8, true);
  if (version !== CHECKPOINT_VERSION || dv.getUint32(12, true) !== 0) {
    throw new CheckpointError(
      'version',
      `${what}: checkpoint format version ${version}${dv.getUint32(12, true) !== 0 ? ` with flags 0x${dv.getUint32(12, true).toString(16)}` : ''} is not supported; this build of wasm-optim reads version ${CHECKPOINT_VERSION} (a newer wasm-optim wrote it, or the header is damaged)`,
    );
  }
  const size = dv.getUint32(16, true) + dv.getUint32(20, true) * 0x100000000;
  if (size > n)
    throw new CheckpointError(
      'truncated',
      `${what}: the checkpoint is truncated: it declares ${size} bytes but only ${n} are present`,
    );
  if (size < n)
    throw new CheckpointError(
      'corrupt',
      `${what}: the checkpoint is corrupt: it declares ${size} bytes but ${n} were given (trailing bytes, or a damaged length field)`,
    );
  if (size < 28)
    throw new CheckpointError(
      'corrupt',
      `${what}: the checkpoint is corrupt: it declares an impossible length of ${size} bytes`,
    );
  const stored = dv.getUint32(size - 4, true);
  const actual = crc32(bytes, size - 4);
  if (stored !== actual) {
    throw new CheckpointError(
      'corrupt',
      `${what}: the checkpoint is corrupt: CRC-32 mismatch (stored 0x${stored.toString(16).padStart(8, '0')}, computed 0x${actual.toString(16).padStart(8, '0')}); it was damaged in storage or transfer`,
    );
  }
  return { bytes, dv, size };
}

interface Parsed {
  version: number;
  kind: string;
  meta: unknown;
  tensors: { name: string; dtype: number; length: number; start: number }[];
}

function parse(input: unknown, what: string): Parsed & { bytes: Uint8Array } {
  const { bytes, dv, size } = verify(input, what);
  const end = size - 4;
  const bad = (why: string): never => {
    throw new CheckpointError(
      'malformed',
      `${what}: the checkpoint is malformed (${why}) although its checksum holds; it was not written by wasm-optim's save()`,
    );
  };
  let at = 24;
  const getU32 = (): number => {
    if (at + 4 > end) bad(`field at byte ${at} runs past the end`);
    const v = dv.getUint32(at, true);
    at += 4;
    return v;
  };
  const getString = (): string => {
    const len = getU32();
    if (at + len > end) bad(`string at byte ${at} runs past the end`);
    let s = '';
    try {
      s = utf8Strict.decode(bytes.subarray(at, at + len));
    } catch {
      bad(`invalid UTF-8 at byte ${at}`);
    }
    at = pad4(at + len);
    return s;
  };
  const kind = getString();
  let meta: unknown;
  try {
    meta = JSON.parse(getString());
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    bad('its metadata is not JSON');
  }
  const count = getU32();
  const tensors: Parsed['tensors'] = [];
  for (let i = 0; i < count; i++) {
    const name = getString();
    const dtype = getU32();
    const length = getU32();
    if (dtype < 1 || dtype >= DTYPES.length) bad(`tensor ${name} has unknown element type ${dtype}`);
    const start = pad16(at);
    const bytesLen = length * DTYPES[dtype].ctor.BYTES_PER_ELEMENT;
    if (start + bytesLen > end) bad(`tensor ${name} runs past the end`);
    tensors.push({ name, dtype, length, start });
    at = pad4(start + bytesLen);
  }
  if (at !== end) bad(`${end - at} unexplained bytes before the checksum`);
  return { version: CHECKPOINT_VERSION, kind, meta, tensors, bytes };
}

/** How deep a checkpoint's metadata may nest (save() writes well under this). */
const MAX_META_DEPTH = 64;

function tensorOf(bytes: Uint8Array, t: Parsed['tensors'][number]): CheckpointTensor {
  const C = DTYPES[t.dtype].ctor;
  const offset = bytes.byteOffset + t.start;
  if (LITTLE_ENDIAN_HOST && offset % C.BYTES_PER_ELEMENT === 0)
    return new C(bytes.buffer as ArrayBuffer, offset, t.length);
  const copy = new C(new ArrayBuffer(t.length * C.BYTES_PER_ELEMENT), 0, t.length);
  const dst = new Uint8Array(copy.buffer);
  const src = bytes.subarray(t.start, t.start + dst.length);
  if (LITTLE_ENDIAN_HOST || C.BYTES_PER_ELEMENT === 1) dst.set(src);
  else {
    const s = C.BYTES_PER_ELEMENT;
    for (let j = 0; j < dst.length; j += s) for (let b = 0; b < s; b++) dst[j + b] = src[j + s - 1 - b];
  }
  return copy;
}

/**
 * Verifies and decodes a checkpoint: signature, version, length and CRC-32 first, then the
 * structure. Tensors in the result may be views into `bytes` (no copy) when alignment allows.
 * Throws a CheckpointError saying why when the checkpoint is refused; `expectedKind` refuses a
 * checkpoint of another kind.
 */
export function decodeCheckpoint(
  bytes: Uint8Array | ArrayBuffer,
  expectedKind?: string,
  what = 'decodeCheckpoint',
): DecodedCheckpoint {
  const p = parse(bytes, what);
  if (expectedKind !== undefined && p.kind !== expectedKind) {
    throw new CheckpointError(
      'kind',
      `${what}: the checkpoint holds ${article(p.kind)} ${p.kind}, not ${article(expectedKind)} ${expectedKind}; load it into ${article(p.kind)} ${p.kind}`,
    );
  }
  const used = new Set<number>();
  const malformed = (why: string): never => {
    throw new CheckpointError('malformed', `${what}: the checkpoint is malformed (${why}) although its checksum holds`);
  };
  const restore = (v: unknown, depth = 0): unknown => {
    // save() nests a few levels (groups, schedules inside sequentialLR): deeper is not its output,
    // and refusing it here keeps a crafted 20,000-deep nesting from overflowing the stack.
    if (depth > MAX_META_DEPTH) malformed(`its metadata nests deeper than ${MAX_META_DEPTH} levels`);
    if (Array.isArray(v)) return v.map((x) => restore(x, depth + 1));
    if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if ('$tensor' in o) {
        const i = o.$tensor;
        if (
          typeof i !== 'number' ||
          !Number.isInteger(i) ||
          i < 0 ||
          i >= p.tensors.length ||
          used.has(i) ||
          Object.keys(o).length !== 1
        ) {
          throw new CheckpointError(
            'malformed',
            `${what}: the checkpoint is malformed (bad tensor reference ${JSON.stringify(o)}) although its checksum holds`,
          );
        }
        used.add(i);
        return tensorOf(p.bytes, p.tensors[i]);
      }
      const r: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(o)) {
        // Assigning '__proto__' would set the prototype (the key silently dropped): refuse it.
        if (k === '__proto__') malformed(`its metadata has a key '__proto__'`);
        r[k] = restore(x, depth + 1);
      }
      return r;
    }
    return v;
  };
  const payload = restore(p.meta);
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload) || used.size !== p.tensors.length) {
    throw new CheckpointError(
      'malformed',
      `${what}: the checkpoint is malformed (its metadata is not an object that names every tensor) although its checksum holds`,
    );
  }
  return { version: p.version, kind: p.kind, payload: payload as Record<string, unknown> };
}

/**
 * Verifies a checkpoint (signature, version, length, CRC-32) and describes it without loading
 * it: its kind, its structured state and its tensors. Throws a CheckpointError when refused.
 */
export function inspectCheckpoint(bytes: Uint8Array | ArrayBuffer): CheckpointInfo {
  const p = parse(bytes, 'inspectCheckpoint');
  return {
    version: p.version,
    kind: p.kind,
    byteLength: p.bytes.length,
    meta: p.meta as Record<string, unknown>,
    tensors: p.tensors.map((t) => ({ name: t.name, dtype: DTYPES[t.dtype].name, length: t.length })),
  };
}

function article(word: string): string {
  return /^[AEIOU]/i.test(word) ? 'an' : 'a';
}
