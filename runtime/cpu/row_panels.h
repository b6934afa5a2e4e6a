/* row_panels.h - prefill on f32 rows in panels, for the families that have
 * them (included by their arch/.../panels.h, after it defines PANEL_ROWS,
 * PANEL_TOKENS, pack_panel_fast and panel_times_tokens). */
#ifndef QRT_ROW_PANELS_H
#define QRT_ROW_PANELS_H

/* Rows [r, r + rows) of w (rows <= PANEL_ROWS) as f32, transposed into
 * panel[k][PANEL_ROWS]; rows past `rows` are zero. f32 weights are copied,
 * others decoded one row at a time through `row`. */
static void pack_panel(const qrt_weight *w, int64_t r, int64_t rows, float *panel, float *row) {
  int64_t K = w->slot->cols;
  if (pack_panel_fast(w, r, rows, panel))
    return;
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
