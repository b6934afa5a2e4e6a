/* linear.h (portable) - the primitives linear_kernels.c is written over, in
 * plain C, and which optional kernels this family lacks (NULL in its
 * table: the dispatcher then uses the general ones). */
#ifndef QRT_ARCH_GENERIC_LINEAR_H
#define QRT_ARCH_GENERIC_LINEAR_H

#define QRT_ARCH_ROWS_PREFILL NULL
#define QRT_ARCH_W8A8_TILED NULL
#define QRT_ARCH_LINEAR_Q8_TILED NULL
#define QRT_ARCH_ATTEND_BLOCK NULL

static float dot_f32(const float *a, const float *b, int64_t n) {
  int64_t i = 0;
  float s = 0.0f;
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j)
      acc[j] += a[i + j] * b[i + j];
  s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i)
    s += a[i] * b[i];
  return s;
}

/* sum_j code_j x_j over one full 32-code 4-bit block. */
static inline float q4_block_dot(const uint8_t *b, const float *x) {
  float s = 0.0f;
  for (int j = 0; j < 16; ++j)
    s += (float)(b[j] & 15) * x[j] + (float)(b[j] >> 4) * x[j + 16];
  return s;
}

/* Advances *c over the codes this family's vectors take and returns their
 * sum of (code - zero) * x; the caller finishes the tail. Portable C
 * leaves them all to the tail loop. */
static inline float codes_dot_prefix(const uint8_t *row, const float *x, int32_t zero, int64_t *c,
                                     int64_t end) {
  (void)row, (void)x, (void)zero, (void)c, (void)end;
  return 0.0f;
}

/* sum_j code_j * xq_j over [c, end) with u8 codes and s8 activations. */
static int32_t u8s8_dot(const uint8_t *codes, const int8_t *xq, int64_t c, int64_t end) {
  int32_t acc = 0;
  for (; c < end; ++c)
    acc += (int32_t)codes[c] * (int32_t)xq[c];
  return acc;
}

#endif
