/* tiled_pack.c - copies integer weights into the row tiles of the AVX-512
 * int8-activation kernels (layout: internal.h, qrt_tiled_weight).
 *
 * Done once at load, like llama.cpp's repacking of Q4_0: the .qrtw keeps one
 * row-major layout that every backend and the reference share, and a CPU
 * family picks the layout its instructions want. The copy costs memory
 * (the weights' codes once more) and a pass over them at load. Decode
 * streams the codes once per step, so they go on huge pages
 * (huge_pages.c); on this project's VM that changed no measured decode
 * speed.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

int qrt_tiled_eligible(const qrt_weight *w) {
  const qrtw_slot *s = w->slot;
  return qrt_q8_supported(s) && !s->scales_f32 && !(s->flags & QRTW_SLOT_GATHER_ONLY) &&
         (s->kind == QRTW_Q4 || (s->kind == QRTW_CODES && s->bits <= 8));
}

/* The zero point every group of w shares, or -1 when they differ. */
static int uniform_zero(const qrt_weight *w) {
  const qrtw_slot *s = w->slot;
  int64_t groups = s->groups_per_row ? s->rows * s->groups_per_row : 1;
  for (int64_t g = 1; g < groups; ++g)
    if (w->zeros[g] != w->zeros[0])
      return -1;
  return w->zeros[0];
}

int qrt_tiled_pack(const qrt_weight *w, qrt_tiled_weight *t) {
  const qrtw_slot *s = w->slot;
  memset(t, 0, sizeof *t);
  t->uniform_zero = uniform_zero(w);
  t->blocks = s->cols / QRT_Q8_BLOCK;
  t->groups = s->groups_per_row ? s->groups_per_row : 1;
  t->blocks_per_group = s->groups_per_row ? s->group_width / QRT_Q8_BLOCK : t->blocks;
  t->tiles = (s->rows + QRT_TILE_ROWS - 1) / QRT_TILE_ROWS;
  /* per block and lane: 16 bytes of nibbles or 32 byte codes */
  int64_t lane_bytes = s->kind == QRTW_Q4 ? QRT_Q8_BLOCK / 2 : QRT_Q8_BLOCK;
  t->block_bytes = lane_bytes * QRT_TILE_ROWS;
  t->tile_bytes = (t->groups + 1) / 2 * QRT_TILE_SCALE_LINE + t->blocks * t->block_bytes;
  size_t per_group = (size_t)(t->tiles * t->groups * QRT_TILE_ROWS);
  /* zeroed (mmap), so the padding lanes and half lines stay 0 */
  t->data = (uint8_t *)qrt_huge_alloc((size_t)(t->tiles * t->tile_bytes));
  t->zeros = t->uniform_zero < 0 ? (uint8_t *)calloc(per_group, 1) : NULL;
  if (!t->data || (t->uniform_zero < 0 && !t->zeros)) {
    qrt_tiled_free(t);
    return -1;
  }
  for (int64_t r = 0; r < s->rows; ++r) {
    int64_t tile = r / QRT_TILE_ROWS, lane = r % QRT_TILE_ROWS;
    const uint8_t *row = (const uint8_t *)w->data + r * w->row_bytes;
    int64_t first = s->groups_per_row ? r * s->groups_per_row : 0;
    /* the kernels' walk: a scale line before every even group, then blocks */
    uint8_t *p = t->data + tile * t->tile_bytes;
    uint16_t *line = NULL;
    for (int64_t g = 0; g < t->groups; ++g) {
      if (g % 2 == 0) {
        line = (uint16_t *)p;
        p += QRT_TILE_SCALE_LINE;
      }
      int64_t from = s->groups_per_row ? first + g : 0;
      line[(g % 2) * QRT_TILE_ROWS + lane] = ((const uint16_t *)w->scales)[from];
      if (t->zeros)
        t->zeros[(tile * t->groups + g) * QRT_TILE_ROWS + lane] = w->zeros[from];
      for (int64_t b = g * t->blocks_per_group; b < qrt_tile_group_end(t, g); ++b) {
        uint8_t *dst = p + lane * 4;
        const uint8_t *src = row + b * lane_bytes;
        for (int64_t v = 0; v < lane_bytes / 4; ++v)
          memcpy(dst + v * 4 * QRT_TILE_ROWS, src + v * 4, 4);
        p += t->block_bytes;
      }
    }
  }
  return 0;
}

void qrt_tiled_free(qrt_tiled_weight *t) {
  qrt_huge_free(t->data, (size_t)(t->tiles * t->tile_bytes));
  free(t->zeros);
  memset(t, 0, sizeof *t);
}
