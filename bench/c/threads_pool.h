// The 2-thread pool of the native threads yardsticks (bench/c/threads.c, bench/c/threads-sparse.c):
// one worker pthread and a spin barrier per step, the fastest hand-off known. The includer defines
// `static void worker_part(long t)` (the worker's half of step t) before including this file; a step
// is `seq = pool_publish(t); <the calling thread's half>; pool_wait(seq);` between activate(1) and
// activate(0).
#ifndef THREADS_POOL_H
#define THREADS_POOL_H
#include <emmintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

// The worker: sleeps on a condition variable between 2-thread bursts; during one it spins on
// `go_seq` (bumped once per step, never reset, with the step number in `go_t`) and publishes
// `done_seq` (the last one it finished).
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
    worker_part(atomic_load_explicit(&go_t, memory_order_relaxed));
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

// Publishes step t to the worker; returns what pool_wait needs.
static long pool_publish(long t) {
  atomic_store_explicit(&go_t, t, memory_order_relaxed);
  const long seq = atomic_load_explicit(&go_seq, memory_order_relaxed) + 1;
  atomic_store_explicit(&go_seq, seq, memory_order_release);
  return seq;
}

// Spins until the worker has done the step that pool_publish returned `seq` for.
static void pool_wait(long seq) {
  unsigned spins = 0;
  while (atomic_load_explicit(&done_seq, memory_order_acquire) != seq) relax(&spins);
}

// Ends the worker (it sleeps or spins; it finishes nothing left, as every step was waited for).
static void pool_stop(pthread_t th) {
  pthread_mutex_lock(&mu);
  atomic_store(&quit, 1);
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&mu);
  pthread_join(th, NULL);
}

// Step counter of the measured steps (1-based; a dense step's t).
static long t_now = 0;
static double burst(int threads, size_t reps, void (*step1)(long), void (*step2)(long)) {
  const double t0 = now_ms();
  for (size_t r = 0; r < reps; r++) (threads == 2 ? step2 : step1)(++t_now);
  return (now_ms() - t0) / reps;
}

static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

// Times steps in batches of about batch_ms (calibrated on one thread; the calibration is the
// warm-up) for at least min_ms and 5 samples, and prints one JSON line that starts with `head`:
// threads = 1 or 2: {head, "threads":T, "reps":..., "samples":[ms per step, ...]}; threads = 0 (ab):
// 1- and 2-thread bursts alternated (which goes first alternates; the worker sleeps through the
// 1-thread burst): {head, "threads":"ab", "reps":..., "one":[...], "two":[...], "ratio": median of
// the per-pair ratios one/two, "q1", "q3"}; then "check": a value that depends on `out` (n floats).
static void pool_measure(const char *head, double min_ms, int threads, void (*step1)(long), void (*step2)(long),
                         const float *out, size_t n) {
  size_t reps = 1;
  for (;;) {
    const double dt = burst(1, reps, step1, step2) * reps;
    if (dt >= batch_ms / 4 || reps >= (1u << 20)) {
      reps = (size_t)ceil(batch_ms / (dt / reps > 1e-9 ? dt / reps : 1e-9));
      break;
    }
    reps *= 4;
  }
  if (reps < 1) reps = 1;
  if (threads != 1) {
    activate(1);
    burst(2, reps, step1, step2);
  }
  const size_t cap = 100000;
  double *one = malloc(cap * sizeof(double)), *two = malloc(cap * sizeof(double)), *ratio = malloc(cap * sizeof(double));
  int count = 0;
  const double start = now_ms();
  for (;;) {
    if (threads == 0) {
      const int first = count % 2 ? 2 : 1;
      for (int j = 0; j < 2; j++) {
        const int th = j == 0 ? first : 3 - first;
        activate(th == 2);
        (th == 2 ? two : one)[count] = burst(th, reps, step1, step2);
      }
      ratio[count] = one[count] / two[count];
    } else {
      one[count] = burst(threads, reps, step1, step2);
    }
    count++;
    if (count >= 5 && now_ms() - start >= min_ms) break;
    if ((size_t)count >= cap) break;
  }
  activate(0);
  double check = 0; // so that no loop is optimized away
  for (size_t i = 0; i < n; i += 4099) check += out[i];
  if (threads == 0) {
    printf("{%s,\"threads\":\"ab\",\"reps\":%zu,\"one\":[", head, reps);
    for (int i = 0; i < count; i++) printf("%s%.6g", i ? "," : "", one[i]);
    printf("],\"two\":[");
    for (int i = 0; i < count; i++) printf("%s%.6g", i ? "," : "", two[i]);
    qsort(ratio, count, sizeof(double), cmp_double);
    printf("],\"ratio\":%.4f,\"q1\":%.4f,\"q3\":%.4f", ratio[count / 2], ratio[(count - 1) / 4],
           ratio[(3 * (count - 1) + 3) / 4]);
  } else {
    printf("{%s,\"threads\":%d,\"reps\":%zu,\"samples\":[", head, threads, reps);
    for (int i = 0; i < count; i++) printf("%s%.6g", i ? "," : "", one[i]);
    printf("]");
  }
  printf(",\"check\":%.6g}\n", check);
  fflush(stdout);
  free(one);
  free(two);
  free(ratio);
}
#endif
