// The step of `npm run asbuild` after the asc builds: the module exports each of its 228 constants
// (SLOT of src/core/abi.ts) as an i32 global, which costs every instantiation ~0.7 ms (V8 makes a
// WebAssembly.Global object for each; ~40% of instantiating the SIMD build, AMD EPYC family 23)
// and the ABI check another ~0.3 ms to read them. This script checks, for each build, that the
// exported globals are exactly SLOT (names and values: a stale src/core/abi.ts fails the build)
// and that the module exports abiHash() (assembly/shared/abi-hash.ts); then it rewrites the export
// section without the globals. The engine checks the ABI with one abiHash() call
// (src/core/engine.ts). Idempotent: a build without exported globals is left as it is.
//   node scripts/strip-abi-globals.mjs [file.wasm ...]   (default: the four builds in dist/)
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);
const BUILDS = ['simd', 'scalar', 'threads', 'threads-scalar'].map((b) => `dist/wasm-optim.${b}.wasm`);

/** SLOT of src/core/abi.ts, as a Map in declaration order. */
export function readSlot(abiTs = readFileSync(new URL('src/core/abi.ts', root), 'utf8')) {
  const body = /export const SLOT = \{\n([\s\S]*?)\n\} as const;/.exec(abiTs);
  if (!body) throw new Error('strip-abi-globals: no SLOT in src/core/abi.ts; run node scripts/gen-abi.mjs');
  return new Map(
    body[1].split('\n').map((l) => {
      const m = /^\s*([A-Z][A-Z0-9_]*): (-?\d+),$/.exec(l);
      if (!m) throw new Error(`strip-abi-globals: cannot read the SLOT line '${l}' of src/core/abi.ts`);
      return [m[1], Number(m[2])];
    }),
  );
}

/**
 * The module `bytes` without its exported globals, after checking that they are exactly `slot`
 * (a Map name -> value) and that the module exports the function abiHash. Returns the bytes
 * unchanged when the module exports no globals. Throws, naming the difference, otherwise.
 */
export function stripAbiGlobals(bytes, slot, what = 'the module') {
  let p = 8;
  const u32 = () => {
    let r = 0,
      shift = 0,
      b;
    do {
      b = bytes[p++];
      r += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return r;
  };
  const s32 = () => {
    let r = 0,
      shift = 0,
      b;
    do {
      b = bytes[p++];
      r |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    return shift < 32 && b & 0x40 ? r | (-1 << shift) : r;
  };
  const uleb = (n) => {
    const out = [];
    do {
      let b = n & 0x7f;
      n = Math.floor(n / 128);
      if (n) b |= 0x80;
      out.push(b);
    } while (n);
    return out;
  };
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d)
    throw new Error(`strip-abi-globals: ${what} is not a WebAssembly module`);
  let importedGlobals = 0;
  const globalValue = new Map(); // global index -> i32 value of its i32.const initializer
  let exportSection = null; // [start of the section id, start of body, end]
  const exports = [];
  while (p < bytes.length) {
    const sectionStart = p;
    const id = bytes[p++];
    const size = u32();
    const body = p;
    const end = p + size;
    if (id === 2) {
      // imports: count the imported globals (they come first in the global index space)
      for (let n = u32(); n > 0; n--) {
        // The module and field names: read the length before adding it (`p += u32()` would add it
        // to p as it was before the length's own bytes).
        for (let name = 0; name < 2; name++) {
          const len = u32();
          p += len;
        }
        const kind = bytes[p++];
        if (kind === 0) u32();
        else if (kind === 1) {
          p++;
          const flags = u32();
          u32();
          if (flags & 1) u32();
        } else if (kind === 2) {
          const flags = u32();
          u32();
          if (flags & 1) u32();
        } else if (kind === 3) {
          p += 2;
          importedGlobals++;
        } else {
          p++; // a tag: its attribute and type
          u32();
        }
      }
    } else if (id === 6) {
      for (let n = u32(), i = 0; i < n; i++) {
        const type = bytes[p++];
        p++; // mutability
        if (type === 0x7f && bytes[p] === 0x41) {
          p++;
          const v = s32();
          if (bytes[p] === 0x0b) globalValue.set(importedGlobals + i, v);
        }
        // skip the rest of the initializer (constant expressions: consts, global.get, ref.*)
        for (;;) {
          const op = bytes[p++];
          if (op === 0x0b) break;
          if (op === 0x41 || op === 0x42) s32Skip();
          else if (op === 0x43) p += 4;
          else if (op === 0x44) p += 8;
          else if (op === 0x23 || op === 0xd2) u32();
          else if (op === 0xd0) p++;
          else if (op === 0xfd) {
            u32(); // v128.const
            p += 16;
          } else if (op === 0x6a || op === 0x6b || op === 0x6c || op === 0x7c || op === 0x7d || op === 0x7e) continue;
          else
            throw new Error(
              `strip-abi-globals: ${what}: unexpected opcode 0x${op.toString(16)} in a global initializer`,
            );
        }
      }
    } else if (id === 7) {
      exportSection = [sectionStart, body, end];
      for (let n = u32(); n > 0; n--) {
        const start = p;
        const len = u32();
        const name = new TextDecoder().decode(bytes.subarray(p, p + len));
        p += len;
        const kind = bytes[p++];
        const index = u32();
        exports.push({ name, kind, index, raw: bytes.subarray(start, p) });
      }
    }
    p = end;
  }
  function s32Skip() {
    while (bytes[p++] & 0x80);
  }
  const globals = exports.filter((e) => e.kind === 3);
  if (globals.length === 0) return bytes;
  const problems = [];
  if (!exports.some((e) => e.kind === 0 && e.name === 'abiHash'))
    problems.push('it exports no abiHash() (assembly/index.ts must export * from "./shared/abi-hash")');
  for (const g of globals) {
    const v = globalValue.get(g.index);
    if (!slot.has(g.name)) problems.push(`${g.name} is exported but not in SLOT`);
    else if (v !== slot.get(g.name))
      problems.push(`${g.name} is ${v ?? 'not an i32 constant'}, SLOT says ${slot.get(g.name)}`);
  }
  const exported = new Set(globals.map((g) => g.name));
  for (const name of slot.keys()) if (!exported.has(name)) problems.push(`${name} of SLOT is not exported`);
  if (problems.length)
    throw new Error(
      `strip-abi-globals: ${what} does not match src/core/abi.ts (run node scripts/gen-abi.mjs, then rebuild): ${problems.join('; ')}`,
    );
  const kept = exports.filter((e) => e.kind !== 3);
  const section = [...uleb(kept.length), ...kept.flatMap((e) => [...e.raw])];
  const [start, , end] = exportSection;
  const out = new Uint8Array(start + 1 + uleb(section.length).length + section.length + (bytes.length - end));
  out.set(bytes.subarray(0, start), 0);
  let q = start;
  out[q++] = 7;
  for (const b of uleb(section.length)) out[q++] = b;
  out.set(section, q);
  out.set(bytes.subarray(end), q + section.length);
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const slot = readSlot();
  const files = process.argv.length > 2 ? process.argv.slice(2) : BUILDS.map((f) => fileURLToPath(new URL(f, root)));
  for (const file of files) {
    const bytes = readFileSync(file);
    const out = stripAbiGlobals(bytes, slot, file);
    if (out === bytes) console.log(`strip-abi-globals: ${file}: no exported globals (already stripped)`);
    else {
      writeFileSync(file, out);
      console.log(
        `strip-abi-globals: ${file}: ${slot.size} constants checked, exports dropped (${bytes.length} -> ${out.length} bytes)`,
      );
    }
  }
}
