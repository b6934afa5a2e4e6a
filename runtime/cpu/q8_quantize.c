/* q8_quantize.c - activations to int8 blocks for the int8 weight-only path.
 *
 * Compiled once (not per kernel family) so that every family multiplies the
 * same integer codes; only the float combination of block results differs.
 */
#include "internal.h"

#include <math.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* v clamped to [-127, 127], then rounded half to even, as
 * nearbyintf-then-clamp gives (the bounds are integers). Adding and
 * subtracting 1.5 * 2^23 rounds in the default rounding mode, inline, where
 * nearbyintf is a library call on baseline x86-64. A NaN stays NaN. */
static inline float clamp_round_127(float v) {
  v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
  const float magic = 12582912.0f; /* without -ffast-math, not folded away */
  return (v + magic) - magic;
}

/* One block of QRT_Q8_BLOCK values: codes into q, the scale into *scale;
 * returns the codes' sum. Every step is exact or correctly rounded (abs,
 * max, one multiply, round to nearest even), so for finite inputs the SSE2
 * form below gives the scalar form's codes bit for bit. */
static inline int32_t quantize_block(const float *x, int8_t *q, float *scale) {
#if defined(__SSE2__)
  enum { V = QRT_Q8_BLOCK / 4 };
  const __m128 abs_mask = _mm_castsi128_ps(_mm_set1_epi32(0x7fffffff));
  __m128 v[V], amax4 = _mm_setzero_ps();
  for (int i = 0; i < V; ++i) {
    v[i] = _mm_loadu_ps(x + 4 * i);
    amax4 = _mm_max_ps(_mm_and_ps(v[i], abs_mask), amax4);
  }
  amax4 = _mm_max_ps(amax4, _mm_shuffle_ps(amax4, amax4, _MM_SHUFFLE(1, 0, 3, 2)));
  amax4 = _mm_max_ps(amax4, _mm_shuffle_ps(amax4, amax4, _MM_SHUFFLE(2, 3, 0, 1)));
  float amax = _mm_cvtss_f32(amax4);
  *scale = amax / 127.0f;
  const __m128 inv = _mm_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
  const __m128 hi = _mm_set1_ps(127.0f), lo = _mm_set1_ps(-127.0f),
               magic = _mm_set1_ps(12582912.0f);
  __m128i sum4 = _mm_setzero_si128();
  for (int i = 0; i < V; i += 4) {
    __m128i c[4];
    for (int k = 0; k < 4; ++k) {
      __m128 t = _mm_max_ps(_mm_min_ps(_mm_mul_ps(v[i + k], inv), hi), lo);
      c[k] = _mm_cvttps_epi32(_mm_sub_ps(_mm_add_ps(t, magic), magic));
      sum4 = _mm_add_epi32(sum4, c[k]);
    }
    __m128i packed = _mm_packs_epi16(_mm_packs_epi32(c[0], c[1]), _mm_packs_epi32(c[2], c[3]));
    _mm_storeu_si128((__m128i *)(q + 4 * i), packed);
  }
  sum4 = _mm_add_epi32(sum4, _mm_shuffle_epi32(sum4, _MM_SHUFFLE(1, 0, 3, 2)));
  sum4 = _mm_add_epi32(sum4, _mm_shuffle_epi32(sum4, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(sum4);
#else
  float amax = 0.0f;
  for (int j = 0; j < QRT_Q8_BLOCK; ++j)
    amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax; /* fmaxf's result, inline */
  *scale = amax / 127.0f;
  float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
  int32_t sum = 0;
  for (int j = 0; j < QRT_Q8_BLOCK; ++j) {
    int32_t c = (int32_t)clamp_round_127(x[j] * inv);
    q[j] = (int8_t)c;
    sum += c;
  }
  return sum;
#endif
}

int qrt_q8_supported(const qrtw_slot *s) {
  if (s->kind == QRTW_F32 || s->format != QRTW_FORMAT_INT || s->outliers)
    return 0;
  if (s->cols % QRT_Q8_BLOCK)
    return 0;
  /* groups must be whole blocks; the last group absorbs the remainder,
   * which is then whole blocks too because cols is */
  return s->groups_per_row <= 1 || s->group_width % QRT_Q8_BLOCK == 0;
}

/* 4-bit rows store block b as 16 bytes, byte j = c[j] | c[j+16] << 4, so one
 * 64-byte load of 4 blocks splits (and / shift) into the low halves of the
 * 4 blocks and their high halves. Activations of each full superblock of 4
 * blocks are stored the same way: q[0..15] of blocks 0-3, then q[16..31]
 * of blocks 0-3. Trailing blocks keep their natural order. */
static void interleave_superblocks(int8_t *q, int64_t blocks) {
  int8_t tmp[QRT_Q8_SUPERBLOCK * QRT_Q8_BLOCK];
  for (int64_t b = 0; b + QRT_Q8_SUPERBLOCK <= blocks; b += QRT_Q8_SUPERBLOCK) {
    int8_t *sb = q + b * QRT_Q8_BLOCK;
    memcpy(tmp, sb, sizeof tmp);
    for (int j = 0; j < QRT_Q8_SUPERBLOCK; ++j) {
      memcpy(sb + j * 16, tmp + j * QRT_Q8_BLOCK, 16);
      memcpy(sb + QRT_Q8_SUPERBLOCK * 16 + j * 16, tmp + j * QRT_Q8_BLOCK + 16, 16);
    }
  }
}

void qrt_q8_quantize(const qrtw_slot *s, const float *x, int64_t n, int8_t *q, float *d,
                     float *group_sum, qrt_q8_activations *out) {
  int64_t K = s->cols, blocks = K / QRT_Q8_BLOCK;
  int64_t groups = s->groups_per_row ? s->groups_per_row : 1;
  int64_t blocks_per_group = s->groups_per_row ? s->group_width / QRT_Q8_BLOCK : blocks;
  for (int64_t m = 0; m < n; ++m) {
    float *gs = group_sum + m * groups;
    for (int64_t g = 0; g < groups; ++g)
      gs[g] = 0.0f;
    for (int64_t b = 0; b < blocks; ++b) {
      const float *xb = x + m * K + b * QRT_Q8_BLOCK;
      int8_t *qb = q + m * K + b * QRT_Q8_BLOCK;
      float scale;
      int32_t sum = quantize_block(xb, qb, &scale);
      d[m * blocks + b] = scale;
      int64_t g = b / blocks_per_group;
      gs[g < groups ? g : groups - 1] += scale * (float)sum;
    }
    if (s->kind == QRTW_Q4)
      interleave_superblocks(q + m * K, blocks);
  }
  out->q = q;
  out->d = d;
  out->group_sum = group_sum;
  out->cols = K;
  out->groups = groups;
}

/* Per-token symmetric int8 for W8A8, as kernels::dynamicQuantRows with
 * bits = 8: scale absmax / 127 (1 for an all-zero row), round half to even.
 * The `outliers` channels listed in `outlier_index` (ascending) are left out
 * of the absmax and get code 0; they enter in f32 (qrt_add_outliers). */
void qrt_quantize_tokens(const float *x, int64_t n, int64_t cols, const int32_t *outlier_index,
                         int64_t outliers, int8_t *q, float *scale) {
  for (int64_t m = 0; m < n; ++m) {
    const float *xr = x + m * cols;
    int8_t *qr = q + m * cols;
    float absmax = 0.0f;
    int64_t next = 0;
    for (int64_t c = 0; c < cols; ++c) {
      if (next < outliers && outlier_index[next] == c) {
        ++next;
        continue;
      }
      float a = fabsf(xr[c]);
      if (a > absmax)
        absmax = a;
    }
    float s = absmax > 0 ? absmax / 127.0f : 1.0f;
    scale[m] = s;
    next = 0;
    for (int64_t c = 0; c < cols; ++c) {
      if (next < outliers && outlier_index[next] == c) {
        ++next;
        qr[c] = 0;
        continue;
      }
      qr[c] = (int8_t)clamp_round_127(xr[c] / s);
    }
  }
}

int64_t qrt_token_q8_scale_offset(const qrt_ctx *ctx, int64_t cols) {
  return (ctx->program->chunk * cols + 3) / 4;
}

int qrt_q8_same_layout(const qrtw_slot *a, const qrtw_slot *b) {
  int64_t ga = a->groups_per_row ? a->groups_per_row : 1;
  int64_t gb = b->groups_per_row ? b->groups_per_row : 1;
  return a->cols == b->cols && (a->kind == QRTW_Q4) == (b->kind == QRTW_Q4) && ga == gb &&
         (ga == 1 || a->group_width == b->group_width);
}
