/* cuda_ops.c - the ABI generated code calls (qrt_abi.h), on the device:
 * each entry point launches kernels of qopt_gpu_ptx on the default stream,
 * in program order. Launch shapes follow the kernels' comments in
 * lib/Conversion/Gpu/QntKernels.mlir: a warp per output row (4 warps per
 * block) or per token, one thread per element for the elementwise ones. */
#include "cuda_backend.h"

/* Memref sizes are informational (the kernels index without bounds
 * checks); a generous bound keeps descriptors well formed. */
#define ANY (INT64_C(1) << 40)

static unsigned blocks(int64_t n, int64_t per_block) {
  return (unsigned)((n + per_block - 1) / per_block);
}

static qrt_cu_deviceptr slot_data(qrt_model *m, int64_t slot) {
  return m->weights + m->file.weights[slot].slot->data_offset;
}

float *qrt_arena(qrt_ctx *ctx) { return (float *)(uintptr_t)ctx->arena; }

void qrt_embed(qrt_ctx *ctx, int64_t slot, const int32_t *tokens, int64_t n, float *out) {
  int64_t dim = ctx->file.weights[slot].slot->cols;
  qrt_gpu_check(ctx, ctx->cuda.cuMemcpyHtoD(ctx->tokens, tokens, (size_t)n * 4), "copying tokens");
  qrt_gpu_args a = {0};
  qrt_gpu_memref(&a, slot_data(ctx, slot), ANY);
  qrt_gpu_memref(&a, ctx->tokens, n);
  qrt_gpu_memref(&a, qrt_dev(out), ANY);
  qrt_gpu_index(&a, dim);
  qrt_gpu_launch(ctx, QK_EMBED, blocks(dim, 128), (unsigned)n, 128, 1, &a);
}

/* The float offset of a token-quantized buffer's scales (qrt_abi.h). */
static int64_t token_scale_offset(const qrt_ctx *ctx, int64_t cols) {
  return (ctx->program->chunk * cols + 3) / 4;
}

static void quantize_tokens(qrt_ctx *ctx, qrt_cu_deviceptr x, int64_t n, int64_t cols,
                            qrt_cu_deviceptr codes, qrt_cu_deviceptr scales) {
  qrt_gpu_args a = {0};
  qrt_gpu_memref(&a, x, ANY);
  qrt_gpu_memref(&a, codes, ANY);
  qrt_gpu_memref(&a, scales, ANY);
  qrt_gpu_index(&a, cols);
  qrt_gpu_launch(ctx, QK_QUANTIZE_TOKENS, (unsigned)n, 1, 32, 1, &a);
}

/* sum = a + b (when b), out = rms_norm; `quantize`: out is a
 * token-quantized buffer, the f32 rows pass through norm_tmp. */
static void norm(qrt_ctx *ctx, int64_t slot, const float *a, const float *b, int64_t n, float eps,
                 int quantize, float *sum, float *out) {
  int64_t dim = ctx->file.weights[slot].slot->cols;
  qrt_cu_deviceptr y = quantize ? ctx->norm_tmp : qrt_dev(out);
  qrt_gpu_args args = {0};
  qrt_gpu_memref(&args, qrt_dev(a), ANY);
  qrt_gpu_memref(&args, qrt_dev(b ? b : a), ANY);
  qrt_gpu_i1(&args, b != NULL);
  qrt_gpu_memref(&args, slot_data(ctx, slot), dim);
  qrt_gpu_memref(&args, qrt_dev(sum ? sum : a), ANY);
  qrt_gpu_memref(&args, y, ANY);
  qrt_gpu_index(&args, dim);
  qrt_gpu_f32(&args, eps);
  qrt_gpu_launch(ctx, QK_ADD_RMS_NORM, (unsigned)n, 1, 32, 1, &args);
  if (quantize)
    quantize_tokens(ctx, y, n, dim, qrt_dev(out),
                    qrt_dev(out) + 4 * (qrt_cu_deviceptr)token_scale_offset(ctx, dim));
}

void qrt_rms_norm(qrt_ctx *ctx, int64_t slot, const float *x, int64_t n, float eps, float *out) {
  norm(ctx, slot, x, NULL, n, eps, 0, NULL, out);
}

void qrt_rms_norm_quant(qrt_ctx *ctx, int64_t slot, const float *x, int64_t n, float eps,
                        float *out) {
  norm(ctx, slot, x, NULL, n, eps, 1, NULL, out);
}

void qrt_add_rms_norm(qrt_ctx *ctx, int64_t slot, const float *a, const float *b, int64_t n,
                      float eps, int64_t quantize, float *sum, float *out) {
  norm(ctx, slot, a, b, n, eps, quantize != 0, sum, out);
}

/* Whether y = x W^T over n tokens goes to a tensor-core GEMM
 * (QntMmaKernels.mlir) rather than a GEMV per token: quantized weights, at
 * least gemm_min_tokens tokens (QRT_CUDA_GEMM_MIN), and groups the GEMM's
 * 32-column stages do not straddle. */
static int use_gemm(const qrt_ctx *ctx, const qrtw_slot *s, int64_t n) {
  if (s->kind == QRTW_F32 || ctx->gemm_min_tokens <= 0 || n < ctx->gemm_min_tokens)
    return 0;
  return s->groups_per_row <= 1 || s->group_width % 32 == 0;
}

/* y[n, rows] = x W^T on the GEMVs (a warp per row and token) or a GEMM
 * (use_gemm). x is f32 unless xq (int8 codes [n, cols]) and xscale (per
 * token) are given: the W8A8 kernels. */
static void matmul(qrt_ctx *ctx, int64_t slot, qrt_cu_deviceptr x, qrt_cu_deviceptr xq,
                   qrt_cu_deviceptr xscale, int64_t n, qrt_cu_deviceptr y) {
  const qrt_weight *w = &ctx->file.weights[slot];
  const qrtw_slot *s = w->slot;
  qrt_gpu_args a = {0};
  enum qrt_gpu_kernel k;
  qrt_gpu_memref(&a, slot_data(ctx, slot), (int64_t)s->data_bytes);
  if (s->kind == QRTW_F32) {
    k = QK_GEMV_F32;
    qrt_gpu_memref(&a, x, ANY);
    qrt_gpu_memref(&a, y, ANY);
    qrt_gpu_index(&a, s->rows);
    qrt_gpu_index(&a, s->cols);
  } else {
    k = xq ? QK_GEMV_W8A8 : s->kind == QRTW_Q4 ? QK_GEMV_Q4 : QK_GEMV_CODES;
    qrt_gpu_memref(&a, ctx->weights + s->scales_offset, ANY);
    qrt_gpu_memref(&a, ctx->weights + s->zeros_offset, ANY);
    if (xq) {
      qrt_gpu_memref(&a, xq, ANY);
      qrt_gpu_memref(&a, xscale, ANY);
    } else {
      qrt_gpu_memref(&a, x, ANY);
    }
    qrt_gpu_memref(&a, y, ANY);
    qrt_gpu_index(&a, s->rows);
    qrt_gpu_index(&a, s->cols);
    qrt_gpu_index(&a, w->row_bytes);
    qrt_gpu_index(&a, s->groups_per_row);
    qrt_gpu_index(&a, s->group_width);
    if (use_gemm(ctx, s, n)) {
      /* tiles of 64 weight rows x 64 tokens, 4 warps each */
      qrt_gpu_index(&a, n);
      if (!xq)
        qrt_gpu_i1(&a, s->kind == QRTW_Q4);
      qrt_gpu_launch(ctx, xq ? QK_GEMM_W8A8 : QK_GEMM_F16, blocks(s->rows, 64),
                     (unsigned)blocks(n, 64), 32, 4, &a);
      return;
    }
  }
  qrt_gpu_launch(ctx, k, blocks(s->rows, 4), (unsigned)n, 32, 4, &a);
}

/* The prepared input of a linear call: f32 rows, or int8 codes and scales
 * (quantized here from f32 for QRT_INPUT_W8A8, as given for
 * QRT_INPUT_TOKEN_Q8). */
typedef struct gpu_input {
  qrt_cu_deviceptr x, xq, xscale;
} gpu_input;

static gpu_input prepare(qrt_ctx *ctx, int64_t kind, int64_t slot, const float *x, int64_t n) {
  int64_t cols = ctx->file.weights[slot].slot->cols;
  gpu_input in = {qrt_dev(x), 0, 0};
  if (kind == QRT_INPUT_W8A8) {
    quantize_tokens(ctx, in.x, n, cols, ctx->xq, ctx->xscale);
    in.xq = ctx->xq, in.xscale = ctx->xscale;
  } else if (kind == QRT_INPUT_TOKEN_Q8) {
    in.xq = in.x;
    in.xscale = in.x + 4 * (qrt_cu_deviceptr)token_scale_offset(ctx, cols);
  }
  return in;
}

static void linear(qrt_ctx *ctx, int64_t slot, const gpu_input *in, int64_t n, float *out) {
  matmul(ctx, slot, in->x, in->xq, in->xscale, n, qrt_dev(out));
}

void qrt_linear(qrt_ctx *ctx, int64_t slot, const float *x, int64_t n, float *out) {
  gpu_input in = prepare(ctx, QRT_INPUT_F32, slot, x, n);
  linear(ctx, slot, &in, n, out);
}

void qrt_linear_w8a8(qrt_ctx *ctx, int64_t slot, const float *x, int64_t n, float *out) {
  gpu_input in = prepare(ctx, QRT_INPUT_W8A8, slot, x, n);
  linear(ctx, slot, &in, n, out);
}

void qrt_linear_multi(qrt_ctx *ctx, int64_t input, int64_t count, int64_t s0, int64_t s1,
                      int64_t s2, const float *x, int64_t n, float *y0, float *y1, float *y2) {
  int64_t slots[3] = {s0, s1, s2};
  float *outs[3] = {y0, y1, y2};
  /* the fused group shares its input columns, so one preparation serves */
  gpu_input in = prepare(ctx, input, s0, x, n);
  for (int64_t i = 0; i < count && i < 3; ++i)
    linear(ctx, slots[i], &in, n, outs[i]);
}

static void swiglu(qrt_ctx *ctx, qrt_cu_deviceptr gate, qrt_cu_deviceptr up, int64_t count,
                   qrt_cu_deviceptr y) {
  qrt_gpu_args a = {0};
  qrt_gpu_memref(&a, gate, count);
  qrt_gpu_memref(&a, up, count);
  qrt_gpu_memref(&a, y, count);
  qrt_gpu_index(&a, count);
  qrt_gpu_launch(ctx, QK_SWIGLU, blocks(count, 256), 1, 256, 1, &a);
}

void qrt_linear_swiglu(qrt_ctx *ctx, int64_t input, int64_t gate, int64_t up, const float *x,
                       int64_t n, float *up_tmp, float *y) {
  gpu_input in = prepare(ctx, input, gate, x, n);
  linear(ctx, gate, &in, n, y);
  linear(ctx, up, &in, n, up_tmp);
  swiglu(ctx, qrt_dev(y), qrt_dev(up_tmp), n * ctx->file.weights[gate].slot->rows, qrt_dev(y));
}

/* The classifier writes the caller's (host) logits: computed on the device
 * for the rows asked for, then copied back. */
void qrt_lm_head(qrt_ctx *ctx, int64_t slot, const float *x, int64_t n, float *out) {
  int rows = ctx->steps.logits_rows;
  if (rows == QRT_LOGITS_NONE || n < 1)
    return;
  int64_t cols = ctx->file.weights[slot].slot->cols, vocab = ctx->file.weights[slot].slot->rows;
  if (rows == QRT_LOGITS_LAST) {
    x += (n - 1) * cols;
    n = 1;
  }
  matmul(ctx, slot, qrt_dev(x), 0, 0, n, ctx->logits);
  if (!ctx->failed)
    qrt_gpu_check(ctx, ctx->cuda.cuMemcpyDtoH(out, ctx->logits, (size_t)(n * vocab) * 4),
                  "copying logits");
}

/* freq_scale is always NULL here: qopt build refuses rope scaling for the
 * NVPTX target (its rope kernel computes the plain frequencies). */
void qrt_rope(qrt_ctx *ctx, const float *x, int64_t n, int64_t width, int64_t head_dim,
              int64_t pos, float theta, int64_t interleaved, const float *freq_scale,
              float *out) {
  (void)freq_scale;
  qrt_gpu_args a = {0};
  qrt_gpu_memref(&a, qrt_dev(x), ANY);
  qrt_gpu_memref(&a, qrt_dev(out), ANY);
  qrt_gpu_index(&a, width);
  qrt_gpu_index(&a, head_dim);
  qrt_gpu_index(&a, pos);
  qrt_gpu_f32(&a, theta);
  qrt_gpu_i1(&a, interleaved != 0);
  qrt_gpu_launch(ctx, QK_ROPE, blocks(width / 2, 128), (unsigned)n, 128, 1, &a);
}

/* Stores this step's keys and values at positions pos.. of the layer's
 * cache (rows are contiguous there), then attends over 0..pos+t. The
 * window is always 0 here: `qopt build --target nvptx` refuses
 * sliding-window models. */
void qrt_attention(qrt_ctx *ctx, int64_t layer, const float *q, const float *k, const float *v,
                   int64_t n, int64_t pos, int64_t heads, int64_t kv_heads, int64_t head_dim,
                   float scale, int64_t window, float *out) {
  (void)window;
  size_t layer_bytes = (size_t)(ctx->program->max_seq * ctx->program->kv_width) * 4;
  qrt_cu_deviceptr keys = ctx->key_cache + (qrt_cu_deviceptr)layer * layer_bytes;
  qrt_cu_deviceptr values = ctx->value_cache + (qrt_cu_deviceptr)layer * layer_bytes;
  size_t at = (size_t)(pos * ctx->program->kv_width) * 4, bytes = (size_t)(n * kv_heads * head_dim) * 4;
  qrt_gpu_check(ctx, ctx->cuda.cuMemcpyDtoD(keys + at, qrt_dev(k), bytes), "storing keys");
  qrt_gpu_check(ctx, ctx->cuda.cuMemcpyDtoD(values + at, qrt_dev(v), bytes), "storing values");
  qrt_gpu_args a = {0};
  qrt_gpu_memref(&a, qrt_dev(q), ANY);
  qrt_gpu_memref(&a, keys, ANY);
  qrt_gpu_memref(&a, values, ANY);
  qrt_gpu_memref(&a, qrt_dev(out), ANY);
  qrt_gpu_index(&a, pos);
  qrt_gpu_index(&a, heads);
  qrt_gpu_index(&a, kv_heads);
  qrt_gpu_index(&a, head_dim);
  qrt_gpu_f32(&a, scale);
  qrt_gpu_launch(ctx, QK_ATTENTION, blocks(heads, 4), (unsigned)n, 32, 4, &a);
}
