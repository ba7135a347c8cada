// Removes tsc's earlier output from dist/ (JavaScript, declarations, source maps) before tsc runs
// again, keeping the wasm builds and the inline copies that `npm run asbuild` wrote. tsc never
// deletes what it no longer emits: after a source file moves, its old dist/ files would stay, and
// `npm pack` would ship them (with maps pointing at sources that are gone).
import { readdirSync, rmSync } from 'node:fs';

const dist = new URL('../dist/', import.meta.url);
const keep = new Set(['inline-wasm.js', 'inline-wasm.d.ts']);
let entries;
try {
  entries = readdirSync(dist, { withFileTypes: true });
} catch {
  process.exit(0); // no dist/ yet
}
for (const e of entries) {
  const url = new URL(e.name + (e.isDirectory() ? '/' : ''), dist);
  if (e.isDirectory()) rmSync(url, { recursive: true, force: true });
  else if (!keep.has(e.name) && /\.(js|d\.ts|js\.map)$/.test(e.name)) rmSync(url, { force: true });
}
