// The dense optimizer loops of wasm-optim's kernels written in plain C, for two benchmark
// contenders: "C SSE" (native: the same float32 arithmetic in the same order, so gcc cannot do less
// work, compiled with `gcc -O3 -msse4.2 -fno-math-errno`: 128-bit vectors like WebAssembly SIMD, no
// FMA) and "wasm (clang)", the wasm limit (the same loops compiled by clang to wasm32 SIMD,
// `--target=wasm32 -O3 -msimd128 -nostdlib`, and run in the benchmark's own V8: what WebAssembly
// SIMD can do on this CPU; bench/lib/wasm-clang.js). The wasm build (__wasm__) keeps only the
// loops, exported by name; JavaScript computes their per-step scalars as step() below does.
//
// usage: dense <kernel> <minMs> <n>...
//   kernel: adam adamw sgd-momentum adagrad rmsprop adamax adadelta nadam radam lion, and the variants
//           amsgrad adam-l2 sgd sgd-nesterov rmsprop-centered
// Prints one JSON line per n: {"kernel":..., "n":..., "reps":..., "samples":[ms per step, ...]}.
// A sample times a batch of `reps` steps (about a millisecond, so that the clock's resolution does
// not count) and reports the time per step; the calibration batches before it are the warm-up.
#ifdef __wasm__
#include <stddef.h>
#define sqrtf __builtin_sqrtf
#define fabsf __builtin_fabsf
// An exported loop: clang's own choice of vectorization and unrolling at -O3 unless UNROLL says
// otherwise (bench/lib/wasm-clang.js measured the choices; see docs/benchmarks.md).
#define KERNEL(name) __attribute__((export_name(#name), noinline))
#else
#define _POSIX_C_SOURCE 200112L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#define KERNEL(name) __attribute__((noinline)) static
#endif
#ifdef UNROLL
#define STR_(x) #x
#define STR(x) STR_(x)
#define LOOP _Pragma(STR(clang loop interleave_count(UNROLL)))
#else
#define LOOP
#endif

typedef float f32;

// The loops below follow the kernels' arithmetic (assembly/*.ts) for their default options: the
// same float32 operations in the same order. Per-step scalars (bias corrections, schedules) are
// computed in double once per step, as the TypeScript side does.

KERNEL(adam) void adam(f32 *restrict p, const f32 *restrict g, f32 *restrict m,
                                           f32 *restrict v, size_t n, f32 b1, f32 b1c, f32 b2, f32 b2c,
                                           f32 ss, f32 ib, f32 eps) {
  LOOP for (size_t i = 0; i < n; i++) {
    f32 gi = g[i];
    f32 mi = m[i] * b1 + b1c * gi;
    f32 vi = v[i] * b2 + (b2c * gi) * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] - ss * (mi / (sqrtf(vi) * ib + eps));
  }
}

KERNEL(adamw) void adamw(f32 *restrict p, const f32 *restrict g, f32 *restrict m,
                                            f32 *restrict v, size_t n, f32 b1, f32 b1c, f32 b2, f32 b2c,
                                            f32 ss, f32 ib, f32 eps, f32 decay) {
  LOOP for (size_t i = 0; i < n; i++) {
    f32 gi = g[i];
    f32 pi = p[i] * decay;
    f32 mi = m[i] * b1 + b1c * gi;
    f32 vi = v[i] * b2 + (b2c * gi) * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - ss * (mi / (sqrtf(vi) * ib + eps));
  }
}

// Variants of the options (kernel-ab's amsgrad, adam-l2, sgd, sgd-nesterov, rmsprop-centered): the
// same kernels' arithmetic under those options.
KERNEL(amsgrad) void amsgrad(f32 *restrict p, const f32 *restrict g, f32 *restrict m,
                             f32 *restrict v, f32 *restrict x, size_t n, f32 b1, f32 b1c, f32 b2, f32 b2c,
                             f32 ss, f32 ib, f32 eps) {
  LOOP for (size_t i = 0; i < n; i++) {
    f32 gi = g[i];
    f32 mi = m[i] * b1 + b1c * gi;
    f32 vi = v[i] * b2 + (b2c * gi) * gi;
    m[i] = mi;
    v[i] = vi;
    f32 xi = x[i] > vi ? x[i] : vi;
    x[i] = xi;
    p[i] = p[i] - ss * (mi / (sqrtf(xi) * ib + eps));
  }
}

KERNEL(adam_l2) void adam_l2(f32 *restrict p, const f32 *restrict g, f32 *restrict m,
                             f32 *restrict v, size_t n, f32 b1, f32 b1c, f32 b2, f32 b2c,
                             f32 ss, f32 ib, f32 eps, f32 wd) {
  LOOP for (size_t i = 0; i < n; i++) {
    f32 pi = p[i];
    f32 gi = g[i] + wd * pi;
    f32 mi = m[i] * b1 + b1c * gi;
    f32 vi = v[i] * b2 + (b2c * gi) * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - ss * (mi / (sqrtf(vi) * ib + eps));
  }
}

KERNEL(sgd) void sgd(f32 *restrict p, const f32 *restrict g, size_t n, f32 lr) {
  LOOP for (size_t i = 0; i < n; i++) p[i] = p[i] - lr * g[i];
}

KERNEL(sgd_nesterov) void sgd_nesterov(f32 *restrict p, const f32 *restrict g, f32 *restrict b,
                                       size_t n, f32 lr, f32 mu, f32 omd) {
  LOOP for (size_t i = 0; i < n; i++) {
    f32 gi = g[i];
    f32 bi = b[i] * mu + omd * gi;
    b[i] = bi;
    p[i] = p[i] - lr * (gi + mu * bi);
  }
}

KERNEL(rmsprop_centered) void rmsprop_centered(f32 *restrict p, const f32 *restrict g, f32 *restrict s,
                                               f32 *restrict a, size_t n, f32 lr, f32 al, f32 oma, f32 eps) {
  LOOP for (size_t i = 0; i < n; i++) {
    f32 gi = g[i];
    f32 si = s[i] * al + (oma * gi) * gi;
    f32 ai = a[i] * al + oma * gi;
    s[i] = si;
    a[i] = ai;
    p[i] = p[i] - lr * (gi / (sqrtf(si - ai * ai) + eps));
  }
}

KERNEL(sgd_momentum) void sgd_momentum(f32 *restrict p, const f32 *restrict g,
                                                   f32 *restrict b, size_t n, f32 lr, f32 mu, f32 omd) {
  LOOP for (size_t i = 0; i < n; i++) {
    f32 bi = b[i] * mu + omd * g[i];
    b[i] = bi;
    p[i] = p[i] - lr * bi;
  }
}

KERNEL(adagrad) void adagrad(f32 *restrict p, const f32 *restrict g, f32 *restrict s,
                                              size_t n, f32 clr, f32 eps) {
  LOOP for (size_t i = 0; i < n; i++) {
    f32 gi = g[i];
    f32 si = s[i] + gi * gi;
    s[i] = si;
    p[i] = p[i] - clr * (gi / (sqrtf(si) + eps));
  }
}

KERNEL(rmsprop) void rmsprop(f32 *restrict p, const f32 *restrict g, f32 *restrict s,
                                              size_t n, f32 lr, f32 al, f32 oma, f32 eps) {
  LOOP for (size_t i = 0; i < n; i++) {
    f32 gi = g[i];
    f32 si = s[i] * al + (oma * gi) * gi;
    s[i] = si;
    p[i] = p[i] - lr * (gi / (sqrtf(si) + eps));
  }
}

KERNEL(adamax) void adamax(f32 *restrict p, const f32 *restrict g, f32 *restrict m,
                                             f32 *restrict u, size_t n, f32 b1c, f32 b2, f32 clr, f32 eps) {
  LOOP for (size_t i = 0; i < n; i++) {
    f32 gi = g[i];
    f32 mi = m[i] + b1c * (gi - m[i]);
    f32 a = u[i] * b2, b = fabsf(gi) + eps;
    f32 ui = a > b ? a : b;
    m[i] = mi;
    u[i] = ui;
    p[i] = p[i] - clr * (mi / ui);
  }
}

KERNEL(adadelta) void adadelta(f32 *restrict p, const f32 *restrict g, f32 *restrict s,
                                               f32 *restrict a, size_t n, f32 lr, f32 rho, f32 omr, f32 eps) {
  LOOP for (size_t i = 0; i < n; i++) {
    f32 gi = g[i];
    f32 si = s[i] * rho + (omr * gi) * gi;
    f32 ai = a[i];
    f32 d = (sqrtf(ai + eps) / sqrtf(si + eps)) * gi;
    s[i] = si;
    a[i] = ai * rho + (omr * d) * d;
    p[i] = p[i] - lr * d;
  }
}

KERNEL(nadam) void nadam(f32 *restrict p, const f32 *restrict g, f32 *restrict m,
                                            f32 *restrict v, size_t n, f32 b1c, f32 b2, f32 b2c, f32 ibc2,
                                            f32 eps, f32 cg, f32 cm) {
  LOOP for (size_t i = 0; i < n; i++) {
    f32 gi = g[i];
    f32 mi = m[i] + b1c * (gi - m[i]);
    f32 vi = v[i] * b2 + (b2c * gi) * gi;
    m[i] = mi;
    v[i] = vi;
    f32 d = sqrtf(vi * ibc2) + eps;
    p[i] = p[i] - (cg * gi + cm * mi) / d;
  }
}

KERNEL(radam) void radam(f32 *restrict p, const f32 *restrict g, f32 *restrict m,
                                            f32 *restrict v, size_t n, f32 b1c, f32 b2, f32 b2c, f32 eps,
                                            f32 c, int rect) {
  if (rect) {
    LOOP for (size_t i = 0; i < n; i++) {
      f32 gi = g[i];
      f32 mi = m[i] + b1c * (gi - m[i]);
      f32 vi = v[i] * b2 + (b2c * gi) * gi;
      m[i] = mi;
      v[i] = vi;
      p[i] = p[i] - c * (mi / (sqrtf(vi) + eps));
    }
  } else {
    LOOP for (size_t i = 0; i < n; i++) {
      f32 gi = g[i];
      f32 mi = m[i] + b1c * (gi - m[i]);
      m[i] = mi;
      v[i] = v[i] * b2 + (b2c * gi) * gi;
      p[i] = p[i] - c * mi;
    }
  }
}

KERNEL(lion) void lion(f32 *restrict p, const f32 *restrict g, f32 *restrict m,
                           size_t n, f32 lr, f32 b1, f32 b1c, f32 b2, f32 b2c, f32 wd) {
  LOOP for (size_t i = 0; i < n; i++) {
    f32 gi = g[i], mi = m[i], pi = p[i];
    f32 c = b1 * mi + b1c * gi;
    m[i] = b2 * mi + b2c * gi;
    f32 s = (c > 0 ? 1.0f : 0.0f) - (c < 0 ? 1.0f : 0.0f);
    s = s + c * 0.0f; // sign(NaN) = NaN, as the kernel (and jnp.sign)
    p[i] = pi - lr * (s + wd * pi); // Lion's default decoupled weight decay, 1e-3 (optax)
  }
}

#ifndef __wasm__
#include "bench_clock.h"

// One step t (1-based) of kernel k with PyTorch's default hyperparameters (the bench's lr; the
// variants' options as bench/kernel-ab.js and bench/groups/dense.js give them). x: AMSGrad's max.
static int step(const char *k, long t, f32 *p, const f32 *g, f32 *m, f32 *v, f32 *x, size_t n) {
  const double b1 = 0.9, b2 = 0.999;
  if (!strcmp(k, "adam") || !strcmp(k, "adamw") || !strcmp(k, "amsgrad") || !strcmp(k, "adam-l2")) {
    const double lr = 1e-3;
    const f32 ss = (f32)(lr / (1 - pow(b1, t))), ib = (f32)(1 / sqrt(1 - pow(b2, t)));
    if (!strcmp(k, "adamw")) adamw(p, g, m, v, n, (f32)b1, (f32)(1 - b1), (f32)b2, (f32)(1 - b2), ss, ib, 1e-8f, (f32)(1 - lr * 0.01));
    else if (!strcmp(k, "amsgrad")) amsgrad(p, g, m, v, x, n, (f32)b1, (f32)(1 - b1), (f32)b2, (f32)(1 - b2), ss, ib, 1e-8f);
    else if (!strcmp(k, "adam-l2")) adam_l2(p, g, m, v, n, (f32)b1, (f32)(1 - b1), (f32)b2, (f32)(1 - b2), ss, ib, 1e-8f, 0.01f);
    else adam(p, g, m, v, n, (f32)b1, (f32)(1 - b1), (f32)b2, (f32)(1 - b2), ss, ib, 1e-8f);
  } else if (!strcmp(k, "sgd-momentum")) {
    sgd_momentum(p, g, m, n, 1e-3f, 0.9f, 1.0f);
  } else if (!strcmp(k, "sgd")) {
    sgd(p, g, n, 1e-3f);
  } else if (!strcmp(k, "sgd-nesterov")) {
    sgd_nesterov(p, g, m, n, 1e-3f, 0.9f, 1.0f);
  } else if (!strcmp(k, "rmsprop-centered")) {
    rmsprop_centered(p, g, m, v, n, 0.01f, 0.99f, (f32)(1 - 0.99), 1e-8f);
  } else if (!strcmp(k, "adagrad")) {
    adagrad(p, g, m, n, 0.01f, 1e-10f);
  } else if (!strcmp(k, "rmsprop")) {
    rmsprop(p, g, m, n, 0.01f, 0.99f, (f32)(1 - 0.99), 1e-8f);
  } else if (!strcmp(k, "adamax")) {
    adamax(p, g, m, v, n, (f32)(1 - b1), (f32)b2, (f32)(2e-3 / (1 - pow(b1, t))), 1e-8f);
  } else if (!strcmp(k, "adadelta")) {
    adadelta(p, g, m, v, n, 1.0f, 0.9f, (f32)(1 - 0.9), 1e-6f);
  } else if (!strcmp(k, "nadam")) {
    // mu_t = b1 (1 - 0.5 * 0.96^(t * psi)), psi = 0.004; their product over the steps so far.
    static double prod = 1;
    if (t == 1) prod = 1;
    prod *= b1 * (1 - 0.5 * pow(0.96, t * 0.004));
    const double mu = b1 * (1 - 0.5 * pow(0.96, t * 0.004)), mu1 = b1 * (1 - 0.5 * pow(0.96, (t + 1) * 0.004));
    const double lr = 2e-3;
    nadam(p, g, m, v, n, (f32)(1 - b1), (f32)b2, (f32)(1 - b2), (f32)(1 / (1 - pow(b2, t))), 1e-8f,
          (f32)(lr * (1 - mu) / (1 - prod)), (f32)(lr * mu1 / (1 - prod * mu1)));
  } else if (!strcmp(k, "radam")) {
    const double lr = 1e-3, rho_inf = 2 / (1 - b2) - 1, b2t = pow(b2, t), bc1 = 1 - pow(b1, t), bc2 = 1 - b2t;
    const double rho = rho_inf - 2 * t * b2t / bc2;
    if (rho > 5) {
      const double rect = sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho));
      radam(p, g, m, v, n, (f32)(1 - b1), (f32)b2, (f32)(1 - b2), 1e-8f, (f32)(lr / bc1 * rect * sqrt(bc2)), 1);
    } else {
      radam(p, g, m, v, n, (f32)(1 - b1), (f32)b2, (f32)(1 - b2), 1e-8f, (f32)(lr / bc1), 0);
    }
  } else if (!strcmp(k, "lion")) {
    lion(p, g, m, n, 1e-4f, 0.9f, (f32)(1 - 0.9), 0.99f, (f32)(1 - 0.99), 1e-3f);
  } else {
    return 0;
  }
  return 1;
}

static f32 *alloc_f32(size_t n) {
  void *ptr = NULL;
  if (posix_memalign(&ptr, 64, (n ? n : 1) * sizeof(f32)) != 0) {
    fprintf(stderr, "dense: out of memory for %zu floats\n", n);
    exit(2);
  }
  return (f32 *)ptr;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static f32 randn(void) { // a cheap symmetric distribution in (-1, 1) is enough to drive the loops
  rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
  return (f32)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

// Every RESET_EVERY steps p and the state go back to their values at the start, as every contender
// in the benchmark does (bench/lib/wasm-clang.js, resetEvery): with a fixed gradient a long run
// drifts into states no training reaches (Adam with L2 decay: m and v in float32 denormals from
// ~800 steps; centered RMSprop: NaN from ~1100), and a step's time would depend on the step count.
#define RESET_EVERY 256

// Step t of kernel k, after putting p back to p0 and m, v, x to 0 when t - 1 is a multiple of
// RESET_EVERY (t > 1): steps 1..256 from the start, again and again. Only the buffers the kernel
// uses are reset (`states` of them), so that the copy costs what the others' resets do.
static int tick(const char *k, long t, int states, f32 *p, const f32 *p0, const f32 *g, f32 *m, f32 *v, f32 *x,
                size_t n) {
  if (t > 1 && (t - 1) % RESET_EVERY == 0) {
    memcpy(p, p0, n * sizeof(f32));
    f32 *s[3] = {m, v, x};
    for (int i = 0; i < states; i++) memset(s[i], 0, n * sizeof(f32));
  }
  return step(k, t, p, g, m, v, x, n);
}

// The number of state buffers (m, v, x) kernel k uses.
static int states_of(const char *k) {
  if (!strcmp(k, "sgd")) return 0;
  if (!strcmp(k, "sgd-momentum") || !strcmp(k, "sgd-nesterov") || !strcmp(k, "adagrad") || !strcmp(k, "rmsprop") ||
      !strcmp(k, "lion"))
    return 1;
  if (!strcmp(k, "amsgrad")) return 3;
  return 2;
}

int main(int argc, char **argv) {
  choose_clock();
  if (argc < 4) {
    fprintf(stderr, "usage: dense <adam|adamw|sgd-momentum|adagrad|rmsprop|adamax|adadelta|nadam|radam|lion|amsgrad|adam-l2|sgd|sgd-nesterov|rmsprop-centered> <minMs> <n>...\n");
    return 1;
  }
  const char *k = argv[1];
  const double min_ms = atof(argv[2]);
  for (int a = 3; a < argc; a++) {
    size_t n = (size_t)atoll(argv[a]);
    f32 *p = alloc_f32(n), *g = alloc_f32(n), *m = alloc_f32(n), *v = alloc_f32(n), *x = alloc_f32(n);
    f32 *p0 = alloc_f32(n);
    for (size_t i = 0; i < n; i++) { p[i] = randn(); g[i] = randn() * 1e-2f; m[i] = 0; v[i] = 0; x[i] = 0; }
    memcpy(p0, p, n * sizeof(f32));
    const int states = states_of(k);
    long t = 0;
    if (!tick(k, ++t, states, p, p0, g, m, v, x, n)) { fprintf(stderr, "dense: unknown kernel %s\n", k); return 1; }
    // Batch steps so that one sample takes at least about a millisecond.
    size_t reps = 1;
    for (;;) {
      double t0 = now_ms();
      for (size_t r = 0; r < reps; r++) tick(k, ++t, states, p, p0, g, m, v, x, n);
      double dt = now_ms() - t0;
      if (dt >= batch_ms / 4 || reps >= (1u << 20)) { reps = (size_t)ceil(batch_ms / (dt / reps > 1e-9 ? dt / reps : 1e-9)); break; }
      reps *= 4;
    }
    if (reps < 1) reps = 1;
    printf("{\"kernel\":\"%s\",\"n\":%zu,\"reps\":%zu,\"samples\":[", k, n, reps);
    double start = now_ms();
    int count = 0;
    for (;;) {
      double t0 = now_ms();
      for (size_t r = 0; r < reps; r++) tick(k, ++t, states, p, p0, g, m, v, x, n);
      double t1 = now_ms();
      printf("%s%.6g", count ? "," : "", (t1 - t0) / reps);
      count++;
      if (count >= 5 && t1 - start >= min_ms) break;
      if (count >= 100000) break;
    }
    // Print a value that depends on the results so that no loop is optimized away.
    double check = 0;
    for (size_t i = 0; i < n; i += 4096) check += p[i];
    printf("],\"check\":%.6g}\n", check);
    fflush(stdout);
    free(p); free(p0); free(g); free(m); free(v); free(x);
  }
  return 0;
}
#endif
