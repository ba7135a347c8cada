// The lean tables' row loops in plain C, the yardstick of issue 18's speed targets (bench/groups/lean.js,
// docs/lean-tables.md): what the best known way does with the same rows on this CPU. Each method
// updates the distinct rows of an update, given as input already coalesced (the rows in order of
// first appearance, each with its summed gradient row, front to back), so the row loops alone are
// compared, as the engine's row phase (bench/lean-ab.js --phases: update minus coalescing):
//   adam32   PyTorch's Adam on the touched rows (lazy: SparseAdam's semantics, eps placed as in dense
//            Adam), w, m and v float32 in three tables (768 B a row at dim 64);
//   adam32r  the same with each row's w, m and v in one 768-byte record (one page walk a row);
//   adam8    Adam with bf16 weights and int8 state in the engine's format (a 264-byte record: dim bf16
//            weights, dim codes of m, dim codes of v, m's and v's float32 absmax): decode (map[code] *
//            absmax), Adam in float32 (the same operations in the same order as the engine), the new
//            absmax (max |x|), the codes of x / absmax (the nearest entry of bitsandbytes' signed or
//            unsigned dynamic map, ties to the entry nearer zero), the weights rounded to bf16
//            stochastically with the engine's counter-based bits (MurmurHash3's fmix32 of seed, step,
//            row and element). The encoder is this file's own: a direct table on |x|'s float bits
//            (exponent and top fraction bits; Cannizzo's "direct" search, which bitsandbytes' CPU
//            quantizer uses on a linear index) giving the nearest entry below the bucket's first
//            float, then one comparison with the next midpoint; `adam8b` encodes by a branch-free
//            binary search over the 128 (signed: magnitudes) or 255 midpoints instead;
//   adagrad  row-wise Adagrad (FBGEMM's EXACT_ROWWISE_ADAGRAD without decay): s_r += mean_d(g^2),
//            w -= lr / (sqrt(s_r) + eps) * g, a 260-byte record (dim float32 weights, s_r); rows four at a
//            time (their sums side by side), as the engine's SIMD build steps them.
// Natively (gcc -O3 -msse4.2 -fno-math-errno) each row's lines are prefetched PF rows ahead; in wasm
// (clang --target=wasm32 -O3 -msimd128, no prefetch instruction) every block of 16 rows is touched
// (one load a cache line) before it is updated, as the engine's row loops do, so its misses are in
// flight together. The maps (256 float32 each) come from the caller: the engine's tables
// (src/embedding/dynamic-map.ts), so the codes mean the same values.
//
// Native usage: lean <rows> <dim> <k> <ids.bin> <maps.bin> <batches> <minMs> <method>
//   ids.bin: batches * k int32 ids; maps.bin: the signed then the unsigned map (2 x 256 float32).
//   Prints one JSON line: {"method":..., "rows":..., "distinct":..., "reps":..., "samples":[ms per update]}.
// Check mode (tests): lean check <in.bin> <out.bin>: one adam8 update of the records in in.bin
// (header: see check_main), the records written to out.bin.
#include "lean-rows.h" // the row loops (freestanding: the wasm build is this file without main)

#ifndef __wasm__
// ---------------------------------------------------------------------------------------------
// The native program: timing and the check mode.
#include <stdio.h>
#include <stdlib.h>
#include "bench_clock.h"

static void *xalloc(size_t bytes) {
  void *ptr = NULL;
  if (posix_memalign(&ptr, 64, bytes ? bytes : 16) != 0) {
    fprintf(stderr, "lean: out of memory for %zu bytes\n", bytes);
    exit(2);
  }
  return ptr;
}

static void *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) { fprintf(stderr, "lean: cannot open %s\n", path); exit(1); }
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  void *p = xalloc(*len);
  if (fread(p, 1, *len, f) != *len) { fprintf(stderr, "lean: cannot read %s\n", path); exit(1); }
  fclose(f);
  return p;
}

static const char *METHODS[] = {"adam32", "adam32r", "adam8", "adam8b", "adagrad"};

// in.bin: u32 rows, dim, n, seed_lo, seed_hi, t, row0, method (0 adam8, 1 adam32, 2 adam32r, 3 adagrad); AdamS
// (7 f32; adagrad: lr in ss, eps in eps); the signed and unsigned maps (512 f32); n u32 row ids; n * dim f32
// gradients; rows records: adam8 4 dim + 8 bytes (as in adam8_rows), adam32 and adam32r dim f32 w, m, v,
// adagrad dim f32 w and s_r. out.bin: the records after one update (adam8: adam8b must give the same bytes).
static int check_main(const char *in, const char *out) {
  size_t len;
  const u8 *p = read_file(in, &len);
  u32 h[8];
  if (len < sizeof h) { fprintf(stderr, "lean check: %s is too short\n", in); return 1; }
  memcpy(h, p, sizeof h);
  const u32 rows = h[0], dim = h[1], n = h[2], method = h[7];
  AdamS a;
  memcpy(&a, p + sizeof h, sizeof a);
  const size_t rb = method == 0 ? (size_t)dim * 4 + 8 : method == 3 ? (size_t)(dim + 1) * 4 : (size_t)dim * 12;
  const size_t at = sizeof h + sizeof a;
  const size_t need = at + 2048 + (size_t)n * 4 + (size_t)n * dim * 4 + (size_t)rows * rb;
  if (method > 3 || len != need || dim > MAXD) { fprintf(stderr, "lean check: %s has %zu bytes, expected %zu\n", in, len, need); return 1; }
  Maps *mp = xalloc(sizeof(Maps));
  if (!lean_maps(mp, (const f32 *)(p + at), (const f32 *)(p + at + 1024))) {
    fprintf(stderr, "lean check: a bucket holds two midpoints\n");
    return 1;
  }
  u32 *ids = xalloc((size_t)n * 4);
  memcpy(ids, p + at + 2048, (size_t)n * 4);
  f32 *g = xalloc((size_t)n * dim * 4);
  memcpy(g, p + at + 2048 + (size_t)n * 4, (size_t)n * dim * 4);
  u8 *recs = xalloc((size_t)rows * rb), *recs2 = xalloc((size_t)rows * rb);
  memcpy(recs, p + at + 2048 + (size_t)n * 4 + (size_t)n * dim * 4, (size_t)rows * rb);
  memcpy(recs2, recs, (size_t)rows * rb);
  if (method == 0) {
    const u32 key = lean_step_key(h[3], h[4], h[5]);
    adam8_rows(recs, ids, g, n, dim, &a, key, h[6], mp);
    adam8b_rows(recs2, ids, g, n, dim, &a, key, h[6], mp);
    if (memcmp(recs, recs2, (size_t)rows * rb) != 0) { fprintf(stderr, "lean check: adam8 and adam8b differ\n"); return 1; }
  } else if (method == 1) {
    f32 *w = xalloc((size_t)rows * dim * 4), *m = xalloc((size_t)rows * dim * 4), *v = xalloc((size_t)rows * dim * 4);
    const f32 *r32 = (const f32 *)recs;
    for (size_t r = 0; r < rows; r++)
      for (size_t d = 0; d < dim; d++) {
        w[r * dim + d] = r32[r * dim * 3 + d]; m[r * dim + d] = r32[r * dim * 3 + dim + d]; v[r * dim + d] = r32[r * dim * 3 + 2 * dim + d];
      }
    adam32_rows(w, m, v, ids, g, n, dim, &a);
    f32 *o32 = (f32 *)recs;
    for (size_t r = 0; r < rows; r++)
      for (size_t d = 0; d < dim; d++) {
        o32[r * dim * 3 + d] = w[r * dim + d]; o32[r * dim * 3 + dim + d] = m[r * dim + d]; o32[r * dim * 3 + 2 * dim + d] = v[r * dim + d];
      }
    adam32r_rows((f32 *)recs2, ids, g, n, dim, &a);
    if (memcmp(recs, recs2, (size_t)rows * rb) != 0) { fprintf(stderr, "lean check: adam32 and adam32r differ\n"); return 1; }
  } else if (method == 2) {
    adam32r_rows((f32 *)recs, ids, g, n, dim, &a);
  } else {
    adagrad_rows((f32 *)recs, ids, g, n, dim, a.ss, a.eps);
  }
  FILE *f = fopen(out, "wb");
  if (!f || fwrite(recs, 1, (size_t)rows * rb, f) != (size_t)rows * rb) { fprintf(stderr, "lean check: cannot write %s\n", out); return 1; }
  fclose(f);
  return 0;
}

int main(int argc, char **argv) {
  choose_clock();
  if (argc == 4 && !strcmp(argv[1], "check")) return check_main(argv[2], argv[3]);
  if (argc < 9) {
    fprintf(stderr, "usage: lean <rows> <dim> <k> <ids.bin> <maps.bin> <batches> <minMs> <method> | lean check <in.bin> <out.bin>\n");
    return 1;
  }
  const char *method = argv[8];
  int mi = -1;
  for (int i = 0; i < 5; i++) if (!strcmp(method, METHODS[i])) mi = i;
  if (mi < 0) {
    fprintf(stderr, "lean: unknown method %s (adam32, adam32r, adam8, adam8b or adagrad)\n", method);
    return 1;
  }
  const size_t rows = (size_t)atoll(argv[1]), dim = (size_t)atoll(argv[2]), k = (size_t)atoll(argv[3]);
  const size_t batches = (size_t)atoll(argv[6]);
  const double min_ms = atof(argv[7]);
  if (dim == 0 || dim > MAXD) { fprintf(stderr, "lean: dim %zu is not in 1..%d\n", dim, MAXD); return 1; }
  size_t len;
  int32_t *ids = read_file(argv[4], &len);
  if (len != batches * k * 4) { fprintf(stderr, "lean: %s is not %zu ids\n", argv[4], batches * k); return 1; }
  const f32 *maps = read_file(argv[5], &len);
  if (len != 2048) { fprintf(stderr, "lean: %s is not 512 float32\n", argv[5]); return 1; }
  Maps *mp = xalloc(sizeof(Maps));
  if (!lean_maps(mp, maps, maps + 256)) { fprintf(stderr, "lean: a bucket holds two midpoints\n"); return 1; }
  for (size_t i = 0; i < batches * k; i++)
    if (ids[i] < 0 || (size_t)ids[i] >= rows) { fprintf(stderr, "lean: id %d out of range\n", ids[i]); return 1; }
  // The same gradient rows as sparse.c; each batch coalesced before timing (first appearance, sums in batch order).
  uint64_t s = 0x9E3779B97F4A7C15ull;
  f32 *grads = xalloc(k * dim * 4);
  for (size_t i = 0; i < k * dim; i++) {
    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
    grads[i] = (f32)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0) * 1e-2f;
  }
  int32_t *slot = xalloc(rows * 4);
  for (size_t r = 0; r < rows; r++) slot[r] = -1;
  u32 *urows = xalloc(batches * k * 4), *ucount = xalloc(batches * 4);
  f32 *ug = xalloc(batches * k * dim * 4);
  size_t total = 0;
  for (size_t b = 0; b < batches; b++) {
    u32 nd = 0;
    u32 *ur = urows + b * k;
    f32 *gb = ug + b * k * dim;
    for (size_t i = 0; i < k; i++) {
      const u32 r = (u32)ids[b * k + i];
      if (slot[r] < 0) {
        slot[r] = (int32_t)nd;
        ur[nd] = r;
        memcpy(gb + (size_t)nd * dim, grads + i * dim, dim * 4);
        nd++;
      } else {
        f32 *acc = gb + (size_t)slot[r] * dim;
        for (size_t d = 0; d < dim; d++) acc[d] += grads[i * dim + d];
      }
    }
    for (u32 j = 0; j < nd; j++) slot[ur[j]] = -1;
    ucount[b] = nd;
    total += nd;
  }
  // The tables, every page written before timing: random weights, zero state (int8: code 127 / 0, absmax 0).
  f32 *w = NULL, *m = NULL, *v = NULL, *rec32 = NULL;
  u8 *rec8 = NULL;
  if (mi == 0) {
    w = xalloc(rows * dim * 4); m = xalloc(rows * dim * 4); v = xalloc(rows * dim * 4);
    for (size_t i = 0; i < rows * dim; i++) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; w[i] = (f32)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0); }
    memset(m, 0, rows * dim * 4); memset(v, 0, rows * dim * 4);
  } else if (mi == 1) {
    rec32 = xalloc(rows * dim * 12);
    memset(rec32, 0, rows * dim * 12);
    for (size_t r = 0; r < rows; r++) for (size_t d = 0; d < dim; d++) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; rec32[r * dim * 3 + d] = (f32)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0); }
  } else if (mi == 4) {
    rec32 = xalloc(rows * (dim + 1) * 4);
    memset(rec32, 0, rows * (dim + 1) * 4);
    for (size_t r = 0; r < rows; r++) for (size_t d = 0; d < dim; d++) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; rec32[r * (dim + 1) + d] = (f32)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0); }
  } else {
    const size_t rb = dim * 4 + 8;
    rec8 = xalloc(rows * rb);
    memset(rec8, 0, rows * rb);
    for (size_t r = 0; r < rows; r++) memset(rec8 + r * rb + 2 * dim, 127, dim);
  }
  long t = 0;
  size_t batch = 0;
  AdamS a;
#define UPDATE()                                                                                           \
  do {                                                                                                     \
    batch = (batch + 1) % batches;                                                                         \
    t++;                                                                                                   \
    const u32 *ur = urows + batch * k, nd = ucount[batch];                                                 \
    const f32 *gb = ug + batch * k * dim;                                                                  \
    if (mi == 4) adagrad_rows(rec32, ur, gb, nd, (u32)dim, 1e-2f, 1e-8f);                                  \
    else {                                                                                                 \
      const double tt = (double)(t > 1000 ? 1000 + t % 1000 : t);                                          \
      a.ss = (f32)(1e-3 / (1 - pow(0.9, tt))); a.ib = (f32)(1 / sqrt(1 - pow(0.999, tt)));                  \
      a.b1 = 0.9f; a.b1c = (f32)(1 - 0.9); a.b2 = 0.999f; a.b2c = (f32)(1 - 0.999); a.eps = 1e-8f;          \
      if (mi == 0) adam32_rows(w, m, v, ur, gb, nd, (u32)dim, &a);                                         \
      else if (mi == 1) adam32r_rows(rec32, ur, gb, nd, (u32)dim, &a);                                     \
      else if (mi == 2) adam8_rows(rec8, ur, gb, nd, (u32)dim, &a, lean_step_key(1, 0, (u32)t), 0, mp);    \
      else adam8b_rows(rec8, ur, gb, nd, (u32)dim, &a, lean_step_key(1, 0, (u32)t), 0, mp);                \
    }                                                                                                      \
  } while (0)
  if (getenv("LEAN_ITERS")) { // a fixed number of updates and no timing (instruction counts: valgrind)
    const long iters = atol(getenv("LEAN_ITERS"));
    for (long i = 0; i < iters; i++) UPDATE();
    printf("{\"method\":\"%s\",\"updates\":%ld,\"distinct\":%.1f}\n", method, iters, (double)total / batches);
    return 0;
  }
  for (size_t i = 0; i < 2 * batches; i++) UPDATE();
  size_t reps = 1;
  for (;;) {
    double t0 = now_ms();
    for (size_t r = 0; r < reps; r++) UPDATE();
    double dt = now_ms() - t0;
    if (dt >= batch_ms / 4 || reps >= 4096) { reps = (size_t)ceil(batch_ms / (dt / reps > 1e-9 ? dt / reps : 1e-9)); break; }
    reps *= 4;
  }
  if (reps < 1) reps = 1;
  printf("{\"method\":\"%s\",\"rows\":%zu,\"dim\":%zu,\"k\":%zu,\"distinct\":%.1f,\"reps\":%zu,\"samples\":[", method, rows,
         dim, k, (double)total / batches, reps);
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
  printf("]}\n");
  return 0;
}
#endif
