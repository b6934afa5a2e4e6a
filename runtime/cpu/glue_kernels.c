/* glue_kernels.c - the ABI entry points generated code calls around the
 * linears (linear_dispatch.c): embedding, rms_norm (alone, after a residual
 * add, with per-token quantization), rope, attention with the KV cache.
 * Formulas follow the reference executor's kernels (lib/Exec/Kernels.cpp)
 * operation for operation. */
#include "internal.h"

#include <math.h>
#include <string.h>

float *qrt_arena(qrt_ctx *ctx) { return ctx->arena; }

void qrt_embed(qrt_ctx *ctx, int64_t slot, const int32_t *tokens, int64_t n, float *out) {
  const qrt_weight *w = &ctx->weights[slot];
  int64_t dim = w->slot->cols;
  for (int64_t m = 0; m < n; ++m) {
    int64_t t = tokens[m];
    if (t < 0 || t >= w->slot->rows)
      t = 0; /* qrt_forward validates tokens; keep generated code total */
    memcpy(out + m * dim, (const float *)w->data + t * dim, (size_t)dim * sizeof(float));
  }
}

static void norm_row(const float *w, const float *x, int64_t d, float eps, float *out) {
  float ss = qrt_dot8(x, x, d) / (float)d + eps;
  float inv = 1.0f / sqrtf(ss);
  for (int64_t i = 0; i < d; ++i)
    out[i] = w[i] * (inv * x[i]);
}

typedef struct norm_job {
  qrt_ctx *ctx;
  const float *w, *a, *b;
  int64_t d;
  float eps;
  int quantize;
  float *sum, *out;
} norm_job;

/* Row m: optionally sum = a + b first; then the norm, written as f32 or, with
 * `quantize`, as the token-quantized buffer of qrt_abi.h (the f32 row only
 * passes through this thread's scratch). */
static void norm_task(void *raw, int64_t begin, int64_t end, int worker) {
  norm_job *j = (norm_job *)raw;
  int64_t d = j->d;
  int8_t *codes = (int8_t *)j->out;
  float *scales = j->out + qrt_token_q8_scale_offset(j->ctx, d);
  float *scratch = j->ctx->scratch + (int64_t)worker * j->ctx->scratch_floats;
  for (int64_t m = begin; m < end; ++m) {
    const float *xr = j->a + m * d;
    if (j->b) {
      for (int64_t i = 0; i < d; ++i)
        j->sum[m * d + i] = xr[i] + j->b[m * d + i];
      xr = j->sum + m * d;
    }
    if (!j->quantize) {
      norm_row(j->w, xr, d, j->eps, j->out + m * d);
      continue;
    }
    norm_row(j->w, xr, d, j->eps, scratch);
    qrt_quantize_tokens(scratch, 1, d, NULL, 0, codes + m * d, scales + m);
  }
}

static void norm_rows(qrt_ctx *ctx, int64_t slot, const float *a, const float *b, int64_t n,
                      float eps, int quantize, float *sum, float *out) {
  int64_t d = ctx->weights[slot].slot->cols;
  norm_job job = {ctx, (const float *)ctx->weights[slot].data, a, b, d, eps, quantize, sum, out};
  qrt_parallel_tokens(ctx->pool, n, d, norm_task, &job);
}

void qrt_rms_norm(qrt_ctx *ctx, int64_t slot, const float *x, int64_t n, float eps, float *out) {
  norm_rows(ctx, slot, x, NULL, n, eps, 0, NULL, out);
}

void qrt_rms_norm_quant(qrt_ctx *ctx, int64_t slot, const float *x, int64_t n, float eps,
                        float *out) {
  norm_rows(ctx, slot, x, NULL, n, eps, 1, NULL, out);
}

void qrt_add_rms_norm(qrt_ctx *ctx, int64_t slot, const float *a, const float *b, int64_t n,
                      float eps, int64_t quantize, float *sum, float *out) {
  norm_rows(ctx, slot, a, b, n, eps, quantize != 0, sum, out);
}

typedef struct rope_job {
  qrt_ctx *ctx;
  const float *x;
  int64_t width, head_dim, pos, interleaved;
  float theta;
  const float *freq_scale;
  float *out;
} rope_job;

/* The rotation of a pair depends on the position and the pair, not the head:
 * each token's cosines and sines are computed once for all its heads (the
 * same expressions as the reference executor, so the same values). */
static void rope_task(void *raw, int64_t begin, int64_t end, int worker) {
  rope_job *r = (rope_job *)raw;
  int64_t half = r->head_dim / 2, width = r->width, head_dim = r->head_dim;
  float *freq = r->ctx->scratch + (int64_t)worker * r->ctx->scratch_floats;
  float *cosines = freq + half, *sines = cosines + half;
  for (int64_t j = 0; j < half; ++j) {
    freq[j] = 1.0f / powf(r->theta, (float)(2 * j) / (float)head_dim);
    if (r->freq_scale)
      freq[j] *= r->freq_scale[j];
  }
  const int64_t *row_pos = r->ctx->row_pos;
  for (int64_t m = begin; m < end; ++m) {
    float p = (float)(row_pos ? row_pos[m] : r->pos + m);
    for (int64_t j = 0; j < half; ++j) {
      float angle = p * freq[j];
      cosines[j] = cosf(angle);
      sines[j] = sinf(angle);
    }
    for (int64_t h = 0; h < width / head_dim; ++h) {
      const float *xh = r->x + m * width + h * head_dim;
      float *yh = r->out + m * width + h * head_dim;
      for (int64_t j = 0; j < half; ++j) {
        float c = cosines[j], s = sines[j];
        int64_t a = r->interleaved ? 2 * j : j;
        int64_t b = r->interleaved ? 2 * j + 1 : j + half;
        float x0 = xh[a], x1 = xh[b];
        yh[a] = x0 * c - x1 * s;
        yh[b] = x0 * s + x1 * c;
      }
    }
  }
}

void qrt_rope(qrt_ctx *ctx, const float *x, int64_t n, int64_t width, int64_t head_dim,
              int64_t pos, float theta, int64_t interleaved, const float *freq_scale,
              float *out) {
  rope_job job = {ctx, x, width, head_dim, pos, interleaved, theta, freq_scale, out};
  qrt_parallel_tokens(ctx->pool, n, width, rope_task, &job);
}

typedef struct attention_job {
  qrt_ctx *ctx;
  const float *q;
  const void *keys, *values; /* this layer's cache, f32 or f16 bits */
  int64_t layer, n, pos, heads, kv_heads, head_dim;
  float scale;
  int64_t window; /* 0: full causal attention */
  float *out;
} attention_job;

/* Where a layer of sequence `seq` starts in the caches, in elements
 * (internal.h: [sequences][layers][kv heads][kv_positions][head_dim]). */
static int64_t layer_offset(const qrt_ctx *ctx, int64_t seq, int64_t layer) {
  return (seq * ctx->program->layers + layer) * ctx->kv_positions * ctx->program->kv_width;
}

/* Bytes per cached key or value. */
static size_t kv_element(const qrt_ctx *ctx) { return ctx->kv_i8 ? 1 : ctx->kv_f16 ? 2 : 4; }

/* Where query head h's KV head starts in a layer's cache, in bytes. */
static size_t kv_head_offset(const attention_job *j, int64_t h) {
  int64_t kv_head = h / (j->heads / j->kv_heads);
  return (size_t)(kv_head * j->ctx->kv_positions * j->head_dim) * kv_element(j->ctx);
}

/* One row of head_dim keys or values into an int8 cache: codes
 * round-to-nearest-even(x / s) clamped to [-127, 127] under s = max|x| / 127
 * (1 for a zero row), the reference executor's int8KvRow
 * (lib/Exec/Kernels.cpp) in the same float operations. */
static void store_int8_row(const float *x, int64_t n, int8_t *codes, float *scale) {
  float absmax = 0;
  for (int64_t i = 0; i < n; ++i)
    absmax = fmaxf(absmax, fabsf(x[i]));
  float s = absmax > 0 ? absmax / 127.0f : 1.0f;
  for (int64_t i = 0; i < n; ++i) {
    float q = nearbyintf(x[i] / s);
    codes[i] = (int8_t)(q > 127.0f ? 127.0f : q < -127.0f ? -127.0f : q);
  }
  *scale = s;
}

/* `rows` rows of an int8 cache starting at `codes` (a KV head's run),
 * widened to f32 as code * scale into `out`: the attention kernels then
 * read f32, and the values are the ones the executor attends to. */
static void widen_int8_rows(const qrt_ctx *ctx, const void *codes, int keys, int64_t rows,
                            int64_t hd, float *out) {
  const int8_t *c = (const int8_t *)codes;
  const int8_t *base = (const int8_t *)(keys ? ctx->key_cache : ctx->value_cache);
  const float *scale = (keys ? ctx->key_scale : ctx->value_scale) + (c - base) / hd;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < hd; ++i)
      out[r * hd + i] = (float)c[r * hd + i] * scale[r];
}

/* Points *k and *v (the first of `rows` int8 rows of a KV head) at this
 * worker's f32 copies. Consecutive tasks of a worker are mostly query heads
 * of the same KV head reading the same rows, so those are widened once per
 * attention call (the cache does not change while its tasks run). */
static void widened_kv(const qrt_ctx *ctx, int worker, int64_t rows, int64_t hd,
                       const void **k, const void **v) {
  float *buf = ctx->kv_rows + (int64_t)worker * ctx->kv_rows_floats;
  struct qrt_kv_rows_tag *tag = &ctx->kv_rows_tag[worker];
  if (tag->call != ctx->attention_calls || tag->keys != *k || tag->rows != rows) {
    widen_int8_rows(ctx, *k, 1, rows, hd, buf);
    widen_int8_rows(ctx, *v, 0, rows, hd, buf + ctx->kv_rows_floats / 2);
    tag->call = ctx->attention_calls;
    tag->keys = *k;
    tag->rows = rows;
  }
  *k = buf;
  *v = buf + ctx->kv_rows_floats / 2;
}

static void attention_task(void *raw, int64_t begin, int64_t end, int worker) {
  attention_job *j = (attention_job *)raw;
  const qrt_ctx *ctx = j->ctx;
  int64_t q_width = j->heads * j->head_dim, hd = j->head_dim;
  size_t element = kv_element(ctx);
  float *scratch = ctx->scratch + (int64_t)worker * ctx->scratch_floats;
  for (int64_t task = begin; task < end; ++task) {
    int64_t m = task / j->heads, h = task % j->heads;
    int64_t last = ctx->row_pos ? ctx->row_pos[m] : j->pos + m;
    const char *keys = (const char *)j->keys, *values = (const char *)j->values;
    if (ctx->row_seq) { /* a batch: each row has its own sequence's cache */
      size_t layer = (size_t)layer_offset(ctx, ctx->row_seq[m], j->layer) * element;
      keys = (const char *)ctx->key_cache + layer, values = (const char *)ctx->value_cache + layer;
    }
    /* a sliding window starts the keys and values later: the kernel
     * attends to rows 0..last of what it is given */
    int64_t first = j->window > 0 && last - j->window + 1 > 0 ? last - j->window + 1 : 0;
    size_t at = kv_head_offset(j, h) + (size_t)(first * hd) * element;
    const void *k = keys + at, *v = values + at;
    if (ctx->kv_i8)
      widened_kv(ctx, worker, last - first + 1, hd, &k, &v);
    ctx->kernels->attend_head(j->q + m * q_width + h * hd, k, v, ctx->kv_f16, last - first, hd,
                              hd, j->scale, scratch, j->out + m * q_width + h * hd);
  }
}

/* Prefill: blocks of QRT_ATTEND_BLOCK queries of one head. The pool hands
 * each thread a contiguous range of tasks, and a late block sees more keys
 * than an early one, so tasks alternate early and late blocks (0, last, 1,
 * last - 1, ...) to give every range a similar share of the work. */
static void attention_block_task(void *raw, int64_t begin, int64_t end, int worker) {
  attention_job *j = (attention_job *)raw;
  int64_t q_width = j->heads * j->head_dim, hd = j->head_dim;
  int64_t n = j->n, blocks = (n + QRT_ATTEND_BLOCK - 1) / QRT_ATTEND_BLOCK;
  float *scratch = j->ctx->scratch + (int64_t)worker * j->ctx->scratch_floats;
  for (int64_t task = begin; task < end; ++task) {
    int64_t turn = task / j->heads, h = task % j->heads;
    int64_t block = turn % 2 == 0 ? turn / 2 : blocks - 1 - turn / 2;
    int64_t m = block * QRT_ATTEND_BLOCK;
    int64_t count = n - m < QRT_ATTEND_BLOCK ? n - m : QRT_ATTEND_BLOCK;
    size_t at = kv_head_offset(j, h);
    const void *k = (const char *)j->keys + at, *v = (const char *)j->values + at;
    if (j->ctx->kv_i8) /* the block's queries see positions 0 .. pos + m + count - 1 */
      widened_kv(j->ctx, worker, j->pos + m + count, hd, &k, &v);
    j->ctx->kernels->attend_block(j->q + m * q_width + h * hd, q_width, count, k, v,
                                  j->ctx->kv_f16, j->pos + m, hd, hd, j->scale, scratch,
                                  j->out + m * q_width + h * hd, q_width);
  }
}

static void attention(qrt_ctx *ctx, int64_t layer, const float *q, const float *k, const float *v,
                      int64_t n, int64_t pos, int64_t heads, int64_t kv_heads, int64_t head_dim,
                      float scale, int64_t window, float *out);

void qrt_attention(qrt_ctx *ctx, int64_t layer, const float *q, const float *k, const float *v,
                   int64_t n, int64_t pos, int64_t heads, int64_t kv_heads, int64_t head_dim,
                   float scale, int64_t window, float *out) {
  qrt_profile *prof = ctx->profile;
  double t0 = prof ? qrt_seconds() : 0.0;
  attention(ctx, layer, q, k, v, n, pos, heads, kv_heads, head_dim, scale, window, out);
  if (prof && prof->now)
    prof->now->attention_s += qrt_seconds() - t0;
}

/* Stores the tokens' keys and values, then attends. */
static void attention(qrt_ctx *ctx, int64_t layer, const float *q, const float *k, const float *v,
                      int64_t n, int64_t pos, int64_t heads, int64_t kv_heads, int64_t head_dim,
                      float scale, int64_t window, float *out) {
  int64_t kv_width = kv_heads * head_dim, at = layer_offset(ctx, ctx->seq, layer);
  /* token m's head kh goes to [kh][pos + m] of this layer of its sequence
   * (internal.h); in a batch, to [kh][row_pos[m]] of row_seq[m]'s */
  for (int64_t m = 0; m < n; ++m)
    for (int64_t kh = 0; kh < kv_heads; ++kh) {
      int64_t row_at = ctx->row_seq ? layer_offset(ctx, ctx->row_seq[m], layer) : at;
      int64_t row_pos = ctx->row_pos ? ctx->row_pos[m] : pos + m;
      int64_t to = row_at + (kh * ctx->kv_positions + row_pos) * head_dim,
              from = m * kv_width + kh * head_dim;
      if (ctx->kv_i8) {
        store_int8_row(k + from, head_dim, (int8_t *)ctx->key_cache + to,
                       ctx->key_scale + to / head_dim);
        store_int8_row(v + from, head_dim, (int8_t *)ctx->value_cache + to,
                       ctx->value_scale + to / head_dim);
      } else if (ctx->kv_f16) {
        ctx->kernels->to_f16(k + from, head_dim, (uint16_t *)ctx->key_cache + to);
        ctx->kernels->to_f16(v + from, head_dim, (uint16_t *)ctx->value_cache + to);
      } else {
        memcpy((float *)ctx->key_cache + to, k + from, sizeof(float) * (size_t)head_dim);
        memcpy((float *)ctx->value_cache + to, v + from, sizeof(float) * (size_t)head_dim);
      }
    }
  ctx->attention_calls++; /* what workers widened before is stale now */
  size_t element = kv_element(ctx);
  const void *keys = (const char *)ctx->key_cache + (size_t)at * element;
  const void *values = (const char *)ctx->value_cache + (size_t)at * element;
  attention_job job = {ctx,      q,    keys,  values, layer, n, pos, heads, kv_heads,
                       head_dim, scale, window, out};
  /* the block kernels attend from position 0: a window that cuts into
   * this prefill takes the per-query kernel, which starts anywhere */
  int window_cuts = window > 0 && pos + n > window;
  /* a batch's rows are single decode queries: the per-query kernel, as
   * for a decode step of one sequence */
  if (n > 1 && !ctx->row_seq && ctx->block_attention && head_dim % 64 == 0 && !window_cuts) {
    int64_t blocks = (n + QRT_ATTEND_BLOCK - 1) / QRT_ATTEND_BLOCK;
    qrt_parallel_for(ctx->pool, blocks * heads, 1, attention_block_task, &job);
  } else {
    qrt_parallel_for(ctx->pool, n * heads, 4, attention_task, &job);
  }
}

void qrt_add_bias(qrt_ctx *ctx, int64_t slot, float *out, int64_t n, int64_t width) {
  const float *bias = (const float *)ctx->weights[slot].data; /* an f32 slot of `width` */
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < width; ++j)
      out[i * width + j] += bias[j];
}
