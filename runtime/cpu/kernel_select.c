/* common.c - small pieces the CPU backend shares: kernel selection and
 * LLM.int8 outlier columns. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

/* QRT_DISABLE=avx512vnni,avx2 pretends the CPU lacks those families (to
 * test the fallback on machines that have them). */
static int cpu_has(const char *isa) {
  const char *disabled = getenv("QRT_DISABLE");
  if (disabled && strstr(disabled, isa))
    return 0;
  if (!strcmp(isa, "avx512vnni"))
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vnni");
  if (!strcmp(isa, "avx2"))
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
  return 1;
}

/* The best family this CPU runs. QRT_ISA=avx512vnni|avx2|portable asks for
 * one; a family the CPU lacks falls back to the next, and says so. */
const qrt_kernels *qrt_select_kernels(void) {
  static const qrt_kernels *const order[] = {&qrt_kernels_avx512, &qrt_kernels_avx2,
                                             &qrt_kernels_portable};
  __builtin_cpu_init();
  const char *want = getenv("QRT_ISA");
  int start = 0;
  if (want && *want) {
    while (start < 2 && strcmp(order[start]->name, want) != 0)
      ++start;
    if (strcmp(order[start]->name, want) != 0)
      fprintf(stderr, "qrt: QRT_ISA=%s is not a kernel family (avx512vnni, avx2, portable)\n",
              want);
  }
  for (int i = start; i < 3; ++i) {
    if (cpu_has(order[i]->name)) {
      if (i != start)
        fprintf(stderr, "qrt: this CPU lacks %s; falling back to %s kernels\n",
                order[start]->name, order[i]->name);
      return order[i];
    }
  }
  return &qrt_kernels_portable;
}

void qrt_add_outliers(const qrt_weight *w, const float *x, int64_t n, int64_t r0, int64_t r1,
                      float *y) {
  const qrtw_slot *s = w->slot;
  int64_t k = s->outliers;
  for (int64_t m = 0; m < n && k; ++m)
    for (int64_t r = r0; r < r1; ++r) {
      float acc = 0.0f;
      for (int64_t j = 0; j < k; ++j)
        acc += w->outlier_weight[r * k + j] * x[m * s->cols + w->outlier_index[j]];
      y[m * s->rows + r] += acc;
    }
}
