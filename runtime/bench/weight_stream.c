/* weight_stream.c - qrt-weight-stream: how fast the CPU kernels stream the
 * integer weights of one decode step, beside how fast the machine reads.
 *
 *   build/bin/qrt-weight-stream [--shape tinyllama-1.1B|stories110M]
 *                               [--bits 4|8] [--threads N] [--steps N]
 *
 * Builds random weights in the matrices of one decode step of the shape
 * (per layer q/k/v as one, the output projection, gate and up as one, down;
 * then the classifier): 4-bit g32 or 8-bit per channel, symmetric, as
 * `qopt compile --recipe rtn` writes them. Runs the selected kernel family's
 * int8-activation kernel over them (the row tiles where the family has
 * them, as decode does for 4-bit weights) with the runtime's thread pool,
 * one parallel pass per matrix, and prints the weight GB/s of each step
 * beside the read bandwidth of a buffer as large on huge pages (where the
 * tiles live) and, for comparison, on the ordinary pages malloc gives.
 * Nothing else of a model runs, so the gap between kernel and read is the
 * kernel's own. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct shape {
  const char *name;
  int64_t dim, hidden, layers, kv_width, vocab;
} shape;
static const shape SHAPES[] = {{"tinyllama-1.1B", 2048, 5632, 22, 256, 32000},
                               {"stories110M", 768, 2048, 12, 768, 32000}};

typedef struct matrix {
  qrtw_slot slot;
  qrt_weight w;
  qrt_tiled_weight tiles;
  qrt_q8_activations x;
  float *y;
  const qrt_kernels *k;
} matrix;

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t next_random(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)rng_state;
}

static void *checked(void *p) {
  if (!p) {
    fprintf(stderr, "qrt-weight-stream: out of memory\n");
    exit(1);
  }
  return p;
}

/* Random symmetric weights of rows x cols, their tiles when the family
 * has them, and one token of activations quantized for them. Returns the
 * bytes one pass reads. */
static double make_matrix(matrix *m, int64_t rows, int64_t cols, int bits, const qrt_kernels *k) {
  memset(m, 0, sizeof *m);
  qrtw_slot *s = &m->slot;
  s->kind = bits == 4 ? QRTW_Q4 : QRTW_CODES;
  s->format = QRTW_FORMAT_INT;
  s->bits = (uint32_t)bits;
  s->rows = rows;
  s->cols = cols;
  s->group_width = bits == 4 ? 32 : cols;
  s->groups_per_row = bits == 4 ? cols / 32 : 1;
  int64_t row_bytes = bits == 4 ? cols / 2 : cols, groups = rows * s->groups_per_row;
  uint8_t *codes = (uint8_t *)checked(malloc((size_t)(rows * row_bytes)));
  uint16_t *scales = (uint16_t *)checked(malloc(sizeof(uint16_t) * (size_t)groups));
  uint8_t *zeros = (uint8_t *)checked(malloc((size_t)groups));
  for (int64_t i = 0; i < rows * row_bytes; ++i)
    codes[i] = (uint8_t)next_random();
  for (int64_t g = 0; g < groups; ++g) {
    scales[g] = (uint16_t)(0x2000 + (next_random() & 255)); /* ~0.008 */
    zeros[g] = (uint8_t)(1 << (bits - 1));
  }
  m->w = (qrt_weight){s, codes, scales, zeros, NULL, NULL, row_bytes, NULL};
  m->k = k;
  if (k->linear_q8_tiled && bits == 4) {
    if (qrt_tiled_pack(&m->w, &m->tiles) != 0)
      checked(NULL);
    m->w.tiled = &m->tiles;
  }
  float *x = (float *)checked(malloc(sizeof(float) * (size_t)cols));
  for (int64_t i = 0; i < cols; ++i)
    x[i] = (float)((int)(next_random() % 2001) - 1000) / 1000.0f;
  int8_t *q = (int8_t *)checked(malloc((size_t)cols));
  float *d = (float *)checked(malloc(sizeof(float) * (size_t)(cols / 32)));
  float *sums = (float *)checked(malloc(sizeof(float) * (size_t)s->groups_per_row));
  qrt_q8_quantize(s, x, 1, q, d, sums, &m->x);
  free(x);
  m->y = (float *)checked(malloc(sizeof(float) * (size_t)rows));
  /* symmetric weights: the tiles keep no zero points */
  return m->w.tiled ? (double)m->tiles.tiles * m->tiles.tile_bytes
                    : (double)rows * row_bytes + (double)groups * 2;
}

/* Everything make_matrix allocated. */
static void free_matrix(matrix *m) {
  free((void *)(uintptr_t)m->w.data);
  free((void *)(uintptr_t)m->w.scales);
  free((void *)(uintptr_t)m->w.zeros);
  if (m->w.tiled)
    qrt_tiled_free(&m->tiles);
  free((void *)(uintptr_t)m->x.q);
  free((void *)(uintptr_t)m->x.d);
  free((void *)(uintptr_t)m->x.group_sum);
  free(m->y);
}

static void rows_task(void *raw, int64_t begin, int64_t end, int worker) {
  matrix *m = (matrix *)raw;
  int64_t r0 = begin * QRT_TILE_ROWS, r1 = end * QRT_TILE_ROWS;
  if (r1 > m->slot.rows)
    r1 = m->slot.rows;
  static float scratch[256][8192 / 32]; /* linear_q8_rows: cols / 32 floats */
  if (m->w.tiled)
    m->k->linear_q8_tiled(&m->w, &m->x, 1, r0, r1, m->y);
  else
    m->k->linear_q8_rows(&m->w, &m->x, 1, r0, r1, m->y, scratch[worker & 255]);
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  const shape *sh = &SHAPES[0];
  int bits = 4, threads = 0, steps = 10;
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      printf("usage: %s [--shape tinyllama-1.1B|stories110M] [--bits 4|8] [--threads N] "
             "[--steps N]\n",
             argv[0]);
      return 0;
    }
    if (!v) {
      fprintf(stderr, "qrt-weight-stream: %s needs a value (see --help)\n", a);
      return 2;
    }
    ++i;
    if (!strcmp(a, "--shape")) {
      sh = NULL;
      for (size_t j = 0; j < sizeof SHAPES / sizeof SHAPES[0]; ++j)
        if (!strcmp(v, SHAPES[j].name))
          sh = &SHAPES[j];
      if (!sh) {
        fprintf(stderr, "qrt-weight-stream: unknown shape '%s' (tinyllama-1.1B, stories110M)\n", v);
        return 2;
      }
    } else if (!strcmp(a, "--bits") && (!strcmp(v, "4") || !strcmp(v, "8"))) {
      bits = atoi(v);
    } else if (!strcmp(a, "--threads") && atoi(v) > 0) {
      threads = atoi(v);
    } else if (!strcmp(a, "--steps") && atoi(v) > 0) {
      steps = atoi(v);
    } else {
      fprintf(stderr, "qrt-weight-stream: bad option %s %s (see --help)\n", a, v);
      return 2;
    }
  }
  const qrt_kernels *k = qrt_select_kernels();
  qrt_pool *pool = checked(qrt_pool_create(threads > 0 ? threads : 2));
  int64_t count = sh->layers * 4 + 1, at = 0;
  matrix *ms = (matrix *)checked(calloc((size_t)count, sizeof(matrix)));
  double bytes = 0;
  fprintf(stderr, "building %lld matrices ...\n", (long long)count);
  for (int64_t l = 0; l < sh->layers; ++l) {
    bytes += make_matrix(&ms[at++], sh->dim + 2 * sh->kv_width, sh->dim, bits, k);
    bytes += make_matrix(&ms[at++], sh->dim, sh->dim, bits, k);
    bytes += make_matrix(&ms[at++], 2 * sh->hidden, sh->dim, bits, k);
    bytes += make_matrix(&ms[at++], sh->dim, sh->hidden, bits, k);
  }
  bytes += make_matrix(&ms[at++], sh->vocab, sh->dim, bits, k);
  double *gbps = (double *)checked(calloc((size_t)steps, sizeof(double)));
  for (int s = 0; s < steps; ++s) {
    double t0 = qrt_seconds();
    for (int64_t i = 0; i < count; ++i)
      qrt_parallel_for(pool, (ms[i].slot.rows + QRT_TILE_ROWS - 1) / QRT_TILE_ROWS, 2, rows_task,
                       &ms[i]);
    gbps[s] = bytes / (qrt_seconds() - t0) / 1e9;
  }
  double read = qrt_pool_read_bandwidth(pool, (int64_t)bytes, 1);
  double read_small = qrt_pool_read_bandwidth(pool, (int64_t)bytes, 0);
  qsort(gbps, (size_t)steps, sizeof(double), compare_doubles);
  printf("shape=%s bits=%d kernels=%s%s threads=%d step_MB=%.1f steps=%d "
         "kernel_GBps_median=%.2f kernel_GBps_best=%.2f read_GBps=%.2f kernel_pct_of_read=%.0f "
         "read_GBps_small_pages=%.2f\n",
         sh->name, bits, k->name, ms[0].w.tiled ? "/tiles" : "/rows", qrt_pool_threads(pool),
         bytes / 1e6, steps, gbps[steps / 2], gbps[steps - 1], read, 100.0 * gbps[steps / 2] / read,
         read_small);
  for (int64_t i = 0; i < count; ++i)
    free_matrix(&ms[i]);
  free(ms);
  free(gbps);
  qrt_pool_destroy(pool);
  return 0;
}
