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
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <emmintrin.h>

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

// The worker: sleeps on a condition variable between 2-thread bursts; during one it spins on
// `go_seq` (bumped once per step, never reset, with the step number in `go_t`) and publishes
// `done_seq` (the last one it finished).
static Part parts[2];
static _Atomic long go_seq = 0, done_seq = 0, go_t = 0;
static _Atomic int active = 0, awake = 0, quit = 0;
static _Atomic long worker_steps = 0; // steps the worker ran (test/bench-threads-c.test.ts checks it took its half)
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

// A spin-wait's pause: after SPINS pauses in a row it yields the core at every turn, so that two
// threads that share one core (a loaded machine) still take turns instead of spinning out each
// other's time slices. With two free cores a wait ends long before that.
#define SPINS (1 << 14)
static inline void relax(unsigned *spins) {
  if (*spins < SPINS) {
    ++*spins;
    _mm_pause();
  } else {
    sched_yield();
  }
}

static void *worker(void *arg) {
  (void)arg;
  long seen = atomic_load(&done_seq);
  unsigned spins = 0;
  // Awake from the start: a thread that starts after activate(1) spins at once (and activate(1)
  // must not wait for the sleep below, which it skips).
  atomic_store(&awake, 1);
  for (;;) {
    if (!atomic_load_explicit(&active, memory_order_acquire)) {
      atomic_store(&awake, 0);
      pthread_mutex_lock(&mu);
      while (!atomic_load(&active) && !atomic_load(&quit)) pthread_cond_wait(&cv, &mu);
      pthread_mutex_unlock(&mu);
      if (atomic_load(&quit)) return NULL;
      // go_seq is either the last step done or a new one published meanwhile (the calling thread
      // publishes a step only after the previous one is done): run that one.
      seen = atomic_load(&done_seq);
      atomic_store(&awake, 1);
    }
    const long s = atomic_load_explicit(&go_seq, memory_order_acquire);
    if (s == seen) {
      relax(&spins);
      continue;
    }
    seen = s;
    spins = 0;
    run_part(&parts[1], atomic_load_explicit(&go_t, memory_order_relaxed));
    atomic_fetch_add_explicit(&worker_steps, 1, memory_order_relaxed);
    atomic_store_explicit(&done_seq, s, memory_order_release);
  }
}

// 2-thread bursts: wake the worker and wait until it spins (the steps are back to back, as in the
// benchmark's rounds), and let it sleep again afterwards.
static void activate(int on) {
  pthread_mutex_lock(&mu);
  atomic_store(&active, on);
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&mu);
  unsigned spins = 0;
  if (on)
    while (!atomic_load(&awake)) relax(&spins);
}

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
  atomic_store_explicit(&go_t, t, memory_order_relaxed);
  const long seq = atomic_load_explicit(&go_seq, memory_order_relaxed) + 1;
  atomic_store_explicit(&go_seq, seq, memory_order_release);
  run_part(&parts[0], t);
  unsigned spins = 0;
  while (atomic_load_explicit(&done_seq, memory_order_acquire) != seq) relax(&spins);
}

static long t_now = 0;
static double burst(int threads, size_t reps) {
  const double t0 = now_ms();
  for (size_t r = 0; r < reps; r++) (threads == 2 ? step2 : step1)(++t_now);
  return (now_ms() - t0) / reps;
}

static int cmp(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
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
    // Batches of about batch_ms on one thread (the calibration is the warm-up of both).
    size_t reps = 1;
    for (;;) {
      const double dt = burst(1, reps) * reps;
      if (dt >= batch_ms / 4 || reps >= (1u << 20)) {
        reps = (size_t)ceil(batch_ms / (dt / reps > 1e-9 ? dt / reps : 1e-9));
        break;
      }
      reps *= 4;
    }
    if (reps < 1) reps = 1;
    if (ab || fixed == 2) {
      activate(1);
      burst(2, reps);
    }
    const size_t cap = 100000;
    double *one = malloc(cap * sizeof(double)), *two = malloc(cap * sizeof(double)), *ratio = malloc(cap * sizeof(double));
    int count = 0;
    const double start = now_ms();
    for (;;) {
      if (ab) {
        // Which goes first alternates; the worker sleeps through the 1-thread burst.
        const int first = count % 2 ? 2 : 1;
        for (int j = 0; j < 2; j++) {
          const int th2 = j == 0 ? first : 3 - first;
          activate(th2 == 2);
          (th2 == 2 ? two : one)[count] = burst(th2, reps);
        }
        ratio[count] = one[count] / two[count];
      } else {
        one[count] = burst(fixed, reps);
      }
      count++;
      if (count >= 5 && now_ms() - start >= min_ms) break;
      if ((size_t)count >= cap) break;
    }
    activate(0);
    // A value that depends on the results, so that no loop is optimized away.
    double check = 0;
    for (size_t i = 0; i < n; i += 4096) check += p[i];
    if (ab) {
      printf("{\"kernel\":\"%s\",\"threads\":\"ab\",\"n\":%zu,\"reps\":%zu,\"mbPerStep\":%.6g,\"one\":[", k, n, reps,
             bytes_per_elem(&base) * n / 1e6);
      for (int i = 0; i < count; i++) printf("%s%.6g", i ? "," : "", one[i]);
      printf("],\"two\":[");
      for (int i = 0; i < count; i++) printf("%s%.6g", i ? "," : "", two[i]);
      qsort(ratio, count, sizeof(double), cmp);
      printf("],\"ratio\":%.4f,\"q1\":%.4f,\"q3\":%.4f", ratio[count / 2], ratio[(count - 1) / 4],
             ratio[(3 * (count - 1) + 3) / 4]);
    } else {
      printf("{\"kernel\":\"%s\",\"threads\":%d,\"n\":%zu,\"reps\":%zu,\"mbPerStep\":%.6g,\"samples\":[", k, fixed, n,
             reps, bytes_per_elem(&base) * n / 1e6);
      for (int i = 0; i < count; i++) printf("%s%.6g", i ? "," : "", one[i]);
      printf("]");
    }
    printf(",\"check\":%.6g}\n", check);
    fflush(stdout);
    free(one); free(two); free(ratio);
    free(p); free(p0); free(g); free(m); free(v); free(x);
  }
  pthread_mutex_lock(&mu);
  atomic_store(&quit, 1);
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&mu);
  pthread_join(th, NULL);
  return 0;
}
