// The threads group's native yardstick (bench/c/threads.c) does the work of one thread on two: its
// 2 pthreads, each stepping half of the range with a spin barrier per step, leave every buffer bit
// for bit as its 1 thread does, over steps that cross dense.c's resets, and the worker really runs
// its half. The program's command line answers as the bench reads it. No timing assertions.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain JS module without type declarations
import { C_FLAGS } from '../bench/lib/c.js';

const root = new URL('..', import.meta.url).pathname;
const SOURCE = join(root, 'bench', 'c', 'threads.c');
const SPARSE = join(root, 'bench', 'c', 'threads-sparse.c');

/** Compiles `file` as the bench does (C_FLAGS, -pthread); null when there is no gcc (the C contenders skip too). */
function compile(dir: string, file: string, name: string): string | null {
  const exe = join(dir, name);
  const cc = spawnSync('gcc', [...C_FLAGS, '-pthread', '-o', exe, file, '-lm'], { encoding: 'utf8' });
  if (cc.error) {
    expect(String(cc.error.message)).toMatch(/ENOENT/);
    return null;
  }
  expect(cc.status, cc.stderr).toBe(0);
  return exe;
}

describe('bench/c/threads.c: 2 pthreads against 1', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wasm-optim-threads-c-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('leaves the same bits on 2 threads as on 1, over 301 steps (a reset at 257), the worker stepping its half', () => {
    // n = 1000: the halves meet at 496 (a multiple of 16), and both have a tail that is not a
    // multiple of the vector width. Adam, AMSGrad (3 state buffers), AdamW, SGD with momentum, and
    // the two bandwidth loops.
    const harness = join(dir, 'harness.c');
    writeFileSync(
      harness,
      `#define THREADS_MAIN threads_main
#include "${SOURCE}"
static void fill(f32 *p, f32 *g, f32 *p0, size_t n) {
  rng = 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < n; i++) { p[i] = randn(); g[i] = randn() * 1e-2f; }
  memcpy(p0, p, n * sizeof(f32));
}
int main(void) {
  const size_t n = 1000;
  const long steps = 301;
  const char *ks[] = {"adam", "amsgrad", "adamw", "sgd-momentum", "roofline", "triad"};
  pthread_t th;
  if (pthread_create(&th, NULL, worker, NULL) != 0) return 2;
  long differ = 0, unchanged = 0, bad_worker = 0;
  for (int k = 0; k < 6; k++) {
    const int kind = !strcmp(ks[k], "triad") ? 1 : !strcmp(ks[k], "roofline") ? 2 : 0;
    f32 *out[2][4];
    for (int run = 0; run < 2; run++) {
      f32 *p = alloc_f32(n), *g = alloc_f32(n), *m = alloc_f32(n), *v = alloc_f32(n), *x = alloc_f32(n), *p0 = alloc_f32(n);
      memset(m, 0, n * 4); memset(v, 0, n * 4); memset(x, 0, n * 4);
      fill(p, g, p0, n);
      const Part base = {ks[k], kind, kind ? 0 : states_of(ks[k]), p, p0, g, m, v, x, 0, n};
      split(&base);
      t_now = 0;
      atomic_store(&worker_steps, 0);
      if (run == 1) activate(1);
      for (long s = 0; s < steps; s++) (run == 1 ? step2 : step1)(++t_now);
      activate(0);
      if (atomic_load(&worker_steps) != (run == 1 ? steps : 0)) bad_worker++;
      for (size_t i = 0; i < n; i++) if (p[i] == p0[i]) unchanged++;
      out[run][0] = p; out[run][1] = m; out[run][2] = v; out[run][3] = x;
      free(g); free(p0);
    }
    for (int b = 0; b < 4; b++) if (memcmp(out[0][b], out[1][b], n * 4) != 0) differ++;
    for (int run = 0; run < 2; run++) for (int b = 0; b < 4; b++) free(out[run][b]);
  }
  pool_stop(th);
  printf("%ld %ld %ld\\n", differ, bad_worker, unchanged);
  return 0;
}
`,
    );
    const exe = compile(dir, harness, 'harness');
    if (exe === null) return; // no gcc: the C contenders skip too
    const r = spawnSync(exe, { encoding: 'utf8', timeout: 100_000 });
    expect(r.status, r.stderr).toBe(0);
    const [differ, badWorker, unchanged] = r.stdout.trim().split(' ').map(Number);
    expect(differ).toBe(0); // no buffer differs between 1 and 2 threads
    expect(badWorker).toBe(0); // the worker ran every 2-thread step, and none of the 1-thread ones
    expect(unchanged).toBeLessThan(6 * 2 * 8); // the steps changed p (a few elements may come back to p0 by chance)
  });

  it('answers the bench: ab bursts with both sides and their ratio, fixed counts as samples; refuses nadam and bad modes', () => {
    const exe = compile(dir, SOURCE, 'threads');
    if (exe === null) return;
    const ab = spawnSync(exe, ['adam', '5', 'ab', '65536'], { encoding: 'utf8', timeout: 100_000 });
    expect(ab.status, ab.stderr).toBe(0);
    const out = JSON.parse(ab.stdout);
    expect(out).toMatchObject({ kernel: 'adam', threads: 'ab', n: 65536 });
    expect(out.mbPerStep).toBeCloseTo((28 * 65536) / 1e6, 4);
    expect(out.one.length).toBeGreaterThanOrEqual(5);
    expect(out.two.length).toBe(out.one.length);
    expect(out.ratio).toBeGreaterThan(0);
    expect(out.q1).toBeLessThanOrEqual(out.ratio);
    expect(out.q3).toBeGreaterThanOrEqual(out.ratio);
    for (const [kernel, threads] of [
      ['triad', '2'],
      ['roofline', '1'],
    ]) {
      const r = spawnSync(exe, [kernel, '1', threads, '65536', '100000'], { encoding: 'utf8', timeout: 100_000 });
      expect(r.status, r.stderr).toBe(0);
      const lines = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines.map((l) => [l.kernel, l.threads, l.n])).toEqual([
        [kernel, Number(threads), 65536],
        [kernel, Number(threads), 100000],
      ]);
      expect(lines[0].samples.length).toBeGreaterThanOrEqual(5);
    }
    const nadam = spawnSync(exe, ['nadam', '1', '2', '1000'], { encoding: 'utf8' });
    expect(nadam.status).toBe(1);
    expect(nadam.stderr).toMatch(/nadam keeps a running product/);
    const mode = spawnSync(exe, ['adam', '1', '3', '1000'], { encoding: 'utf8' });
    expect(mode.status).toBe(1);
    expect(mode.stderr).toMatch(/1, 2 or ab, not 3/);
    const unknown = spawnSync(exe, ['bogus', '1', '1', '1000'], { encoding: 'utf8' });
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/unknown kernel bogus/);
  });
});

describe('bench/c/threads-sparse.c: the lazy update with its rows on 2 pthreads', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wasm-optim-threads-sparse-c-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("leaves the same table on 2 threads as on 1 and as sparse.c's own loops (prefetch, direct), and touch the same rows", () => {
    // 4096 rows of 20, 512 ids per update, every other update from 64 rows only (heavy
    // duplication): 12 updates on 1 thread, on 2, and through sparse.c's update_prefetch /
    // update_direct on a table of its own; the worker must have stepped every 2-thread update.
    const harness = join(dir, 'harness.c');
    writeFileSync(
      harness,
      `#define THREADS_SPARSE_MAIN threads_sparse_main
#include "${SPARSE}"
static void init(Table *t, size_t rows, size_t dim, size_t k) {
  memset(t, 0, sizeof *t); t->rows = rows; t->dim = dim; t->k = k;
  t->w = xalloc(rows * dim * 4); t->m = xalloc(rows * dim * 4); t->v = xalloc(rows * dim * 4);
  for (size_t i = 0; i < rows * dim; i++) { t->w[i] = (f32)((i * 2654435761u) % 1000) / 1000.f; t->m[i] = 0; t->v[i] = 0; }
  t->acc = xalloc(k * dim * 4); t->keys = xalloc(k * 8); t->tmp = xalloc(k * 8);
  t->slot = xalloc(rows * 4); for (size_t r = 0; r < rows; r++) t->slot[r] = -1;
  t->list = xalloc(k * 4); t->src = xalloc(k * sizeof(f32 *));
}
int main(void) {
  const size_t rows = 4096, dim = 20, k = 512, nb = 12;
  int32_t *ids = xalloc(nb * k * 4);
  f32 *g = xalloc(k * dim * 4);
  uint64_t s = 1;
  for (size_t b = 0; b < nb; b++)
    for (size_t i = 0; i < k; i++) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; ids[b * k + i] = (int32_t)((s >> 20) % (b % 2 ? 64 : rows)); }
  for (size_t i = 0; i < k * dim; i++) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; g[i] = (f32)((double)(s >> 11) / 9007199254740992.0 - 0.5); }
  ids_all = ids; grads = g; batches = nb;
  trows = xalloc(nb * k * 4); tfirst = xalloc(nb * k * 4); tcount = xalloc(nb * sizeof(size_t));
  pthread_t th;
  if (pthread_create(&th, NULL, worker, NULL) != 0) return 2;
  long differ = 0, bad_worker = 0, dirty_slots = 0;
  for (method = 0; method < 3; method++) {
    f32 *out[3][3];
    for (int run = 0; run < 3; run++) {
      init(&tb, rows, dim, k);
      if (method == 2 && run == 0) {
        for (size_t b = 0; b < nb; b++) {
          size_t nd = 0;
          for (size_t i = 0; i < k; i++) {
            const uint32_t row = (uint32_t)ids[b * k + i];
            if (tb.slot[row] < 0) { tb.slot[row] = 0; trows[b * k + nd] = row; tfirst[b * k + nd++] = (uint32_t)i; }
          }
          for (size_t j = 0; j < nd; j++) tb.slot[trows[b * k + j]] = -1;
          tcount[b] = nd;
        }
      }
      batch = nb - 1; // step1/step2 advance it first: updates 0, 1, ..., nb - 1
      atomic_store(&worker_steps, 0);
      if (run == 2) {
        // sparse.c's own loops (touch: its touch() on the same rows)
        for (size_t b = 0; b < nb; b++) {
          if (method == 0) update_direct(&tb, ids + b * k, g);
          else if (method == 1) update_prefetch(&tb, ids + b * k, g);
          else touch(&tb, trows + b * k, tfirst + b * k, tcount[b], g);
        }
      } else {
        if (run == 1) activate(1);
        for (size_t b = 0; b < nb; b++) (run == 1 ? step2 : step1)(++t_now);
        activate(0);
      }
      if (atomic_load(&worker_steps) != (run == 1 ? (long)nb : 0)) bad_worker++;
      for (size_t r = 0; r < rows; r++) if (tb.slot[r] != -1) dirty_slots++;
      out[run][0] = tb.w; out[run][1] = tb.m; out[run][2] = tb.v;
    }
    for (int run = 1; run < 3; run++)
      for (int b = 0; b < 3; b++) if (memcmp(out[0][b], out[run][b], rows * dim * 4) != 0) differ++;
  }
  pool_stop(th);
  printf("%ld %ld %ld\\n", differ, bad_worker, dirty_slots);
  return 0;
}
`,
    );
    const exe = compile(dir, harness, 'harness');
    if (exe === null) return;
    const r = spawnSync(exe, { encoding: 'utf8', timeout: 100_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('0 0 0'); // no buffer differs; the worker stepped every 2-thread update; slots all freed
  });

  it('answers the bench and refuses unknown methods and modes', () => {
    const exe = compile(dir, SPARSE, 'threads-sparse');
    if (exe === null) return;
    const ids = join(dir, 'ids.bin');
    writeFileSync(ids, new Uint8Array(new Int32Array(Array.from({ length: 4 * 64 }, (_, i) => (i * 7) % 100)).buffer));
    for (const m of ['prefetch', 'direct', 'touch']) {
      const r = spawnSync(exe, ['128', '16', '64', ids, '4', '1', m, 'ab'], { encoding: 'utf8', timeout: 100_000 });
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out).toMatchObject({ method: m, rows: 128, dim: 16, k: 64, threads: 'ab' });
      expect(out.two.length).toBe(out.one.length);
    }
    const bad = spawnSync(exe, ['128', '16', '64', ids, '4', '1', 'radix', '1'], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/unknown method radix \(prefetch, direct or touch\)/);
    const mode = spawnSync(exe, ['128', '16', '64', ids, '4', '1', 'touch', 'x'], { encoding: 'utf8' });
    expect(mode.status).toBe(1);
    expect(mode.stderr).toMatch(/1, 2 or ab, not x/);
  });
});
