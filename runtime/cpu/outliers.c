/* outliers.c - LLM.int8's 16-bit outlier columns, added in f32 after any
 * kernel family's integer dot products. */
#include "internal.h"

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
