/* attention_kernels.c - one query head against the KV cache, compiled once
 * per kernel family (kernel_family.h) so that its dot products and the
 * weighted sum of values use the family's vector instructions. The formula
 * is the reference executor's (lib/Exec/Kernels.cpp): scaled scores, a
 * max-subtracted softmax, and the probability-weighted sum of values. */
#include "kernel_family.h"

#include <math.h>
#include <string.h>

/* Position t's row of a cache: the f32 row itself, or its f16 bits widened
 * into buf (exactly: every half is a float). */
static inline const float *cache_row(const void *base, int f16, int64_t at, int64_t n,
                                     float *buf) {
  if (!f16)
    return (const float *)base + at;
  const uint16_t *h = (const uint16_t *)base + at;
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(buf + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(h + i))));
#elif defined(__F16C__)
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(buf + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
#endif
  for (; i < n; ++i)
    buf[i] = half_to_float(h[i]);
  return buf;
}

/* Element i of a cache row as a float: f32 as stored, or f16 bits widened. */
static inline float cache_at(const void *base, int f16, int64_t at) {
  return f16 ? half_to_float(((const uint16_t *)base)[at]) : ((const float *)base)[at];
}

/* Keys and values into an f16 cache: the hardware conversion where the
 * family has it (round to nearest even, subnormals kept: the same halves
 * as qrt_f32_to_f16, which converts the tail and the portable family). */
void QRT_FAMILY_FN(to_f16)(const float *x, int64_t n, uint16_t *out) {
  int64_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128((__m128i *)(out + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
#endif
  for (; i < n; ++i)
    out[i] = qrt_f32_to_f16(x[i]);
}

#if defined(__F16C__) && defined(__FMA__)
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
#define QRT_F16_KV_DIRECT 1
#endif

#if defined(__AVX512F__)
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
#endif

void QRT_FAMILY_FN(attend_head)(const float *q, const void *keys, const void *values, int f16,
                                int64_t last, int64_t kv_stride, int64_t head_dim, float scale,
                                float *scratch, float *out) {
#if defined(__AVX512F__)
  if (head_dim % 16 == 0 && head_dim <= 256) {
    attend_one(q, keys, values, f16, last, kv_stride, head_dim, scale, scratch, out);
    return;
  }
#endif
  float *scores = scratch, *row = scratch + last + 1;
  float max_score = -INFINITY;
  for (int64_t t = 0; t <= last; ++t) {
#ifdef QRT_F16_KV_DIRECT
    if (f16)
      scores[t] = dot8_f16(q, (const uint16_t *)keys + t * kv_stride, head_dim) * scale;
    else
#endif
      scores[t] = qrt_dot8(q, cache_row(keys, f16, t * kv_stride, head_dim, row), head_dim) * scale;
    if (scores[t] > max_score)
      max_score = scores[t];
  }
  float sum = 0.0f;
  for (int64_t t = 0; t <= last; ++t) {
    scores[t] = expf(scores[t] - max_score);
    sum += scores[t];
  }
  memset(out, 0, sizeof(float) * (size_t)head_dim);
  for (int64_t t = 0; t <= last; ++t) {
    float a = scores[t] / sum;
#ifdef QRT_F16_KV_DIRECT
    if (f16) {
      axpy_f16(a, (const uint16_t *)values + t * kv_stride, head_dim, out);
      continue;
    }
#endif
    const float *v = cache_row(values, f16, t * kv_stride, head_dim, row);
    for (int64_t i = 0; i < head_dim; ++i)
      out[i] += a * v[i];
  }
}

#if defined(__AVX512F__)
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

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__) && !defined(__AVX512F__)
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
