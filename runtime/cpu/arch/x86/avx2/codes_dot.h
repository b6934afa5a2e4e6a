/* codes_dot.h - byte codes times f32 activations, 8 at a time (AVX2); the
 * AVX-512 family uses it too. */
#ifndef QRT_ARCH_X86_AVX2_CODES_DOT_H
#define QRT_ARCH_X86_AVX2_CODES_DOT_H

#include <immintrin.h>

/* Advances *c over whole 8-code steps and returns their sum of
 * (code - zero) * x; the caller finishes the tail. */
static inline float codes_dot_prefix(const uint8_t *row, const float *x, int32_t zero,
                                   int64_t *cp, int64_t end) {
  int64_t c = *cp;
  float acc;
  __m256 v = _mm256_setzero_ps();
  __m256i vz = _mm256_set1_epi32(zero);
  for (; c + 8 <= end; c += 8) {
    __m128i bytes = _mm_loadl_epi64((const __m128i *)(row + c));
    __m256i q = _mm256_sub_epi32(_mm256_cvtepu8_epi32(bytes), vz);
    v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q), _mm256_loadu_ps(x + c), v);
  }
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
  acc = _mm_cvtss_f32(h);
  *cp = c;
  return acc;
}

#endif
