/* gemm_bench.c - `qrt-cuda-info --ptx FILE --bench-gemm`: the prefill GEMMs
 * (lib/Conversion/Gpu/QntMmaKernels.mlir) on random weights and
 * activations. Each is first checked against the GEMV the backend would
 * otherwise launch over the same tokens (an independent kernel: one warp per
 * row and token, f32 FMAs), then both are timed. A mismatch is an error. */
#include "kernel_bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct gemm_case {
  const char *label, *gemm, *gemv;
  int nibbles, w8a8;
  int64_t group;    /* 0: one group per row */
  double tolerance; /* max |gemm - gemv| / max |gemv| */
} gemm_case;

/* The f16 GEMM sums hi + lo activation halves (about 22 bits) in another
 * order than the GEMV; W8A8 sums are exact integers either way. */
static const gemm_case cases[] = {
    {"w4 g128", "qnt_gemm_f16", "qnt_gemv_q4", 1, 0, 128, 1e-4},
    {"w8 g128", "qnt_gemm_f16", "qnt_gemv_codes", 0, 0, 128, 1e-4},
    {"w8a8 per channel", "qnt_gemm_w8a8", "qnt_gemv_w8a8", 0, 1, 0, 1e-5},
};

/* A fixed-seed generator: the benchmark's inputs are the same every run. */
static uint32_t next_random(uint32_t *state) {
  *state = *state * 1664525u + 1013904223u;
  return *state >> 8;
}

typedef struct gemm_buffers {
  qrt_cu_deviceptr w, s, z, x, xq, xs, y_gemm, y_gemv;
} gemm_buffers;

static int upload(qrt_cuda *c, qrt_cu_deviceptr *dst, const void *src, size_t bytes) {
  return c->cuMemAlloc(dst, bytes) != 0 || c->cuMemcpyHtoD(*dst, src, bytes) != 0;
}

/* Random codes, f16 scales in [2^-7, 2^-6), zero points, activations in
 * [-1, 1], int8 activation codes and per-token scales, on the device. */
static int make_inputs(qrt_cuda *c, gemm_buffers *b, int64_t rows, int64_t cols, int64_t tokens,
                       int64_t row_bytes, int64_t scales) {
  size_t wbytes = (size_t)(rows * row_bytes), xn = (size_t)(tokens * cols);
  uint8_t *w = malloc(wbytes), *z = malloc((size_t)scales);
  uint16_t *s = malloc((size_t)scales * 2);
  float *x = malloc(xn * 4), *xs = malloc((size_t)tokens * 4);
  int8_t *xq = malloc(xn);
  int rc = 1;
  if (!w || !z || !s || !x || !xs || !xq)
    goto done;
  uint32_t state = 12345;
  for (size_t i = 0; i < wbytes; ++i)
    w[i] = (uint8_t)next_random(&state);
  for (int64_t i = 0; i < scales; ++i) {
    s[i] = (uint16_t)((8u << 10) | (next_random(&state) & 1023u));
    z[i] = (uint8_t)next_random(&state);
  }
  for (size_t i = 0; i < xn; ++i) {
    x[i] = (float)(next_random(&state) % 20001u) / 10000.0f - 1.0f;
    xq[i] = (int8_t)((int)(next_random(&state) % 255u) - 127);
  }
  for (int64_t t = 0; t < tokens; ++t)
    xs[t] = 0.01f + (float)(next_random(&state) % 1000u) * 1e-5f;
  size_t ybytes = (size_t)(tokens * rows) * 4;
  rc = upload(c, &b->w, w, wbytes) || upload(c, &b->s, s, (size_t)scales * 2) ||
       upload(c, &b->z, z, (size_t)scales) || upload(c, &b->x, x, xn * 4) ||
       upload(c, &b->xq, xq, xn) || upload(c, &b->xs, xs, (size_t)tokens * 4) ||
       c->cuMemAlloc(&b->y_gemm, ybytes) != 0 || c->cuMemAlloc(&b->y_gemv, ybytes) != 0;
done:
  free(w), free(z), free(s), free(x), free(xs), free(xq);
  return rc;
}

/* The kernels' arguments as runtime/cuda/cuda_ops.c passes them. */
static void case_args(qrt_gpu_args *a, const gemm_case *k, const gemm_buffers *b,
                      qrt_cu_deviceptr y, int64_t rows, int64_t cols, int64_t row_bytes,
                      int64_t gpr, int64_t gw, int64_t tokens, int gemm) {
  memset(a, 0, sizeof *a);
  qrt_gpu_memref(a, b->w, rows * row_bytes);
  qrt_gpu_memref(a, b->s, rows * gpr);
  qrt_gpu_memref(a, b->z, rows * gpr);
  if (k->w8a8) {
    qrt_gpu_memref(a, b->xq, tokens * cols);
    qrt_gpu_memref(a, b->xs, tokens);
  } else {
    qrt_gpu_memref(a, b->x, tokens * cols);
  }
  qrt_gpu_memref(a, y, tokens * rows);
  qrt_gpu_index(a, rows);
  qrt_gpu_index(a, cols);
  qrt_gpu_index(a, row_bytes);
  qrt_gpu_index(a, gpr);
  qrt_gpu_index(a, gw);
  if (gemm) {
    qrt_gpu_index(a, tokens);
    if (!k->w8a8)
      qrt_gpu_i1(a, k->nibbles);
  }
}

/* max |a - b| / max |b| over n values; +inf if any is not finite. */
static double relative_difference(const float *a, const float *b, size_t n) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!isfinite(a[i]) || !isfinite(b[i]))
      return INFINITY;
    diff = fmax(diff, fabs((double)a[i] - (double)b[i]));
    scale = fmax(scale, fabs((double)b[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

static int run_case(qrt_cuda *c, qrt_cu_module module, const gemm_case *k, int64_t rows,
                    int64_t cols, int64_t tokens, int repeats) {
  qrt_cu_function gemm, gemv;
  if (c->cuModuleGetFunction(&gemm, module, k->gemm) != 0 ||
      c->cuModuleGetFunction(&gemv, module, k->gemv) != 0) {
    fprintf(stderr, "qrt-cuda-info: error: the PTX lacks %s or %s\n", k->gemm, k->gemv);
    return 1;
  }
  int64_t row_bytes = k->nibbles ? (cols + 31) / 32 * 16 : cols;
  int64_t gpr = k->group && cols >= 2 * k->group ? cols / k->group : 1;
  int64_t gw = gpr > 1 ? k->group : cols;
  gemm_buffers b;
  memset(&b, 0, sizeof b);
  size_t yn = (size_t)(tokens * rows);
  float *y_gemm = malloc(yn * 4), *y_gemv = malloc(yn * 4);
  int rc = 1;
  if (!y_gemm || !y_gemv || make_inputs(c, &b, rows, cols, tokens, row_bytes, rows * gpr)) {
    fprintf(stderr, "qrt-cuda-info: error: cannot set up the %s GEMM benchmark\n", k->label);
    goto done;
  }
  qrt_gpu_args ga, va;
  case_args(&ga, k, &b, b.y_gemm, rows, cols, row_bytes, gpr, gw, tokens, 1);
  case_args(&va, k, &b, b.y_gemv, rows, cols, row_bytes, gpr, gw, tokens, 0);
  unsigned gx = (unsigned)((rows + 63) / 64), gy = (unsigned)((tokens + 63) / 64);
  double t_gemm = qrt_time_launches(c, gemm, gx, gy, 32, 4, ga.params, repeats);
  double t_gemv = qrt_time_launches(c, gemv, (unsigned)((rows + 3) / 4), (unsigned)tokens, 32, 4,
                                    va.params, repeats);
  if (t_gemm < 0 || t_gemv < 0 || c->cuMemcpyDtoH(y_gemm, b.y_gemm, yn * 4) != 0 ||
      c->cuMemcpyDtoH(y_gemv, b.y_gemv, yn * 4) != 0) {
    fprintf(stderr, "qrt-cuda-info: error: running %s or %s failed\n", k->gemm, k->gemv);
    goto done;
  }
  double diff = relative_difference(y_gemm, y_gemv, yn);
  double flops = 2.0 * (double)rows * (double)cols * (double)tokens;
  printf("%s %s %lldx%lld, %lld tokens: %.3f ms (%.1f TFLOP/s); %s on the same tokens "
         "%.3f ms (%.1fx the GEMM's time); max difference %.1e of max |y|\n",
         k->gemm, k->label, (long long)rows, (long long)cols, (long long)tokens, t_gemm * 1e3,
         t_gemm > 0 ? flops / t_gemm / 1e12 : 0.0, k->gemv, t_gemv * 1e3,
         t_gemm > 0 ? t_gemv / t_gemm : 0.0, diff);
  rc = 0;
  if (!(diff <= k->tolerance)) {
    fprintf(stderr, "qrt-cuda-info: error: %s %s differs from %s by %.1e (tolerance %.0e)\n",
            k->gemm, k->label, k->gemv, diff, k->tolerance);
    rc = 1;
  }
done:
  free(y_gemm);
  free(y_gemv);
  qrt_cu_deviceptr bufs[] = {b.w, b.s, b.z, b.x, b.xq, b.xs, b.y_gemm, b.y_gemv};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; ++i)
    if (bufs[i])
      c->cuMemFree(bufs[i]);
  return rc;
}

int qrt_bench_gemm(qrt_cuda *c, qrt_cu_module module, int64_t rows, int64_t cols, int64_t tokens,
                   int repeats) {
  int rc = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i)
    rc |= run_case(c, module, &cases[i], rows, cols, tokens, repeats);
  return rc;
}
