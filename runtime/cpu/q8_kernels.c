/* q8_kernels.c - weight-only integer codes times int8 activations.
 *
 * Decode is a GEMV that reads every weight once; with f32 activations each
 * code must be widened to float before its FMA, and that, not memory, bounds
 * the speed. Here activations are int8 blocks (q8_quantize.c), so a block
 * of 32 codes is one integer dot product (VNNI vpdpbusd, or AVX2 pmaddubsw):
 *     y = sum_b ws_g(b) * d_b * (sum_j c_j q_j)  -  sum_g ws_g * z_g * S_g
 * where S_g = sum over the group's blocks of d_b * sum_j q_j. The integer
 * sums are exact; only this float combination is rounded.
 *
 * Compiled once per kernel family (see kernel_family.h).
 */
#include "kernel_family.h"

#include <stdint.h>
#include <string.h>

/* The zero-point term sum_g ws_g * z_g * S_g of one row and token. */
static float zero_term_of(const qrt_weight *w, int64_t r, const float *group_sum) {
  const qrtw_slot *s = w->slot;
  int64_t blocks = s->cols / QRT_Q8_BLOCK, groups = num_groups(s);
  int64_t per_group = s->groups_per_row ? s->group_width / QRT_Q8_BLOCK : blocks;
  int64_t first = scale_index(s, r, 0);
  const uint8_t *zeros = w->zeros + first;
  float zero_term = 0.0f;
  if (per_group == 1 && !s->scales_f32) {
    const uint16_t *scales = (const uint16_t *)w->scales + first;
    int64_t b = 0;
#if defined(__AVX512F__)
    __m512 zacc = _mm512_setzero_ps();
    for (; b + 16 <= blocks; b += 16) {
      __m512 ws = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(scales + b)));
      __m512 z = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(zeros + b))));
      zacc = _mm512_fmadd_ps(_mm512_mul_ps(ws, z), _mm512_loadu_ps(group_sum + b), zacc);
    }
    zero_term = _mm512_reduce_add_ps(zacc);
#elif defined(__AVX2__) && defined(__F16C__)
    __m256 zacc = _mm256_setzero_ps();
    for (; b + 8 <= blocks; b += 8) {
      __m256 ws = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(scales + b)));
      __m256 z = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(zeros + b))));
      zacc = _mm256_fmadd_ps(_mm256_mul_ps(ws, z), _mm256_loadu_ps(group_sum + b), zacc);
    }
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(zacc), _mm256_extractf128_ps(zacc, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    zero_term = _mm_cvtss_f32(_mm_add_ss(h, _mm_shuffle_ps(h, h, 1)));
#endif
    for (; b < blocks; ++b)
      zero_term += half_to_float(scales[b]) * (float)zeros[b] * group_sum[b];
    return zero_term;
  }
  for (int64_t g = 0; g < groups; ++g)
    zero_term += scale_at(w, first + g) * (float)zeros[g] * group_sum[g];
  return zero_term;
}

/* wsb[b] = the weight scale of block b of row r. */
static void weight_block_scales(const qrt_weight *w, int64_t r, float *wsb) {
  const qrtw_slot *s = w->slot;
  int64_t blocks = s->cols / QRT_Q8_BLOCK, groups = num_groups(s);
  int64_t per_group = s->groups_per_row ? s->group_width / QRT_Q8_BLOCK : blocks;
  int64_t first = scale_index(s, r, 0);
  if (per_group == 1 && !s->scales_f32) {
    const uint16_t *scales = (const uint16_t *)w->scales + first;
    int64_t b = 0;
#if defined(__AVX512F__)
    for (; b + 16 <= blocks; b += 16)
      _mm512_storeu_ps(wsb + b, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(scales + b))));
#endif
    for (; b < blocks; ++b)
      wsb[b] = half_to_float(scales[b]);
    return;
  }
  for (int64_t g = 0; g < groups; ++g) {
    float ws = scale_at(w, first + g);
    int64_t end = g + 1 == groups ? blocks : (g + 1) * per_group;
    for (int64_t b = g * per_group; b < end; ++b)
      wsb[b] = ws;
  }
}

/* bs[b] = ws_g(b) * d_b for one row and token; returns the zero-point term.
 * Runs once per row and token of decode, so it avoids divisions and
 * per-group branches: with groups of 32 (one block each) it is a
 * vectorizable loop. */
static float block_scales(const qrt_weight *w, int64_t r, const float *d, const float *group_sum,
                          float *bs) {
  int64_t blocks = w->slot->cols / QRT_Q8_BLOCK;
  weight_block_scales(w, r, bs);
  int64_t b = 0;
#if defined(__AVX512F__)
  for (; b + 16 <= blocks; b += 16)
    _mm512_storeu_ps(bs + b, _mm512_mul_ps(_mm512_loadu_ps(bs + b), _mm512_loadu_ps(d + b)));
#endif
  for (; b < blocks; ++b)
    bs[b] = bs[b] * d[b];
  return zero_term_of(w, r, group_sum);
}

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)

/* The AVX-512 family works in tiles: one weight row against up to 4
 * tokens, decode being a tile of one. Each superblock (or pair of blocks)
 * of the row is unpacked once per tile, and the block scales are formed in
 * registers as ws_g(b) * d_b, the products block_scales stores for the
 * other families, without a pass over scratch. Decode and prefill thus run
 * the same float operations per (row, token) and agree to the bit. */
#define TILE_TOKENS 4
/* Rows are streamed once per decode step; the hardware prefetcher stops at
 * page boundaries, so ask for the data a page ahead (1.1B w4 g128 decode:
 * 62% -> 78% of read bandwidth). */
#ifndef QRT_PREFETCH_BYTES
#define QRT_PREFETCH_BYTES 4096
#endif

/* The weight scales of one row, block by block, for a walk of increasing
 * block index: one f16 load per superblock for groups of 32, otherwise the
 * current group's scale kept in a register and advanced by comparison (no
 * division per superblock: that showed as half of decode on 1.1B g128). */
typedef struct scale_cursor {
  const qrt_weight *w;
  int64_t first, per_group, groups;
  int64_t g, next; /* current group, and the block where group g + 1 starts */
  __m128 ws;       /* scale of group g in every lane */
} scale_cursor;

static inline scale_cursor scale_cursor_at(const qrt_weight *w, int64_t r) {
  const qrtw_slot *s = w->slot;
  int64_t blocks = s->cols / QRT_Q8_BLOCK;
  scale_cursor c = {w, scale_index(s, r, 0),
                    s->groups_per_row ? s->group_width / QRT_Q8_BLOCK : blocks, num_groups(s),
                    0, 0, _mm_setzero_ps()};
  c.next = c.groups > 1 ? c.per_group : INT64_MAX;
  c.ws = _mm_set1_ps(scale_at(w, c.first));
  return c;
}

/* ws_g(b + k) for k < count (4 or 2), as floats in the low lanes. */
static inline __m128 weight_scales(scale_cursor *c, int64_t b, int count) {
  const qrt_weight *w = c->w;
  if (c->per_group == 1 && c->groups > 1) {
    if (w->slot->scales_f32)
      return count == 4 ? _mm_loadu_ps((const float *)w->scales + c->first + b)
                        : _mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)((const float *)w->scales + c->first + b)));
    const uint16_t *h = (const uint16_t *)w->scales + c->first + b;
    if (count == 4)
      return _mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)h));
    int32_t two;
    memcpy(&two, h, sizeof two);
    return _mm_cvtph_ps(_mm_cvtsi32_si128(two));
  }
  while (b >= c->next) { /* the last group absorbs the remainder */
    ++c->g;
    c->next = c->g + 1 < c->groups ? c->next + c->per_group : INT64_MAX;
    c->ws = _mm_set1_ps(scale_at(w, c->first + c->g));
  }
  if (b + count <= c->next)
    return c->ws;
  /* a superblock straddling groups (groups of 64 codes): lane by lane */
  float v[4] = {0, 0, 0, 0};
  for (int k = 0; k < count; ++k) {
    int64_t g = (b + k) / c->per_group;
    v[k] = scale_at(w, c->first + (g < c->groups ? g : c->groups - 1));
  }
  return _mm_loadu_ps(v);
}

/* ws_g(b) alone, for the blocks after the last whole superblock or pair. */
static inline float block_scale(const qrt_weight *w, int64_t r, int64_t b) {
  const qrtw_slot *s = w->slot;
  int64_t blocks = s->cols / QRT_Q8_BLOCK, groups = num_groups(s);
  int64_t per_group = s->groups_per_row ? s->group_width / QRT_Q8_BLOCK : blocks;
  int64_t g = b / per_group;
  return scale_at(w, scale_index(s, r, 0) + (g < groups ? g : groups - 1));
}

/* One 32-code block in natural order (the tail after whole superblocks). */
static inline int32_t q4_block_natural(const uint8_t *nibbles, const int8_t *q) {
  __m128i raw = _mm_loadu_si128((const __m128i *)nibbles);
  __m128i lo = _mm_and_si128(raw, _mm_set1_epi8(0x0F));
  __m128i hi = _mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0F));
  __m256i codes = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
  __m256i dot = _mm256_dpbusd_epi32(_mm256_setzero_si256(), codes,
                                    _mm256_loadu_si256((const __m256i *)q));
  return _mm512_reduce_add_epi32(_mm512_zextsi256_si512(dot));
}

/* 4-bit row r: a superblock of 4 blocks is one 64-byte load whose low and
 * high nibbles meet the interleaved activations, 4 int32 lanes per block. */
static inline __attribute__((always_inline)) void
q4_tile_n(const qrt_weight *w, int64_t r, const qrt_q8_activations *x, int64_t m0, int tokens,
          float *out) {
  const uint8_t *row = (const uint8_t *)w->data + r * w->row_bytes;
  const __m512i low = _mm512_set1_epi8(0x0F);
  const __m512i idx = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
  int64_t K = x->cols, blocks = K / QRT_Q8_BLOCK;
  __m512 acc[TILE_TOKENS];
  for (int t = 0; t < TILE_TOKENS; ++t)
    acc[t] = _mm512_setzero_ps();
  scale_cursor sc = scale_cursor_at(w, r);
  int64_t b = 0;
  for (; b + QRT_Q8_SUPERBLOCK <= blocks; b += QRT_Q8_SUPERBLOCK) {
    _mm_prefetch((const char *)(row + b * 16) + QRT_PREFETCH_BYTES, _MM_HINT_T0);
    __m512i raw = _mm512_loadu_si512(row + b * 16);
    __m512i lo = _mm512_and_si512(raw, low), hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), low);
    __m128 ws = weight_scales(&sc, b, 4);
    for (int t = 0; t < tokens; ++t) {
      const int8_t *qs = x->q + (m0 + t) * K + b * QRT_Q8_BLOCK;
      __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, _mm512_loadu_si512(qs));
      dot = _mm512_dpbusd_epi32(dot, hi, _mm512_loadu_si512(qs + 64));
      __m128 bs = _mm_mul_ps(ws, _mm_loadu_ps(x->d + (m0 + t) * blocks + b));
      __m512 scales = _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(bs));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scales, acc[t]);
    }
  }
  for (int t = 0; t < tokens; ++t) {
    float y = _mm512_reduce_add_ps(acc[t]);
    const float *d = x->d + (m0 + t) * blocks;
    for (int64_t e = b; e < blocks; ++e)
      y += (block_scale(w, r, e) * d[e]) *
           (float)q4_block_natural(row + e * 16, x->q + (m0 + t) * K + e * QRT_Q8_BLOCK);
    out[t] = y;
  }
}

/* Byte codes of row r: two 32-code blocks per step, 64 codes, one vpdpbusd,
 * 16 int32 lanes (8 per block). */
static inline __attribute__((always_inline)) void
codes_tile_n(const qrt_weight *w, int64_t r, const qrt_q8_activations *x, int64_t m0, int tokens,
             float *out) {
  const uint8_t *row = (const uint8_t *)w->data + r * w->row_bytes;
  const __m512i idx = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
  int64_t K = x->cols, blocks = K / QRT_Q8_BLOCK;
  __m512 acc[TILE_TOKENS];
  for (int t = 0; t < TILE_TOKENS; ++t)
    acc[t] = _mm512_setzero_ps();
  scale_cursor sc = scale_cursor_at(w, r);
  int64_t b = 0;
  for (; b + 2 <= blocks; b += 2) {
    _mm_prefetch((const char *)(row + b * QRT_Q8_BLOCK) + QRT_PREFETCH_BYTES, _MM_HINT_T0);
    __m512i codes = _mm512_loadu_si512(row + b * QRT_Q8_BLOCK);
    __m128 ws = weight_scales(&sc, b, 2);
    for (int t = 0; t < tokens; ++t) {
      const int8_t *qs = x->q + (m0 + t) * K + b * QRT_Q8_BLOCK;
      __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), codes, _mm512_loadu_si512(qs));
      __m128 d = _mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)(x->d + (m0 + t) * blocks + b)));
      __m512 scales = _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(_mm_mul_ps(ws, d)));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scales, acc[t]);
    }
  }
  for (int t = 0; t < tokens; ++t) {
    float y = _mm512_reduce_add_ps(acc[t]);
    if (b < blocks) {
      const int8_t *qs = x->q + (m0 + t) * K + b * QRT_Q8_BLOCK;
      __m256i dot = _mm256_dpbusd_epi32(
          _mm256_setzero_si256(), _mm256_loadu_si256((const __m256i *)(row + b * QRT_Q8_BLOCK)),
          _mm256_loadu_si256((const __m256i *)qs));
      y += (block_scale(w, r, b) * x->d[(m0 + t) * blocks + b]) *
           (float)_mm512_reduce_add_epi32(_mm512_zextsi256_si512(dot));
    }
    out[t] = y;
  }
}

/* The tiles with the token count a compile-time constant for decode (1)
 * and full prefill tiles (4), so their token loops unroll. Measured: plain
 * non-inlined tiles decode stories110M w4 g32 at 137-150 tok/s against
 * 153-181 with these (six alternating runs each). */
static void q4_tile(const qrt_weight *w, int64_t r, const qrt_q8_activations *x, int64_t m0,
                    int tokens, float *out) {
  if (tokens == 1)
    q4_tile_n(w, r, x, m0, 1, out);
  else if (tokens == TILE_TOKENS)
    q4_tile_n(w, r, x, m0, TILE_TOKENS, out);
  else
    q4_tile_n(w, r, x, m0, tokens, out);
}

static void codes_tile(const qrt_weight *w, int64_t r, const qrt_q8_activations *x, int64_t m0,
                       int tokens, float *out) {
  if (tokens == 1)
    codes_tile_n(w, r, x, m0, 1, out);
  else if (tokens == TILE_TOKENS)
    codes_tile_n(w, r, x, m0, TILE_TOKENS, out);
  else
    codes_tile_n(w, r, x, m0, tokens, out);
}

#elif defined(__AVX2__)

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

#else

static float q4_row(const uint8_t *row, const int8_t *q, const float *bs, int64_t blocks) {
  float y = 0.0f;
  int64_t full = blocks - blocks % QRT_Q8_SUPERBLOCK;
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t *c = row + b * 16;
    /* where this block's first and second 16 activations are */
    const int8_t *x0, *x1;
    if (b < full) {
      const int8_t *sb = q + (b - b % QRT_Q8_SUPERBLOCK) * QRT_Q8_BLOCK;
      x0 = sb + (b % QRT_Q8_SUPERBLOCK) * 16;
      x1 = x0 + QRT_Q8_SUPERBLOCK * 16;
    } else {
      x0 = q + b * QRT_Q8_BLOCK;
      x1 = x0 + 16;
    }
    int32_t dot = 0;
    for (int j = 0; j < 16; ++j)
      dot += (int32_t)(c[j] & 15) * x0[j] + (int32_t)(c[j] >> 4) * x1[j];
    y += bs[b] * (float)dot;
  }
  return y;
}

static float codes_row(const uint8_t *row, const int8_t *q, const float *bs, int64_t blocks,
                       int bits) {
  (void)bits; /* vpdpbusd / int32 products are exact for any code width */
  float y = 0.0f;
  for (int64_t b = 0; b < blocks; ++b) {
    int32_t dot = 0;
    for (int j = 0; j < QRT_Q8_BLOCK; ++j)
      dot += (int32_t)row[b * QRT_Q8_BLOCK + j] * q[b * QRT_Q8_BLOCK + j];
    y += bs[b] * (float)dot;
  }
  return y;
}

#endif

void QRT_FAMILY_FN(linear_q8_rows)(const qrt_weight *w, const qrt_q8_activations *x,
                                   int64_t n, int64_t r0, int64_t r1, float *y,
                                   float *scratch) {
  const qrtw_slot *s = w->slot;
  int64_t N = s->rows;
#ifdef TILE_TOKENS
  (void)scratch;
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t m0 = 0; m0 < n; m0 += TILE_TOKENS) {
      int tokens = (int)(n - m0 < TILE_TOKENS ? n - m0 : TILE_TOKENS);
      float out[TILE_TOKENS];
      if (s->kind == QRTW_Q4)
        q4_tile(w, r, x, m0, tokens, out);
      else
        codes_tile(w, r, x, m0, tokens, out);
      for (int t = 0; t < tokens; ++t)
        y[(m0 + t) * N + r] = out[t] - zero_term_of(w, r, x->group_sum + (m0 + t) * x->groups);
    }
  return;
#else
  int64_t K = s->cols, blocks = K / QRT_Q8_BLOCK;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t *row = (const uint8_t *)w->data + r * w->row_bytes;
    /* For prefill the row stays in L1 while every token reads it. */
    for (int64_t m = 0; m < n; ++m) {
      const int8_t *q = x->q + m * K;
      float zero_term = block_scales(w, r, x->d + m * blocks, x->group_sum + m * x->groups,
                                     scratch);
      float dot;
      if (s->kind == QRTW_Q4)
        dot = q4_row(row, q, scratch, blocks);
      else
        dot = codes_row(row, q, scratch, blocks, (int)s->bits);
      y[m * N + r] = dot - zero_term;
    }
  }
#endif
}
