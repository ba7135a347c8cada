// The threads group's native yardstick: the dense loops of bench/c/dense.c (included below: the same
// loops, step() and tick() with its resets every RESET_EVERY steps) run on 1 thread and on 2 pthreads
// that split each step's range, with a spin barrier per step as the engine's pool has one (the
// calling thread publishes the step, both threads run their half, the calling thread spins until
// the worker's half is done; the worker spins between steps while a 2-thread burst runs). Compiled
// with the "C SSE" flags and -pthread: `gcc -O3 -msse4.2 -fno-math-errno -pthread`.
// Also two loops that only move memory, to read the machine's bandwidth on 1 and 2 threads:
// "triad" (STREAM's a = b + s·c) and "roofline" (Adam's bytes with no arithmetic: reads p, g, m, v
// and writes p, m, v, rotating the values as bench/wasm/roofline.ts does).
//
// usage: threads <kernel> <minMs> <1|2|ab> <n>...
//   kernel: a dense.c kernel (adam, adamw, ...; not nadam, whose step() keeps a running product in
//           a static), or triad, roofline
//   1, 2:   samples of that many threads: {"kernel":..., "threads":T, "n":..., "reps":..., "samples":[ms per step, ...]}
//   ab:     bursts of `reps` steps alternated between 1 and 2 threads in this process (which goes first
//           alternates), so that load from elsewhere falls on both: {"kernel":..., "threads":"ab", "n":...,
//           "reps":..., "one":[ms...], "two":[ms...], "ratio":median of the per-pair ratios one/two,
//           "q1":..., "q3":..., "mbPerStep": bytes the kernel moves per step / 1e6 (no write-allocate)}
// Wall clock always (BENCH_CLOCK=cpu would add the two threads' times up).
#define main dense_main
#include "dense.c"
#undef main

// STREAM's triad: a = b + s * c.
__attribute__((noinline)) static void triad(f32 *restrict a, const f32 *restrict b, const f32 *restrict c, size_t n,
                                            f32 s) {
  for (size_t i = 0; i < n; i++) a[i] = b[i] + s * c[i];
}

// Adam's traffic without its arithmetic (bench/wasm/roofline.ts with two states): p <- m <- v <- p ^ g.
__attribute__((noinline)) static void roofline(uint32_t *restrict p, const uint32_t *restrict g,
                                               uint32_t *restrict m, uint32_t *restrict v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint32_t pi = p[i], gi = g[i], mi = m[i], vi = v[i];
    p[i] = mi;
    m[i] = vi;
    v[i] = pi ^ gi;
  }
}

// The buffers of one run and the range [lo, hi) of a thread.
typedef struct {
  const char *k;
  int kind; // 0: a dense.c kernel through tick(), 1: triad, 2: roofline
  int states;
  f32 *p, *p0, *g, *m, *v, *x;
  size_t lo, hi;
} Part;

// Step t of the part's range: tick() on the sub-arrays (the resets cover the range only, at the same
// steps on every thread), so that every element sees the same operations as on one thread.
static void run_part(const Part *w, long t) {
  const size_t lo = w->lo, n = w->hi - w->lo;
  if (n == 0) return;
  if (w->kind == 1) triad(w->p + lo, w->g + lo, w->m + lo, n, 3.0f);
  else if (w->kind == 2) roofline((uint32_t *)w->p + lo, (const uint32_t *)w->g + lo, (uint32_t *)w->m + lo,
                                  (uint32_t *)w->v + lo, n);
  else tick(w->k, t, w->states, w->p + lo, w->p0 + lo, w->g + lo, w->m + lo, w->v + lo, w->x + lo, n);
}

static Part parts[2];
static void worker_part(long t) { run_part(&parts[1], t); }
#include "threads_pool.h"

// The two threads' ranges of a run: halves that meet at a multiple of 16 floats (a cache line), as
// the pool cuts ranges.
static void split(const Part *base) {
  const size_t mid = (base->hi / 2) & ~(size_t)15;
  parts[0] = parts[1] = *base;
  parts[0].hi = mid;
  parts[1].lo = mid;
}

static void step1(long t) {
  Part whole = parts[0];
  whole.hi = parts[1].hi;
  run_part(&whole, t);
}

static void step2(long t) {
  const long seq = pool_publish(t);
  run_part(&parts[0], t);
  pool_wait(seq);
}

// Bytes a step moves (reads + writes, no write-allocate): Adam-like 2-state kernels 28 per element.
static double bytes_per_elem(const Part *w) {
  if (w->kind == 1) return 12;
  if (w->kind == 2) return 28;
  return 4.0 * (2 + 2 * w->states + 1); // reads p, g and the states, writes p and the states
}

// A harness that includes this file defines THREADS_MAIN to rename this main (dense.c's is renamed above).
#ifndef THREADS_MAIN
#define THREADS_MAIN main
#endif
int THREADS_MAIN(int argc, char **argv) {
  choose_clock();
  use_cpu_clock = 0;
  batch_ms = 1.0;
  if (argc < 5) {
    fprintf(stderr, "usage: threads <dense.c kernel (not nadam)|triad|roofline> <minMs> <1|2|ab> <n>...\n");
    return 1;
  }
  const char *k = argv[1];
  const double min_ms = atof(argv[2]);
  const char *mode = argv[3];
  const int ab = !strcmp(mode, "ab"), fixed = atoi(mode);
  if (!ab && fixed != 1 && fixed != 2) {
    fprintf(stderr, "threads: the third argument is 1, 2 or ab, not %s\n", mode);
    return 1;
  }
  const int kind = !strcmp(k, "triad") ? 1 : !strcmp(k, "roofline") ? 2 : 0;
  if (kind == 0 && !strcmp(k, "nadam")) {
    fprintf(stderr, "threads: nadam keeps a running product in a static of step(): not on 2 threads\n");
    return 1;
  }
  pthread_t th;
  if (pthread_create(&th, NULL, worker, NULL) != 0) {
    fprintf(stderr, "threads: pthread_create failed\n");
    return 2;
  }
  for (int a = 4; a < argc; a++) {
    const size_t n = (size_t)atoll(argv[a]);
    f32 *p = alloc_f32(n), *g = alloc_f32(n), *m = alloc_f32(n), *v = alloc_f32(n), *x = alloc_f32(n);
    f32 *p0 = alloc_f32(n);
    for (size_t i = 0; i < n; i++) { p[i] = randn(); g[i] = randn() * 1e-2f; m[i] = 0; v[i] = 0; x[i] = 0; }
    memcpy(p0, p, n * sizeof(f32));
    const Part base = {k, kind, kind ? 0 : states_of(k), p, p0, g, m, v, x, 0, n};
    split(&base);
    t_now = 0;
    if (kind == 0 && !tick(k, ++t_now, base.states, p, p0, g, m, v, x, n)) {
      fprintf(stderr, "threads: unknown kernel %s\n", k);
      return 1;
    }
    char head[256];
    snprintf(head, sizeof head, "\"kernel\":\"%s\",\"n\":%zu,\"mbPerStep\":%.6g", k, n, bytes_per_elem(&base) * n / 1e6);
    pool_measure(head, min_ms, ab ? 0 : fixed, step1, step2, p, n);
    free(p); free(p0); free(g); free(m); free(v); free(x);
  }
  pool_stop(th);
  return 0;
}
