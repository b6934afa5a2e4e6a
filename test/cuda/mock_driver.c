/* mock_driver.c - a stand-in for the CUDA driver (libcuda.so.1) that runs
 * the NVPTX target's kernels on the host, for testing the CUDA backend's
 * host side on machines without a GPU: QRT_CUDA_DRIVER=libqrt_mock_cuda.so.
 *
 * What it checks:
 *  - "device" memory is host memory at a biased address (DEVICE_BIAS), so
 *    host code that dereferences a device pointer crashes, and every copy
 *    and kernel argument must fall inside an allocation;
 *  - modules are the program's PTX, and a kernel exists only if the PTX has
 *    its .entry; a launch must pass exactly the parameters the PTX entry
 *    declares (memrefs as five values), and the grid and block shapes the
 *    kernel expects;
 *  - each kernel is emulated over its launch grid as its MLIR source
 *    (lib/Conversion/Gpu/QntKernels.mlir) computes: lanes stride, partial
 *    sums meet in the xor butterfly, so rows the grid misses stay unwritten.
 * What it cannot check: the PTX's own arithmetic (ptxas assembles it in the
 * lit tests; a real GPU run checks the numbers). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned long long devptr;
#define DEVICE_BIAS 0x100000000000ULL
#define MAX_ALLOCS 4096
#define ERR_INVALID_VALUE 1
#define ERR_NOT_FOUND 500
#define ERR_LAUNCH 719

static struct {
  char *host;
  size_t bytes;
} allocs[MAX_ALLOCS];

static void fail(const char *fmt, const char *what) {
  fprintf(stderr, "mock CUDA driver: ");
  fprintf(stderr, fmt, what);
  fprintf(stderr, "\n");
  abort(); /* a host-side bug: stop where it happened */
}

/* The host address of device range [p, p + bytes), checked. */
static char *host(devptr p, size_t bytes) {
  for (int i = 0; i < MAX_ALLOCS; ++i) {
    devptr base = (devptr)(uintptr_t)allocs[i].host + DEVICE_BIAS;
    if (allocs[i].host && p >= base && p + bytes <= base + allocs[i].bytes)
      return allocs[i].host + (p - base);
  }
  fail("%s", "an access outside every device allocation");
  return NULL;
}

int cuInit(unsigned flags) { return flags ? ERR_INVALID_VALUE : 0; }
int cuDeviceGetCount(int *n) { *n = 1; return 0; }
int cuDeviceGet(int *d, int ordinal) { *d = ordinal; return ordinal ? ERR_INVALID_VALUE : 0; }
int cuDeviceGetName(char *name, int len, int d) {
  (void)d;
  snprintf(name, (size_t)len, "qopt mock device (host memory)");
  return 0;
}
int cuDeviceGetAttribute(int *v, int attr, int d) {
  (void)d;
  *v = attr == 75 ? 8 : 0; /* sm_80 */
  return 0;
}
int cuCtxCreate_v2(void **ctx, unsigned flags, int d) {
  (void)flags, (void)d;
  *ctx = (void *)0x1;
  return 0;
}
int cuCtxDestroy_v2(void *ctx) { (void)ctx; return 0; }
int cuCtxSynchronize(void) { return 0; }
int cuGetErrorString(int e, const char **s) {
  *s = e == ERR_NOT_FOUND ? "CUDA_ERROR_NOT_FOUND" : e == ERR_LAUNCH ? "CUDA_ERROR_LAUNCH_FAILED"
                                                                    : "CUDA_ERROR_INVALID_VALUE";
  return 0;
}

int cuMemAlloc_v2(devptr *p, size_t bytes) {
  for (int i = 0; i < MAX_ALLOCS; ++i)
    if (!allocs[i].host) {
      allocs[i].host = (char *)malloc(bytes);
      allocs[i].bytes = bytes;
      memset(allocs[i].host, 0xff, bytes); /* garbage, as cuMemAlloc leaves it */
      *p = (devptr)(uintptr_t)allocs[i].host + DEVICE_BIAS;
      return 0;
    }
  return ERR_INVALID_VALUE;
}
int cuMemFree_v2(devptr p) {
  for (int i = 0; i < MAX_ALLOCS; ++i)
    if (allocs[i].host && (devptr)(uintptr_t)allocs[i].host + DEVICE_BIAS == p) {
      free(allocs[i].host);
      allocs[i].host = NULL;
      return 0;
    }
  fail("%s", "cuMemFree of a pointer cuMemAlloc did not return");
  return ERR_INVALID_VALUE;
}
int cuMemcpyHtoD_v2(devptr dst, const void *src, size_t n) {
  memcpy(host(dst, n), src, n);
  return 0;
}
int cuMemcpyDtoH_v2(void *dst, devptr src, size_t n) {
  memcpy(dst, host(src, n), n);
  return 0;
}
int cuMemcpyDtoD_v2(devptr dst, devptr src, size_t n) {
  memmove(host(dst, n), host(src, n), n);
  return 0;
}
int cuMemsetD8_v2(devptr dst, unsigned char v, size_t n) {
  memset(host(dst, n), v, n);
  return 0;
}

/* ---- modules: the PTX text; functions: an .entry of it ---- */
typedef struct mock_function {
  char name[64];
  int params; /* how many .param the entry declares */
  long launches;
} mock_function;
typedef struct mock_module {
  mock_function fns[64];
  int count;
} mock_module;

int cuModuleLoadData(mock_module **out, const void *image) {
  const char *ptx = (const char *)image;
  if (!strstr(ptx, ".version") || !strstr(ptx, ".target sm_"))
    return ERR_INVALID_VALUE;
  mock_module *m = (mock_module *)calloc(1, sizeof *m);
  for (const char *p = ptx; (p = strstr(p, ".entry ")) && m->count < 64;) {
    p += 7;
    mock_function *f = &m->fns[m->count++];
    size_t n = strcspn(p, "( \n");
    snprintf(f->name, sizeof f->name, "%.*s", (int)n, p);
    const char *end = strchr(p, ')');
    for (const char *q = p; (q = strstr(q, ".param")) && q < end; q += 6)
      ++f->params;
  }
  *out = m;
  return 0;
}
/* QRT_MOCK_CUDA_TALLY=1: which kernels ran, for tests of kernel selection. */
int cuModuleUnload(mock_module *m) {
  const char *tally = getenv("QRT_MOCK_CUDA_TALLY");
  if (tally && *tally == '1')
    for (int i = 0; i < m->count; ++i)
      if (m->fns[i].launches)
        fprintf(stderr, "mock CUDA driver: %s launched %ld times\n", m->fns[i].name,
                m->fns[i].launches);
  free(m);
  return 0;
}
int cuModuleGetFunction(mock_function **fn, mock_module *m, const char *name) {
  for (int i = 0; i < m->count; ++i)
    if (!strcmp(m->fns[i].name, name)) {
      *fn = &m->fns[i];
      return 0;
    }
  return ERR_NOT_FOUND;
}

/* ---- kernel arguments ---- */
typedef struct cursor {
  void **params;
  int at, declared;
  const char *kernel;
} cursor;
/* Before reading `count` more parameters: the PTX entry must declare them. */
static void take(cursor *c, int count) {
  if (c->at + count > c->declared)
    fail("%s: reads more parameters than its PTX entry declares", c->kernel);
}
static char *arg_memref(cursor *c) {
  take(c, 5);
  devptr aligned = *(devptr *)c->params[c->at + 1];
  int64_t offset = *(int64_t *)c->params[c->at + 2];
  c->at += 5;
  return host(aligned, 1) + offset;
}
static int64_t arg_index(cursor *c) { take(c, 1); return *(int64_t *)c->params[c->at++]; }
static float arg_f32(cursor *c) { take(c, 1); return *(float *)c->params[c->at++]; }
static int arg_i1(cursor *c) { take(c, 1); return *(uint8_t *)c->params[c->at++]; }

static float f16(uint16_t h) {
  uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, man = h & 1023u;
  float v = exp == 0 ? ldexpf((float)man, -24) : exp == 31 ? INFINITY
                                                           : ldexpf((float)(man | 1024u), (int)exp - 25);
  return sign ? -v : v;
}

/* The xor butterfly of warp_sum / warp_max: lane 0's result. */
static float butterfly(float v[32], int max) {
  for (int off = 16; off; off >>= 1) {
    float next[32];
    for (int l = 0; l < 32; ++l)
      next[l] = max ? fmaxf(v[l], v[l ^ off]) : v[l] + v[l ^ off];
    memcpy(v, next, sizeof next);
  }
  return v[0];
}
static int32_t butterfly_i32(int32_t v[32]) {
  for (int off = 16; off; off >>= 1) {
    int32_t next[32];
    for (int l = 0; l < 32; ++l)
      next[l] = v[l] + v[l ^ off];
    memcpy(v, next, sizeof next);
  }
  return v[0];
}

static int64_t scale_index(int64_t r, int64_t g, int64_t gpr) { return gpr ? r * gpr + g : 0; }
static int64_t group_of(int64_t c, int64_t width, int64_t gpr) {
  if (!gpr)
    return 0;
  int64_t g = c / width;
  return g < gpr - 1 ? g : gpr - 1;
}

typedef struct grid {
  unsigned gx, gy, bx, by;
} grid;

static void need(int ok, const char *what) {
  if (!ok)
    fail("launch shape: %s", what);
}

/* Weight-row GEMVs: block (32, 4), a warp per row, blockIdx.y the token. */
static void gemv(const char *name, cursor *c, grid g) {
  need(g.bx == 32 && g.by == 4, "GEMV blocks must be (32, 4)");
  int q4 = !strcmp(name, "qnt_gemv_q4"), f32 = !strcmp(name, "qnt_gemv_f32");
  int w8a8 = !strcmp(name, "qnt_gemv_w8a8");
  const uint8_t *w = (const uint8_t *)arg_memref(c);
  const uint16_t *scales = f32 ? NULL : (const uint16_t *)arg_memref(c);
  const uint8_t *zeros = f32 ? NULL : (const uint8_t *)arg_memref(c);
  const int8_t *xq = w8a8 ? (const int8_t *)arg_memref(c) : NULL;
  const float *xscale = w8a8 ? (const float *)arg_memref(c) : NULL;
  const float *x = w8a8 ? NULL : (const float *)arg_memref(c);
  float *y = (float *)arg_memref(c);
  int64_t rows = arg_index(c), cols = arg_index(c);
  int64_t row_bytes = f32 ? cols * 4 : arg_index(c);
  int64_t gpr = f32 ? 0 : arg_index(c), gw = f32 ? 0 : arg_index(c);
  for (unsigned t = 0; t < g.gy; ++t)
    for (unsigned bx = 0; bx < g.gx; ++bx)
      for (unsigned warp = 0; warp < 4; ++warp) {
        int64_t r = (int64_t)bx * 4 + warp;
        if (r >= rows)
          continue;
        const float *xr = x ? x + t * cols : NULL;
        float lane[32] = {0};
        if (w8a8) {
          int64_t groups = gpr ? gpr : 1, width = gpr ? gw : cols;
          float acc = 0;
          for (int64_t gi = 0; gi < groups; ++gi) {
            int64_t b = gi * width, e = gi == groups - 1 ? cols : b + width;
            int64_t si = scale_index(r, gi, gpr);
            int32_t part[32] = {0};
            for (int l = 0; l < 32; ++l)
              for (int64_t col = b + l; col < e; col += 32)
                part[l] += ((int32_t)w[r * row_bytes + col] - zeros[si]) * xq[t * cols + col];
            acc += f16(scales[si]) * (float)butterfly_i32(part);
          }
          y[t * rows + r] = xscale[t] * acc;
          continue;
        }
        for (int l = 0; l < 32; ++l) {
          if (f32) {
            for (int64_t col = l; col < cols; col += 32)
              lane[l] = fmaf(((const float *)w)[r * cols + col], xr[col], lane[l]);
          } else if (q4) {
            for (int64_t b = l; b < (cols + 31) / 32; b += 32) {
              int64_t first = b * 32, si = scale_index(r, group_of(first, gw, gpr), gpr);
              float z = zeros[si], d = 0;
              for (int j = 0; j < 16; ++j) {
                uint8_t byte = w[r * row_bytes + b * 16 + j];
                if (first + j < cols)
                  d += ((float)(byte & 15) - z) * xr[first + j];
                if (first + j + 16 < cols)
                  d += ((float)(byte >> 4) - z) * xr[first + j + 16];
              }
              lane[l] += d * f16(scales[si]);
            }
          } else {
            for (int64_t col = l; col < cols; col += 32) {
              int64_t si = scale_index(r, group_of(col, gw, gpr), gpr);
              float wv = ((float)w[r * row_bytes + col] - (float)zeros[si]) * f16(scales[si]);
              lane[l] += wv * xr[col];
            }
          }
        }
        y[t * rows + r] = butterfly(lane, 0);
      }
}

/* The tensor-core GEMMs (QntMmaKernels.mlir): block (32, 4), a block per
 * 64 weight rows x 64 tokens, columns in stages of 32 that stay inside one
 * quantization group. Emulated by what they compute: qnt_gemm_f16 scales
 * each stage's sum of (code - z) * x once; qnt_gemm_w8a8 keeps each group's
 * exact int32 sum and scales it when the group ends. */
static void gemm(const char *name, cursor *c, grid g) {
  need(g.bx == 32 && g.by == 4, "GEMM blocks must be (32, 4)");
  int w8a8 = !strcmp(name, "qnt_gemm_w8a8");
  const uint8_t *w = (const uint8_t *)arg_memref(c);
  const uint16_t *scales = (const uint16_t *)arg_memref(c);
  const uint8_t *zeros = (const uint8_t *)arg_memref(c);
  const int8_t *xq = w8a8 ? (const int8_t *)arg_memref(c) : NULL;
  const float *xscale = w8a8 ? (const float *)arg_memref(c) : NULL;
  const float *x = w8a8 ? NULL : (const float *)arg_memref(c);
  float *y = (float *)arg_memref(c);
  int64_t rows = arg_index(c), cols = arg_index(c), row_bytes = arg_index(c);
  int64_t gpr = arg_index(c), gw = arg_index(c), n = arg_index(c);
  int nibbles = w8a8 ? 0 : arg_i1(c);
  need(gpr <= 1 || gw % 32 == 0, "a GEMM stage of 32 columns must stay in one group");
  need((int64_t)g.gx * 64 >= rows && (int64_t)g.gy * 64 >= n, "the GEMM grid must cover y");
  for (int64_t t = 0; t < n; ++t)
    for (int64_t r = 0; r < rows; ++r) {
      float acc = 0;
      int32_t dot = 0;
      for (int64_t k0 = 0; k0 < cols; k0 += 32) {
        int64_t gk = group_of(k0, gw, gpr), si = scale_index(r, gk, gpr);
        float part = 0;
        for (int64_t col = k0; col < k0 + 32 && col < cols; ++col) {
          int code = nibbles
                         ? (w[r * row_bytes + col / 32 * 16 + col % 16] >> (col % 32 / 16 * 4)) & 15
                         : w[r * row_bytes + col];
          if (w8a8)
            dot += (code - zeros[si]) * xq[t * cols + col];
          else
            part += (float)(code - zeros[si]) * x[t * cols + col];
        }
        if (!w8a8) {
          acc = fmaf(part, f16(scales[si]), acc);
        } else if (k0 + 32 >= cols || group_of(k0 + 32, gw, gpr) != gk) {
          acc += f16(scales[si]) * (float)dot;
          dot = 0;
        }
      }
      y[t * rows + r] = w8a8 ? xscale[t] * acc : acc;
    }
}

/* One warp per token: block (32, 1), grid (tokens). */
static void quantize_tokens(cursor *c, grid g) {
  need(g.bx == 32 && g.by == 1 && g.gy == 1, "quantize_tokens takes a warp per token");
  const float *x = (const float *)arg_memref(c);
  int8_t *q = (int8_t *)arg_memref(c);
  float *scale = (float *)arg_memref(c);
  int64_t cols = arg_index(c);
  for (unsigned t = 0; t < g.gx; ++t) {
    float lane[32] = {0};
    for (int l = 0; l < 32; ++l)
      for (int64_t col = l; col < cols; col += 32)
        lane[l] = fmaxf(lane[l], fabsf(x[t * cols + col]));
    float absmax = butterfly(lane, 1), s = absmax > 0 ? absmax / 127.0f : 1.0f;
    for (int64_t col = 0; col < cols; ++col) {
      float v = nearbyintf(x[t * cols + col] / s);
      q[t * cols + col] = (int8_t)(v < -127 ? -127 : v > 127 ? 127 : v);
    }
    scale[t] = s;
  }
}

static void add_rms_norm(cursor *c, grid g) {
  need(g.bx == 32 && g.by == 1 && g.gy == 1, "rms_norm takes a warp per token");
  const float *a = (const float *)arg_memref(c), *b = (const float *)arg_memref(c);
  int has_b = arg_i1(c);
  const float *w = (const float *)arg_memref(c);
  float *sum = (float *)arg_memref(c), *y = (float *)arg_memref(c);
  int64_t dim = arg_index(c);
  float eps = arg_f32(c);
  for (unsigned t = 0; t < g.gx; ++t) {
    int64_t row = t * dim;
    float lane[32] = {0};
    for (int l = 0; l < 32; ++l)
      for (int64_t i = l; i < dim; i += 32) {
        float v = a[row + i];
        if (has_b)
          sum[row + i] = v = v + b[row + i];
        lane[l] += v * v;
      }
    float inv = 1.0f / sqrtf(butterfly(lane, 0) / (float)dim + eps);
    for (int64_t i = 0; i < dim; ++i)
      y[row + i] = w[i] * (inv * (has_b ? sum : a)[row + i]);
  }
}

/* One thread per element: index = blockIdx.x * blockDim.x + threadIdx.x. */
static void swiglu(cursor *c, grid g) {
  const float *gate = (const float *)arg_memref(c), *up = (const float *)arg_memref(c);
  float *y = (float *)arg_memref(c);
  int64_t count = arg_index(c);
  need((int64_t)g.gx * g.bx >= count && g.by == 1, "swiglu's grid must cover every element");
  for (int64_t i = 0; i < count; ++i)
    y[i] = gate[i] * (1.0f / (1.0f + expf(-gate[i]))) * up[i];
}

static void rope(cursor *c, grid g) {
  const float *x = (const float *)arg_memref(c);
  float *y = (float *)arg_memref(c);
  int64_t width = arg_index(c), hd = arg_index(c), pos = arg_index(c);
  float theta = arg_f32(c);
  int interleaved = arg_i1(c);
  int64_t half = hd / 2;
  for (unsigned t = 0; t < g.gy; ++t)
    for (int64_t p = 0; p < (int64_t)g.gx * g.bx && p < width / 2; ++p) {
      int64_t h = p / half, j = p % half, base = t * width + h * hd;
      int64_t ia = base + (interleaved ? 2 * j : j), ib = base + (interleaved ? 2 * j + 1 : j + half);
      float freq = 1.0f / powf(theta, 2.0f * (float)j / (float)hd);
      float angle = (float)(pos + t) * freq, cs = cosf(angle), sn = sinf(angle);
      float x0 = x[ia], x1 = x[ib];
      y[ia] = x0 * cs - x1 * sn;
      y[ib] = x0 * sn + x1 * cs;
    }
}

static void attention(cursor *c, grid g) {
  need(g.bx == 32 && g.by == 4, "attention blocks must be (32, 4)");
  const float *q = (const float *)arg_memref(c), *keys = (const float *)arg_memref(c);
  const float *values = (const float *)arg_memref(c);
  float *out = (float *)arg_memref(c);
  int64_t pos = arg_index(c), heads = arg_index(c), kv_heads = arg_index(c), hd = arg_index(c);
  float scale = arg_f32(c);
  int64_t qw = heads * hd, kvw = kv_heads * hd, group = heads / kv_heads;
  for (unsigned t = 0; t < g.gy; ++t)
    for (int64_t h = 0; h < (int64_t)g.gx * 4 && h < heads; ++h) {
      const float *qh = q + t * qw + h * hd;
      int64_t kvoff = (h / group) * hd, end = pos + t + 1;
      float *o = out + t * qw + h * hd;
      float *scores = (float *)malloc(sizeof(float) * (size_t)end), max = -INFINITY, sum = 0;
      for (int64_t p = 0; p < end; ++p) {
        float lane[32] = {0};
        for (int l = 0; l < 32; ++l)
          for (int64_t i = l; i < hd; i += 32)
            lane[l] = fmaf(qh[i], keys[p * kvw + kvoff + i], lane[l]);
        scores[p] = butterfly(lane, 0) * scale;
        max = fmaxf(max, scores[p]);
      }
      for (int64_t i = 0; i < hd; ++i)
        o[i] = 0;
      for (int64_t p = 0; p < end; ++p) {
        float e = expf(scores[p] - max);
        for (int64_t i = 0; i < hd; ++i)
          o[i] = fmaf(e, values[p * kvw + kvoff + i], o[i]);
        sum += e;
      }
      for (int64_t i = 0; i < hd; ++i)
        o[i] /= sum;
      free(scores);
    }
}

static void embed(cursor *c, grid g) {
  const float *table = (const float *)arg_memref(c);
  const int32_t *tokens = (const int32_t *)arg_memref(c);
  float *out = (float *)arg_memref(c);
  int64_t dim = arg_index(c);
  need((int64_t)g.gx * g.bx >= dim, "embed's grid must cover a row");
  for (unsigned t = 0; t < g.gy; ++t)
    memcpy(out + t * dim, table + (int64_t)tokens[t] * dim, sizeof(float) * (size_t)dim);
}

int cuLaunchKernel(mock_function *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                   unsigned by, unsigned bz, unsigned shared, void *stream, void **params,
                   void **extra) {
  (void)stream;
  if (gz != 1 || bz != 1 || shared || extra || !params)
    return ERR_INVALID_VALUE;
  ++f->launches;
  cursor c = {params, 0, f->params, f->name};
  grid g = {gx, gy, bx, by};
  const char *n = f->name;
  if (!strncmp(n, "qnt_gemv_", 9))
    gemv(n, &c, g);
  else if (!strncmp(n, "qnt_gemm_", 9))
    gemm(n, &c, g);
  else if (!strcmp(n, "qnt_quantize_tokens"))
    quantize_tokens(&c, g);
  else if (!strcmp(n, "qnt_add_rms_norm"))
    add_rms_norm(&c, g);
  else if (!strcmp(n, "qnt_swiglu"))
    swiglu(&c, g);
  else if (!strcmp(n, "qnt_rope"))
    rope(&c, g);
  else if (!strcmp(n, "qnt_attention"))
    attention(&c, g);
  else if (!strcmp(n, "qnt_embed"))
    embed(&c, g);
  else
    return ERR_NOT_FOUND;
  if (c.at != f->params) {
    char what[160];
    snprintf(what, sizeof what, "%s: passed %d parameters, its PTX declares %d", n, c.at,
             f->params);
    fail("%s", what);
  }
  return 0;
}
