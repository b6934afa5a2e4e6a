/* linear_kernels.c - weight-only and W8A8 linear kernels.
 *
 * Compiled once per instruction set (portable, AVX2+FMA+F16C, AVX-512 with
 * VNNI); QRT_KERNELS names the table each build exports and
 * qrt_select_kernels (common.c) picks one at load time. The math is the
 * reference executor's: a weight is
 * (code - zero) * scale, so per group
 *     sum_j w_j x_j = scale * (sum_j code_j x_j - zero * sum_j x_j)
 * and the inner loops only multiply codes by activations; sum_j x_j is
 * computed once per call and group.
 */
#include "kernel_family.h"

#include <math.h>
#include <string.h>

#ifndef QRT_KERNELS
#define QRT_KERNELS qrt_kernels_portable
#define QRT_KERNELS_NAME "portable"
#endif

static float dot_f32(const float *a, const float *b, int64_t n) {
  int64_t i = 0;
  float s = 0.0f;
#if defined(__AVX512F__)
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
  }
  s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
#elif defined(__AVX2__)
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  __m256 acc = _mm256_add_ps(acc0, acc1);
  __m128 lo = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
  s = _mm_cvtss_f32(lo);
#else
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j)
      acc[j] += a[i + j] * b[i + j];
  s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
#endif
  for (; i < n; ++i)
    s += a[i] * b[i];
  return s;
}

/* sum_j code_j x_j over one full 32-code 4-bit block. */
static inline float q4_block_dot(const uint8_t *b, const float *x) {
#if defined(__AVX512F__)
  __m128i bytes = _mm_loadu_si128((const __m128i *)b);
  __m128i mask = _mm_set1_epi8(0x0F);
  __m128i lo = _mm_and_si128(bytes, mask);
  __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
  __m512 c0 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(lo));
  __m512 c1 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(hi));
  __m512 acc = _mm512_mul_ps(c0, _mm512_loadu_ps(x));
  acc = _mm512_fmadd_ps(c1, _mm512_loadu_ps(x + 16), acc);
  return _mm512_reduce_add_ps(acc);
#elif defined(__AVX2__)
  __m128i bytes = _mm_loadu_si128((const __m128i *)b);
  __m128i mask = _mm_set1_epi8(0x0F);
  __m128i lo = _mm_and_si128(bytes, mask);
  __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
  __m256 acc = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo)), _mm256_loadu_ps(x));
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8))),
                        _mm256_loadu_ps(x + 8), acc);
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi)), _mm256_loadu_ps(x + 16),
                        acc);
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8))),
                        _mm256_loadu_ps(x + 24), acc);
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
#else
  float s = 0.0f;
  for (int j = 0; j < 16; ++j)
    s += (float)(b[j] & 15) * x[j] + (float)(b[j] >> 4) * x[j + 16];
  return s;
#endif
}

static inline int q4_code(const uint8_t *row, int64_t c) {
  const uint8_t *block = row + (c / 32) * 16;
  int j = (int)(c % 32);
  return j < 16 ? (block[j] & 15) : (block[j - 16] >> 4);
}

/* One weight row decoded to f32 (codes, scales, zeros; outlier columns are
 * stored with code == zero and decode to 0). */
static void decode_row(const qrt_weight *w, int64_t r, float *out) {
  const qrtw_slot *s = w->slot;
  const uint8_t *row = (const uint8_t *)w->data + r * w->row_bytes;
  for (int64_t g = 0; g < num_groups(s); ++g) {
    int64_t si = scale_index(s, r, g);
    float scale = scale_at(w, si);
    float zero = (float)w->zeros[si];
    for (int64_t c = group_begin(s, g); c < group_end(s, g); ++c) {
      int code = s->kind == QRTW_Q4 ? q4_code(row, c) : row[c];
      out[c] = s->format == QRTW_FORMAT_NF4 ? qrt_nf4_levels[code] * scale
                                            : ((float)code - zero) * scale;
    }
  }
}

/* sum of x over each group, [n, groups] */
static void group_sums(const qrtw_slot *s, const float *x, int64_t n, float *sums) {
  int64_t groups = num_groups(s);
  for (int64_t m = 0; m < n; ++m)
    for (int64_t g = 0; g < groups; ++g) {
      float acc = 0.0f;
      for (int64_t c = group_begin(s, g); c < group_end(s, g); ++c)
        acc += x[m * s->cols + c];
      sums[m * groups + g] = acc;
    }
}

static float q4_row_dot(const qrt_weight *w, int64_t r, const float *x, const float *xsum) {
  const qrtw_slot *s = w->slot;
  const uint8_t *row = (const uint8_t *)w->data + r * w->row_bytes;
  float y = 0.0f;
  for (int64_t g = 0; g < num_groups(s); ++g) {
    int64_t c = group_begin(s, g), end = group_end(s, g);
    float acc = 0.0f;
    for (; c + 32 <= end; c += 32)
      acc += q4_block_dot(row + (c / 32) * 16, x + c);
    for (; c < end; ++c)
      acc += (float)q4_code(row, c) * x[c];
    int64_t si = scale_index(s, r, g);
    y += scale_at(w, si) * (acc - (float)w->zeros[si] * xsum[g]);
  }
  return y;
}

static float codes_row_dot(const qrt_weight *w, int64_t r, const float *x) {
  const qrtw_slot *s = w->slot;
  const uint8_t *row = (const uint8_t *)w->data + r * w->row_bytes;
  float y = 0.0f;
  for (int64_t g = 0; g < num_groups(s); ++g) {
    int64_t si = scale_index(s, r, g);
    float acc = 0.0f;
    int64_t c = group_begin(s, g), end = group_end(s, g);
    if (s->format == QRTW_FORMAT_NF4) {
      for (; c < end; ++c)
        acc += qrt_nf4_levels[row[c]] * x[c];
      y += scale_at(w, si) * acc;
      continue;
    }
    /* (code - zero) inside the loop: with 8-bit codes, sum(code * x) is
     * ~128x larger than the result and would cancel catastrophically. */
    int32_t zero = w->zeros[si];
#if defined(__AVX2__)
    __m256 v = _mm256_setzero_ps();
    __m256i vz = _mm256_set1_epi32(zero);
    for (; c + 8 <= end; c += 8) {
      __m128i bytes = _mm_loadl_epi64((const __m128i *)(row + c));
      __m256i q = _mm256_sub_epi32(_mm256_cvtepu8_epi32(bytes), vz);
      v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q), _mm256_loadu_ps(x + c), v);
    }
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
    acc = _mm_cvtss_f32(h);
#endif
    for (; c < end; ++c)
      acc += (float)((int32_t)row[c] - zero) * x[c];
    y += scale_at(w, si) * acc;
  }
  return y;
}

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
/* Tokens per pass over a panel: as many as keep their accumulators (16
 * rows each) in registers. */
#if defined(__AVX512F__)
enum { PANEL_ROWS = QRT_TILE_ROWS, PANEL_TOKENS = 8 };
#else
enum { PANEL_ROWS = QRT_TILE_ROWS, PANEL_TOKENS = 4 };
#endif

#if defined(__AVX512F__)
/* out[j][i] = in[i][j] for a 16x16 block of floats: in rows `in_stride`
 * apart (rows past `rows` read as zero), out rows of 16. */
static void transpose16(const float *in, int64_t in_stride, int64_t rows, float *out) {
  __m512 r[16];
  for (int i = 0; i < 16; ++i)
    r[i] = i < rows ? _mm512_loadu_ps(in + i * in_stride) : _mm512_setzero_ps();
  transpose16_regs(r);
  for (int j = 0; j < 16; ++j)
    _mm512_storeu_ps(out + j * 16, r[j]);
}
#endif

/* Rows [r, r + rows) of w (rows <= PANEL_ROWS) as f32, transposed into
 * panel[k][PANEL_ROWS]; rows past `rows` are zero. f32 weights are copied,
 * others decoded one row at a time through `row`. */
static void pack_panel(const qrt_weight *w, int64_t r, int64_t rows, float *panel, float *row) {
  int64_t K = w->slot->cols;
#if defined(__AVX512F__)
  if (w->slot->kind == QRTW_F32 && K % 16 == 0) {
    const float *src = (const float *)w->data + r * K;
    for (int64_t k = 0; k < K; k += 16)
      transpose16(src + k, K, rows, panel + k * PANEL_ROWS);
    return;
  }
#endif
  if (rows < PANEL_ROWS)
    memset(panel, 0, sizeof(float) * (size_t)(K * PANEL_ROWS));
  for (int64_t i = 0; i < rows; ++i) {
    const float *src = row;
    if (w->slot->kind == QRTW_F32)
      src = (const float *)w->data + (r + i) * K;
    else
      decode_row(w, r + i, row);
    for (int64_t k = 0; k < K; ++k)
      panel[k * PANEL_ROWS + i] = src[k];
  }
}

/* y[t][r + i] = sum_k panel[k][i] * x[t][k] for up to PANEL_TOKENS tokens
 * and the panel's 16 rows: one FMA of a panel vector against a broadcast
 * activation advances 16 rows of one token, so the 8 accumulators need no
 * horizontal sums, and each panel load serves 8 tokens. Tokens past `count`
 * repeat the last one and are not stored. */
#if defined(__AVX512F__)
static void panel_times_tokens(const float *panel, int64_t K, const float *x, int64_t count,
                               float *y, int64_t N, int64_t r, int64_t rows) {
  const float *xt[PANEL_TOKENS];
  for (int t = 0; t < PANEL_TOKENS; ++t)
    xt[t] = x + (t < count ? t : count - 1) * K;
  /* Sums of 32 columns at a time are added into the totals: a float
   * running sum over all K columns would carry an error growing with K. */
  __m512 acc[PANEL_TOKENS], part[PANEL_TOKENS];
  for (int t = 0; t < PANEL_TOKENS; ++t)
    acc[t] = _mm512_setzero_ps();
  for (int64_t k0 = 0; k0 < K; k0 += 32) {
    int64_t k1 = k0 + 32 < K ? k0 + 32 : K;
    for (int t = 0; t < PANEL_TOKENS; ++t)
      part[t] = _mm512_setzero_ps();
    for (int64_t k = k0; k < k1; ++k) {
      __m512 wk = _mm512_loadu_ps(panel + k * PANEL_ROWS);
      for (int t = 0; t < PANEL_TOKENS; ++t)
        part[t] = _mm512_fmadd_ps(wk, _mm512_set1_ps(xt[t][k]), part[t]);
    }
    for (int t = 0; t < PANEL_TOKENS; ++t)
      acc[t] = _mm512_add_ps(acc[t], part[t]);
  }
  __mmask16 valid = (__mmask16)((1u << rows) - 1);
  for (int t = 0; t < count; ++t)
    _mm512_mask_storeu_ps(y + t * N + r, valid, acc[t]);
}
#else
/* The same on 256-bit vectors: a panel row is two vectors (rows 0-7 and
 * 8-15), 4 tokens per pass (8 running sums and 2 panel vectors in the 16
 * registers; the totals, touched once per 32 columns, may live in memory). */
static void panel_times_tokens(const float *panel, int64_t K, const float *x, int64_t count,
                               float *y, int64_t N, int64_t r, int64_t rows) {
  const float *xt[PANEL_TOKENS];
  for (int t = 0; t < PANEL_TOKENS; ++t)
    xt[t] = x + (t < count ? t : count - 1) * K;
  __m256 acc[PANEL_TOKENS][2], part[PANEL_TOKENS][2];
  for (int t = 0; t < PANEL_TOKENS; ++t)
    acc[t][0] = acc[t][1] = _mm256_setzero_ps();
  for (int64_t k0 = 0; k0 < K; k0 += 32) {
    int64_t k1 = k0 + 32 < K ? k0 + 32 : K;
    for (int t = 0; t < PANEL_TOKENS; ++t)
      part[t][0] = part[t][1] = _mm256_setzero_ps();
    for (int64_t k = k0; k < k1; ++k) {
      __m256 lo = _mm256_loadu_ps(panel + k * PANEL_ROWS);
      __m256 hi = _mm256_loadu_ps(panel + k * PANEL_ROWS + 8);
      for (int t = 0; t < PANEL_TOKENS; ++t) {
        __m256 xk = _mm256_broadcast_ss(xt[t] + k);
        part[t][0] = _mm256_fmadd_ps(lo, xk, part[t][0]);
        part[t][1] = _mm256_fmadd_ps(hi, xk, part[t][1]);
      }
    }
    for (int t = 0; t < PANEL_TOKENS; ++t) {
      acc[t][0] = _mm256_add_ps(acc[t][0], part[t][0]);
      acc[t][1] = _mm256_add_ps(acc[t][1], part[t][1]);
    }
  }
  for (int t = 0; t < count; ++t) {
    float out[PANEL_ROWS];
    _mm256_storeu_ps(out, acc[t][0]);
    _mm256_storeu_ps(out + 8, acc[t][1]);
    memcpy(y + t * N + r, out, sizeof(float) * (size_t)rows);
  }
}
#endif

/* Prefill on f32 rows: each thread packs 16 rows at a time into a panel in
 * its scratch (cols * 16 floats, plus a decoded row) and runs every token
 * against it while it is in cache. A token's result does not depend on n.
 * Decode keeps linear_rows: packing a panel for one token halves its speed. */
static void linear_rows_panels(const qrt_weight *w, const float *x, int64_t n, int64_t r0,
                               int64_t r1, float *y, float *scratch) {
  int64_t K = w->slot->cols, N = w->slot->rows;
  float *panel = scratch, *row = scratch + K * PANEL_ROWS;
  for (int64_t r = r0; r < r1; r += PANEL_ROWS) {
    int64_t rows = r1 - r < PANEL_ROWS ? r1 - r : PANEL_ROWS;
    pack_panel(w, r, rows, panel, row);
    for (int64_t m = 0; m < n; m += PANEL_TOKENS)
      panel_times_tokens(panel, K, x + m * K, n - m < PANEL_TOKENS ? n - m : PANEL_TOKENS,
                         y + m * N, N, r, rows);
  }
  qrt_add_outliers(w, x, n, r0, r1, y);
}
#endif

/* scratch holds at least cols + n * groups floats (prefill: cols * 17). */
static void linear_rows(const qrt_weight *w, const float *x, int64_t n, int64_t r0, int64_t r1,
                        float *y, float *scratch) {
  const qrtw_slot *s = w->slot;
  int64_t K = s->cols, N = s->rows;
  if (s->kind == QRTW_F32) {
    const float *wf = (const float *)w->data;
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t m = 0; m < n; ++m)
        y[m * N + r] = dot_f32(x + m * K, wf + r * K, K);
    return;
  }
  if (n > 1) {
    /* Prefill: decode each weight row once and reuse it for every token. */
    for (int64_t r = r0; r < r1; ++r) {
      decode_row(w, r, scratch);
      for (int64_t m = 0; m < n; ++m)
        y[m * N + r] = dot_f32(x + m * K, scratch, K);
    }
  } else {
    if (s->kind == QRTW_Q4) {
      /* 4-bit codes are small enough to fold the zero point afterwards */
      float *xsum = scratch;
      group_sums(s, x, 1, xsum);
      for (int64_t r = r0; r < r1; ++r)
        y[r] = q4_row_dot(w, r, x, xsum);
    } else {
      for (int64_t r = r0; r < r1; ++r)
        y[r] = codes_row_dot(w, r, x);
    }
  }
  qrt_add_outliers(w, x, n, r0, r1, y);
}

/* sum_j code_j * xq_j over [c, end) with u8 codes and s8 activations. */
static int32_t u8s8_dot(const uint8_t *codes, const int8_t *xq, int64_t c, int64_t end) {
  int32_t acc = 0;
#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
  __m512i v = _mm512_setzero_si512();
  for (; c + 64 <= end; c += 64)
    v = _mm512_dpbusd_epi32(v, _mm512_loadu_si512(codes + c), _mm512_loadu_si512(xq + c));
  acc += _mm512_reduce_add_epi32(v);
#elif defined(__AVX2__)
  __m256i v = _mm256_setzero_si256();
  for (; c + 16 <= end; c += 16) {
    __m256i a = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(codes + c)));
    __m256i b = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(xq + c)));
    v = _mm256_add_epi32(v, _mm256_madd_epi16(a, b));
  }
  __m128i h = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4E));
  h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xB1));
  acc += _mm_cvtsi128_si32(h);
#endif
  for (; c < end; ++c)
    acc += (int32_t)codes[c] * (int32_t)xq[c];
  return acc;
}

static void w8a8_rows(const qrt_weight *w, const int8_t *xq, const float *xscale, int64_t n,
                      int64_t r0, int64_t r1, float *y) {
  const qrtw_slot *s = w->slot;
  int64_t K = s->cols, N = s->rows, groups = num_groups(s);
  for (int64_t m = 0; m < n; ++m) {
    const int8_t *xr = xq + m * K;
    /* sum of activation codes per group, for the zero points */
    int32_t xsum[256];
    int32_t *sums = groups <= 256 ? xsum : NULL;
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t *row = (const uint8_t *)w->data + r * w->row_bytes;
      float acc = 0.0f;
      for (int64_t g = 0; g < groups; ++g) {
        int64_t b = group_begin(s, g), e = group_end(s, g);
        int32_t gs;
        if (sums && r > r0) {
          gs = sums[g];
        } else {
          gs = 0;
          for (int64_t c = b; c < e; ++c)
            gs += xr[c];
          if (sums)
            sums[g] = gs;
        }
        int64_t si = scale_index(s, r, g);
        int32_t dot = u8s8_dot(row, xr, b, e) - (int32_t)w->zeros[si] * gs;
        acc += scale_at(w, si) * (float)dot;
      }
      y[m * N + r] = xscale[m] * acc;
    }
  }
}

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
#define LINEAR_Q8_TILED QRT_FAMILY_FN(linear_q8_tiled)
#define W8A8_TILED QRT_FAMILY_FN(w8a8_tiled)
#else
#define LINEAR_Q8_TILED NULL
#define W8A8_TILED NULL
#endif
#if defined(__AVX512F__)
#define ATTEND_BLOCK QRT_FAMILY_FN(attend_block)
#define LINEAR_ROWS_PREFILL linear_rows_panels
#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define ATTEND_BLOCK QRT_FAMILY_FN(attend_block)
#define LINEAR_ROWS_PREFILL linear_rows_panels
#else
#define ATTEND_BLOCK NULL
#define LINEAR_ROWS_PREFILL NULL
#endif
const qrt_kernels QRT_KERNELS = {QRT_KERNELS_NAME,    linear_rows,
                                 LINEAR_ROWS_PREFILL, w8a8_rows,
                                 W8A8_TILED,          QRT_FAMILY_FN(linear_q8_rows),
                                 LINEAR_Q8_TILED,     QRT_FAMILY_FN(attend_head),
                                 ATTEND_BLOCK,        QRT_FAMILY_FN(to_f16)};
