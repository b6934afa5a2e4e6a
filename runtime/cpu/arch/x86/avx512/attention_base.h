/* attention_base.h (AVX-512) - the primitives attention_kernels.c needs
 * first. */
#ifndef QRT_ARCH_X86_AVX512_ATTENTION_BASE_H
#define QRT_ARCH_X86_AVX512_ATTENTION_BASE_H

#include "../avx2/f16_kv.h"

/* The whole 16-lane vectors of an f16 row widened into buf; returns where
 * the tail starts. */
static inline int64_t f16_row_prefix(const uint16_t *h, int64_t n, float *buf) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(buf + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(h + i))));
  return i;
}

#endif
