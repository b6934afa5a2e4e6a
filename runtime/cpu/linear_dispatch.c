/* linear_dispatch.c - the linear entry points generated code calls: one
 * weight (qrt_linear, qrt_linear_w8a8) or several weights of one input
 * (qrt_linear_multi, qrt_linear_swiglu, made by the fusion passes).
 *
 * All go through one plan: the input is prepared once (left in f32,
 * quantized to int8 blocks for weight-only integer codes, or per token for
 * W8A8), then the rows of all the weights, taken as one row space, are
 * split over the threads in a single parallel pass. A fused call computes
 * exactly what the separate calls would: when the weights cannot share one
 * prepared input (mixed layouts or outlier sets), it makes the separate
 * calls. */
#include "internal.h"

#include <math.h>

#define MAX_FUSED 3
/* SwiGLU combines gate and up in tiles of this many rows, in cache. */
#define SWIGLU_TILE QRT_TILE_ROWS

enum row_mode { ROWS_F32, ROWS_Q8, ROWS_W8A8 };

typedef struct linear_plan {
  qrt_ctx *ctx;
  int count;
  const qrt_weight *w[MAX_FUSED];
  float *y[MAX_FUSED];
  int64_t first_row[MAX_FUSED + 1]; /* weight i owns [first_row[i], first_row[i + 1]) */
  int64_t n, total_rows;
  enum row_mode mode;
  const float *x;          /* f32 input: ROWS_F32, and outlier columns of ROWS_W8A8 */
  qrt_q8_activations q8;   /* ROWS_Q8 */
  const int8_t *xq;        /* ROWS_W8A8 codes [n, cols] and scales [n] */
  const float *xscale;
  float *swiglu_up;        /* set: w[0] is gate, w[1] up, y[0] = silu(gate) * up */
} linear_plan;

/* Whether a call takes w's row tiles. Prompt processing always does.
 * Decode does for 4-bit codes only: on byte codes the row-major kernel
 * (with its page-ahead prefetch) decoded stories110M w8 and W8A8 10-20%
 * faster than the tiles (QRT_TILED=0 against 1), while 4-bit tiles beat
 * 4-bit rows. The choice is per call, so a call's rows never mix kernels. */
int qrt_decode_takes_tiles(const qrt_weight *w) { return w->tiled && w->slot->kind == QRTW_Q4; }
static int use_tiles(const linear_plan *p, const qrt_weight *w) {
  return w->tiled && (p->ctx->steps.prefill || qrt_decode_takes_tiles(w));
}

/* A batch of decode rows (qrt_decode_batch) through the one-token kernel,
 * whose arithmetic differs from the several-token one on f32 activations:
 * each row must be what a decode step of its sequence alone computes. The
 * rows go tile by tile, so a tile of weight rows is read from memory once
 * and from cache for the other tokens. */
static void decode_rows_by_token(const qrt_kernels *k, const qrt_weight *w, const float *x,
                                 int64_t n, int64_t r0, int64_t r1, float *y, float *scratch) {
  int64_t K = w->slot->cols, N = w->slot->rows;
  for (int64_t r = r0; r < r1; r += QRT_TILE_ROWS) {
    int64_t e = r + QRT_TILE_ROWS < r1 ? r + QRT_TILE_ROWS : r1;
    for (int64_t m = 0; m < n; ++m)
      k->linear_rows(w, x + m * K, 1, r, e, y + m * N, scratch);
  }
}

static void run_rows(const linear_plan *p, int i, int64_t r0, int64_t r1, float *y,
                     float *scratch) {
  const qrt_weight *w = p->w[i];
  const qrt_kernels *k = p->ctx->kernels;
  const int tiles = use_tiles(p, w);
  switch (p->mode) {
  case ROWS_F32:
    if (p->ctx->steps.prefill && k->linear_rows_prefill)
      k->linear_rows_prefill(w, p->x, p->n, r0, r1, y, scratch);
    else if (p->n > 1 && p->ctx->steps.decode_rows)
      decode_rows_by_token(k, w, p->x, p->n, r0, r1, y, scratch);
    else
      k->linear_rows(w, p->x, p->n, r0, r1, y, scratch);
    break;
  case ROWS_Q8:
    if (tiles)
      k->linear_q8_tiled(w, &p->q8, p->n, r0, r1, y);
    else
      k->linear_q8_rows(w, &p->q8, p->n, r0, r1, y, scratch);
    break;
  case ROWS_W8A8:
    if (tiles)
      k->w8a8_tiled(w, p->xq, p->xscale, p->n, r0, r1, y);
    else
      k->w8a8_rows(w, p->xq, p->xscale, p->n, r0, r1, y);
    if (p->x)
      qrt_add_outliers(w, p->x, p->n, r0, r1, y);
    break;
  }
}

/* silu(g) * u with the association of the generated elementwise loop. */
static void swiglu_combine(float *g, const float *u, int64_t n, int64_t stride, int64_t r0,
                           int64_t r1) {
  for (int64_t m = 0; m < n; ++m)
    for (int64_t r = r0; r < r1; ++r) {
      float x = g[m * stride + r];
      g[m * stride + r] = x * (1.0f / (1.0f + expf(-x))) * u[m * stride + r];
    }
}

static void plan_rows(const linear_plan *p, int64_t begin, int64_t end, int worker);

static void plan_task(void *raw, int64_t begin, int64_t end, int worker) {
  const linear_plan *p = (const linear_plan *)raw;
  qrt_profile *prof = p->ctx->profile;
  if (!prof || worker != 0 || !prof->now) {
    plan_rows(p, begin, end, worker);
    return;
  }
  double t0 = qrt_seconds();
  plan_rows(p, begin, end, worker);
  prof->now->linear_own_s += qrt_seconds() - t0;
}

static void plan_rows(const linear_plan *p, int64_t begin, int64_t end, int worker) {
  /* threads split whole tiles of rows (run_plan) */
  begin *= QRT_TILE_ROWS;
  end = end * QRT_TILE_ROWS < p->total_rows ? end * QRT_TILE_ROWS : p->total_rows;
  float *scratch = p->ctx->scratch + (int64_t)worker * p->ctx->scratch_floats;
  if (p->swiglu_up) {
    int64_t rows = p->w[0]->slot->rows;
    for (int64_t r = begin; r < end; r += SWIGLU_TILE) {
      int64_t e = r + SWIGLU_TILE < end ? r + SWIGLU_TILE : end;
      run_rows(p, 0, r, e, p->y[0], scratch);
      run_rows(p, 1, r, e, p->swiglu_up, scratch);
      swiglu_combine(p->y[0], p->swiglu_up, p->n, rows, r, e);
    }
    return;
  }
  for (int i = 0; i < p->count; ++i) {
    int64_t lo = begin > p->first_row[i] ? begin : p->first_row[i];
    int64_t hi = end < p->first_row[i + 1] ? end : p->first_row[i + 1];
    if (lo < hi)
      run_rows(p, i, lo - p->first_row[i], hi - p->first_row[i], p->y[i], scratch);
  }
}

static int same_outliers(const qrt_weight *a, const qrt_weight *b) {
  if (a->slot->outliers != b->slot->outliers)
    return 0;
  for (int64_t j = 0; j < a->slot->outliers; ++j)
    if (a->outlier_index[j] != b->outlier_index[j])
      return 0;
  return 1;
}

typedef struct quantize_job {
  const qrt_weight *w;
  const float *x;
  qrt_ctx *ctx;
  int per_token; /* W8A8; else weight-only int8 activation blocks */
} quantize_job;

/* Tokens [begin, end) of a linear's input, quantized as the weight takes
 * them: per token and per 32-block (weight-only int codes), or per token
 * (W8A8). Tokens are independent, so ranges of them run in parallel. */
static void quantize_task(void *raw, int64_t begin, int64_t end, int worker) {
  (void)worker;
  quantize_job *j = (quantize_job *)raw;
  const qrtw_slot *s = j->w->slot;
  qrt_ctx *ctx = j->ctx;
  int64_t K = s->cols, n = end - begin;
  if (j->per_token) {
    qrt_quantize_tokens(j->x + begin * K, n, K, j->w->outlier_index, s->outliers,
                        ctx->xq + begin * K, ctx->xscale + begin);
    return;
  }
  qrt_q8_activations unused;
  int64_t groups = s->groups_per_row ? s->groups_per_row : 1;
  qrt_q8_quantize(s, j->x + begin * K, n, ctx->xq + begin * K,
                  ctx->xblock_scale + begin * (K / QRT_Q8_BLOCK),
                  ctx->xgroup_sum + begin * groups, &unused);
}

/* Chooses the mode and prepares the input once for all weights; 0 when the
 * weights need differently prepared inputs. */
static int prepare(linear_plan *p, int64_t input, const float *x) {
  qrt_ctx *ctx = p->ctx;
  const qrtw_slot *s0 = p->w[0]->slot;
  p->x = x;
  if (input == QRT_INPUT_TOKEN_Q8) {
    p->mode = ROWS_W8A8;
    p->xq = (const int8_t *)x;
    p->xscale = x + qrt_token_q8_scale_offset(ctx, s0->cols);
    p->x = NULL; /* the fusion pass only quantizes norms for weights without outliers */
    return 1;
  }
  if (input == QRT_INPUT_W8A8) {
    for (int i = 1; i < p->count; ++i)
      if (!same_outliers(p->w[0], p->w[i]))
        return 0;
    quantize_job job = {p->w[0], x, ctx, 1};
    qrt_parallel_tokens(ctx->pool, p->n, s0->cols, quantize_task, &job);
    p->mode = ROWS_W8A8;
    p->xq = ctx->xq;
    p->xscale = ctx->xscale;
    return 1;
  }
  /* int8 activations where each weight alone would take them: all (with
   * one layout) or none; a mix is prepared weight by weight */
  int q8 = 0, shared = 1;
  for (int i = 0; i < p->count; ++i) {
    q8 += ctx->q8_activations && qrt_q8_supported(p->w[i]->slot);
    shared &= qrt_q8_same_layout(s0, p->w[i]->slot);
  }
  if (q8 == 0) {
    p->mode = ROWS_F32;
    return 1;
  }
  if (q8 < p->count || !shared)
    return 0;
  /* quantized once here, before the rows are split over threads */
  quantize_job job = {p->w[0], x, ctx, 0};
  qrt_parallel_tokens(ctx->pool, p->n, s0->cols, quantize_task, &job);
  p->q8 = (qrt_q8_activations){ctx->xq, ctx->xblock_scale, ctx->xgroup_sum, s0->cols,
                               s0->groups_per_row ? s0->groups_per_row : 1};
  p->mode = ROWS_Q8;
  return 1;
}

/* Rows per task: at least ~64K weights so that small matrices stay on one
 * thread (waking a worker costs more than a 64x64 GEMV). */
static int64_t row_grain(const qrtw_slot *s, int64_t n) {
  int64_t work = s->cols * (n > 0 ? n : 1);
  int64_t g = 65536 / (work > 0 ? work : 1);
  return g > 0 ? g : 1;
}

/* Threads take whole tiles of QRT_TILE_ROWS rows, so no tiled weight's tile
 * is computed twice (SwiGLU's tiles are as many rows too). */
static void run_plan(linear_plan *p, int64_t total_rows) {
  p->total_rows = total_rows;
  int64_t grain = (row_grain(p->w[0]->slot, p->n) + QRT_TILE_ROWS - 1) / QRT_TILE_ROWS;
  qrt_profile *prof = p->ctx->profile;
  double t0 = prof ? qrt_seconds() : 0.0;
  qrt_parallel_for(p->ctx->pool, (total_rows + QRT_TILE_ROWS - 1) / QRT_TILE_ROWS, grain,
                   plan_task, p);
  if (prof && prof->now)
    prof->now->linear_s += qrt_seconds() - t0;
}

void qrt_linear_multi(qrt_ctx *ctx, int64_t input, int64_t count, int64_t s0, int64_t s1,
                      int64_t s2, const float *x, int64_t n, float *y0, float *y1, float *y2) {
  int64_t slots[MAX_FUSED] = {s0, s1, s2};
  float *ys[MAX_FUSED] = {y0, y1, y2};
  linear_plan p = {ctx};
  p.count = (int)(count < 1 ? 1 : count > MAX_FUSED ? MAX_FUSED : count);
  p.n = n;
  for (int i = 0; i < p.count; ++i) {
    p.w[i] = &ctx->weights[slots[i]];
    p.y[i] = ys[i];
    p.first_row[i + 1] = p.first_row[i] + p.w[i]->slot->rows;
  }
  if (!prepare(&p, input, x)) {
    for (int i = 0; i < p.count; ++i)
      qrt_linear_multi(ctx, input, 1, slots[i], -1, -1, x, n, ys[i], NULL, NULL);
    return;
  }
  run_plan(&p, p.first_row[p.count]);
}

void qrt_linear_swiglu(qrt_ctx *ctx, int64_t input, int64_t gate, int64_t up, const float *x,
                       int64_t n, float *up_tmp, float *y) {
  linear_plan p = {ctx};
  p.count = 2;
  p.n = n;
  p.w[0] = &ctx->weights[gate];
  p.w[1] = &ctx->weights[up];
  p.y[0] = y;
  int64_t rows = p.w[0]->slot->rows;
  if (!prepare(&p, input, x)) {
    qrt_linear_multi(ctx, input, 1, gate, -1, -1, x, n, y, NULL, NULL);
    qrt_linear_multi(ctx, input, 1, up, -1, -1, x, n, up_tmp, NULL, NULL);
    swiglu_combine(y, up_tmp, n, rows, 0, rows);
    return;
  }
  p.swiglu_up = up_tmp;
  run_plan(&p, rows);
}

void qrt_linear(qrt_ctx *ctx, int64_t slot, const float *x, int64_t n, float *out) {
  qrt_linear_multi(ctx, QRT_INPUT_F32, 1, slot, -1, -1, x, n, out, NULL, NULL);
}

void qrt_lm_head(qrt_ctx *ctx, int64_t slot, const float *x, int64_t n, float *out) {
  if (ctx->steps.logits_rows == QRT_LOGITS_NONE || n < 1)
    return;
  if (ctx->steps.logits_rows == QRT_LOGITS_LAST) {
    /* one row: the same numbers as that row of a full call (the kernels
     * give prefill and decode identical rows) */
    int64_t cols = ctx->weights[slot].slot->cols;
    qrt_linear(ctx, slot, x + (n - 1) * cols, 1, out);
    return;
  }
  qrt_linear(ctx, slot, x, n, out);
}

void qrt_linear_w8a8(qrt_ctx *ctx, int64_t slot, const float *x, int64_t n, float *out) {
  qrt_linear_multi(ctx, QRT_INPUT_W8A8, 1, slot, -1, -1, x, n, out, NULL, NULL);
}
