/* panels.h (AVX2 + FMA) - the panel kernel of row_panels.h on 256-bit
 * vectors. */
#ifndef QRT_ARCH_X86_AVX2_PANELS_H
#define QRT_ARCH_X86_AVX2_PANELS_H

/* Tokens per pass over a panel: as many as keep their accumulators (16
 * rows each) in registers. */
enum { PANEL_ROWS = QRT_TILE_ROWS, PANEL_TOKENS = 4 };

/* Every panel is packed row by row. */
static int pack_panel_fast(const qrt_weight *w, int64_t r, int64_t rows, float *panel) {
  (void)w, (void)r, (void)rows, (void)panel;
  return 0;
}

/* y[t][r + i] = sum_k panel[k][i] * x[t][k] for up to PANEL_TOKENS tokens
 * and the panel's 16 rows: one FMA of a panel vector against a broadcast
 * activation advances 16 rows of one token, so the 8 accumulators need no
 * horizontal sums, and each panel load serves 8 tokens. Tokens past `count`
 * repeat the last one and are not stored. */
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

#include "row_panels.h"

#endif
