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
  pthread_mutex_lock(&mu);
  atomic_store(&quit, 1);
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&mu);
  pthread_join(th, NULL);
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
