/* attention_base.h (AVX2 + F16C + FMA) - the primitives attention_kernels.c
 * needs first. */
#ifndef QRT_ARCH_X86_AVX2_ATTENTION_BASE_H
#define QRT_ARCH_X86_AVX2_ATTENTION_BASE_H

#include "f16_kv.h"

/* The whole 8-lane vectors of an f16 row widened into buf; returns where
 * the tail starts. */
static inline int64_t f16_row_prefix(const uint16_t *h, int64_t n, float *buf) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(buf + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
  return i;
}

#endif
