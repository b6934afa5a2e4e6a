/* linear.h (AVX2 + FMA + F16C) - the primitives linear_kernels.c is written
 * over, and this family's optional kernels: f32 row panels for prefill and
 * block attention; no row tiles. */
#ifndef QRT_ARCH_X86_AVX2_LINEAR_H
#define QRT_ARCH_X86_AVX2_LINEAR_H

#include "codes_dot.h"

#define QRT_ARCH_ROWS_PREFILL linear_rows_panels
#define QRT_ARCH_W8A8_TILED NULL
#define QRT_ARCH_LINEAR_Q8_TILED NULL
#define QRT_ARCH_ATTEND_BLOCK QRT_FAMILY_FN(attend_block)

static float dot_f32(const float *a, const float *b, int64_t n) {
  int64_t i = 0;
  float s = 0.0f;
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  __m256 acc = _mm256_add_ps(acc0, acc1);
  __m128 lo = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
  s = _mm_cvtss_f32(lo);
  for (; i < n; ++i)
    s += a[i] * b[i];
  return s;
}

/* sum_j code_j x_j over one full 32-code 4-bit block. */
static inline float q4_block_dot(const uint8_t *b, const float *x) {
  __m128i bytes = _mm_loadu_si128((const __m128i *)b);
  __m128i mask = _mm_set1_epi8(0x0F);
  __m128i lo = _mm_and_si128(bytes, mask);
  __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
  __m256 acc = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo)), _mm256_loadu_ps(x));
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8))),
                        _mm256_loadu_ps(x + 8), acc);
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi)), _mm256_loadu_ps(x + 16),
                        acc);
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8))),
                        _mm256_loadu_ps(x + 24), acc);
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

/* sum_j code_j * xq_j over [c, end) with u8 codes and s8 activations. */
static int32_t u8s8_dot(const uint8_t *codes, const int8_t *xq, int64_t c, int64_t end) {
  int32_t acc = 0;
  __m256i v = _mm256_setzero_si256();
  for (; c + 16 <= end; c += 16) {
    __m256i a = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(codes + c)));
    __m256i b = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(xq + c)));
    v = _mm256_add_epi32(v, _mm256_madd_epi16(a, b));
  }
  __m128i h = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4E));
  h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xB1));
  acc += _mm_cvtsi128_si32(h);
  for (; c < end; ++c)
    acc += (int32_t)codes[c] * (int32_t)xq[c];
  return acc;
}

#endif
