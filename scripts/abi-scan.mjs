// What the wasm module's ABI is, read from the AssemblyScript sources: scripts/gen-abi.mjs writes
// it into src/core/abi.ts, and scripts/wasm-exports.mjs (an asc transform) keeps the module's
// function exports to exactly those functions. Follows `export * from` from assembly/index.ts and
// collects
//   - every `export const NAME = <integer expression>;` (hyper-block slots, descriptor layout,
//     kernel codes);
//   - every `export function name(a: T, ...): R`: a function JavaScript calls, typed for
//     JavaScript (i64 as bigint, every other number type as number, void as void), unless its doc
//     comment says `@internal` (a helper that other AssemblyScript files call; JavaScript never
//     does). `@inline export function` helpers are never part of it either.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root directory. */
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const JS_TYPE = { i64: 'bigint', u64: 'bigint', void: 'void' };
const jsType = (t) => JS_TYPE[t.trim()] ?? 'number';

/** True when the doc comment right before `index` in `src` (only white space between) says `@internal`. */
function markedInternal(src, index) {
  const before = src.slice(0, index).trimEnd();
  if (!before.endsWith('*/')) return false;
  return /@internal\b/.test(before.slice(before.lastIndexOf('/**')));
}

/**
 * The ABI of the module built from `entry`: `consts` (name -> integer value, in source order),
 * `fns` (name -> { params, ret, file }: the functions JavaScript calls) and `internal` (name ->
 * file: exported functions marked `@internal`). `generated` is the file that scripts/gen-abi.mjs
 * writes (assembly/shared/abi-hash.ts): its one function, abiHash(), is taken as given.
 */
export function scanAbi(
  entry = path.join(root, 'assembly/index.ts'),
  generated = path.join(root, 'assembly/shared/abi-hash.ts'),
) {
  const consts = new Map();
  const fns = new Map();
  const internal = new Map();
  const seen = new Set();

  /** The value of an integer constant expression over literals and earlier constants. */
  function evaluate(expr, where) {
    const js = expr.replace(/<\w+>/g, '').replace(/\b([A-Z][A-Z0-9_]*)\b/g, (m) => {
      if (!consts.has(m)) throw new Error(`gen-abi: ${where}: constant ${m} is used before it is defined`);
      return String(consts.get(m));
    });
    if (!/^[\d\s+\-*/()<>|&^~x]+$/i.test(js)) throw new Error(`gen-abi: ${where}: cannot evaluate '${expr}'`);
    const v = Function(`return (${js});`)();
    if (!Number.isInteger(v)) throw new Error(`gen-abi: ${where}: '${expr}' is not an integer`);
    return v;
  }

  function visit(file) {
    if (seen.has(file)) return;
    seen.add(file);
    // Written by gen-abi from what the other files define (it may not exist yet).
    if (file === generated) {
      fns.set('abiHash', { params: [], ret: 'number', file: path.relative(root, file) });
      return;
    }
    const src = readFileSync(file, 'utf8');
    const rel = path.relative(root, file);
    // Re-exports first in source order would not matter for values, but constants may refer to
    // constants of imported files: visit imports too (their exports are only collected if re-exported).
    for (const m of src.matchAll(/^export \* from "([^"]+)";/gm)) visit(path.resolve(path.dirname(file), m[1] + '.ts'));
    for (const m of src.matchAll(/^export const ([A-Z][A-Z0-9_]*)\s*(?::\s*\w+)?\s*=\s*([^;]+);/gm)) {
      const v = evaluate(m[2], `${rel}: ${m[1]}`);
      if (consts.has(m[1]) && consts.get(m[1]) !== v)
        throw new Error(`gen-abi: ${m[1]} is defined twice with different values`);
      consts.set(m[1], v);
    }
    for (const m of src.matchAll(/^export function (\w+)\(([^)]*)\)\s*:\s*(\w+)/gm)) {
      if (markedInternal(src, m.index)) {
        internal.set(m[1], rel);
        continue;
      }
      const params = m[2]
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean)
        .map((p) => {
          const [name, type] = p.split(':').map((s) => s.trim());
          return `${name}: ${jsType(type.replace(/\s*=.*$/, ''))}`;
        });
      fns.set(m[1], { params, ret: jsType(m[3]), file: rel });
    }
  }

  visit(entry);
  return { consts, fns, internal };
}
