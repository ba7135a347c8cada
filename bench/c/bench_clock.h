// The timing shared by the C contenders (dense.c, sparse.c).
// BENCH_CLOCK=cpu times with the process's CPU time (as the JavaScript side's --clock cpu does),
// otherwise with the monotonic wall clock. A sample is a batch of about batch_ms.
#ifndef BENCH_CLOCK_H
#define BENCH_CLOCK_H
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int use_cpu_clock = 0;
static double batch_ms = 1.0;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(use_cpu_clock ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void choose_clock(void) {
  const char *c = getenv("BENCH_CLOCK");
  use_cpu_clock = c != NULL && strcmp(c, "cpu") == 0;
  batch_ms = use_cpu_clock ? 5.0 : 1.0;
}
#endif
