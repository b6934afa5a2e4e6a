/* glue_kernels.c - the ABI entry points generated code calls: embedding,
 * rms_norm, rope, attention with the KV cache, and the linear dispatchers
 * that split rows over the thread pool. Formulas follow the reference
 * executor's kernels (lib/Exec/Kernels.cpp) operation for operation. */
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

static float dot(const float *a, const float *b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j)
      acc[j] += a[i + j] * b[i + j];
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i)
    s += a[i] * b[i];
  return s;
}

void qrt_rms_norm(qrt_ctx *ctx, int64_t slot, const float *x, int64_t n, float eps, float *out) {
  const float *w = (const float *)ctx->weights[slot].data;
  int64_t d = ctx->weights[slot].slot->cols;
  for (int64_t m = 0; m < n; ++m) {
    const float *xr = x + m * d;
    float ss = dot(xr, xr, d) / (float)d + eps;
    float inv = 1.0f / sqrtf(ss);
    for (int64_t i = 0; i < d; ++i)
      out[m * d + i] = w[i] * (inv * xr[i]);
  }
}

void qrt_rope(qrt_ctx *ctx, const float *x, int64_t n, int64_t width, int64_t head_dim,
              int64_t pos, float theta, int64_t interleaved, float *out) {
  (void)ctx;
  int64_t half = head_dim / 2;
  for (int64_t m = 0; m < n; ++m) {
    float p = (float)(pos + m);
    for (int64_t h = 0; h < width / head_dim; ++h) {
      const float *xh = x + m * width + h * head_dim;
      float *yh = out + m * width + h * head_dim;
      for (int64_t j = 0; j < half; ++j) {
        float freq = 1.0f / powf(theta, (float)(2 * j) / (float)head_dim);
        float angle = p * freq;
        float c = cosf(angle), s = sinf(angle);
        int64_t a = interleaved ? 2 * j : j;
        int64_t b = interleaved ? 2 * j + 1 : j + half;
        float x0 = xh[a], x1 = xh[b];
        yh[a] = x0 * c - x1 * s;
        yh[b] = x0 * s + x1 * c;
      }
    }
  }
}

typedef struct attention_job {
  qrt_ctx *ctx;
  const float *q;
  const float *keys, *values;
  int64_t pos, heads, kv_heads, head_dim;
  float scale;
  float *out;
} attention_job;

static void attention_task(void *raw, int64_t begin, int64_t end, int worker) {
  attention_job *j = (attention_job *)raw;
  int64_t kv_width = j->kv_heads * j->head_dim, q_width = j->heads * j->head_dim;
  int64_t group = j->heads / j->kv_heads, hd = j->head_dim;
  float *scores = j->ctx->scratch + (int64_t)worker * j->ctx->scratch_floats;
  for (int64_t task = begin; task < end; ++task) {
    int64_t m = task / j->heads, h = task % j->heads;
    int64_t kvh = h / group, last = j->pos + m;
    const float *qh = j->q + m * q_width + h * hd;
    float max_score = -INFINITY;
    for (int64_t t = 0; t <= last; ++t) {
      scores[t] = dot(qh, j->keys + t * kv_width + kvh * hd, hd) * j->scale;
      if (scores[t] > max_score)
        max_score = scores[t];
    }
    float sum = 0.0f;
    for (int64_t t = 0; t <= last; ++t) {
      scores[t] = expf(scores[t] - max_score);
      sum += scores[t];
    }
    float *oh = j->out + m * q_width + h * hd;
    memset(oh, 0, sizeof(float) * (size_t)hd);
    for (int64_t t = 0; t <= last; ++t) {
      float a = scores[t] / sum;
      const float *vt = j->values + t * kv_width + kvh * hd;
      for (int64_t i = 0; i < hd; ++i)
        oh[i] += a * vt[i];
    }
  }
}

void qrt_attention(qrt_ctx *ctx, int64_t layer, const float *q, const float *k, const float *v,
                   int64_t n, int64_t pos, int64_t heads, int64_t kv_heads, int64_t head_dim,
                   float scale, float *out) {
  int64_t kv_width = kv_heads * head_dim;
  float *keys = ctx->key_cache + layer * ctx->max_seq * ctx->kv_width;
  float *values = ctx->value_cache + layer * ctx->max_seq * ctx->kv_width;
  memcpy(keys + pos * kv_width, k, sizeof(float) * (size_t)(n * kv_width));
  memcpy(values + pos * kv_width, v, sizeof(float) * (size_t)(n * kv_width));
  attention_job job = {ctx, q, keys, values, pos, heads, kv_heads, head_dim, scale, out};
  qrt_parallel_for(ctx->pool, n * heads, 4, attention_task, &job);
}

/* ---- linear dispatch ---- */

typedef struct linear_job {
  qrt_ctx *ctx;
  const qrt_weight *w;
  const float *x;
  int64_t n;
  float *y;
} linear_job;

static void linear_task(void *raw, int64_t begin, int64_t end, int worker) {
  linear_job *j = (linear_job *)raw;
  float *scratch = j->ctx->scratch + (int64_t)worker * j->ctx->scratch_floats;
  j->ctx->kernels->linear_rows(j->w, j->x, j->n, begin, end, j->y, scratch);
}

/* Rows per task: at least ~64K weights so that small matrices stay on one
 * thread (waking a worker costs more than a 64x64 GEMV). */
static int64_t row_grain(const qrtw_slot *s, int64_t n) {
  int64_t work = s->cols * (n > 0 ? n : 1);
  int64_t g = 65536 / (work > 0 ? work : 1);
  return g > 0 ? g : 1;
}

typedef struct q8_job {
  qrt_ctx *ctx;
  const qrt_weight *w;
  qrt_q8_activations x;
  int64_t n;
  float *y;
} q8_job;

static void q8_task(void *raw, int64_t begin, int64_t end, int worker) {
  q8_job *j = (q8_job *)raw;
  float *scratch = j->ctx->scratch + (int64_t)worker * j->ctx->scratch_floats;
  j->ctx->kernels->linear_q8_rows(j->w, &j->x, j->n, begin, end, j->y, scratch);
}

void qrt_linear(qrt_ctx *ctx, int64_t slot, const float *x, int64_t n, float *out) {
  const qrt_weight *w = &ctx->weights[slot];
  if (ctx->q8_activations && qrt_q8_supported(w->slot)) {
    /* quantized once here, before the rows are split over threads */
    q8_job job = {ctx, w, {0}, n, out};
    qrt_q8_quantize(w->slot, x, n, ctx->xq, ctx->xblock_scale, ctx->xgroup_sum, &job.x);
    qrt_parallel_for(ctx->pool, w->slot->rows, row_grain(w->slot, n), q8_task, &job);
    return;
  }
  linear_job job = {ctx, w, x, n, out};
  qrt_parallel_for(ctx->pool, w->slot->rows, row_grain(w->slot, n), linear_task, &job);
}

typedef struct w8a8_job {
  qrt_ctx *ctx;
  const qrt_weight *w;
  int64_t n;
  float *y;
} w8a8_job;

static void w8a8_task(void *raw, int64_t begin, int64_t end, int worker) {
  (void)worker;
  w8a8_job *j = (w8a8_job *)raw;
  j->ctx->kernels->w8a8_rows(j->w, j->ctx->xq, j->ctx->xscale, j->n, begin, end, j->y);
}

void qrt_linear_w8a8(qrt_ctx *ctx, int64_t slot, const float *x, int64_t n, float *out) {
  const qrt_weight *w = &ctx->weights[slot];
  const qrtw_slot *s = w->slot;
  int64_t K = s->cols;
  /* Per-token symmetric int8, as kernels::dynamicQuantRows with bits = 8:
   * outlier channels are left out of the absmax and enter in f32. */
  for (int64_t m = 0; m < n; ++m) {
    const float *xr = x + m * K;
    int8_t *q = ctx->xq + m * K;
    float absmax = 0.0f;
    int64_t next = 0;
    for (int64_t c = 0; c < K; ++c) {
      if (next < s->outliers && w->outlier_index[next] == c) {
        ++next;
        continue;
      }
      float a = fabsf(xr[c]);
      if (a > absmax)
        absmax = a;
    }
    float scale = absmax > 0 ? absmax / 127.0f : 1.0f;
    ctx->xscale[m] = scale;
    next = 0;
    for (int64_t c = 0; c < K; ++c) {
      if (next < s->outliers && w->outlier_index[next] == c) {
        ++next;
        q[c] = 0;
        continue;
      }
      float v = nearbyintf(xr[c] / scale);
      q[c] = (int8_t)(v < -127.0f ? -127.0f : v > 127.0f ? 127.0f : v);
    }
  }
  w8a8_job job = {ctx, w, n, out};
  qrt_parallel_for(ctx->pool, s->rows, row_grain(s, n), w8a8_task, &job);
  qrt_add_outliers(w, x, n, 0, s->rows, out);
}
