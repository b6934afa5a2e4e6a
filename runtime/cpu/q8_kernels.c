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
#include QRT_ARCH_FILE(q8.h)

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
    zero_term = zero_term_prefix(scales, zeros, group_sum, blocks, &b);
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
    int64_t b = f16_to_f32_prefix(scales, blocks, wsb);
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
  int64_t b = mul_prefix(bs, d, blocks);
  for (; b < blocks; ++b)
    bs[b] = bs[b] * d[b];
  return zero_term_of(w, r, group_sum);
}

#include QRT_ARCH_FILE(q8_rows.h)

void QRT_FAMILY_FN(linear_q8_rows)(const qrt_weight *w, const qrt_q8_activations *x,
                                   int64_t n, int64_t r0, int64_t r1, float *y,
                                   float *scratch) {
  q8_rows(w, x, n, r0, r1, y, scratch);
}
