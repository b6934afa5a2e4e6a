/* dense_rows.c - qrt_dense.h: a plain f32 matrix as a QRTW_F32 weight, run
 * by the selected family's prefill kernel (linear_rows where the family has
 * none: the portable one). */
#include "qrt_dense.h"

#include "internal.h"

#include <pthread.h>
#include <string.h>

static const qrt_kernels *dense_kernels;
static pthread_once_t dense_once = PTHREAD_ONCE_INIT;
static void select_once(void) { dense_kernels = qrt_select_kernels(); }

static const qrt_kernels *kernels(void) {
  pthread_once(&dense_once, select_once);
  return dense_kernels;
}

size_t qrt_dense_scratch_floats(int64_t cols) {
  /* a panel of QRT_TILE_ROWS transposed rows and one decoded row, as the
   * model's scratch (model.c) holds for an f32 slot */
  return (size_t)(QRT_TILE_ROWS + 1) * (size_t)cols + 64;
}

const char *qrt_dense_family(void) { return kernels()->name; }

void qrt_dense_rows(const float *x, int64_t n, int64_t cols, const float *w, int64_t rows,
                    int64_t r0, int64_t r1, float *y, float *scratch) {
  qrtw_slot slot;
  memset(&slot, 0, sizeof slot);
  slot.kind = QRTW_F32;
  slot.rows = rows;
  slot.cols = cols;
  slot.group_width = cols;
  qrt_weight weight;
  memset(&weight, 0, sizeof weight);
  weight.slot = &slot;
  weight.data = w;
  weight.row_bytes = cols * (int64_t)sizeof(float);
  const qrt_kernels *k = kernels();
  if (k->linear_rows_prefill)
    k->linear_rows_prefill(&weight, x, n, r0, r1, y, scratch);
  else
    k->linear_rows(&weight, x, n, r0, r1, y, scratch);
}
