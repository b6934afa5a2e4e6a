/* q8_rows.h (portable) - 4-bit and byte codes times int8 activation blocks
 * in plain C, one row at a time. */
#ifndef QRT_ARCH_GENERIC_Q8_ROWS_H
#define QRT_ARCH_GENERIC_Q8_ROWS_H

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

#include "q8_rows_by_row.h"

#endif
