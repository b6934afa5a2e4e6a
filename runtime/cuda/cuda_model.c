/* cuda_model.c - the CUDA backend's C API (qrt.h): loading a program's
 * weights onto the device, running its steps, the bandwidth yardstick. */
#include "cuda_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the kernels in qopt_gpu_ptx cover; anything else is refused at load
 * with the slot's name (qopt build --target=nvptx refuses it earlier). */
static int check_slot(const qrt_weight *w, int64_t i, char *err, size_t len) {
  const qrtw_slot *s = w->slot;
  const char *why = NULL;
  if (s->kind != QRTW_F32 && s->format == QRTW_FORMAT_NF4)
    why = "NF4 weights";
  else if (s->kind != QRTW_F32 && s->scales_f32)
    why = "f32 scales";
  else if (s->outliers)
    why = "LLM.int8 outlier columns";
  else if (s->kind == QRTW_Q4 && s->groups_per_row && s->group_width % 32)
    why = "4-bit groups that are not whole 32-blocks";
  if (s->kind == QRTW_Q4 && s->data_offset % 16) {
    /* the 4-bit GEMV loads a block in one 16-byte access */
    qrt_set_error(err, len,
                  "weights slot %lld (%.*s): 4-bit data at offset %llu is not 16-byte "
                  "aligned (qopt writes 64)",
                  (long long)i, QRTW_NAME_LEN, s->name, (unsigned long long)s->data_offset);
    return -1;
  }
  if (!why)
    return 0;
  qrt_set_error(err, len, "weights slot %lld (%.*s): %s have no CUDA kernel; build for the CPU",
                (long long)i, QRTW_NAME_LEN, s->name, why);
  return -1;
}

static int device_alloc(qrt_model *m, qrt_cu_deviceptr *p, size_t bytes, const char *what,
                        char *err, size_t len) {
  qrt_cu_result r = m->cuda.cuMemAlloc(p, bytes ? bytes : 4);
  if (r == 0)
    r = m->cuda.cuMemsetD8(*p, 0, bytes ? bytes : 4);
  if (r != 0) {
    *p = 0;
    qrt_set_error(err, len, "CUDA: allocating %.1f MiB for %s failed: %s",
                  (double)bytes / 1048576.0, what, qrt_cuda_error(&m->cuda, r));
    return -1;
  }
  return 0;
}

static int load_kernels(qrt_model *m, char *err, size_t len) {
  qrt_cu_result r = m->cuda.cuModuleLoadData(&m->module, qopt_gpu_ptx);
  if (r != 0) {
    qrt_set_error(err, len, "CUDA: loading the program's PTX failed on %s: %s "
                  "(built for a newer chip than this one?)", m->isa, qrt_cuda_error(&m->cuda, r));
    m->module = NULL;
    return -1;
  }
  for (int k = 0; k < QK_COUNT; ++k) {
    const char *name = qrt_gpu_kernel_name((enum qrt_gpu_kernel)k);
    m->kernel_params[k] = qrt_ptx_param_count(qopt_gpu_ptx, name);
    if ((r = m->cuda.cuModuleGetFunction(&m->kernels[k], m->module, name)) != 0 ||
        m->kernel_params[k] < 0) {
      qrt_set_error(err, len, "CUDA: the program's PTX lacks kernel %s%s%s", name,
                    r ? ": " : "", r ? qrt_cuda_error(&m->cuda, r) : "");
      return -1;
    }
  }
  return 0;
}

qrt_model *qrt_load(const char *path, int threads, char *err, size_t len) {
  (void)threads; /* one device; QRT_CUDA_DEVICE picks it */
  qrt_model *m = (qrt_model *)calloc(1, sizeof(qrt_model));
  if (!m) {
    qrt_set_error(err, len, "out of memory");
    return NULL;
  }
  const qrt_program_config *cfg = &qopt_program_config;
  m->program = cfg;
  qrt_steps_init(&m->steps, cfg);
  if (cfg->flags & (QRT_FLAG_Q8_ACTIVATIONS | QRT_FLAG_KV_F16 | QRT_FLAG_KV_I8)) {
    qrt_set_error(err, len, "this program uses %s, which the CUDA backend does not run",
                  cfg->flags & QRT_FLAG_KV_F16  ? "an f16 KV cache"
                  : cfg->flags & QRT_FLAG_KV_I8 ? "an int8 KV cache"
                                                : "int8 activation blocks");
    goto fail;
  }
  if (qrt_weights_open(&m->file, path, cfg, err, len) != 0)
    goto fail;
  for (int64_t i = 0; i < m->file.num_slots; ++i)
    if (check_slot(&m->file.weights[i], i, err, len) != 0)
      goto fail;
  const char *gemm_min = getenv("QRT_CUDA_GEMM_MIN");
  m->gemm_min_tokens = QRT_GEMM_MIN_TOKENS;
  if (gemm_min && *gemm_min) {
    char *end = NULL;
    long long v = strtoll(gemm_min, &end, 10);
    if (*end || v < 0) {
      qrt_set_error(err, len, "QRT_CUDA_GEMM_MIN must be a token count (0: no GEMMs), not '%s'",
                    gemm_min);
      goto fail;
    }
    m->gemm_min_tokens = v;
  }
  const char *device = getenv("QRT_CUDA_DEVICE");
  if (qrt_cuda_open(&m->cuda, device ? atoi(device) : 0, err, len) != 0)
    goto fail;
  snprintf(m->isa, sizeof m->isa, "cuda sm_%d%d (%s)", m->cuda.cc_major, m->cuda.cc_minor,
           m->cuda.name);
  if (load_kernels(m, err, len) != 0)
    goto fail;
  size_t cols = (size_t)m->file.max_cols, chunk = (size_t)m->program->chunk;
  size_t cache = (size_t)(m->program->layers * m->program->max_seq * m->program->kv_width) * sizeof(float);
  if (device_alloc(m, &m->weights, m->file.map_bytes, "the weights", err, len) ||
      device_alloc(m, &m->arena, ((size_t)cfg->arena_floats + 16) * sizeof(float), "activations", err,
                   len) ||
      device_alloc(m, &m->key_cache, cache, "the key cache", err, len) ||
      device_alloc(m, &m->value_cache, cache, "the value cache", err, len) ||
      device_alloc(m, &m->tokens, chunk * 4, "token ids", err, len) ||
      device_alloc(m, &m->logits, chunk * (size_t)m->program->vocab * 4, "logits", err, len) ||
      device_alloc(m, &m->norm_tmp, chunk * cols * 4, "norm rows", err, len) ||
      device_alloc(m, &m->xq, chunk * cols, "int8 activations", err, len) ||
      device_alloc(m, &m->xscale, chunk * 4, "activation scales", err, len))
    goto fail;
  qrt_cu_result r = m->cuda.cuMemcpyHtoD(m->weights, m->file.map, m->file.map_bytes);
  if (r != 0) {
    qrt_set_error(err, len, "CUDA: copying the weights to the device failed: %s",
                  qrt_cuda_error(&m->cuda, r));
    goto fail;
  }
  return m;
fail:
  qrt_free(m);
  return NULL;
}

void qrt_free(qrt_model *m) {
  if (!m)
    return;
  if (m->cuda.lib) {
    qrt_cu_deviceptr bufs[] = {m->weights, m->arena,    m->key_cache, m->value_cache, m->tokens,
                               m->logits,  m->norm_tmp, m->xq,        m->xscale};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; ++i)
      if (bufs[i])
        m->cuda.cuMemFree(bufs[i]);
    if (m->module)
      m->cuda.cuModuleUnload(m->module);
    qrt_cuda_close(&m->cuda);
  }
  qrt_weights_close(&m->file);
  free(m);
}

int64_t qrt_vocab_size(const qrt_model *m) { return m->program->vocab; }
int64_t qrt_max_seq_len(const qrt_model *m) { return m->program->max_seq; }
int64_t qrt_dim(const qrt_model *m) { return m->program->dim; }
uint64_t qrt_weight_bytes(const qrt_model *m) { return m->file.weight_bytes; }
uint64_t qrt_decode_bytes(const qrt_model *m) { return m->file.decode_bytes; }
const char *qrt_isa(const qrt_model *m) { return m->isa; }
int qrt_threads(const qrt_model *m) {
  (void)m;
  return 1; /* host threads: the device does the work */
}

static int run(qrt_model *m, const int32_t *tokens, int64_t n, int64_t pos, float *logits,
               int last_only, char *err, size_t len) {
  m->failed = 0;
  if (qrt_run_steps(m, &m->steps, tokens, n, pos, logits, last_only, err, len) != 0)
    return -1;
  qrt_gpu_check(m, m->cuda.cuCtxSynchronize(), "running the step");
  if (m->failed) {
    qrt_set_error(err, len, "%s", m->error);
    return -1;
  }
  return 0;
}

int qrt_forward(qrt_model *m, const int32_t *tokens, int64_t n, int64_t pos, float *logits,
                char *err, size_t len) {
  return run(m, tokens, n, pos, logits, 0, err, len);
}

int qrt_forward_last(qrt_model *m, const int32_t *tokens, int64_t n, int64_t pos, float *logits,
                     char *err, size_t len) {
  return run(m, tokens, n, pos, logits, 1, err, len);
}

const qrt_weights_file *qrt_model_file(const qrt_model *m) { return &m->file; }

/* The yardstick --bench prints beside decode: the device-to-device copy
 * bandwidth over a `bytes` buffer (qrt_cuda_copy_bandwidth). */
double qrt_read_bandwidth(qrt_model *m, int64_t bytes) {
  qrt_cu_deviceptr a = 0, b = 0;
  if (bytes < 1 << 20)
    bytes = 1 << 20;
  if (m->cuda.cuMemAlloc(&a, (size_t)bytes) || m->cuda.cuMemAlloc(&b, (size_t)bytes)) {
    if (a)
      m->cuda.cuMemFree(a);
    return 0.0;
  }
  double best = qrt_cuda_copy_bandwidth(&m->cuda, b, a, (size_t)bytes);
  m->cuda.cuMemFree(a);
  m->cuda.cuMemFree(b);
  return best;
}

/* Several sequences are the CPU backend's (qrt.h): here one, the model's. */
qrt_model *qrt_load_batched(const char *path, int threads, int64_t sequences, int64_t positions,
                            char *err, size_t len) {
  if (sequences != 1 || (positions != 0 && positions != qopt_program_config.max_seq)) {
    qrt_set_error(err, len,
                  "the CUDA backend runs one sequence over the model's whole context (asked: "
                  "%lld sequences of %lld positions)",
                  (long long)sequences, (long long)positions);
    return NULL;
  }
  return qrt_load(path, threads, err, len);
}

int64_t qrt_sequences(const qrt_model *m) {
  (void)m;
  return 1;
}

int64_t qrt_chunk(const qrt_model *m) { return m->program->chunk; }

int qrt_forward_seq(qrt_model *m, int64_t seq, const int32_t *tokens, int64_t n, int64_t pos,
                    float *logits, int last_only, char *err, size_t len) {
  if (seq != 0) {
    qrt_set_error(err, len, "sequence %lld is outside the model's 1", (long long)seq);
    return -1;
  }
  return run(m, tokens, n, pos, logits, last_only, err, len);
}

int qrt_decode_batch(qrt_model *m, const int32_t *tokens, const int64_t *seq, const int64_t *pos,
                     int64_t n, float *logits, char *err, size_t len) {
  if (qrt_check_batch(&m->steps, 1, tokens, seq, pos, n, err, len) != 0)
    return -1;
  return run(m, tokens, 1, pos[0], logits, 0, err, len);
}
