// Lazy sparse Adam on an embedding table in plain C, for the benchmark's C contenders: the ways a
// careful C programmer writes it, and the memory limit. Every method updates each distinct row of a
// batch once with the sum of its gradient rows (in batch order), with the bias correction from the
// table's own update count (SparseAdam/LazyAdam semantics, eps placed as in dense Adam), no gradient
// clamp or scale. Compiled with `gcc -O3 -msse4.2 -fno-math-errno`. Methods:
//   radix   sort the ids (LSD radix sort on the row id, stable, so rows come out in ascending order,
//           which is prefetch-friendly), coalesce duplicates by summing their gradient rows into a
//           scratch row, then one Adam update per distinct row.
//   direct  direct-mapped coalescing, no sort: a slot per table row (-1 when free, reset after each
//           update), so one pass over the ids finds each row's slot; a row seen once is updated
//           straight from its gradient row, a repeated one from a scratch row that sums its
//           gradients. Rows are updated in order of first appearance.
//   hybrid  direct's coalescing, then the distinct rows sorted ascending (radix sort of ~k rows
//           instead of k ids) before the updates, so memory is walked forward as radix's is.
//   prefetch direct's coalescing, then the updates in order of first appearance with each row's w, m
//           and v prefetched (__builtin_prefetch, every cache line) PF rows ahead: what a careful C
//           programmer adds when the rows miss the cache.
//   coalesce direct's coalescing alone (no row steps; the slots reset): the C side of the engine's
//           "coalesce" phase in bench/sparse-ab.js, not a whole update.
//   touch   the row-touch limit: the batch's distinct rows (deduplicated before timing) have their
//           w, m and v read and written back rotated (no arithmetic) and one gradient row read each:
//           the bytes any lazy update must move, with coalescing free; prefetched as `prefetch`'s
//           rows are (without it, prefetch's whole update was faster than the limit's loop on the
//           Zipf ids: AMD EPYC family 23, 2026-12-05).
//
// usage: sparse <rows> <dim> <k> <ids.bin> <batches> <minMs> [radix|direct|hybrid|prefetch|chains|coalesce|touch]
//   ids.bin holds batches * k int32 ids (little-endian), the same ids the JavaScript contenders use.
// Prints one JSON line: {"rows":..., "dim":..., "k":..., "reps":..., "samples":[ms per update, ...]}.
//
// The wasm limit of a whole update: this file compiled by clang to wasm32 SIMD (bench/lib/wasm-clang-sparse.js,
// `--target=wasm32 -O3 -msimd128 -mbulk-memory -nostdlib`) is the same methods' source with no libc:
// memset and memcpy are wasm's memory.fill and memory.copy, sqrt and sqrtf its f64.sqrt and f32.sqrt,
// pow is imported from JavaScript (env.pow, Math.pow), __builtin_prefetch compiles to nothing (wasm has
// no prefetch instruction), allocation is a bump from __heap_base, and main() is left out: its table
// and gradients come from sparse_new() (below), filled as main() fills them.
#ifdef __wasm__
#include <stddef.h>
#include <stdint.h>
#define EXPORT(name) __attribute__((export_name(#name)))
#define memset __builtin_memset
#define memcpy __builtin_memcpy
#define sqrt __builtin_sqrt
#define sqrtf __builtin_sqrtf
__attribute__((import_module("env"), import_name("pow"))) double js_pow(double, double);
#define pow js_pow

typedef float f32;

extern unsigned char __heap_base;
static uintptr_t heap_top;

// 64-byte aligned bytes from a bump pointer above __heap_base, the memory grown as needed (never freed).
static void *xalloc(size_t bytes) {
  if (!heap_top) heap_top = (uintptr_t)&__heap_base;
  const uintptr_t at = (heap_top + 63) & ~(uintptr_t)63;
  heap_top = at + (bytes ? bytes : 16);
  const uintptr_t have = (uintptr_t)__builtin_wasm_memory_size(0) << 16;
  if (heap_top > have && __builtin_wasm_memory_grow(0, (heap_top - have + 65535) >> 16) == (size_t)-1) __builtin_trap();
  return (void *)at;
}
#else
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
#endif

typedef struct {
  size_t rows, dim, k;
  f32 *w, *m, *v, *acc;
  uint64_t *keys, *tmp; // (id << 32) | position in the batch
  int32_t *slot;        // direct: slot of each table row in this update, -1 when free
  uint32_t *list;       // direct: the distinct rows in order of first appearance
  const f32 **src;      // direct: each distinct row's gradient (its one row, or its sum in acc)
  uint64_t *hash;       // chains: (row + 1) << 32 | the row's last position so far; 0 when free
  uint32_t *link;       // chains: the next position of the same row, or CHAIN_END
  uint32_t *first;      // chains: the position of each distinct row's first id
  long t;
} Table;

typedef struct {
  f32 ss, ib, b1, b1c, b2, b2c, eps;
} AdamScalars;

static AdamScalars next_scalars(Table *tb) {
  const double lr = 1e-3, b1 = 0.9, b2 = 0.999;
  tb->t++;
  AdamScalars a = {(f32)(lr / (1 - pow(b1, tb->t))), (f32)(1 / sqrt(1 - pow(b2, tb->t))), (f32)b1, (f32)(1 - b1),
                   (f32)b2, (f32)(1 - b2), 1e-8f};
  return a;
}

static inline void adam_row(const AdamScalars *a, f32 *restrict w, f32 *restrict m, f32 *restrict v,
                            const f32 *restrict g, size_t dim) {
  const f32 ss = a->ss, ib = a->ib, b1 = a->b1, b1c = a->b1c, b2 = a->b2, b2c = a->b2c, eps = a->eps;
  for (size_t d = 0; d < dim; d++) {
    const f32 gd = g[d];
    const f32 md = m[d] * b1 + b1c * gd;
    const f32 vd = v[d] * b2 + (b2c * gd) * gd;
    m[d] = md;
    v[d] = vd;
    w[d] = w[d] - ss * (md / (sqrtf(vd) * ib + eps));
  }
}

// Stable LSD radix sort of the first `k` keys by their high 32 bits (the row id), 8 bits per pass,
// as many passes as the row count needs.
static void sort_keys(Table *tb, size_t k) {
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

static void sort_ids(Table *tb) { sort_keys(tb, tb->k); }

static void update(Table *tb, const int32_t *ids, const f32 *grads) {
  const size_t k = tb->k, dim = tb->dim;
  const AdamScalars a = next_scalars(tb);
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
    const size_t off = (size_t)row * dim;
    adam_row(&a, tb->w + off, tb->m + off, tb->v + off, acc, dim);
    i = j;
  }
}

// Direct-mapped coalescing (a slot per table row, -1 when free): the distinct rows in `list` in
// first-appearance order, each row's gradient in `src` (the id's own when it appears once, else
// the sum of its gradients in `acc`). Returns the number of distinct rows; the caller frees the slots.
static inline size_t coalesce_direct(Table *tb, const int32_t *ids, const f32 *grads) {
  const size_t k = tb->k, dim = tb->dim;
  int32_t *restrict slot = tb->slot;
  uint32_t *restrict list = tb->list;
  const f32 **src = tb->src;
  size_t nd = 0;
  for (size_t i = 0; i < k; i++) {
    const uint32_t row = (uint32_t)ids[i];
    const f32 *restrict g = grads + i * dim;
    const int32_t s = slot[row];
    if (s < 0) {
      slot[row] = (int32_t)nd;
      list[nd] = row;
      src[nd++] = g;
    } else {
      f32 *restrict acc = tb->acc + (size_t)s * dim;
      if (src[s] != acc) { // the second gradient of this row: sum the first and this one
        const f32 *restrict f = src[s];
        for (size_t d = 0; d < dim; d++) acc[d] = f[d] + g[d];
        src[s] = acc;
      } else {
        for (size_t d = 0; d < dim; d++) acc[d] += g[d];
      }
    }
  }
  return nd;
}

#define PF 8

static inline void prefetch_row(const Table *tb, size_t row) {
  const size_t off = row * tb->dim, bytes = tb->dim * sizeof(f32);
  for (size_t c = 0; c < bytes; c += 64) {
    __builtin_prefetch((const char *)(tb->w + off) + c, 1);
    __builtin_prefetch((const char *)(tb->m + off) + c, 1);
    __builtin_prefetch((const char *)(tb->v + off) + c, 1);
  }
}

// The `nd` distinct rows in `list`, each stepped once from its gradient in `src`; with `pf` > 0
// each row's w, m and v are prefetched `pf` rows ahead; with `free_slots` each row's slot (direct's
// coalescing) is freed as its row is stepped. Both are constants where it is inlined: the loop of
// pf = 0 has no prefetch, the chains' loop no slot store.
static inline void step_listed(Table *tb, const AdamScalars *a, size_t nd, size_t pf, int free_slots) {
  const size_t dim = tb->dim;
  int32_t *restrict slot = tb->slot;
  const uint32_t *restrict list = tb->list;
  const f32 **src = tb->src;
  for (size_t j = 0; j < nd && j < pf; j++) prefetch_row(tb, list[j]);
  for (size_t j = 0; j < nd; j++) {
    if (pf && j + pf < nd) prefetch_row(tb, list[j + pf]);
    const size_t off = (size_t)list[j] * dim;
    adam_row(a, tb->w + off, tb->m + off, tb->v + off, src[j], dim);
    if (free_slots) slot[list[j]] = -1;
  }
}

// The rows of the direct-mapped coalescing, each stepped once (step_listed), prefetched `pf` rows ahead.
static inline void step_direct(Table *tb, const int32_t *ids, const f32 *grads, size_t pf) {
  const AdamScalars a = next_scalars(tb);
  step_listed(tb, &a, coalesce_direct(tb, ids, grads), pf, 1);
}

static void update_direct(Table *tb, const int32_t *ids, const f32 *grads) { step_direct(tb, ids, grads, 0); }

static void update_prefetch(Table *tb, const int32_t *ids, const f32 *grads) { step_direct(tb, ids, grads, PF); }

// Only the coalescing of `direct` (sums of duplicates, the distinct rows listed), then the slots
// freed: what the row steps of a lazy update start from.
static void update_coalesce(Table *tb, const int32_t *ids, const f32 *grads) {
  const size_t nd = coalesce_direct(tb, ids, grads);
  tb->t++;
  for (size_t j = 0; j < nd; j++) tb->slot[tb->list[j]] = -1;
}

#define CHAIN_END 0xffffffffu

// The engine's coalescing (assembly/embedding/coalesce.ts) in C: the distinct rows in `list` in
// first-appearance order, each one's gradient in `src` (its one row where it lies, or the sum of
// its rows, in batch order, in `acc`). Returns the number of distinct rows.
static inline size_t coalesce_chains(Table *tb, const int32_t *ids, const f32 *grads) {
  const size_t k = tb->k, dim = tb->dim;
  unsigned hbits = 1;
  while (((size_t)1 << hbits) < 2 * k) hbits++;
  uint64_t *restrict hash = tb->hash;
  uint32_t *restrict link = tb->link, *restrict first = tb->first, *restrict list = tb->list;
  memset(hash, 0, sizeof(uint64_t) << hbits);
  const uint32_t hmask = (1u << hbits) - 1, hshift = 32 - hbits;
  size_t nd = 0;
  for (uint32_t i = 0; i < k; i++) {
    const uint32_t row = (uint32_t)ids[i];
    const uint64_t tag = (uint64_t)(row + 1) << 32;
    uint32_t h = (row * 0x9e3779b1u) >> hshift;
    uint64_t e = hash[h];
    while (e != 0 && (e & 0xffffffff00000000ull) != tag) {
      h = (h + 1) & hmask;
      e = hash[h];
    }
    hash[h] = tag | i;
    if (e == 0) {
      list[nd] = row;
      first[nd++] = i;
    } else {
      link[(uint32_t)e] = i;
    }
    link[i] = CHAIN_END;
  }
  f32 *acc = tb->acc;
  for (size_t j = 0; j < nd; j++) {
    const f32 *restrict g0 = grads + (size_t)first[j] * dim;
    const uint32_t q = link[first[j]];
    if (q == CHAIN_END) {
      tb->src[j] = g0;
      continue;
    }
    f32 *restrict a = acc;
    const f32 *restrict g1 = grads + (size_t)q * dim;
    for (size_t d = 0; d < dim; d++) a[d] = g0[d] + g1[d];
    for (uint32_t r = link[q]; r != CHAIN_END; r = link[r]) {
      const f32 *restrict g = grads + (size_t)r * dim;
      for (size_t d = 0; d < dim; d++) a[d] += g[d];
    }
    tb->src[j] = acc;
    acc += dim;
  }
  return nd;
}

static void update_chains(Table *tb, const int32_t *ids, const f32 *grads) {
  const AdamScalars a = next_scalars(tb);
  step_listed(tb, &a, coalesce_chains(tb, ids, grads), PF, 0);
}

static void update_hybrid(Table *tb, const int32_t *ids, const f32 *grads) {
  const size_t k = tb->k, dim = tb->dim;
  const AdamScalars a = next_scalars(tb);
  int32_t *restrict slot = tb->slot;
  const f32 **src = tb->src;
  size_t nd = 0;
  for (size_t i = 0; i < k; i++) {
    const uint32_t row = (uint32_t)ids[i];
    const f32 *restrict g = grads + i * dim;
    const int32_t s = slot[row];
    if (s < 0) {
      slot[row] = (int32_t)nd;
      tb->keys[nd] = ((uint64_t)row << 32) | nd;
      src[nd++] = g;
    } else {
      f32 *restrict acc = tb->acc + (size_t)s * dim;
      if (src[s] != acc) {
        const f32 *restrict f = src[s];
        for (size_t d = 0; d < dim; d++) acc[d] = f[d] + g[d];
        src[s] = acc;
      } else {
        for (size_t d = 0; d < dim; d++) acc[d] += g[d];
      }
    }
  }
  sort_keys(tb, nd);
  for (size_t j = 0; j < nd; j++) {
    const uint32_t row = (uint32_t)(tb->keys[j] >> 32);
    const size_t off = (size_t)row * dim;
    adam_row(&a, tb->w + off, tb->m + off, tb->v + off, src[tb->keys[j] & 0xffffffffu], dim);
    slot[row] = -1;
  }
}

// The row-touch limit: `rows`/`first` list a batch's distinct rows and the position of each one's
// first gradient row (computed before timing).
static void touch(Table *tb, const uint32_t *rows, const uint32_t *first, size_t nd, const f32 *grads) {
  const size_t dim = tb->dim;
  tb->t++;
  for (size_t j = 0; j < nd && j < PF; j++) prefetch_row(tb, rows[j]);
  for (size_t j = 0; j < nd; j++) {
    if (j + PF < nd) prefetch_row(tb, rows[j + PF]);
    const size_t off = (size_t)rows[j] * dim;
    f32 *restrict w = tb->w + off, *restrict m = tb->m + off, *restrict v = tb->v + off;
    const f32 *restrict g = grads + (size_t)first[j] * dim;
    for (size_t d = 0; d < dim; d++) {
      const f32 wd = w[d], md = m[d];
      w[d] = g[d];
      m[d] = wd;
      v[d] = md;
    }
  }
}

// The bench's table: w uniform in [-1, 1) from a xorshift stream, m and v zero. Returns the stream's
// state, from which fill_grads draws the gradients.
static uint64_t fill_table(Table *tb) {
  const size_t cells = tb->rows * tb->dim;
  uint64_t s = 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < cells; i++) {
    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
    tb->w[i] = (f32)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
  }
  memset(tb->m, 0, cells * sizeof(f32));
  memset(tb->v, 0, cells * sizeof(f32));
  return s;
}

// The bench's gradients (one batch's k * dim, used for every update): uniform in [-0.01, 0.01), the
// stream continued from fill_table's state `s`.
static void fill_grads(f32 *grads, size_t n, uint64_t s) {
  for (size_t i = 0; i < n; i++) {
    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
    grads[i] = (f32)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0) * 1e-2f;
  }
}

#ifdef __wasm__
// The wasm build's entry points (bench/lib/wasm-clang-sparse.js): memory from the bump allocator, a
// table allocated as main() allocates it (the row-touch arrays aside) and filled by fill_table, and
// `grads` (k * dim floats from sparse_alloc, or 0 for none) filled by fill_grads, as main() fills them.
EXPORT(sparse_alloc) void *sparse_alloc(size_t bytes) { return xalloc(bytes); }

EXPORT(sparse_new) Table *sparse_new(size_t rows, size_t dim, size_t k, f32 *grads) {
  Table *tb = xalloc(sizeof(Table));
  memset(tb, 0, sizeof(Table));
  tb->rows = rows;
  tb->dim = dim;
  tb->k = k;
  const size_t cells = rows * dim;
  tb->w = xalloc(cells * sizeof(f32));
  tb->m = xalloc(cells * sizeof(f32));
  tb->v = xalloc(cells * sizeof(f32));
  tb->acc = xalloc(k * dim * sizeof(f32));
  tb->slot = xalloc(rows * sizeof(int32_t));
  for (size_t r = 0; r < rows; r++) tb->slot[r] = -1;
  tb->list = xalloc(k * sizeof(uint32_t));
  tb->src = xalloc(k * sizeof(f32 *));
  size_t h = 2;
  while (h < 2 * k) h *= 2;
  tb->hash = xalloc(h * sizeof(uint64_t));
  tb->link = xalloc(k * sizeof(uint32_t));
  tb->first = xalloc(k * sizeof(uint32_t));
  tb->keys = xalloc(k * sizeof(uint64_t));
  tb->tmp = xalloc(k * sizeof(uint64_t));
  const uint64_t s = fill_table(tb);
  if (grads) fill_grads(grads, k * dim, s);
  return tb;
}

EXPORT(sparse_w) f32 *sparse_w(Table *tb) { return tb->w; }
EXPORT(sparse_m) f32 *sparse_m(Table *tb) { return tb->m; }
EXPORT(sparse_v) f32 *sparse_v(Table *tb) { return tb->v; }
EXPORT(sparse_chains) void sparse_chains(Table *tb, const int32_t *ids, const f32 *grads) { update_chains(tb, ids, grads); }
EXPORT(sparse_prefetch) void sparse_prefetch(Table *tb, const int32_t *ids, const f32 *grads) { update_prefetch(tb, ids, grads); }
#else
int main(int argc, char **argv) {
  choose_clock();
  if (argc < 7) {
    fprintf(stderr, "usage: sparse <rows> <dim> <k> <ids.bin> <batches> <minMs> [radix|direct|hybrid|prefetch|chains|coalesce|touch]\n");
    return 1;
  }
  const char *method = argc > 7 ? argv[7] : "radix";
  const int m_radix = !strcmp(method, "radix"), m_direct = !strcmp(method, "direct"),
            m_hybrid = !strcmp(method, "hybrid"), m_touch = !strcmp(method, "touch"),
            m_prefetch = !strcmp(method, "prefetch"), m_coalesce = !strcmp(method, "coalesce"), m_chains = !strcmp(method, "chains");
  if (!m_radix && !m_direct && !m_hybrid && !m_touch && !m_prefetch && !m_coalesce && !m_chains) {
    fprintf(stderr, "sparse: unknown method %s (radix, direct, hybrid, prefetch, chains, coalesce or touch)\n", method);
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
  tb.acc = xalloc(tb.k * tb.dim * sizeof(f32));
  tb.slot = xalloc(tb.rows * sizeof(int32_t));
  for (size_t r = 0; r < tb.rows; r++) tb.slot[r] = -1;
  tb.list = xalloc(tb.k * sizeof(uint32_t));
  tb.src = xalloc(tb.k * sizeof(f32 *));
  // touch: each batch's distinct rows and their first gradient rows, found before timing.
  uint32_t *trows = xalloc(batches * tb.k * sizeof(uint32_t)), *tfirst = xalloc(batches * tb.k * sizeof(uint32_t));
  size_t *tcount = xalloc(batches * sizeof(size_t));
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
  {
    size_t h = 2;
    while (h < 2 * tb.k) h *= 2;
    tb.hash = xalloc(h * sizeof(uint64_t));
  }
  tb.link = xalloc(tb.k * sizeof(uint32_t));
  tb.first = xalloc(tb.k * sizeof(uint32_t));
  tb.keys = xalloc(tb.k * sizeof(uint64_t));
  tb.tmp = xalloc(tb.k * sizeof(uint64_t));
  const uint64_t s = fill_table(&tb);
  f32 *grads = xalloc(tb.k * tb.dim * sizeof(f32));
  fill_grads(grads, tb.k * tb.dim, s);
  size_t batch = 0;
#define UPDATE()                                                                                     \
  do {                                                                                               \
    batch = (batch + 1) % batches;                                                                   \
    if (m_direct) update_direct(&tb, ids + batch * tb.k, grads);                                     \
    else if (m_hybrid) update_hybrid(&tb, ids + batch * tb.k, grads);                                \
    else if (m_prefetch) update_prefetch(&tb, ids + batch * tb.k, grads);                            \
    else if (m_chains) update_chains(&tb, ids + batch * tb.k, grads);                                \
    else if (m_coalesce) update_coalesce(&tb, ids + batch * tb.k, grads);                            \
    else if (m_touch) touch(&tb, trows + batch * tb.k, tfirst + batch * tb.k, tcount[batch], grads); \
    else update(&tb, ids + batch * tb.k, grads);                                                     \
  } while (0)
  // Warm-up and calibration: batch updates so that one sample takes about a millisecond.
  UPDATE();
  size_t reps = 1;
  for (;;) {
    double t0 = now_ms();
    for (size_t r = 0; r < reps; r++) UPDATE();
    double dt = now_ms() - t0;
    if (dt >= batch_ms / 4 || reps >= 4096) { reps = (size_t)ceil(batch_ms / (dt / reps > 1e-9 ? dt / reps : 1e-9)); break; }
    reps *= 4;
  }
  if (reps < 1) reps = 1;
  printf("{\"method\":\"%s\",\"rows\":%zu,\"dim\":%zu,\"k\":%zu,\"reps\":%zu,\"samples\":[", method, tb.rows, tb.dim, tb.k, reps);
  double start = now_ms();
  int count = 0;
  for (;;) {
    double t0 = now_ms();
    for (size_t r = 0; r < reps; r++) UPDATE();
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
#endif
