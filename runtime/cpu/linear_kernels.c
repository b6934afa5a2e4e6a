/* linear_kernels.c - weight-only and W8A8 linear kernels.
 *
 * Compiled once per instruction set (portable, AVX2+FMA+F16C, AVX-512 with
 * VNNI); QRT_KERNELS names the table each build exports and
 * qrt_select_kernels (kernel_select.c) picks one at load time. The math is the
 * reference executor's: a weight is
 * (code - zero) * scale, so per group
 *     sum_j w_j x_j = scale * (sum_j code_j x_j - zero * sum_j x_j)
 * and the inner loops only multiply codes by activations; sum_j x_j is
 * computed once per call and group.
 */
#include "kernel_family.h"
#include QRT_ARCH_FILE(linear.h)

#include <math.h>
#include <string.h>

#ifndef QRT_KERNELS
#define QRT_KERNELS qrt_kernels_portable
#define QRT_KERNELS_NAME "portable"
#endif



static inline int q4_code(const uint8_t *row, int64_t c) {
  const uint8_t *block = row + (c / 32) * 16;
  int j = (int)(c % 32);
  return j < 16 ? (block[j] & 15) : (block[j - 16] >> 4);
}

/* One weight row decoded to f32 (codes, scales, zeros; outlier columns are
 * stored with code == zero and decode to 0). */
static void decode_row(const qrt_weight *w, int64_t r, float *out) {
  const qrtw_slot *s = w->slot;
  const uint8_t *row = (const uint8_t *)w->data + r * w->row_bytes;
  for (int64_t g = 0; g < num_groups(s); ++g) {
    int64_t si = scale_index(s, r, g);
    float scale = scale_at(w, si);
    float zero = (float)w->zeros[si];
    for (int64_t c = group_begin(s, g); c < group_end(s, g); ++c) {
      int code = s->kind == QRTW_Q4 ? q4_code(row, c) : row[c];
      out[c] = s->format == QRTW_FORMAT_NF4 ? qrt_nf4_levels[code] * scale
                                            : ((float)code - zero) * scale;
    }
  }
}

/* sum of x over each group, [n, groups] */
static void group_sums(const qrtw_slot *s, const float *x, int64_t n, float *sums) {
  int64_t groups = num_groups(s);
  for (int64_t m = 0; m < n; ++m)
    for (int64_t g = 0; g < groups; ++g) {
      float acc = 0.0f;
      for (int64_t c = group_begin(s, g); c < group_end(s, g); ++c)
        acc += x[m * s->cols + c];
      sums[m * groups + g] = acc;
    }
}

static float q4_row_dot(const qrt_weight *w, int64_t r, const float *x, const float *xsum) {
  const qrtw_slot *s = w->slot;
  const uint8_t *row = (const uint8_t *)w->data + r * w->row_bytes;
  float y = 0.0f;
  for (int64_t g = 0; g < num_groups(s); ++g) {
    int64_t c = group_begin(s, g), end = group_end(s, g);
    float acc = 0.0f;
    for (; c + 32 <= end; c += 32)
      acc += q4_block_dot(row + (c / 32) * 16, x + c);
    for (; c < end; ++c)
      acc += (float)q4_code(row, c) * x[c];
    int64_t si = scale_index(s, r, g);
    y += scale_at(w, si) * (acc - (float)w->zeros[si] * xsum[g]);
  }
  return y;
}

static float codes_row_dot(const qrt_weight *w, int64_t r, const float *x) {
  const qrtw_slot *s = w->slot;
  const uint8_t *row = (const uint8_t *)w->data + r * w->row_bytes;
  float y = 0.0f;
  for (int64_t g = 0; g < num_groups(s); ++g) {
    int64_t si = scale_index(s, r, g);
    float acc = 0.0f;
    int64_t c = group_begin(s, g), end = group_end(s, g);
    if (s->format == QRTW_FORMAT_NF4) {
      for (; c < end; ++c)
        acc += qrt_nf4_levels[row[c]] * x[c];
      y += scale_at(w, si) * acc;
      continue;
    }
    /* (code - zero) inside the loop: with 8-bit codes, sum(code * x) is
     * ~128x larger than the result and would cancel catastrophically. */
    int32_t zero = w->zeros[si];
    acc = codes_dot_prefix(row, x, zero, &c, end);
    for (; c < end; ++c)
      acc += (float)((int32_t)row[c] - zero) * x[c];
    y += scale_at(w, si) * acc;
  }
  return y;
}

#include QRT_ARCH_FILE(panels.h)

/* scratch holds at least cols + n * groups floats (prefill: cols * 17). */
static void linear_rows(const qrt_weight *w, const float *x, int64_t n, int64_t r0, int64_t r1,
                        float *y, float *scratch) {
  const qrtw_slot *s = w->slot;
  int64_t K = s->cols, N = s->rows;
  if (s->kind == QRTW_F32) {
    const float *wf = (const float *)w->data;
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t m = 0; m < n; ++m)
        y[m * N + r] = dot_f32(x + m * K, wf + r * K, K);
    return;
  }
  if (n > 1) {
    /* Prefill: decode each weight row once and reuse it for every token. */
    for (int64_t r = r0; r < r1; ++r) {
      decode_row(w, r, scratch);
      for (int64_t m = 0; m < n; ++m)
        y[m * N + r] = dot_f32(x + m * K, scratch, K);
    }
  } else {
    if (s->kind == QRTW_Q4) {
      /* 4-bit codes are small enough to fold the zero point afterwards */
      float *xsum = scratch;
      group_sums(s, x, 1, xsum);
      for (int64_t r = r0; r < r1; ++r)
        y[r] = q4_row_dot(w, r, x, xsum);
    } else {
      for (int64_t r = r0; r < r1; ++r)
        y[r] = codes_row_dot(w, r, x);
    }
  }
  qrt_add_outliers(w, x, n, r0, r1, y);
}


static void w8a8_rows(const qrt_weight *w, const int8_t *xq, const float *xscale, int64_t n,
                      int64_t r0, int64_t r1, float *y) {
  const qrtw_slot *s = w->slot;
  int64_t K = s->cols, N = s->rows, groups = num_groups(s);
  for (int64_t m = 0; m < n; ++m) {
    const int8_t *xr = xq + m * K;
    /* sum of activation codes per group, for the zero points */
    int32_t xsum[256];
    int32_t *sums = groups <= 256 ? xsum : NULL;
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t *row = (const uint8_t *)w->data + r * w->row_bytes;
      float acc = 0.0f;
      for (int64_t g = 0; g < groups; ++g) {
        int64_t b = group_begin(s, g), e = group_end(s, g);
        int32_t gs;
        if (sums && r > r0) {
          gs = sums[g];
        } else {
          gs = 0;
          for (int64_t c = b; c < e; ++c)
            gs += xr[c];
          if (sums)
            sums[g] = gs;
        }
        int64_t si = scale_index(s, r, g);
        int32_t dot = u8s8_dot(row, xr, b, e) - (int32_t)w->zeros[si] * gs;
        acc += scale_at(w, si) * (float)dot;
      }
      y[m * N + r] = xscale[m] * acc;
    }
  }
}

const qrt_kernels QRT_KERNELS = {QRT_KERNELS_NAME,         linear_rows,
                                 QRT_ARCH_ROWS_PREFILL,    w8a8_rows,
                                 QRT_ARCH_W8A8_TILED,      QRT_FAMILY_FN(linear_q8_rows),
                                 QRT_ARCH_LINEAR_Q8_TILED, QRT_FAMILY_FN(attend_head),
                                 QRT_ARCH_ATTEND_BLOCK,    QRT_FAMILY_FN(to_f16)};
