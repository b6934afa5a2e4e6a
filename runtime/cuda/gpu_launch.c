/* gpu_launch.c - kernel arguments and launches (cuda_backend.h). */
#include "cuda_backend.h"

#include <stdio.h>
#include <string.h>

void qrt_gpu_check(qrt_model *m, qrt_cu_result r, const char *what) {
  if (r == 0 || m->failed)
    return;
  m->failed = 1;
  qrt_set_error(m->error, sizeof m->error, "CUDA: %s failed: %s", what,
                qrt_cuda_error(&m->cuda, r));
}

void qrt_gpu_memref(qrt_gpu_args *a, qrt_cu_deviceptr p, int64_t elements) {
  int i = a->nmem++;
  a->memrefs[i].allocated = a->memrefs[i].aligned = p;
  a->memrefs[i].offset = 0;
  a->memrefs[i].size = elements;
  a->memrefs[i].stride = 1;
  a->params[a->count++] = &a->memrefs[i].allocated;
  a->params[a->count++] = &a->memrefs[i].aligned;
  a->params[a->count++] = &a->memrefs[i].offset;
  a->params[a->count++] = &a->memrefs[i].size;
  a->params[a->count++] = &a->memrefs[i].stride;
}

void qrt_gpu_index(qrt_gpu_args *a, int64_t v) {
  a->indices[a->nidx] = v;
  a->params[a->count++] = &a->indices[a->nidx++];
}

void qrt_gpu_f32(qrt_gpu_args *a, float v) {
  a->floats[a->nf] = v;
  a->params[a->count++] = &a->floats[a->nf++];
}

void qrt_gpu_i1(qrt_gpu_args *a, int v) {
  a->flags[a->nflag] = v ? 1 : 0;
  a->params[a->count++] = &a->flags[a->nflag++];
}

static const char *const kernel_names[QK_COUNT] = {
    "qnt_gemv_q4",         "qnt_gemv_codes",   "qnt_gemv_f32", "qnt_gemv_w8a8",
    "qnt_quantize_tokens", "qnt_add_rms_norm", "qnt_swiglu",   "qnt_rope",
    "qnt_attention",       "qnt_embed",        "qnt_gemm_f16", "qnt_gemm_w8a8"};

const char *qrt_gpu_kernel_name(enum qrt_gpu_kernel k) { return kernel_names[k]; }

int qrt_ptx_param_count(const char *ptx, const char *kernel) {
  char entry[96];
  snprintf(entry, sizeof entry, ".entry %s(", kernel);
  const char *p = strstr(ptx, entry), *end = p ? strchr(p, ')') : NULL;
  if (!end)
    return -1;
  int count = 0;
  for (const char *q = p; (q = strstr(q, ".param")) && q < end; q += 6)
    ++count;
  return count;
}

void qrt_gpu_launch(qrt_model *m, enum qrt_gpu_kernel k, unsigned gx, unsigned gy, unsigned bx,
                    unsigned by, qrt_gpu_args *a) {
  if (m->failed || gx == 0 || gy == 0)
    return;
  /* cuLaunchKernel reads as many parameters as the kernel declares, so a
   * mismatch would read garbage: refuse it instead */
  if (a->count != m->kernel_params[k]) {
    m->failed = 1;
    qrt_set_error(m->error, sizeof m->error,
                  "internal error: kernel %s takes %d parameters, launched with %d",
                  kernel_names[k], m->kernel_params[k], a->count);
    return;
  }
  qrt_gpu_check(m, m->cuda.cuLaunchKernel(m->kernels[k], gx, gy, 1, bx, by, 1, 0, NULL, a->params,
                                          NULL),
                kernel_names[k]);
}
