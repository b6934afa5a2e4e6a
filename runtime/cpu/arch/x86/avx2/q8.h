/* q8.h (AVX2 + F16C) - the primitives q8_kernels.c is written over. */
#ifndef QRT_ARCH_X86_AVX2_Q8_H
#define QRT_ARCH_X86_AVX2_Q8_H

/* sum_b ws_b * z_b * group_sum_b over the blocks the vectors cover
 * (groups of one block, f16 scales); *bp is where the tail starts. */
static inline float zero_term_prefix(const uint16_t *scales, const uint8_t *zeros,
                                     const float *group_sum, int64_t blocks, int64_t *bp) {
  int64_t b = *bp;
  float zero_term;
  __m256 zacc = _mm256_setzero_ps();
  for (; b + 8 <= blocks; b += 8) {
    __m256 ws = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(scales + b)));
    __m256 z = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(zeros + b))));
    zacc = _mm256_fmadd_ps(_mm256_mul_ps(ws, z), _mm256_loadu_ps(group_sum + b), zacc);
  }
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(zacc), _mm256_extractf128_ps(zacc, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  zero_term = _mm_cvtss_f32(_mm_add_ss(h, _mm_shuffle_ps(h, h, 1)));
  *bp = b;
  return zero_term;
}

/* block scales: no vector form (the AVX-512 family has one) */
#include "../../generic/q8_scales.h"

#endif
