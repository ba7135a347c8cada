// The row loops of bench/c/lean.c (see its header): types, the encoder's tables, the counter-based
// random bits, 128-bit vectors on both targets (SSE4.1 natively, wasm SIMD), and the methods' loops.
// Freestanding (no libc) so that clang can build it for wasm32 with -nostdlib.
#ifndef LEAN_ROWS_H
#define LEAN_ROWS_H
#include <stdint.h>
#include <stddef.h>

typedef float f32;
typedef uint32_t u32;
typedef uint16_t u16;
typedef uint8_t u8;

#ifdef __wasm__
#define EXPORT(name) __attribute__((export_name(#name)))
#define sqrtf __builtin_sqrtf
#else
#include <math.h>
#include <string.h>
#define EXPORT(name)
#endif

#define MAXD 1024 // the widest row the scratch rows hold

/** Adam's per-update scalars (float32, as the engine's hyper block holds them). */
typedef struct {
  f32 ss, ib, b1, b1c, b2, b2c, eps; // lr / (1 - b1^t), 1 / sqrt(1 - b2^t), b1, 1 - b1, b2, 1 - b2, eps
} AdamS;

// ---------------------------------------------------------------------------------------------
// The encoder's tables, built from the maps by lean_maps().
#define BSHIFT 16 // a bucket: |x|'s exponent and top 7 fraction bits
#define BLO (0x34000000u >> BSHIFT) // |x| below 2^-23 (under every midpoint of both maps) clamps here
#define BHI (0x3f800000u >> BSHIFT) // 1.0's bucket: the last
#define NB (BHI - BLO + 1)

typedef struct {
  f32 s[256], u[256];    // the signed and unsigned maps, ascending
  u32 ms[130], mu[257];  // midpoints' float bits (floor32 of the exact midpoint), then +inf: signed over
                         // its magnitudes 0, q1 .. q128 = 1.0; unsigned over its 256 entries
  u32 ds[NB], du[NB];    // direct tables, a word a bucket: (the nearest entry of its first float) << 16 | the
                         // low 16 bits of the one midpoint inside it (0xffff: none)
  u32 ok;                // 1 when every bucket holds at most one midpoint (else lean_maps failed)
} Maps;

static u32 bits_of(f32 x) { u32 b; __builtin_memcpy(&b, &x, 4); return b; }
static f32 f32_of(u32 b) { f32 x; __builtin_memcpy(&x, &b, 4); return x; }

/** floor32 of (a + b) / 2 for 0 <= a < b (exact in double): x > mid exactly when bits(x) > the result. */
static u32 mid_bits(f32 a, f32 b) {
  const double m = ((double)a + (double)b) / 2;
  f32 f = (f32)m;
  if ((double)f > m) f = f32_of(bits_of(f) - 1);
  return bits_of(f);
}

static u32 build_direct(u32 *d, const u32 *mids, u32 nmids) {
  u32 k = 0, ok = 1;
  for (u32 b = 0; b < NB; b++) {
    const u32 lo = (b + BLO) << BSHIFT, hi = lo + (1u << BSHIFT);
    while (k < nmids && mids[k] < lo) k++;
    u32 inside = 0;
    while (k + inside < nmids && mids[k + inside] < hi) inside++;
    // k midpoints lie below the bucket's first float: its nearest entry is k; past the one inside, k + 1.
    d[b] = k << 16 | (inside ? mids[k] & 0xffffu : 0xffffu);
    if (inside > 1 || (b == 0 && k > 0)) ok = 0;
  }
  return ok;
}

/** Fills `mp` from the signed and unsigned maps (256 float32 each, ascending); returns mp->ok. */
EXPORT(lean_maps) u32 lean_maps(Maps *mp, const f32 *sgn, const f32 *uns) {
  for (int i = 0; i < 256; i++) { mp->s[i] = sgn[i]; mp->u[i] = uns[i]; }
  for (int j = 0; j < 128; j++) mp->ms[j] = mid_bits(sgn[127 + j], sgn[128 + j]);
  mp->ms[128] = mp->ms[129] = 0x7f800000u;
  for (int j = 0; j < 255; j++) mp->mu[j] = mid_bits(uns[j], uns[j + 1]);
  mp->mu[255] = mp->mu[256] = 0x7f800000u;
  mp->ok = build_direct(mp->ds, mp->ms, 128) & build_direct(mp->du, mp->mu, 255);
  return mp->ok;
}

EXPORT(lean_maps_bytes) u32 lean_maps_bytes(void) { return (u32)sizeof(Maps); }

// ---------------------------------------------------------------------------------------------
// Counter-based random bits (the engine's: assembly/shared/lowp.ts).
static inline u32 fmix32(u32 h) {
  h ^= h >> 16; h *= 0x85ebca6bu; h ^= h >> 13; h *= 0xc2b2ae35u; h ^= h >> 16;
  return h;
}

EXPORT(lean_step_key) u32 lean_step_key(u32 seed_lo, u32 seed_hi, u32 t) {
  return fmix32(seed_lo ^ fmix32(t + seed_hi * 0x9e3779b9u));
}

// ---------------------------------------------------------------------------------------------
// Prefetching: natively PF rows ahead; in wasm a block of rows touched before it is updated.
#ifndef PF
#define PF 8
#endif
#define TB 16

static volatile u32 sink_;

static inline void pf_span(const void *p, size_t bytes) {
#ifdef __wasm__
  (void)p; (void)bytes;
#else
  for (size_t c = 0; c < bytes; c += 64) __builtin_prefetch((const char *)p + c, 1);
  __builtin_prefetch((const char *)p + bytes - 1, 1);
#endif
}

#ifdef __wasm__
static inline u32 touch_span(const u8 *p, size_t bytes) {
  u32 acc = 0;
  for (size_t c = 0; c < bytes; c += 64) acc ^= *(const volatile u32 *)(p + c);
  return acc ^ *(const volatile u32 *)(p + ((bytes - 4) & ~(size_t)3));
}
#endif

// ---------------------------------------------------------------------------------------------
// (a) fp32 Adam, three tables.
static inline void adam_row(const AdamS *a, f32 *restrict w, f32 *restrict m, f32 *restrict v, const f32 *restrict g,
                            u32 dim) {
  const f32 ss = a->ss, ib = a->ib, b1 = a->b1, b1c = a->b1c, b2 = a->b2, b2c = a->b2c, eps = a->eps;
  for (u32 d = 0; d < dim; d++) {
    const f32 gd = g[d];
    const f32 md = m[d] * b1 + b1c * gd;
    const f32 vd = v[d] * b2 + (b2c * gd) * gd;
    m[d] = md;
    v[d] = vd;
    w[d] = w[d] - ss * (md / (sqrtf(vd) * ib + eps));
  }
}

EXPORT(adam32_rows) void adam32_rows(f32 *w, f32 *m, f32 *v, const u32 *rows, const f32 *g, u32 n, u32 dim,
                                     const AdamS *a) {
  const size_t rb = (size_t)dim * 4;
#ifdef __wasm__
  u32 acc = 0;
#endif
  for (u32 j = 0; j < n; j++) {
#ifdef __wasm__
    if ((j & (TB - 1)) == 0)
      for (u32 q = j; q < j + TB && q < n; q++) {
        const size_t o = (size_t)rows[q] * dim;
        acc ^= touch_span((const u8 *)(w + o), rb) ^ touch_span((const u8 *)(m + o), rb) ^ touch_span((const u8 *)(v + o), rb);
      }
#else
    if (j == 0)
      for (u32 q = 0; q < PF && q < n; q++) {
        const size_t o = (size_t)rows[q] * dim;
        pf_span(w + o, rb); pf_span(m + o, rb); pf_span(v + o, rb);
      }
    if (j + PF < n) {
      const size_t o = (size_t)rows[j + PF] * dim;
      pf_span(w + o, rb); pf_span(m + o, rb); pf_span(v + o, rb);
    }
#endif
    const size_t o = (size_t)rows[j] * dim;
    adam_row(a, w + o, m + o, v + o, g + (size_t)j * dim, dim);
  }
#ifdef __wasm__
  sink_ = acc;
#endif
}

/** (a') fp32 Adam, each row's w, m, v in one record of 3 * dim float32. */
EXPORT(adam32r_rows) void adam32r_rows(f32 *rec, const u32 *rows, const f32 *g, u32 n, u32 dim, const AdamS *a) {
  const size_t rf = (size_t)dim * 3, rb = rf * 4;
#ifdef __wasm__
  u32 acc = 0;
#endif
  for (u32 j = 0; j < n; j++) {
#ifdef __wasm__
    if ((j & (TB - 1)) == 0)
      for (u32 q = j; q < j + TB && q < n; q++) acc ^= touch_span((const u8 *)(rec + rows[q] * rf), rb);
#else
    if (j == 0)
      for (u32 q = 0; q < PF && q < n; q++) pf_span(rec + rows[q] * rf, rb);
    if (j + PF < n) pf_span(rec + rows[j + PF] * rf, rb);
#endif
    f32 *r = rec + rows[j] * rf;
    adam_row(a, r, r + dim, r + 2 * dim, g + (size_t)j * dim, dim);
  }
#ifdef __wasm__
  sink_ = acc;
#endif
}

// ---------------------------------------------------------------------------------------------
// (c) row-wise Adagrad, records of dim float32 weights and s_r. Rows four at a time, as the engine's
// SIMD build steps them (assembly/optimizers/rowwise/lanes.ts rowwiseAdagradRows4): the four rows'
// sums side by side (each row's four partial sums in one vector), so that the rows' dependent
// chains (the sum, a square root, a division) overlap; the rest one at a time.
typedef f32 v4fa __attribute__((vector_size(16), aligned(4)));

static inline void adagrad_row(f32 *restrict w, const f32 *restrict gr, u32 dim, f32 inv, f32 lr, f32 eps) {
  // Four partial sums (vectorizes without -ffast-math: the order is fixed here, not by the compiler).
  f32 s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  u32 d = 0;
  for (; d + 4 <= dim; d += 4) {
    s0 += gr[d] * gr[d]; s1 += gr[d + 1] * gr[d + 1]; s2 += gr[d + 2] * gr[d + 2]; s3 += gr[d + 3] * gr[d + 3];
  }
  for (; d < dim; d++) s0 += gr[d] * gr[d];
  const f32 s = w[dim] + ((s0 + s1) + (s2 + s3)) * inv;
  w[dim] = s;
  const f32 mult = lr / (sqrtf(s) + eps);
  for (u32 e = 0; e < dim; e++) w[e] -= mult * gr[e];
}

EXPORT(adagrad_rows) void adagrad_rows(f32 *rec, const u32 *rows, const f32 *g, u32 n, u32 dim, f32 lr, f32 eps) {
  const size_t rf = (size_t)dim + 1, rb = rf * 4;
  const f32 inv = 1.0f / (f32)dim;
#ifdef __wasm__
  u32 acc = 0;
#endif
  const u32 n4 = (dim & 3) == 0 ? n & ~3u : 0;
  u32 j = 0;
  for (; j < n; j += j < n4 ? 4 : 1) {
    const u32 step = j < n4 ? 4 : 1;
#ifdef __wasm__
    if ((j & (TB - 1)) == 0)
      for (u32 q = j; q < j + TB && q < n; q++) acc ^= touch_span((const u8 *)(rec + rows[q] * rf), rb);
#else
    if (j == 0)
      for (u32 q = 0; q < PF && q < n; q++) pf_span(rec + rows[q] * rf, rb);
    for (u32 q = j + PF; q < j + PF + step && q < n; q++) pf_span(rec + rows[q] * rf, rb);
#endif
    if (step == 1) {
      adagrad_row(rec + rows[j] * rf, g + (size_t)j * dim, dim, inv, lr, eps);
      continue;
    }
    f32 *restrict w0 = rec + rows[j] * rf, *restrict w1 = rec + rows[j + 1] * rf;
    f32 *restrict w2 = rec + rows[j + 2] * rf, *restrict w3 = rec + rows[j + 3] * rf;
    const f32 *g0 = g + (size_t)j * dim, *g1 = g0 + dim, *g2 = g1 + dim, *g3 = g2 + dim;
    v4fa a0 = {0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0;
    for (u32 d = 0; d < dim; d += 4) {
      const v4fa x0 = *(const v4fa *)(g0 + d), x1 = *(const v4fa *)(g1 + d);
      const v4fa x2 = *(const v4fa *)(g2 + d), x3 = *(const v4fa *)(g3 + d);
      a0 += x0 * x0; a1 += x1 * x1; a2 += x2 * x2; a3 += x3 * x3;
    }
    f32 *W[4] = {w0, w1, w2, w3};
    const f32 *G[4] = {g0, g1, g2, g3};
    const v4fa A[4] = {a0, a1, a2, a3};
    f32 m[4];
    for (u32 k = 0; k < 4; k++) {
      const f32 s = W[k][dim] + ((A[k][0] + A[k][1]) + (A[k][2] + A[k][3])) * inv;
      W[k][dim] = s;
      m[k] = lr / (sqrtf(s) + eps);
    }
    for (u32 k = 0; k < 4; k++)
      for (u32 e = 0; e < dim; e++) W[k][e] -= m[k] * G[k][e];
  }
#ifdef __wasm__
  sink_ = acc;
#endif
}

// ---------------------------------------------------------------------------------------------
typedef u32 v4u __attribute__((vector_size(16), aligned(4)));
typedef f32 v4f __attribute__((vector_size(16), aligned(4)));
typedef int32_t v4i __attribute__((vector_size(16), aligned(4)));

static inline v4u vsplat(u32 x) { return (v4u){x, x, x, x}; }
/** Lane-wise min / max of unsigned lanes (written with masks: gcc and clang both vectorize them). */
static inline v4u vminu(v4u a, v4u b) { const v4u m = (v4u)(a < b); return (a & m) | (b & ~m); }
static inline v4u vmaxu(v4u a, v4u b) { const v4u m = (v4u)(a > b); return (a & m) | (b & ~m); }

/**
 * The codes of src[d] / absmax (absmax > 0) at `codes`: the nearest entry of the map whose
 * non-negative midpoints are `mids`, signed (sign and magnitude) or not. Direct (bsearch = 0): four
 * lanes at a time, a bucket word `dt[bucket]` per lane (one load each), the rest lane-wise. Binary
 * search (bsearch = 1, n midpoints searched, a power of two): element by element, branch-free.
 */
static inline void encode_row(u8 *restrict codes, const f32 *restrict src, f32 absmax, u32 dim, const u32 *dt,
                              const u32 *mids, u32 n, int sgn, int bsearch) {
  u32 d = 0;
  if (!bsearch) {
    const v4f va = {absmax, absmax, absmax, absmax};
    for (; d + 4 <= dim; d += 4) {
      const v4u x = (v4u)(*(const v4f *)(src + d) / va), a = x & vsplat(0x7fffffffu);
      const v4u b = vminu(vmaxu(a >> BSHIFT, vsplat(BLO)), vsplat(BHI)) - vsplat(BLO);
      const v4u e = {dt[b[0]], dt[b[1]], dt[b[2]], dt[b[3]]};
      v4u j = (e >> 16) - (v4u)((a & vsplat(0xffff)) > (e & vsplat(0xffff)));
      if (sgn) {
        const v4u neg = (v4u)((v4i)x < (v4i){0, 0, 0, 0});
        j = ((vsplat(127) - vminu(j, vsplat(127))) & neg) | ((vsplat(127) + j) & ~neg);
      }
      codes[d] = (u8)j[0]; codes[d + 1] = (u8)j[1]; codes[d + 2] = (u8)j[2]; codes[d + 3] = (u8)j[3];
    }
  }
  for (; d < dim; d++) {
    const u32 x = bits_of(src[d] / absmax), a = x & 0x7fffffffu;
    u32 j;
    if (bsearch) {
      j = 0;
      for (u32 step = n / 2; step; step >>= 1) j += step & (0u - (u32)(a > mids[j + step - 1]));
      j += a > mids[j];
    } else {
      const u32 b = a >> BSHIFT, e = dt[(b < BLO ? BLO : b > BHI ? BHI : b) - BLO];
      j = (e >> 16) + ((a & 0xffff) > (e & 0xffff));
    }
    if (sgn) {
      const u32 neg = 0u - (x >> 31), jn = j < 127 ? j : 127;
      codes[d] = (u8)(((127 - jn) & neg) | ((127 + j) & ~neg));
    } else {
      codes[d] = (u8)(j > 255 ? 255 : j);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 128-bit vectors on both targets: SSE4.1 intrinsics natively, wasm_simd128.h in wasm (the same
// operations as WebAssembly SIMD gives the engine: no gather, no FMA).
#ifdef __wasm__
#include <wasm_simd128.h>
typedef v128_t V;
#define VLD(p) wasm_v128_load(p)
#define VST(p, v) wasm_v128_store((p), (v))
#define VSPLAT(x) wasm_i32x4_splat((int32_t)(x))
#define VSPLATF(x) wasm_f32x4_splat(x)
#define VSET(a, b, c, d) wasm_i32x4_make((int32_t)(a), (int32_t)(b), (int32_t)(c), (int32_t)(d))
#define VSETF(a, b, c, d) wasm_f32x4_make(a, b, c, d)
#define VADDF wasm_f32x4_add
#define VSUBF wasm_f32x4_sub
#define VMULF wasm_f32x4_mul
#define VDIVF wasm_f32x4_div
#define VSQRTF wasm_f32x4_sqrt
#define VAND wasm_v128_and
#define VOR wasm_v128_or
#define VXOR wasm_v128_xor
#define VADD wasm_i32x4_add
#define VSUB wasm_i32x4_sub
#define VMUL wasm_i32x4_mul
#define VSHR(v, n) wasm_u32x4_shr((v), (n))
#define VSHL(v, n) wasm_i32x4_shl((v), (n))
#define VMINU wasm_u32x4_min
#define VMAXU wasm_u32x4_max
#define VGT wasm_i32x4_gt
#define VLT0(v) wasm_i32x4_lt((v), wasm_i32x4_splat(0))
#define VSEL(m, a, b) wasm_v128_bitselect((a), (b), (m)) // m ? a : b, bit by bit
#define VEXT(v, k) ((u32)wasm_i32x4_extract_lane((v), (k)))
#define VLO16(v) wasm_u32x4_extend_low_u16x8(v)
#define VHI16(v) wasm_u32x4_extend_high_u16x8(v)
#define VPACK32(a, b) wasm_u16x8_narrow_i32x4((a), (b))
#define VPACK16(a, b) wasm_u8x16_narrow_i16x8((a), (b))
#else
#include <smmintrin.h>
typedef __m128i V;
#define VLD(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define VST(p, v) _mm_storeu_si128((__m128i *)(void *)(p), (v))
#define VSPLAT(x) _mm_set1_epi32((int32_t)(x))
#define VSPLATF(x) _mm_castps_si128(_mm_set1_ps(x))
#define VSET(a, b, c, d) _mm_setr_epi32((int32_t)(a), (int32_t)(b), (int32_t)(c), (int32_t)(d))
#define VSETF(a, b, c, d) _mm_castps_si128(_mm_setr_ps(a, b, c, d))
#define VADDF(a, b) _mm_castps_si128(_mm_add_ps(_mm_castsi128_ps(a), _mm_castsi128_ps(b)))
#define VSUBF(a, b) _mm_castps_si128(_mm_sub_ps(_mm_castsi128_ps(a), _mm_castsi128_ps(b)))
#define VMULF(a, b) _mm_castps_si128(_mm_mul_ps(_mm_castsi128_ps(a), _mm_castsi128_ps(b)))
#define VDIVF(a, b) _mm_castps_si128(_mm_div_ps(_mm_castsi128_ps(a), _mm_castsi128_ps(b)))
#define VSQRTF(a) _mm_castps_si128(_mm_sqrt_ps(_mm_castsi128_ps(a)))
#define VAND _mm_and_si128
#define VOR _mm_or_si128
#define VXOR _mm_xor_si128
#define VADD _mm_add_epi32
#define VSUB _mm_sub_epi32
#define VMUL _mm_mullo_epi32
#define VSHR(v, n) _mm_srli_epi32((v), (n))
#define VSHL(v, n) _mm_slli_epi32((v), (n))
#define VMINU _mm_min_epu32
#define VMAXU _mm_max_epu32
#define VGT _mm_cmpgt_epi32
#define VLT0(v) _mm_srai_epi32((v), 31)
#define VSEL(m, a, b) _mm_blendv_epi8((b), (a), (m))
#define VEXT(v, k) ((u32)_mm_extract_epi32((v), (k)))
#define VLO16(v) _mm_cvtepu16_epi32(v)
#define VHI16(v) _mm_unpackhi_epi16((v), _mm_setzero_si128())
#define VPACK32(a, b) _mm_packus_epi32((a), (b))
#define VPACK16(a, b) _mm_packus_epi16((a), (b))
#endif

/** The codes of 16 values at `src` divided by `va`: the bucket words' four-lane loads side by side. */
static inline void encode16(u8 *codes, const f32 *src, V va, const u32 *dt, int sgn) {
  V x[4], e[4];
  u32 b[16];
  for (int k = 0; k < 4; k++) {
    x[k] = VDIVF(VLD(src + 4 * k), va);
    const V bk = VSUB(VMINU(VMAXU(VSHR(VAND(x[k], VSPLAT(0x7fffffff)), BSHIFT), VSPLAT(BLO)), VSPLAT(BHI)), VSPLAT(BLO));
    VST(b + 4 * k, bk); // through memory: a load from the store buffer per lane, cheaper than extracts
  }
  for (int k = 0; k < 4; k++) e[k] = VSET(dt[b[4 * k]], dt[b[4 * k + 1]], dt[b[4 * k + 2]], dt[b[4 * k + 3]]);
  V c[4];
  const V low = VSPLAT(0xffff);
  for (int k = 0; k < 4; k++) {
    V j = VSUB(VSHR(e[k], 16), VGT(VAND(x[k], low), VAND(e[k], low)));
    if (sgn) j = VSEL(VLT0(x[k]), VSUB(VSPLAT(127), VMINU(j, VSPLAT(127))), VADD(VSPLAT(127), j));
    c[k] = j;
  }
  VST(codes, VPACK16(VPACK32(c[0], c[1]), VPACK32(c[2], c[3])));
}

/**
 * One row of adam8 in 128-bit vectors (dim a multiple of 16): eight elements a step, as the engine's
 * fused rows go (decode, Adam, absmax, bf16 rounding), then the two encoders sixteen at a time.
 */
static inline void adam8_row_v(u8 *R, const f32 *gr, u32 dim, const AdamS *a, u32 rk, const Maps *mp, f32 *mf, f32 *vf) {
  u16 *W = (u16 *)R;
  const u8 *M = R + 2 * dim, *Vc = R + 3 * dim;
  f32 am, av;
  __builtin_memcpy(&am, R + 4 * dim, 4);
  __builtin_memcpy(&av, R + 4 * dim + 4, 4);
  const V vam = VSPLATF(am), vav = VSPLATF(av), lm = VSPLAT(am == 0 ? 0 : -1), lv = VSPLAT(av == 0 ? 0 : -1);
  const V b1 = VSPLATF(a->b1), b1c = VSPLATF(a->b1c), b2 = VSPLATF(a->b2), b2c = VSPLATF(a->b2c);
  const V ss = VSPLATF(a->ss), ib = VSPLATF(a->ib), eps = VSPLATF(a->eps), abs = VSPLAT(0x7fffffff);
  const V vrk = VSPLAT(rk), step = VSPLAT(4u * 0x85ebca77u);
  V ec = VMUL(VSET(1, 2, 3, 4), VSPLAT(0x85ebca77u));
  V xm = VSPLAT(0), xv = VSPLAT(0);
  const f32 *S = mp->s, *U = mp->u;
  for (u32 i = 0; i < dim; i += 8) {
    const u8 *cm = M + i, *cv = Vc + i;
    V ma = VSETF(S[cm[0]], S[cm[1]], S[cm[2]], S[cm[3]]), mb = VSETF(S[cm[4]], S[cm[5]], S[cm[6]], S[cm[7]]);
    V va = VSETF(U[cv[0]], U[cv[1]], U[cv[2]], U[cv[3]]), vb = VSETF(U[cv[4]], U[cv[5]], U[cv[6]], U[cv[7]]);
    ma = VAND(VMULF(ma, vam), lm); mb = VAND(VMULF(mb, vam), lm);
    va = VAND(VMULF(va, vav), lv); vb = VAND(VMULF(vb, vav), lv);
    const V w = VLD(W + i);
    const V pa = VSHL(VLO16(w), 16), pb = VSHL(VHI16(w), 16);
    const V ga = VLD(gr + i), gb = VLD(gr + i + 4);
    ma = VADDF(VMULF(ma, b1), VMULF(b1c, ga));
    mb = VADDF(VMULF(mb, b1), VMULF(b1c, gb));
    va = VADDF(VMULF(va, b2), VMULF(VMULF(b2c, ga), ga));
    vb = VADDF(VMULF(vb, b2), VMULF(VMULF(b2c, gb), gb));
    VST(mf + i, ma); VST(mf + i + 4, mb);
    VST(vf + i, va); VST(vf + i + 4, vb);
    xm = VMAXU(xm, VMAXU(VAND(ma, abs), VAND(mb, abs)));
    xv = VMAXU(xv, VMAXU(VAND(va, abs), VAND(vb, abs)));
    const V na = VSUBF(pa, VMULF(ss, VDIVF(ma, VADDF(VMULF(VSQRTF(va), ib), eps))));
    const V nb = VSUBF(pb, VMULF(ss, VDIVF(mb, VADDF(VMULF(VSQRTF(vb), ib), eps))));
    V h = VXOR(vrk, ec);
    h = VXOR(h, VSHR(h, 16)); h = VMUL(h, VSPLAT(0x85ebca6bu));
    h = VXOR(h, VSHR(h, 13)); h = VMUL(h, VSPLAT(0xc2b2ae35u));
    h = VXOR(h, VSHR(h, 16)); // 8 x 16 bits in element order
    ec = VADD(ec, step);
    const V lo = VSHR(VADD(na, VLO16(h)), 16), hi = VSHR(VADD(nb, VHI16(h)), 16);
    VST(W + i, VPACK32(lo, hi));
  }
  const u32 nm = VEXT(xm, 0) > VEXT(xm, 1) ? VEXT(xm, 0) : VEXT(xm, 1), nm2 = VEXT(xm, 2) > VEXT(xm, 3) ? VEXT(xm, 2) : VEXT(xm, 3);
  const u32 nv = VEXT(xv, 0) > VEXT(xv, 1) ? VEXT(xv, 0) : VEXT(xv, 1), nv2 = VEXT(xv, 2) > VEXT(xv, 3) ? VEXT(xv, 2) : VEXT(xv, 3);
  const f32 fm = f32_of(nm > nm2 ? nm : nm2), fv = f32_of(nv > nv2 ? nv : nv2);
  __builtin_memcpy(R + 4 * dim, &fm, 4);
  __builtin_memcpy(R + 4 * dim + 4, &fv, 4);
  u8 *Mo = R + 2 * dim, *Vo = R + 3 * dim;
  if (fm == 0) for (u32 d = 0; d < dim; d++) Mo[d] = 127;
  else for (u32 i = 0; i < dim; i += 16) encode16(Mo + i, mf + i, VSPLATF(fm), mp->ds, 1);
  if (fv == 0) for (u32 d = 0; d < dim; d++) Vo[d] = 0;
  else for (u32 i = 0; i < dim; i += 16) encode16(Vo + i, vf + i, VSPLATF(fv), mp->du, 0);
}

// (b) bf16 weights + int8 Adam state, the engine's record: [dim bf16 w][dim u8 m][dim u8 v][f32 am][f32 av].
static inline void adam8_rows_(u8 *recs, const u32 *rows, const f32 *g, u32 n, u32 dim, const AdamS *a, u32 key,
                               u32 row0, const Maps *mp, int bsearch) {
  const size_t rb = (size_t)dim * 4 + 8;
  const f32 ss = a->ss, ib = a->ib, b1 = a->b1, b1c = a->b1c, b2 = a->b2, b2c = a->b2c, eps = a->eps;
  f32 mf[MAXD], vf[MAXD], nw[MAXD];
#ifdef __wasm__
  u32 acc = 0;
#endif
  for (u32 j = 0; j < n; j++) {
#ifdef __wasm__
    if ((j & (TB - 1)) == 0)
      for (u32 q = j; q < j + TB && q < n; q++) acc ^= touch_span(recs + rows[q] * rb, rb);
#else
    if (j == 0)
      for (u32 q = 0; q < PF && q < n; q++) pf_span(recs + rows[q] * rb, rb);
    if (j + PF < n) pf_span(recs + rows[j + PF] * rb, rb);
#endif
    const u32 r = rows[j];
    u8 *R = recs + r * rb;
    if (!bsearch && (dim & 15) == 0) {
      adam8_row_v(R, g + (size_t)j * dim, dim, a, fmix32(key + (r + row0) * 0x9e3779b9u), mp, mf, vf);
      continue;
    }
    u16 *restrict W = (u16 *)R;
    u8 *restrict M = R + 2 * dim, *restrict V = R + 3 * dim;
    f32 am, av;
    __builtin_memcpy(&am, R + 4 * dim, 4);
    __builtin_memcpy(&av, R + 4 * dim + 4, 4);
    const f32 *restrict gr = g + (size_t)j * dim;
    // Decode (a block whose absmax is 0 decodes to +0).
    if (am == 0) for (u32 d = 0; d < dim; d++) mf[d] = 0;
    else for (u32 d = 0; d < dim; d++) mf[d] = mp->s[M[d]] * am;
    if (av == 0) for (u32 d = 0; d < dim; d++) vf[d] = 0;
    else for (u32 d = 0; d < dim; d++) vf[d] = mp->u[V[d]] * av;
    // Adam, the new absmax of m and v (an integer max of |x|'s bits), the new weights.
    u32 xm = 0, xv = 0;
    for (u32 d = 0; d < dim; d++) {
      const f32 gd = gr[d];
      const f32 md = mf[d] * b1 + b1c * gd;
      const f32 vd = vf[d] * b2 + (b2c * gd) * gd;
      mf[d] = md;
      vf[d] = vd;
      const u32 bm = bits_of(md) & 0x7fffffffu, bv = bits_of(vd) & 0x7fffffffu;
      xm = bm > xm ? bm : xm;
      xv = bv > xv ? bv : xv;
      nw[d] = f32_of((u32)W[d] << 16) - ss * (md / (sqrtf(vd) * ib + eps));
    }
    // bf16 with stochastic rounding: 16 random bits of fmix32(rk ^ ((e / 2 + 1) * C)) per element
    // (the low half for even e, the high half for odd e), added below the kept bits.
    const u32 rk = fmix32(key + (r + row0) * 0x9e3779b9u);
    for (u32 p = 0; p < dim / 2; p++) {
      const u32 h = fmix32(rk ^ ((p + 1) * 0x85ebca77u));
      W[2 * p] = (u16)((bits_of(nw[2 * p]) + (h & 0xffff)) >> 16);
      W[2 * p + 1] = (u16)((bits_of(nw[2 * p + 1]) + (h >> 16)) >> 16);
    }
    if (dim & 1) {
      const u32 h = fmix32(rk ^ ((dim / 2 + 1) * 0x85ebca77u));
      W[dim - 1] = (u16)((bits_of(nw[dim - 1]) + (h & 0xffff)) >> 16);
    }
    const f32 nm = f32_of(xm), nv = f32_of(xv);
    __builtin_memcpy(R + 4 * dim, &nm, 4);
    __builtin_memcpy(R + 4 * dim + 4, &nv, 4);
    // The codes: the nearest entry of x / absmax. x's bits and buckets in vectorizable loops (divps),
    // then the table lookups, branch-free (the signs of m are random: a branch on them mispredicts).
    if (nm == 0) for (u32 d = 0; d < dim; d++) M[d] = 127;
    else encode_row(M, mf, nm, dim, mp->ds, mp->ms, 128, 1, bsearch);
    if (nv == 0) for (u32 d = 0; d < dim; d++) V[d] = 0;
    else encode_row(V, vf, nv, dim, mp->du, mp->mu, 256, 0, bsearch);
  }
#ifdef __wasm__
  sink_ = acc;
#endif
}

EXPORT(adam8_rows) void adam8_rows(u8 *recs, const u32 *rows, const f32 *g, u32 n, u32 dim, const AdamS *a, u32 key,
                                   u32 row0, const Maps *mp) {
  adam8_rows_(recs, rows, g, n, dim, a, key, row0, mp, 0);
}

EXPORT(adam8b_rows) void adam8b_rows(u8 *recs, const u32 *rows, const f32 *g, u32 n, u32 dim, const AdamS *a, u32 key,
                                     u32 row0, const Maps *mp) {
  adam8_rows_(recs, rows, g, n, dim, a, key, row0, mp, 1);
}

#endif
