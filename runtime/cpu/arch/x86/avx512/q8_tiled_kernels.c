/* q8_tiled_kernels.c - int8 activations times tiled integer weights
 * (AVX-512 VNNI only: built in that family alone; layout in internal.h,
 * qrt_tiled_weight).
 *
 * One call computes QRT_TILE_ROWS rows (one per lane) for up to TILE_TOKENS
 * tokens. Per 32-code block and token, 8 vpdpbusd (each 4 activation bytes
 * broadcast against 16 rows x 4 codes) give the block's exact int32 dot
 * product for all 16 rows; one convert and one FMA apply the weight scale
 * times the token's block scale:
 *     y = -sum_g ws_g * z_g * S_g  +  sum_b (ws_g(b) * d_b) * dot_b
 * (S_g as in q8_kernels.c), accumulated in that order. Every (row, token)
 * sees the same operations whatever the number of tokens, so decode (one
 * token) and prefill agree to the bit. The weight vectors are loaded once
 * per block and used by every token of the call: prefill reads each tile
 * once per TILE_TOKENS tokens, from cache.
 */
#include "kernel_family.h"

#include <stdlib.h>
#include <string.h>

#define TILE_TOKENS 8
/* No software prefetch: the tiles are one sequential stream that the
 * hardware prefetcher follows. Asking for each line a page ahead, as the
 * row kernels do, cost a third of the single-thread streaming rate of 8-bit
 * tiles (16384 x 2048 W8A8 GEMV: 26-28 GB/s with it, 31-37 without). */

/* Independent int32 accumulators per token: with few tokens one chain of
 * dependent vpdpbusd would wait on its latency (W8A8 decode, one chain per
 * row group of 24+ blocks, ran 15% slower than the row-major kernel).
 * Integer sums are exact, so the split changes no result. */
#define MAX_CHAINS 4
static inline int chains_for(int tokens) { return tokens == 1 ? 4 : tokens < 4 ? 2 : 1; }
static inline __m512i sum_chains(const __m512i *d, int chains) {
  __m512i s = d[0];
  for (int i = 1; i < chains; ++i)
    s = _mm512_add_epi32(s, d[i]);
  return s;
}

/* The zero points of group g's 16 rows, as int32 lanes. */
static inline __m512i tile_zeros(const qrt_tiled_weight *tw, const uint8_t *zeros, int64_t g) {
  if (!zeros)
    return _mm512_set1_epi32(tw->uniform_zero);
  return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(zeros + g * QRT_TILE_ROWS)));
}

/* Group g's 16 scales, walking a tile's stream at *src: an even group
 * starts a scale line (*line) that the next group shares (layout:
 * internal.h). */
static inline __m512 group_scales(const uint8_t **src, const uint8_t **line, int64_t g) {
  if (g % 2 == 0) {
    *line = *src;
    *src += QRT_TILE_SCALE_LINE;
  }
  return _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)*line + g % 2));
}

static inline __m512i broadcast4(const int8_t *p) {
  int32_t v;
  memcpy(&v, p, sizeof v);
  return _mm512_set1_epi32(v);
}

/* Where, within a token's codes, the activation codes 0..15 of block b
 * start (16..31 follow at high_offset): 4-bit weights get activations
 * interleaved by superblocks (q8_quantize.c). */
static inline int64_t low_half(int q4, int64_t b, int64_t full_blocks) {
  if (q4 && b < full_blocks)
    return (b - b % QRT_Q8_SUPERBLOCK) * QRT_Q8_BLOCK + (b % QRT_Q8_SUPERBLOCK) * 16;
  return b * QRT_Q8_BLOCK;
}
static inline int64_t high_offset(int q4, int64_t b, int64_t full_blocks) {
  return q4 && b < full_blocks ? QRT_Q8_SUPERBLOCK * 16 : 16;
}

/* The activations' fields as locals, and the sums in a local array stored
 * to `out` once: `out` and the fields would otherwise be reloaded after
 * every __m512 store, which may alias anything (1.1B w4 prefill ran 7%
 * slower that way once the tile walk had a running pointer). */
static inline __attribute__((always_inline)) void tile_n(const qrt_weight *w, int64_t tile,
                                                         const qrt_q8_activations *x, int64_t m0,
                                                         int tokens, __m512 *out) {
  const qrt_tiled_weight *tw = w->tiled;
  const int q4 = w->slot->kind == QRTW_Q4;
  const int64_t blocks = tw->blocks, groups = tw->groups, block_bytes = tw->block_bytes;
  const int64_t per_group = tw->blocks_per_group, full = blocks - blocks % QRT_Q8_SUPERBLOCK;
  const int8_t *const xq = x->q + m0 * x->cols;
  const float *const xd = x->d + m0 * blocks, *const xgs = x->group_sum + m0 * x->groups;
  const int64_t cols = x->cols, xgroups = x->groups;
  const uint8_t *src = tw->data + tile * tw->tile_bytes, *line = NULL;
  const uint8_t *zeros = tw->zeros ? tw->zeros + tile * groups * QRT_TILE_ROWS : NULL;
  const __m512i low = _mm512_set1_epi8(0x0F);
  const int chains = chains_for(tokens);
  __m512 acc[TILE_TOKENS];
  for (int t = 0; t < tokens; ++t)
    acc[t] = _mm512_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    __m512 ws = group_scales(&src, &line, g);
    __m512 z = _mm512_cvtepi32_ps(tile_zeros(tw, zeros, g));
    __m512 wz = _mm512_mul_ps(ws, z);
    for (int t = 0; t < tokens; ++t)
      acc[t] = _mm512_fnmadd_ps(wz, _mm512_set1_ps(xgs[t * xgroups + g]), acc[t]);
    const int64_t end = qrt_tile_group_end(tw, g);
    for (int64_t b = g * per_group; b < end; ++b, src += block_bytes) {
      __m512i dot[TILE_TOKENS * MAX_CHAINS];
      for (int i = 0; i < tokens * chains; ++i)
        dot[i] = _mm512_setzero_si512();
      if (q4) {
        const int64_t hi = high_offset(1, b, full), at = low_half(1, b, full);
        for (int v = 0; v < 4; ++v) {
          __m512i raw = _mm512_load_si512(src + v * 64);
          __m512i lo = _mm512_and_si512(raw, low);
          __m512i up = _mm512_and_si512(_mm512_srli_epi16(raw, 4), low);
          for (int t = 0; t < tokens; ++t) {
            const int8_t *xs = xq + t * cols + at + v * 4;
            __m512i *d = &dot[t * chains + (2 * v) % chains];
            *d = _mm512_dpbusd_epi32(*d, lo, broadcast4(xs));
            d = &dot[t * chains + (2 * v + 1) % chains];
            *d = _mm512_dpbusd_epi32(*d, up, broadcast4(xs + hi));
          }
        }
      } else {
        for (int v = 0; v < 8; ++v) {
          __m512i c = _mm512_load_si512(src + v * 64);
          for (int t = 0; t < tokens; ++t) {
            __m512i *d = &dot[t * chains + v % chains];
            *d = _mm512_dpbusd_epi32(*d, c, broadcast4(xq + t * cols + b * QRT_Q8_BLOCK + v * 4));
          }
        }
      }
      for (int t = 0; t < tokens; ++t)
        dot[t] = sum_chains(&dot[t * chains], chains);
      for (int t = 0; t < tokens; ++t) {
        __m512 scale = _mm512_mul_ps(ws, _mm512_set1_ps(xd[t * blocks + b]));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[t]), scale, acc[t]);
      }
    }
  }
  for (int t = 0; t < tokens; ++t)
    out[t] = acc[t];
}

/* Token counts as compile-time constants where they matter: decode (1)
 * and full prefill tiles. */
static void tile(const qrt_weight *w, int64_t t, const qrt_q8_activations *x, int64_t m0,
                 int tokens, __m512 *acc) {
  if (tokens == 1)
    tile_n(w, t, x, m0, 1, acc);
  else if (tokens == TILE_TOKENS)
    tile_n(w, t, x, m0, TILE_TOKENS, acc);
  else
    tile_n(w, t, x, m0, tokens, acc);
}

/* The lanes of the tile starting at row `first` that lie in [r0, r1). */
static inline __mmask16 row_mask(int64_t first, int64_t r0, int64_t r1) {
  int64_t lo = r0 > first ? r0 - first : 0;
  int64_t hi = r1 < first + QRT_TILE_ROWS ? r1 - first : QRT_TILE_ROWS;
  return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

void QRT_FAMILY_FN(linear_q8_tiled)(const qrt_weight *w, const qrt_q8_activations *x, int64_t n,
                                    int64_t r0, int64_t r1, float *y) {
  int64_t N = w->slot->rows;
  for (int64_t t = r0 / QRT_TILE_ROWS; t * QRT_TILE_ROWS < r1; ++t) {
    int64_t first = t * QRT_TILE_ROWS;
    __mmask16 keep = row_mask(first, r0, r1);
    for (int64_t m0 = 0; m0 < n; m0 += TILE_TOKENS) {
      int tokens = (int)(n - m0 < TILE_TOKENS ? n - m0 : TILE_TOKENS);
      __m512 acc[TILE_TOKENS];
      tile(w, t, x, m0, tokens, acc);
      for (int k = 0; k < tokens; ++k)
        _mm512_mask_storeu_ps(y + (m0 + k) * N + first, keep, acc[k]);
    }
  }
}

/* W8A8 on the same tiles: activations per token (one scale, no blocks), so
 * a group's dot product stays in int32 across its blocks and the zero
 * point is subtracted exactly, as w8a8_rows does:
 *     y = xscale * sum_g ws_g * (dot_g - z_g * sum_{j in g} q_j)
 * xsum: [n, groups] sums of each token's codes per group. */
static inline __attribute__((always_inline)) void w8a8_tile_n(const qrt_weight *w, int64_t tile,
                                                              const int8_t *xq, const int32_t *xsum,
                                                              int64_t m0, int tokens, __m512 *out) {
  const qrt_tiled_weight *tw = w->tiled;
  const int64_t K = w->slot->cols, groups = tw->groups, block_bytes = tw->block_bytes;
  const uint8_t *src = tw->data + tile * tw->tile_bytes, *line = NULL;
  const uint8_t *zeros = tw->zeros ? tw->zeros + tile * groups * QRT_TILE_ROWS : NULL;
  __m512 acc[TILE_TOKENS]; /* local, as in tile_n */
  for (int t = 0; t < tokens; ++t)
    acc[t] = _mm512_setzero_ps();
  const int chains = chains_for(tokens);
  for (int64_t g = 0; g < groups; ++g) {
    __m512 ws = group_scales(&src, &line, g);
    __m512i dot[TILE_TOKENS * MAX_CHAINS];
    for (int i = 0; i < tokens * chains; ++i)
      dot[i] = _mm512_setzero_si512();
    const int64_t end = qrt_tile_group_end(tw, g);
    for (int64_t b = g * tw->blocks_per_group; b < end; ++b, src += block_bytes) {
      for (int v = 0; v < 8; ++v) {
        __m512i c = _mm512_load_si512(src + v * 64);
        for (int t = 0; t < tokens; ++t) {
          __m512i *d = &dot[t * chains + v % chains];
          *d = _mm512_dpbusd_epi32(*d, c, broadcast4(xq + (m0 + t) * K + b * QRT_Q8_BLOCK + v * 4));
        }
      }
    }
    for (int t = 0; t < tokens; ++t)
      dot[t] = sum_chains(&dot[t * chains], chains);
    __m512i z = tile_zeros(tw, zeros, g);
    for (int t = 0; t < tokens; ++t) {
      __m512i exact = _mm512_sub_epi32(
          dot[t], _mm512_mullo_epi32(z, _mm512_set1_epi32(xsum[(m0 + t) * groups + g])));
      acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(ws, _mm512_cvtepi32_ps(exact)));
    }
  }
  for (int t = 0; t < tokens; ++t)
    out[t] = acc[t];
}

static void w8a8_tile(const qrt_weight *w, int64_t t, const int8_t *xq, const int32_t *xsum,
                      int64_t m0, int tokens, __m512 *acc) {
  if (tokens == 1)
    w8a8_tile_n(w, t, xq, xsum, m0, 1, acc);
  else if (tokens == TILE_TOKENS)
    w8a8_tile_n(w, t, xq, xsum, m0, TILE_TOKENS, acc);
  else
    w8a8_tile_n(w, t, xq, xsum, m0, tokens, acc);
}

void QRT_FAMILY_FN(w8a8_tiled)(const qrt_weight *w, const int8_t *xq, const float *xscale,
                               int64_t n, int64_t r0, int64_t r1, float *y) {
  const qrtw_slot *s = w->slot;
  const qrt_tiled_weight *tw = w->tiled;
  int64_t N = s->rows, K = s->cols, groups = tw->groups;
  int32_t stack[1024];
  int32_t *xsum = n * groups <= 1024 ? stack : (int32_t *)malloc(sizeof(int32_t) * n * groups);
  if (!xsum)
    abort(); /* a few KiB per call: nothing sensible to continue with */
  for (int64_t m = 0; m < n; ++m)
    for (int64_t g = 0; g < groups; ++g) {
      int64_t b = group_begin(s, g), e = group_end(s, g);
      int32_t sum = 0;
      for (int64_t c = b; c < e; ++c)
        sum += xq[m * K + c];
      xsum[m * groups + g] = sum;
    }
  for (int64_t t = r0 / QRT_TILE_ROWS; t * QRT_TILE_ROWS < r1; ++t) {
    int64_t first = t * QRT_TILE_ROWS;
    __mmask16 keep = row_mask(first, r0, r1);
    for (int64_t m0 = 0; m0 < n; m0 += TILE_TOKENS) {
      int tokens = (int)(n - m0 < TILE_TOKENS ? n - m0 : TILE_TOKENS);
      __m512 acc[TILE_TOKENS];
      w8a8_tile(w, t, xq, xsum, m0, tokens, acc);
      for (int k = 0; k < tokens; ++k)
        _mm512_mask_storeu_ps(y + (m0 + k) * N + first, keep,
                              _mm512_mul_ps(_mm512_set1_ps(xscale[m0 + k]), acc[k]));
    }
  }
  if (xsum != stack)
    free(xsum);
}
