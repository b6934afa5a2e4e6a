/* attend_block.h (AVX2 + FMA + F16C) - prefill attention in blocks of 16
 * queries, as two 8-lane halves. */
#ifndef QRT_ARCH_X86_AVX2_ATTEND_BLOCK_H
#define QRT_ARCH_X86_AVX2_ATTEND_BLOCK_H

/* exp(x) for x <= 0 (x = score - max), 8 lanes: the AVX-512 form's Cephes
 * reduction and polynomial, with 2^n built in the exponent field (x is
 * clamped at -87, so n >= -126 stays a normal float; e^-87 ~ 1.6e-38 is
 * as good as zero beside the maximum's 1). */
static inline __m256 exp_nonpositive8(__m256 x) {
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
  __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  __m256i e =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

static inline __m256 cache_vec8(const void *base, int f16, int64_t at) {
  if (f16)
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)base + at)));
  return _mm256_loadu_ps((const float *)base + at);
}

/* The AVX-512 attend_block's algorithm on 256-bit vectors: the block's 16
 * queries are two 8-lane halves, so each key element broadcast feeds two
 * FMAs; the causal mask and softmax run in the lanes; the values are summed
 * 2 queries x 32 dimensions at a time (8 accumulators in 16 registers). */
void QRT_FAMILY_FN(attend_block)(const float *q, int64_t q_stride, int64_t count, const void *keys,
                                 const void *values, int f16, int64_t first, int64_t kv_stride,
                                 int64_t head_dim, float scale, float *scratch, float *out,
                                 int64_t out_stride) {
  enum { B = QRT_ATTEND_BLOCK, H = 8 };
  const int64_t d = head_dim, keys_seen = first + count;
  float *qt = scratch, *krow = scratch + B * d, *p = krow + d; /* p: [keys_seen][B] */
  for (int64_t k = 0; k < d; ++k)
    for (int64_t b = 0; b < B; ++b)
      qt[k * B + b] = b < count ? q[b * q_stride + k] : 0.0f;
  const __m256i lane_lo = _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0);
  const __m256i lane_hi = _mm256_add_epi32(lane_lo, _mm256_set1_epi32(H));
  const __m256 vscale = _mm256_set1_ps(scale), ninf = _mm256_set1_ps(-INFINITY);
  __m256 max_lo = ninf, max_hi = ninf;
  for (int64_t t = 0; t < keys_seen; ++t) {
    const float *kt = (const float *)keys + t * kv_stride;
    if (f16) {
      for (int64_t k = 0; k < d; ++k)
        krow[k] = cache_at(keys, 1, t * kv_stride + k);
      kt = krow;
    }
    /* two partial sums per half so consecutive FMAs do not wait on each other */
    __m256 lo0 = _mm256_setzero_ps(), lo1 = lo0, hi0 = lo0, hi1 = lo0;
    for (int64_t k = 0; k < d; k += 2) {
      __m256 k0 = _mm256_set1_ps(kt[k]), k1 = _mm256_set1_ps(kt[k + 1]);
      lo0 = _mm256_fmadd_ps(_mm256_loadu_ps(qt + k * B), k0, lo0);
      hi0 = _mm256_fmadd_ps(_mm256_loadu_ps(qt + k * B + H), k0, hi0);
      lo1 = _mm256_fmadd_ps(_mm256_loadu_ps(qt + (k + 1) * B), k1, lo1);
      hi1 = _mm256_fmadd_ps(_mm256_loadu_ps(qt + (k + 1) * B + H), k1, hi1);
    }
    /* query b sees key t when b >= t - first */
    __m256i from = _mm256_set1_epi32((int)(t - first) - 1);
    __m256 seen_lo = _mm256_castsi256_ps(_mm256_cmpgt_epi32(lane_lo, from));
    __m256 seen_hi = _mm256_castsi256_ps(_mm256_cmpgt_epi32(lane_hi, from));
    __m256 s_lo = _mm256_blendv_ps(ninf, _mm256_mul_ps(_mm256_add_ps(lo0, lo1), vscale), seen_lo);
    __m256 s_hi = _mm256_blendv_ps(ninf, _mm256_mul_ps(_mm256_add_ps(hi0, hi1), vscale), seen_hi);
    max_lo = _mm256_max_ps(max_lo, s_lo);
    max_hi = _mm256_max_ps(max_hi, s_hi);
    _mm256_storeu_ps(p + t * B, s_lo);
    _mm256_storeu_ps(p + t * B + H, s_hi);
  }
  __m256 sum_lo = _mm256_setzero_ps(), sum_hi = sum_lo;
  for (int64_t t = 0; t < keys_seen; ++t) {
    __m256i from = _mm256_set1_epi32((int)(t - first) - 1);
    __m256 e_lo =
        _mm256_and_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(lane_lo, from)),
                      exp_nonpositive8(_mm256_sub_ps(_mm256_loadu_ps(p + t * B), max_lo)));
    __m256 e_hi =
        _mm256_and_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(lane_hi, from)),
                      exp_nonpositive8(_mm256_sub_ps(_mm256_loadu_ps(p + t * B + H), max_hi)));
    sum_lo = _mm256_add_ps(sum_lo, e_lo);
    sum_hi = _mm256_add_ps(sum_hi, e_hi);
    _mm256_storeu_ps(p + t * B, e_lo);
    _mm256_storeu_ps(p + t * B + H, e_hi);
  }
  for (int64_t t = 0; t < keys_seen; ++t) {
    _mm256_storeu_ps(p + t * B, _mm256_div_ps(_mm256_loadu_ps(p + t * B), sum_lo));
    _mm256_storeu_ps(p + t * B + H, _mm256_div_ps(_mm256_loadu_ps(p + t * B + H), sum_hi));
  }
  for (int64_t b0 = 0; b0 < count; b0 += 2)
    for (int64_t c = 0; c < d; c += 32) {
      __m256 acc[2][4];
      for (int i = 0; i < 2; ++i)
        for (int v = 0; v < 4; ++v)
          acc[i][v] = _mm256_setzero_ps();
      for (int64_t t = 0; t < keys_seen; ++t) {
        int64_t at = t * kv_stride + c;
        __m256 v0 = cache_vec8(values, f16, at), v1 = cache_vec8(values, f16, at + 8),
               v2 = cache_vec8(values, f16, at + 16), v3 = cache_vec8(values, f16, at + 24);
        for (int i = 0; i < 2; ++i) {
          __m256 a = _mm256_set1_ps(p[t * B + b0 + i]);
          acc[i][0] = _mm256_fmadd_ps(a, v0, acc[i][0]);
          acc[i][1] = _mm256_fmadd_ps(a, v1, acc[i][1]);
          acc[i][2] = _mm256_fmadd_ps(a, v2, acc[i][2]);
          acc[i][3] = _mm256_fmadd_ps(a, v3, acc[i][3]);
        }
      }
      for (int i = 0; i < 2 && b0 + i < count; ++i)
        for (int v = 0; v < 4; ++v)
          _mm256_storeu_ps(out + (b0 + i) * out_stride + c + 8 * v, acc[i][v]);
    }
}

#endif
