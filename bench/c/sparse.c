// Lazy sparse Adam on an embedding table in plain C, for the benchmark's "C lazy" contender: the
// way a careful C programmer writes it. Per update: sort the ids (LSD radix sort on the row id,
// stable, so rows come out in ascending order, which is prefetch-friendly), coalesce duplicates by
// summing their gradient rows into a scratch row (no hash map), then one Adam update per distinct
// row, with the bias correction from the table's own update count (SparseAdam/LazyAdam semantics,
// eps placed as in dense Adam). Compiled with `gcc -O3 -msse4.2 -fno-math-errno`.
//
// usage: sparse <rows> <dim> <k> <ids.bin> <batches> <minMs>
//   ids.bin holds batches * k int32 ids (little-endian), the same ids the JavaScript contenders use.
// Prints one JSON line: {"rows":..., "dim":..., "k":..., "reps":..., "samples":[ms per update, ...]}.
#define _POSIX_C_SOURCE 200112L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef float f32;

#include "bench_clock.h"

static void *xalloc(size_t bytes) {
  void *ptr = NULL;
  if (posix_memalign(&ptr, 64, bytes ? bytes : 16) != 0) {
    fprintf(stderr, "sparse: out of memory for %zu bytes\n", bytes);
    exit(2);
  }
  return ptr;
}

typedef struct {
  size_t rows, dim, k;
  f32 *w, *m, *v, *acc;
  uint64_t *keys, *tmp; // (id << 32) | position in the batch
  long t;
} Table;

// Stable LSD radix sort of keys by their high 32 bits (the row id), 8 bits per pass, as many
// passes as the row count needs.
static void sort_ids(Table *tb) {
  size_t k = tb->k;
  uint64_t *a = tb->keys, *b = tb->tmp;
  int bits = 0;
  while (((size_t)1 << bits) < tb->rows) bits++;
  for (int shift = 0; shift < bits; shift += 8) {
    size_t count[257] = {0};
    for (size_t i = 0; i < k; i++) count[((a[i] >> 32) >> shift & 255) + 1]++;
    for (int d = 0; d < 256; d++) count[d + 1] += count[d];
    for (size_t i = 0; i < k; i++) b[count[(a[i] >> 32) >> shift & 255]++] = a[i];
    uint64_t *t = a; a = b; b = t;
  }
  tb->keys = a;
  tb->tmp = b;
}

static void update(Table *tb, const int32_t *ids, const f32 *grads) {
  const size_t k = tb->k, dim = tb->dim;
  const double lr = 1e-3, b1 = 0.9, b2 = 0.999;
  tb->t++;
  const f32 ss = (f32)(lr / (1 - pow(b1, tb->t))), ib = (f32)(1 / sqrt(1 - pow(b2, tb->t)));
  const f32 fb1 = (f32)b1, fb1c = (f32)(1 - b1), fb2 = (f32)b2, fb2c = (f32)(1 - b2), eps = 1e-8f;
  for (size_t i = 0; i < k; i++) tb->keys[i] = ((uint64_t)(uint32_t)ids[i] << 32) | i;
  sort_ids(tb);
  f32 *restrict acc = tb->acc;
  for (size_t i = 0; i < k;) {
    const uint32_t row = (uint32_t)(tb->keys[i] >> 32);
    memcpy(acc, grads + (tb->keys[i] & 0xffffffffu) * dim, dim * sizeof(f32));
    size_t j = i + 1;
    for (; j < k && (uint32_t)(tb->keys[j] >> 32) == row; j++) {
      const f32 *restrict g = grads + (tb->keys[j] & 0xffffffffu) * dim;
      for (size_t d = 0; d < dim; d++) acc[d] += g[d];
    }
    f32 *restrict w = tb->w + (size_t)row * dim, *restrict m = tb->m + (size_t)row * dim, *restrict v = tb->v + (size_t)row * dim;
    for (size_t d = 0; d < dim; d++) {
      const f32 gd = acc[d];
      const f32 md = m[d] * fb1 + fb1c * gd;
      const f32 vd = v[d] * fb2 + (fb2c * gd) * gd;
      m[d] = md;
      v[d] = vd;
      w[d] = w[d] - ss * (md / (sqrtf(vd) * ib + eps));
    }
    i = j;
  }
}

int main(int argc, char **argv) {
  choose_clock();
  if (argc < 7) {
    fprintf(stderr, "usage: sparse <rows> <dim> <k> <ids.bin> <batches> <minMs>\n");
    return 1;
  }
  Table tb = {0};
  tb.rows = (size_t)atoll(argv[1]);
  tb.dim = (size_t)atoll(argv[2]);
  tb.k = (size_t)atoll(argv[3]);
  const size_t batches = (size_t)atoll(argv[5]);
  const double min_ms = atof(argv[6]);
  int32_t *ids = xalloc(batches * tb.k * sizeof(int32_t));
  FILE *f = fopen(argv[4], "rb");
  if (!f || fread(ids, sizeof(int32_t), batches * tb.k, f) != batches * tb.k) {
    fprintf(stderr, "sparse: cannot read %zu ids from %s\n", batches * tb.k, argv[4]);
    return 1;
  }
  fclose(f);
  for (size_t i = 0; i < batches * tb.k; i++) {
    if (ids[i] < 0 || (size_t)ids[i] >= tb.rows) { fprintf(stderr, "sparse: id %d out of range\n", ids[i]); return 1; }
  }
  const size_t cells = tb.rows * tb.dim;
  tb.w = xalloc(cells * sizeof(f32));
  tb.m = xalloc(cells * sizeof(f32));
  tb.v = xalloc(cells * sizeof(f32));
  tb.acc = xalloc(tb.dim * sizeof(f32));
  tb.keys = xalloc(tb.k * sizeof(uint64_t));
  tb.tmp = xalloc(tb.k * sizeof(uint64_t));
  uint64_t s = 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < cells; i++) {
    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
    tb.w[i] = (f32)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
  }
  memset(tb.m, 0, cells * sizeof(f32));
  memset(tb.v, 0, cells * sizeof(f32));
  f32 *grads = xalloc(tb.k * tb.dim * sizeof(f32));
  for (size_t i = 0; i < tb.k * tb.dim; i++) {
    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
    grads[i] = (f32)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0) * 1e-2f;
  }
  size_t batch = 0;
  // Warm-up and calibration: batch updates so that one sample takes about a millisecond.
  update(&tb, ids, grads);
  size_t reps = 1;
  for (;;) {
    double t0 = now_ms();
    for (size_t r = 0; r < reps; r++) { batch = (batch + 1) % batches; update(&tb, ids + batch * tb.k, grads); }
    double dt = now_ms() - t0;
    if (dt >= batch_ms / 4 || reps >= 4096) { reps = (size_t)ceil(batch_ms / (dt / reps > 1e-9 ? dt / reps : 1e-9)); break; }
    reps *= 4;
  }
  if (reps < 1) reps = 1;
  printf("{\"rows\":%zu,\"dim\":%zu,\"k\":%zu,\"reps\":%zu,\"samples\":[", tb.rows, tb.dim, tb.k, reps);
  double start = now_ms();
  int count = 0;
  for (;;) {
    double t0 = now_ms();
    for (size_t r = 0; r < reps; r++) { batch = (batch + 1) % batches; update(&tb, ids + batch * tb.k, grads); }
    double t1 = now_ms();
    printf("%s%.6g", count ? "," : "", (t1 - t0) / reps);
    count++;
    if (count >= 5 && t1 - start >= min_ms) break;
    if (count >= 100000) break;
  }
  double check = 0;
  for (size_t i = 0; i < cells; i += 4099) check += tb.w[i];
  printf("],\"check\":%.6g}\n", check);
  return 0;
}
