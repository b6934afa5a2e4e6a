/* attention_kernels.c - one query head against the KV cache, compiled once
 * per kernel family (kernel_family.h) so that its dot products and the
 * weighted sum of values use the family's vector instructions. The formula
 * is the reference executor's (lib/Exec/Kernels.cpp): scaled scores, a
 * max-subtracted softmax, and the probability-weighted sum of values. */
#include "kernel_family.h"

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
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(buf + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(h + i))));
#elif defined(__F16C__)
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(buf + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
#endif
  for (; i < n; ++i)
    buf[i] = half_to_float(h[i]);
  return buf;
}

#if defined(__F16C__) && defined(__FMA__)
/* qrt_dot8 with b in f16 bits: the same 8 partial sums, converted in
 * registers instead of through a buffer. */
static inline float dot8_f16(const float *a, const uint16_t *b, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i),
                          _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + i))), acc);
  float p[8];
  _mm256_storeu_ps(p, acc);
  float s = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
  for (; i < n; ++i)
    s += a[i] * half_to_float(b[i]);
  return s;
}

/* out += a * v for v in f16 bits. */
static inline void axpy_f16(float a, const uint16_t *v, int64_t n, float *out) {
  __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_fmadd_ps(va, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + i))),
                                              _mm256_loadu_ps(out + i)));
  for (; i < n; ++i)
    out[i] += a * half_to_float(v[i]);
}
#define QRT_F16_KV_DIRECT 1
#endif

void QRT_FAMILY_FN(attend_head)(const float *q, const void *keys, const void *values, int f16,
                                int64_t last, int64_t kv_stride, int64_t head_dim, float scale,
                                float *scratch, float *out) {
  float *scores = scratch, *row = scratch + last + 1;
  float max_score = -INFINITY;
  for (int64_t t = 0; t <= last; ++t) {
#ifdef QRT_F16_KV_DIRECT
    if (f16)
      scores[t] = dot8_f16(q, (const uint16_t *)keys + t * kv_stride, head_dim) * scale;
    else
#endif
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
#ifdef QRT_F16_KV_DIRECT
    if (f16) {
      axpy_f16(a, (const uint16_t *)values + t * kv_stride, head_dim, out);
      continue;
    }
#endif
    const float *v = cache_row(values, f16, t * kv_stride, head_dim, row);
    for (int64_t i = 0; i < head_dim; ++i)
      out[i] += a * v[i];
  }
}
