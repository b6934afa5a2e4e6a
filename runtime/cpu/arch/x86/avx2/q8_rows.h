/* q8_rows.h (AVX2) - 4-bit and byte codes times int8 activation blocks with
 * pmaddubsw, one row at a time. */
#ifndef QRT_ARCH_X86_AVX2_Q8_ROWS_H
#define QRT_ARCH_X86_AVX2_Q8_ROWS_H

static inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

/* pmaddubsw (u8 x s8 pairs into s16) is exact while 2 * max_code * 127 fits
 * in int16, i.e. codes below 128; 8-bit codes widen to int16 first. */
static inline __m256i block_dot_small(__m256i codes, const int8_t *q) {
  __m256i pairs = _mm256_maddubs_epi16(codes, _mm256_loadu_si256((const __m256i *)q));
  return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

static float q4_row(const uint8_t *row, const int8_t *q, const float *bs, int64_t blocks) {
  const __m256i low = _mm256_set1_epi8(0x0F);
  const __m256i idx = _mm256_set_epi32(1, 1, 1, 1, 0, 0, 0, 0);
  __m256 acc = _mm256_setzero_ps();
  int64_t b = 0;
  /* a superblock in two halves of 2 blocks: low nibbles against the
   * superblock's first 64 activations, high nibbles against the next 64 */
  for (; b + QRT_Q8_SUPERBLOCK <= blocks; b += QRT_Q8_SUPERBLOCK)
    for (int half = 0; half < 2; ++half) {
      __m256i raw = _mm256_loadu_si256((const __m256i *)(row + b * 16 + half * 32));
      const int8_t *qs = q + b * QRT_Q8_BLOCK + half * 32;
      __m256i dot = _mm256_add_epi32(
          block_dot_small(_mm256_and_si256(raw, low), qs),
          block_dot_small(_mm256_and_si256(_mm256_srli_epi16(raw, 4), low), qs + 64));
      __m128 two = _mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)(bs + b + 2 * half)));
      __m256 scales = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(two), idx);
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), scales, acc);
    }
  const __m128i low128 = _mm_set1_epi8(0x0F);
  for (; b < blocks; ++b) {
    __m128i raw = _mm_loadu_si128((const __m128i *)(row + b * 16));
    __m256i codes = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(raw, 4), low128),
                                     _mm_and_si128(raw, low128));
    __m256i dot = block_dot_small(codes, q + b * QRT_Q8_BLOCK);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(bs[b]), acc);
  }
  return hsum256(acc);
}

static float codes_row(const uint8_t *row, const int8_t *q, const float *bs, int64_t blocks,
                       int bits) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t *c = row + b * QRT_Q8_BLOCK;
    const int8_t *x = q + b * QRT_Q8_BLOCK;
    __m256i dot;
    if (bits < 8) {
      dot = block_dot_small(_mm256_loadu_si256((const __m256i *)c), x);
    } else {
      __m256i c0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)c));
      __m256i c1 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(c + 16)));
      __m256i x0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x));
      __m256i x1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(x + 16)));
      dot = _mm256_add_epi32(_mm256_madd_epi16(c0, x0), _mm256_madd_epi16(c1, x1));
    }
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(bs[b]), acc);
  }
  return hsum256(acc);
}

#include "q8_rows_by_row.h"

#endif
