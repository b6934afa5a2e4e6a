/* linear.h (AVX-512 with VNNI) - the primitives linear_kernels.c is written
 * over, and this family's optional kernels: f32 row panels for prefill,
 * block attention, and the row-tile kernels (q8_tiled_kernels.c). */
#ifndef QRT_ARCH_X86_AVX512_LINEAR_H
#define QRT_ARCH_X86_AVX512_LINEAR_H

#include "../avx2/codes_dot.h"

#define QRT_ARCH_ROWS_PREFILL linear_rows_panels
#define QRT_ARCH_W8A8_TILED QRT_FAMILY_FN(w8a8_tiled)
#define QRT_ARCH_LINEAR_Q8_TILED QRT_FAMILY_FN(linear_q8_tiled)
#define QRT_ARCH_ATTEND_BLOCK QRT_FAMILY_FN(attend_block)

static float dot_f32(const float *a, const float *b, int64_t n) {
  int64_t i = 0;
  float s = 0.0f;
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
  }
  s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
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
  __m512 c0 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(lo));
  __m512 c1 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(hi));
  __m512 acc = _mm512_mul_ps(c0, _mm512_loadu_ps(x));
  acc = _mm512_fmadd_ps(c1, _mm512_loadu_ps(x + 16), acc);
  return _mm512_reduce_add_ps(acc);
}

/* sum_j code_j * xq_j over [c, end) with u8 codes and s8 activations. */
static int32_t u8s8_dot(const uint8_t *codes, const int8_t *xq, int64_t c, int64_t end) {
  int32_t acc = 0;
  __m512i v = _mm512_setzero_si512();
  for (; c + 64 <= end; c += 64)
    v = _mm512_dpbusd_epi32(v, _mm512_loadu_si512(codes + c), _mm512_loadu_si512(xq + c));
  acc += _mm512_reduce_add_epi32(v);
  for (; c < end; ++c)
    acc += (int32_t)codes[c] * (int32_t)xq[c];
  return acc;
}

#endif
