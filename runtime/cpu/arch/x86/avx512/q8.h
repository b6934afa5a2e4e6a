/* q8.h (AVX-512) - the primitives q8_kernels.c is written over. */
#ifndef QRT_ARCH_X86_AVX512_Q8_H
#define QRT_ARCH_X86_AVX512_Q8_H

/* sum_b ws_b * z_b * group_sum_b over the blocks the vectors cover
 * (groups of one block, f16 scales); *bp is where the tail starts. */
static inline float zero_term_prefix(const uint16_t *scales, const uint8_t *zeros,
                                     const float *group_sum, int64_t blocks, int64_t *bp) {
  int64_t b = *bp;
  float zero_term;
  __m512 zacc = _mm512_setzero_ps();
  for (; b + 16 <= blocks; b += 16) {
    __m512 ws = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(scales + b)));
    __m512 z = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(zeros + b))));
    zacc = _mm512_fmadd_ps(_mm512_mul_ps(ws, z), _mm512_loadu_ps(group_sum + b), zacc);
  }
  zero_term = _mm512_reduce_add_ps(zacc);
  *bp = b;
  return zero_term;
}

/* out[b] = h[b] widened, for the whole vectors of n; returns where the
 * tail starts. */
static inline int64_t f16_to_f32_prefix(const uint16_t *h, int64_t n, float *out) {
  int64_t b = 0;
  for (; b + 16 <= n; b += 16)
    _mm512_storeu_ps(out + b, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(h + b))));
  return b;
}
/* a[b] *= d[b] for the whole vectors of n; returns where the tail starts. */
static inline int64_t mul_prefix(float *a, const float *d, int64_t n) {
  int64_t b = 0;
  for (; b + 16 <= n; b += 16)
    _mm512_storeu_ps(a + b, _mm512_mul_ps(_mm512_loadu_ps(a + b), _mm512_loadu_ps(d + b)));
  return b;
}

#endif
