/* cuda_backend.h - the runtime's CUDA backend: the same C API (qrt.h) and
 * the same ABI for generated code (qrt_abi.h) as the CPU backend, with the
 * activation arena, KV cache and weights in device memory.
 *
 * A program built with `qopt build --target=nvptx` is the CPU target's host
 * code (one qrt_* call per fused qnt op, arena offsets planned at compile
 * time) linked with this backend instead of the CPU one, plus the PTX of
 * the kernel library (lib/Conversion/Gpu/QntKernels.mlir) as the exported
 * string qopt_gpu_ptx. Every pointer generated code passes is then a device
 * address (the arena is), except the token ids (host) and the classifier's
 * output (the caller's logits, host): qrt_embed and qrt_lm_head copy. */
#ifndef QRT_CUDA_BACKEND_H
#define QRT_CUDA_BACKEND_H

#include "cuda_driver.h"
#include "qrt_common.h"

/* Exported by the generated object of an NVPTX program. */
extern const char qopt_gpu_ptx[];

/* Prefill below this many tokens stays on the GEMVs: a 64-token GEMM tile
 * is then mostly padding, and the GEMV reads each weight row once per
 * token from L2 anyway. */
#define QRT_GEMM_MIN_TOKENS 8

/* The kernels of qopt_gpu_ptx the backend launches. */
enum qrt_gpu_kernel {
  QK_GEMV_Q4,
  QK_GEMV_CODES,
  QK_GEMV_F32,
  QK_GEMV_W8A8,
  QK_QUANTIZE_TOKENS,
  QK_ADD_RMS_NORM,
  QK_SWIGLU,
  QK_ROPE,
  QK_ATTENTION,
  QK_EMBED,
  QK_GEMM_F16,
  QK_GEMM_W8A8,
  QK_COUNT
};

struct qrt_model {
  const qrt_program_config *program; /* dim, vocab, layers, ... as compiled */
  qrt_weights_file file;
  qrt_steps steps;
  qrt_cuda cuda;
  qrt_cu_module module;
  qrt_cu_function kernels[QK_COUNT];
  int kernel_params[QK_COUNT]; /* .param count of each kernel's PTX entry */
  /* Linears over at least this many tokens use the tensor-core GEMMs; 0:
   * never (QRT_CUDA_GEMM_MIN, default QRT_GEMM_MIN_TOKENS). */
  int64_t gemm_min_tokens;
  qrt_cu_deviceptr weights;   /* the whole .qrtw: slot offsets hold */
  qrt_cu_deviceptr arena;     /* config->arena_floats floats */
  qrt_cu_deviceptr key_cache, value_cache; /* [layers, max_seq, kv_width] f32 */
  qrt_cu_deviceptr tokens;    /* [chunk] i32 */
  qrt_cu_deviceptr logits;    /* [chunk, vocab] f32 */
  qrt_cu_deviceptr norm_tmp;  /* [chunk, max cols] f32: a quantizing norm's rows */
  qrt_cu_deviceptr xq;        /* [chunk, max cols] i8: W8A8 activation codes */
  qrt_cu_deviceptr xscale;    /* [chunk] f32 */
  char isa[320];              /* "cuda sm_XY (device name)" */
  /* The first driver error of a step; qrt_forward reports it. The ABI's
   * entry points return nothing, so they record it here. */
  int failed;
  char error[512];
};

/* Records `r` (if an error, and the first) with what was being done. */
void qrt_gpu_check(qrt_model *m, qrt_cu_result r, const char *what);

/* Kernel arguments in the order the kernel declares them. A memref<?xT>
 * parameter is what MLIR's default calling convention makes of it: five
 * values (allocated and aligned pointer, offset, size, stride). */
#define QRT_GPU_MAX_ARGS 16
typedef struct qrt_gpu_args {
  void *params[QRT_GPU_MAX_ARGS * 5];
  struct {
    qrt_cu_deviceptr allocated, aligned;
    int64_t offset, size, stride;
  } memrefs[QRT_GPU_MAX_ARGS];
  int64_t indices[QRT_GPU_MAX_ARGS];
  float floats[QRT_GPU_MAX_ARGS];
  uint8_t flags[QRT_GPU_MAX_ARGS];
  int count, nmem, nidx, nf, nflag;
} qrt_gpu_args;
void qrt_gpu_memref(qrt_gpu_args *a, qrt_cu_deviceptr p, int64_t elements);
void qrt_gpu_index(qrt_gpu_args *a, int64_t v);
void qrt_gpu_f32(qrt_gpu_args *a, float v);
void qrt_gpu_i1(qrt_gpu_args *a, int v);
const char *qrt_gpu_kernel_name(enum qrt_gpu_kernel k);
/* How many .param the PTX entry of `kernel` declares; -1 if it has none. */
int qrt_ptx_param_count(const char *ptx, const char *kernel);
void qrt_gpu_launch(qrt_model *m, enum qrt_gpu_kernel k, unsigned gx, unsigned gy, unsigned bx,
                    unsigned by, qrt_gpu_args *a);

/* A generated-code pointer as a device address. */
static inline qrt_cu_deviceptr qrt_dev(const void *p) { return (qrt_cu_deviceptr)(uintptr_t)p; }

#endif
