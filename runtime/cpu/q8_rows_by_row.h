/* q8_rows_by_row.h - int8-activation rows one weight row at a time against
 * every token, over a family's q4_row and codes_row (arch/.../q8_rows.h of
 * the families without row tiles). */
#ifndef QRT_Q8_ROWS_BY_ROW_H
#define QRT_Q8_ROWS_BY_ROW_H

static void q8_rows(const qrt_weight *w, const qrt_q8_activations *x, int64_t n, int64_t r0,
                    int64_t r1, float *y, float *scratch) {
  const qrtw_slot *s = w->slot;
  int64_t N = s->rows;
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
}

#endif
