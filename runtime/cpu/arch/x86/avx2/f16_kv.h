/* f16_kv.h - f16 keys and values used in registers (F16C + FMA), for the
 * AVX2 and AVX-512 families. */
#ifndef QRT_ARCH_X86_F16_KV_H
#define QRT_ARCH_X86_F16_KV_H

#include <immintrin.h>

#define QRT_ARCH_F16_KV_DIRECT 1
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

/* The whole 8-lane vectors of an f32 row as f16 bits (round to nearest
 * even, as qrt_f32_to_f16); returns where the tail starts. */
static inline int64_t to_f16_prefix(const float *x, int64_t n, uint16_t *out) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128((__m128i *)(out + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  return i;
}

#endif
