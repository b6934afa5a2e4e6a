/* attend_block.h (AVX-512) - prefill attention in blocks of 16 queries. */
#ifndef QRT_ARCH_X86_AVX512_ATTEND_BLOCK_H
#define QRT_ARCH_X86_AVX512_ATTEND_BLOCK_H

/* Up to QRT_ATTEND_BLOCK consecutive queries of one head (prefill), one
 * query per lane: query b sits at position first + b and sees keys
 * 0..first + b. Each key is read once for the whole block instead of once
 * per query, a score needs no horizontal sum (the block's queries are
 * transposed so that one FMA advances all of them), and the softmax runs
 * in the lanes. head_dim must be a multiple of 64. */
void QRT_FAMILY_FN(attend_block)(const float *q, int64_t q_stride, int64_t count,
                                 const void *keys, const void *values, int f16, int64_t first,
                                 int64_t kv_stride, int64_t head_dim, float scale, float *scratch,
                                 float *out, int64_t out_stride) {
  enum { B = QRT_ATTEND_BLOCK };
  const int64_t d = head_dim, keys_seen = first + count;
  float *qt = scratch, *krow = scratch + B * d, *p = krow + d; /* p: [keys_seen][B] */
  for (int64_t k = 0; k < d; ++k)
    for (int64_t b = 0; b < B; ++b)
      qt[k * B + b] = b < count ? q[b * q_stride + k] : 0.0f;
  const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  __m512 vscale = _mm512_set1_ps(scale), vmax = _mm512_set1_ps(-INFINITY);
  for (int64_t t = 0; t < keys_seen; ++t) {
    const float *kt = (const float *)keys + t * kv_stride;
    if (f16) {
      for (int64_t k = 0; k < d; ++k)
        krow[k] = cache_at(keys, 1, t * kv_stride + k);
      kt = krow;
    }
    /* four partial sums so consecutive FMAs do not wait on each other */
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (int64_t k = 0; k < d; k += 4) {
      s0 = _mm512_fmadd_ps(_mm512_loadu_ps(qt + k * B), _mm512_set1_ps(kt[k]), s0);
      s1 = _mm512_fmadd_ps(_mm512_loadu_ps(qt + (k + 1) * B), _mm512_set1_ps(kt[k + 1]), s1);
      s2 = _mm512_fmadd_ps(_mm512_loadu_ps(qt + (k + 2) * B), _mm512_set1_ps(kt[k + 2]), s2);
      s3 = _mm512_fmadd_ps(_mm512_loadu_ps(qt + (k + 3) * B), _mm512_set1_ps(kt[k + 3]), s3);
    }
    __m512 s = _mm512_mul_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)), vscale);
    /* query b sees key t when t <= first + b */
    __mmask16 seen = _mm512_cmpge_epi32_mask(lane, _mm512_set1_epi32((int)(t - first)));
    s = _mm512_mask_blend_ps(seen, _mm512_set1_ps(-INFINITY), s);
    vmax = _mm512_max_ps(vmax, s);
    _mm512_storeu_ps(p + t * B, s);
  }
  __m512 vsum = _mm512_setzero_ps();
  for (int64_t t = 0; t < keys_seen; ++t) {
    __mmask16 seen = _mm512_cmpge_epi32_mask(lane, _mm512_set1_epi32((int)(t - first)));
    __m512 e = _mm512_maskz_mov_ps(seen, exp_nonpositive(_mm512_sub_ps(
                                             _mm512_loadu_ps(p + t * B), vmax)));
    vsum = _mm512_add_ps(vsum, e);
    _mm512_storeu_ps(p + t * B, e);
  }
  /* as attend_head: each probability divided by the sum, then the values
   * accumulated in position order */
  for (int64_t t = 0; t < keys_seen; ++t)
    _mm512_storeu_ps(p + t * B, _mm512_div_ps(_mm512_loadu_ps(p + t * B), vsum));
  for (int64_t b0 = 0; b0 < count; b0 += 4)
    for (int64_t c = 0; c < d; c += 64) {
      __m512 acc[4][4];
      for (int i = 0; i < 4; ++i)
        for (int v = 0; v < 4; ++v)
          acc[i][v] = _mm512_setzero_ps();
      for (int64_t t = 0; t < keys_seen; ++t) {
        int64_t at = t * kv_stride + c;
        __m512 v0 = cache_vec(values, f16, at), v1 = cache_vec(values, f16, at + 16),
               v2 = cache_vec(values, f16, at + 32), v3 = cache_vec(values, f16, at + 48);
        for (int i = 0; i < 4; ++i) {
          __m512 a = _mm512_set1_ps(p[t * B + b0 + i]);
          acc[i][0] = _mm512_fmadd_ps(a, v0, acc[i][0]);
          acc[i][1] = _mm512_fmadd_ps(a, v1, acc[i][1]);
          acc[i][2] = _mm512_fmadd_ps(a, v2, acc[i][2]);
          acc[i][3] = _mm512_fmadd_ps(a, v3, acc[i][3]);
        }
      }
      for (int i = 0; i < 4 && b0 + i < count; ++i)
        for (int v = 0; v < 4; ++v)
          _mm512_storeu_ps(out + (b0 + i) * out_stride + c + 16 * v, acc[i][v]);
    }
}

#endif
