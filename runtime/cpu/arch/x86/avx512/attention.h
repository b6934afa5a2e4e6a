/* attention.h (AVX-512) - the single-query kernel for head_dim a multiple
 * of 16, after attention_kernels.c's scalar helpers. */
#ifndef QRT_ARCH_X86_AVX512_ATTENTION_H
#define QRT_ARCH_X86_AVX512_ATTENTION_H

/* exp(x) for x <= 0 in 16 lanes (Cephes expf: x = n ln2 + r with |r| <=
 * ln2 / 2, a degree-6 polynomial for exp(r), then scalef by 2^n); within
 * 2 ulp of expf. Lanes below -88 give 0 or a denormal, which the callers'
 * sums (>= 1) absorb. */
static inline __m512 exp_nonpositive(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-88.0f));
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

static inline __m512 cache_vec(const void *base, int f16, int64_t at) {
  if (f16)
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)base + at)));
  return _mm512_loadu_ps((const float *)base + at);
}

/* attend_head for head_dim a multiple of 16, up to 256: a score is one
 * 512-bit FMA per 16 dimensions, the partial sums of 16 keys are transposed
 * so that one vector of adds finishes all 16 scores, the softmax
 * exponentials run 16 lanes at a time, and the output stays in registers
 * while the values stream past. */
static void attend_one(const float *q, const void *keys, const void *values, int f16,
                       int64_t last, int64_t kv_stride, int64_t head_dim, float scale,
                       float *scores, float *out) {
  const int64_t nv = head_dim / 16, T = last + 1;
  __m512 qv[16], o[16];
  for (int64_t c = 0; c < nv; ++c)
    qv[c] = _mm512_loadu_ps(q + 16 * c);
  __m512 vmax = _mm512_set1_ps(-INFINITY);
  int64_t t = 0;
  for (; t + 16 <= T; t += 16) {
    __m512 acc[16];
    for (int j = 0; j < 16; ++j) {
      int64_t at = (t + j) * kv_stride;
      __m512 a = _mm512_mul_ps(qv[0], cache_vec(keys, f16, at));
      for (int64_t c = 1; c < nv; ++c)
        a = _mm512_fmadd_ps(qv[c], cache_vec(keys, f16, at + 16 * c), a);
      acc[j] = a;
    }
    transpose16_regs(acc); /* acc[i] lane j: partial sum i of key t + j */
    __m512 s = acc[0];
    for (int i = 1; i < 16; ++i)
      s = _mm512_add_ps(s, acc[i]);
    s = _mm512_mul_ps(s, _mm512_set1_ps(scale));
    _mm512_storeu_ps(scores + t, s);
    vmax = _mm512_max_ps(vmax, s);
  }
  float max_score = _mm512_reduce_max_ps(vmax);
  for (; t < T; ++t) {
    int64_t at = t * kv_stride;
    __m512 a = _mm512_mul_ps(qv[0], cache_vec(keys, f16, at));
    for (int64_t c = 1; c < nv; ++c)
      a = _mm512_fmadd_ps(qv[c], cache_vec(keys, f16, at + 16 * c), a);
    scores[t] = _mm512_reduce_add_ps(a) * scale;
    if (scores[t] > max_score)
      max_score = scores[t];
  }
  __m512 vsum = _mm512_setzero_ps(), m = _mm512_set1_ps(max_score);
  for (t = 0; t < T; t += 16) {
    __mmask16 live = T - t >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (T - t)) - 1);
    __m512 e = _mm512_maskz_mov_ps(
        live, exp_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(live, scores + t), m)));
    _mm512_mask_storeu_ps(scores + t, live, e);
    vsum = _mm512_add_ps(vsum, e);
  }
  float sum = _mm512_reduce_add_ps(vsum);
  for (int64_t c = 0; c < nv; ++c)
    o[c] = _mm512_setzero_ps();
  for (t = 0; t < T; ++t) {
    __m512 a = _mm512_set1_ps(scores[t] / sum);
    for (int64_t c = 0; c < nv; ++c)
      o[c] = _mm512_fmadd_ps(a, cache_vec(values, f16, t * kv_stride + 16 * c), o[c]);
  }
  for (int64_t c = 0; c < nv; ++c)
    _mm512_storeu_ps(out + 16 * c, o[c]);
}

static inline int attend_one_fast(const float *q, const void *keys, const void *values, int f16,
                                  int64_t last, int64_t kv_stride, int64_t head_dim, float scale,
                                  float *scratch, float *out) {
  if (head_dim % 16 != 0 || head_dim > 256)
    return 0;
  attend_one(q, keys, values, f16, last, kv_stride, head_dim, scale, scratch, out);
  return 1;
}

#endif
