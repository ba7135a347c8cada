// Times Embedding.update (lazy or exact Adam, rows x 64, 4096 Zipf ids per update) against the
// C lazy loop of the benchmark suite (bench/c/sparse.c), alternating the two so that both see the
// same machine load, in process CPU time. The README's "Embedding tables" figures come from it.
//
//   npm run build && node scripts/embedding-vs-c.mjs [rows=262144] [mode=lazy|exact] [rounds=3]
//
// Needs gcc for the C side (skipped without it).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine, Embedding } from '../dist/index.js';
import { ZipfIds, grads as makeGrads } from '../bench/lib/data.js';

const rows = Number(process.argv[2] ?? 262144);
const mode = process.argv[3] ?? 'lazy';
const rounds = Number(process.argv[4] ?? 3);
const DIM = 64,
  K = 4096,
  BATCHES = 64;

const zipf = new ZipfIds(rows);
const ids = Array.from({ length: BATCHES }, () => zipf.draw(K));
const grads = makeGrads(K * DIM, 3);
const dir = mkdtempSync(join(tmpdir(), 'emb-vs-c-'));
const idsFile = join(dir, 'ids.bin');
const all = new Int32Array(BATCHES * K);
ids.forEach((a, i) => all.set(a, i * K));
writeFileSync(idsFile, new Uint8Array(all.buffer));

const exe = join(dir, 'sparse');
const source = fileURLToPath(new URL('../bench/c/sparse.c', import.meta.url));
const cc = spawnSync('gcc', ['-O3', '-msse4.2', '-fno-math-errno', '-o', exe, source, '-lm'], { encoding: 'utf8' });
const haveC = cc.status === 0;
if (!haveC) console.log(`C side skipped: ${(cc.stderr || cc.error?.message || 'gcc failed').split('\n')[0]}`);

const engine = await createEngine({ simd: true });
const emb = new Embedding(rows, DIM, { optimizer: 'adam', lr: 1e-3, mode, seed: 1, engine });
let b = 0;
const next = () => ids[(b = (b + 1) % BATCHES)];
for (let i = 0; i < 300; i++) emb.update(next(), grads); // touch the table, let the code tier up
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const median = (a) => a.sort((x, y) => x - y)[a.length >> 1];
for (let r = 0; r < rounds; r++) {
  let c = 'skipped';
  if (haveC) {
    const out = JSON.parse(
      execFileSync(exe, [String(rows), String(DIM), String(K), idsFile, String(BATCHES), '700'], {
        encoding: 'utf8',
        env: { ...process.env, BENCH_CLOCK: 'cpu' },
      }),
    );
    c = `${(median(out.samples) * 1000).toFixed(0)} us`;
  }
  const samples = [];
  const start = performance.now();
  while (performance.now() - start < 1000) {
    const t0 = cpuMs();
    for (let i = 0; i < 5; i++) emb.update(next(), grads);
    samples.push((cpuMs() - t0) / 5);
  }
  console.log(
    `${rows} x ${DIM}, adam ${mode}: update ${(median(samples) * 1000).toFixed(0)} us, C lazy loop ${c}, ${emb.lastUniqueRows} distinct rows in the last update`,
  );
}
emb.dispose();
