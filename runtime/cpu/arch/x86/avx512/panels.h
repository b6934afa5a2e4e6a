/* panels.h (AVX-512) - the panel kernel of row_panels.h: 16 rows per
 * 512-bit vector, 8 tokens per pass; f32 rows transposed in registers. */
#ifndef QRT_ARCH_X86_AVX512_PANELS_H
#define QRT_ARCH_X86_AVX512_PANELS_H

/* Tokens per pass over a panel: as many as keep their accumulators (16
 * rows each) in registers. */
enum { PANEL_ROWS = QRT_TILE_ROWS, PANEL_TOKENS = 8 };

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

/* f32 rows whose width is a multiple of 16 go straight into the panel by
 * 16x16 register transposes; 0 leaves the rows to the decoding path. */
static int pack_panel_fast(const qrt_weight *w, int64_t r, int64_t rows, float *panel) {
  int64_t K = w->slot->cols;
  if (w->slot->kind == QRTW_F32 && K % 16 == 0) {
    const float *src = (const float *)w->data + r * K;
    for (int64_t k = 0; k < K; k += 16)
      transpose16(src + k, K, rows, panel + k * PANEL_ROWS);
    return 1;
  }
  return 0;
}

/* y[t][r + i] = sum_k panel[k][i] * x[t][k] for up to PANEL_TOKENS tokens
 * and the panel's 16 rows: one FMA of a panel vector against a broadcast
 * activation advances 16 rows of one token, so the 8 accumulators need no
 * horizontal sums, and each panel load serves 8 tokens. Tokens past `count`
 * repeat the last one and are not stored. */
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

#include "row_panels.h"

#endif
