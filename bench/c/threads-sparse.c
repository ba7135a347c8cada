// The threads-embedding group's native yardstick: bench/c/sparse.c's lazy Adam update (included
// below: its table, direct-mapped coalescing, row step and prefetch) on 1 thread and on 2 pthreads:
// the calling thread coalesces the batch once (a slot per row, as `direct`), then both threads step
// half of the distinct rows each (in order of first appearance, prefetching PF rows ahead as
// `prefetch` does, each freeing its rows' slots), with a spin barrier per update
// (bench/c/threads_pool.h). Also the row-touch limit (sparse.c's `touch`: the distinct rows, found
// before timing, read and written back with no arithmetic) split the same way. Compiled with
// `gcc -O3 -msse4.2 -fno-math-errno -pthread`.
//
// usage: threads-sparse <rows> <dim> <k> <ids.bin> <batches> <minMs> <prefetch|direct|touch> <1|2|ab>
//   ids.bin as sparse.c's. Prints one JSON line: {"method":..., "rows":..., "dim":..., "k":..., then
//   threads.c's fields: "threads", "reps", "samples" (1 or 2) or "one", "two", "ratio", "q1", "q3" (ab)}.
// Wall clock always.
#define main sparse_main
#include "sparse.c"
#undef main

static Table tb;
static const int32_t *ids_all;
static f32 *grads;
static size_t batches, batch;
static int method; // 0 direct, 1 prefetch, 2 touch
static uint32_t *trows, *tfirst;
static size_t *tcount;
// The update in flight: its scalars, its distinct rows and where the worker's half starts.
static AdamScalars cur;
static size_t nd_cur, mid_cur;

// Steps the distinct rows [from, to) of the coalescing, as step_direct's loop does (prefetching PF
// rows ahead within the range for `prefetch`), and frees their slots.
static void step_rows(size_t from, size_t to) {
  const size_t dim = tb.dim;
  const size_t pf = method == 1 ? PF : 0;
  for (size_t j = from; j < to && j < from + pf; j++) prefetch_row(&tb, tb.list[j]);
  for (size_t j = from; j < to; j++) {
    if (pf && j + pf < to) prefetch_row(&tb, tb.list[j + pf]);
    const size_t off = (size_t)tb.list[j] * dim;
    adam_row(&cur, tb.w + off, tb.m + off, tb.v + off, tb.src[j], dim);
    tb.slot[tb.list[j]] = -1;
  }
}

// sparse.c's touch() over the rows [from, to) of the batch's distinct rows.
static void touch_rows(size_t from, size_t to) {
  const size_t b = batch * tb.k;
  touch(&tb, trows + b + from, tfirst + b + from, to - from, grads);
}

static void worker_part(long t) {
  (void)t;
  if (method == 2) touch_rows(mid_cur, tcount[batch]);
  else step_rows(mid_cur, nd_cur);
}
#include "threads_pool.h"

// One update on 1 thread: the coalescing, then every row (direct and prefetch: sparse.c's
// update_direct and update_prefetch, the loop cut into one range).
static void step1(long t) {
  (void)t;
  batch = (batch + 1) % batches;
  if (method == 2) return touch_rows(0, tcount[batch]);
  cur = next_scalars(&tb);
  nd_cur = coalesce_direct(&tb, ids_all + batch * tb.k, grads);
  step_rows(0, nd_cur);
}

// One update on 2 threads: the coalescing on the calling thread, then half the rows each.
static void step2(long t) {
  batch = (batch + 1) % batches;
  if (method == 2) {
    mid_cur = tcount[batch] / 2;
  } else {
    cur = next_scalars(&tb);
    nd_cur = coalesce_direct(&tb, ids_all + batch * tb.k, grads);
    mid_cur = nd_cur / 2;
  }
  const long seq = pool_publish(t);
  if (method == 2) touch_rows(0, mid_cur);
  else step_rows(0, mid_cur);
  pool_wait(seq);
}

#ifndef THREADS_SPARSE_MAIN
#define THREADS_SPARSE_MAIN main
#endif
int THREADS_SPARSE_MAIN(int argc, char **argv) {
  choose_clock();
  use_cpu_clock = 0;
  batch_ms = 1.0;
  if (argc < 9) {
    fprintf(stderr, "usage: threads-sparse <rows> <dim> <k> <ids.bin> <batches> <minMs> <prefetch|direct|touch> <1|2|ab>\n");
    return 1;
  }
  const char *m = argv[7], *mode = argv[8];
  method = !strcmp(m, "direct") ? 0 : !strcmp(m, "prefetch") ? 1 : !strcmp(m, "touch") ? 2 : -1;
  if (method < 0) {
    fprintf(stderr, "threads-sparse: unknown method %s (prefetch, direct or touch)\n", m);
    return 1;
  }
  const int ab = !strcmp(mode, "ab"), fixed = atoi(mode);
  if (!ab && fixed != 1 && fixed != 2) {
    fprintf(stderr, "threads-sparse: the last argument is 1, 2 or ab, not %s\n", mode);
    return 1;
  }
  tb.rows = (size_t)atoll(argv[1]);
  tb.dim = (size_t)atoll(argv[2]);
  tb.k = (size_t)atoll(argv[3]);
  batches = (size_t)atoll(argv[5]);
  const double min_ms = atof(argv[6]);
  int32_t *ids = xalloc(batches * tb.k * sizeof(int32_t));
  FILE *f = fopen(argv[4], "rb");
  if (!f || fread(ids, sizeof(int32_t), batches * tb.k, f) != batches * tb.k) {
    fprintf(stderr, "threads-sparse: cannot read %zu ids from %s\n", batches * tb.k, argv[4]);
    return 1;
  }
  fclose(f);
  for (size_t i = 0; i < batches * tb.k; i++) {
    if (ids[i] < 0 || (size_t)ids[i] >= tb.rows) {
      fprintf(stderr, "threads-sparse: id %d out of range\n", ids[i]);
      return 1;
    }
  }
  ids_all = ids;
  // The table and its scratch as sparse.c's main makes them (same values).
  const size_t cells = tb.rows * tb.dim;
  tb.w = xalloc(cells * sizeof(f32));
  tb.m = xalloc(cells * sizeof(f32));
  tb.v = xalloc(cells * sizeof(f32));
  tb.acc = xalloc(tb.k * tb.dim * sizeof(f32));
  tb.slot = xalloc(tb.rows * sizeof(int32_t));
  for (size_t r = 0; r < tb.rows; r++) tb.slot[r] = -1;
  tb.list = xalloc(tb.k * sizeof(uint32_t));
  tb.src = xalloc(tb.k * sizeof(f32 *));
  trows = xalloc(batches * tb.k * sizeof(uint32_t));
  tfirst = xalloc(batches * tb.k * sizeof(uint32_t));
  tcount = xalloc(batches * sizeof(size_t));
  for (size_t b = 0; b < batches; b++) {
    size_t nd = 0;
    for (size_t i = 0; i < tb.k; i++) {
      const uint32_t row = (uint32_t)ids[b * tb.k + i];
      if (tb.slot[row] < 0) {
        tb.slot[row] = 0;
        trows[b * tb.k + nd] = row;
        tfirst[b * tb.k + nd++] = (uint32_t)i;
      }
    }
    for (size_t j = 0; j < nd; j++) tb.slot[trows[b * tb.k + j]] = -1;
    tcount[b] = nd;
  }
  uint64_t s = 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < cells; i++) {
    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
    tb.w[i] = (f32)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
  }
  memset(tb.m, 0, cells * sizeof(f32));
  memset(tb.v, 0, cells * sizeof(f32));
  grads = xalloc(tb.k * tb.dim * sizeof(f32));
  for (size_t i = 0; i < tb.k * tb.dim; i++) {
    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
    grads[i] = (f32)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0) * 1e-2f;
  }
  double distinct = 0;
  for (size_t b = 0; b < batches; b++) distinct += (double)tcount[b];
  pthread_t th;
  if (pthread_create(&th, NULL, worker, NULL) != 0) {
    fprintf(stderr, "threads-sparse: pthread_create failed\n");
    return 2;
  }
  char head[256];
  snprintf(head, sizeof head, "\"method\":\"%s\",\"rows\":%zu,\"dim\":%zu,\"k\":%zu,\"distinct\":%.1f", m, tb.rows,
           tb.dim, tb.k, distinct / batches);
  pool_measure(head, min_ms, ab ? 0 : fixed, step1, step2, tb.w, cells);
  pool_stop(th);
  return 0;
}
