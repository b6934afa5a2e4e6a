/* attention_kernels.c - one query head against the KV cache, compiled once
 * per kernel family (kernel_family.h) so that its dot products and the
 * weighted sum of values use the family's vector instructions. The formula
 * is the reference executor's (lib/Exec/Kernels.cpp): scaled scores, a
 * max-subtracted softmax, and the probability-weighted sum of values. */
#include "kernel_family.h"

#include <math.h>
#include <string.h>

void QRT_FAMILY_FN(attend_head)(const float *q, const float *keys, const float *values,
                                int64_t last, int64_t kv_stride, int64_t head_dim, float scale,
                                float *scores, float *out) {
  float max_score = -INFINITY;
  for (int64_t t = 0; t <= last; ++t) {
    scores[t] = qrt_dot8(q, keys + t * kv_stride, head_dim) * scale;
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
    const float *v = values + t * kv_stride;
    for (int64_t i = 0; i < head_dim; ++i)
      out[i] += a * v[i];
  }
}
