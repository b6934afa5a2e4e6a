/* q8_rows.h (AVX-512 VNNI) - 4-bit and byte codes times int8 activation
 * blocks in tiles of one row against up to TILE_TOKENS tokens. */
#ifndef QRT_ARCH_X86_AVX512_Q8_ROWS_H
#define QRT_ARCH_X86_AVX512_Q8_ROWS_H

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

static void q8_rows(const qrt_weight *w, const qrt_q8_activations *x, int64_t n, int64_t r0,
                    int64_t r1, float *y, float *scratch) {
  const qrtw_slot *s = w->slot;
  int64_t N = s->rows;
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
}

#endif
