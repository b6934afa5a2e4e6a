/* attention_kernels.c - one query head against the KV cache, compiled once
 * per kernel family (kernel_family.h) so that its dot products and the
 * weighted sum of values use the family's vector instructions. The formula
 * is the reference executor's (lib/Exec/Kernels.cpp): scaled scores, a
 * max-subtracted softmax, and the probability-weighted sum of values. */
#include "kernel_family.h"
#include QRT_ARCH_FILE(attention_base.h)

#include <math.h>
#include <string.h>

/* Position t's row of a cache: the f32 row itself, or its f16 bits widened
 * into buf (exactly: every half is a float). */
static inline const float *cache_row(const void *base, int f16, int64_t at, int64_t n,
                                     float *buf) {
  if (!f16)
    return (const float *)base + at;
  const uint16_t *h = (const uint16_t *)base + at;
  int64_t i = 0;
  i = f16_row_prefix(h, n, buf);
  for (; i < n; ++i)
    buf[i] = half_to_float(h[i]);
  return buf;
}

/* Element i of a cache row as a float: f32 as stored, or f16 bits widened. */
static inline float cache_at(const void *base, int f16, int64_t at) {
  return f16 ? half_to_float(((const uint16_t *)base)[at]) : ((const float *)base)[at];
}

/* Keys and values into an f16 cache: the hardware conversion where the
 * family has it (round to nearest even, subnormals kept: the same halves
 * as qrt_f32_to_f16, which converts the tail and the portable family). */
void QRT_FAMILY_FN(to_f16)(const float *x, int64_t n, uint16_t *out) {
  int64_t i = 0;
  i = to_f16_prefix(x, n, out);
  for (; i < n; ++i)
    out[i] = qrt_f32_to_f16(x[i]);
}


#include QRT_ARCH_FILE(attention.h)

void QRT_FAMILY_FN(attend_head)(const float *q, const void *keys, const void *values, int f16,
                                int64_t last, int64_t kv_stride, int64_t head_dim, float scale,
                                float *scratch, float *out) {
  if (attend_one_fast(q, keys, values, f16, last, kv_stride, head_dim, scale, scratch, out))
    return;
  float *scores = scratch, *row = scratch + last + 1;
  float max_score = -INFINITY;
  for (int64_t t = 0; t <= last; ++t) {
    if (f16 && QRT_ARCH_F16_KV_DIRECT)
      scores[t] = dot8_f16(q, (const uint16_t *)keys + t * kv_stride, head_dim) * scale;
    else
      scores[t] = qrt_dot8(q, cache_row(keys, f16, t * kv_stride, head_dim, row), head_dim) * scale;
    if (scores[t] > max_score)
      max_score = scores[t];
  }
  float sum = 0.0f;
  for (int64_t t = 0; t <= last; ++t) {
    scores[t] = expf(scores[t] - max_score);
    sum += scores[t];
  }
  memset(out, 0, sizeof(float) * (size_t)head_dim);
  for (int64_t t = 0; t <= last; ++t) {
    float a = scores[t] / sum;
    if (f16 && QRT_ARCH_F16_KV_DIRECT) {
      axpy_f16(a, (const uint16_t *)values + t * kv_stride, head_dim, out);
      continue;
    }
    const float *v = cache_row(values, f16, t * kv_stride, head_dim, row);
    for (int64_t i = 0; i < head_dim; ++i)
      out[i] += a * v[i];
  }
}

#include QRT_ARCH_FILE(attend_block.h)

