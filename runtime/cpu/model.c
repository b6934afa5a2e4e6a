/* model.c - loading a built program's weights and running its steps. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int64_t row_bytes(const qrtw_slot *s) {
  switch (s->kind) {
  case QRTW_F32:
    return s->cols * 4;
  case QRTW_Q4:
    return (s->cols + 31) / 32 * 16;
  default:
    return s->cols;
  }
}

static int in_file(uint64_t offset, uint64_t bytes, size_t size) {
  return offset <= size && bytes <= size - offset;
}

/* Resolves slot i against the map; 0 on success. */
static int resolve_slot(qrt_model *m, int64_t i, const qrtw_slot *s, char *err, size_t len) {
  qrt_weight *w = &m->weights[i];
  w->slot = s;
  int64_t groups = s->groups_per_row ? s->rows * s->groups_per_row : 1;
  if (s->rows <= 0 || s->cols <= 0 || (s->kind != QRTW_F32 && s->kind != QRTW_Q4 &&
                                       s->kind != QRTW_CODES)) {
    qrt_set_error(err, len, "weights slot %lld (%.*s) is malformed", (long long)i,
                  QRTW_NAME_LEN, s->name);
    return -1;
  }
  w->row_bytes = row_bytes(s);
  uint64_t data = (uint64_t)(w->row_bytes * s->rows);
  int ok = data == s->data_bytes && in_file(s->data_offset, data, m->map_bytes);
  if (s->kind != QRTW_F32)
    ok = ok && in_file(s->scales_offset, (uint64_t)groups * (s->scales_f32 ? 4 : 2), m->map_bytes) &&
         in_file(s->zeros_offset, (uint64_t)groups, m->map_bytes) &&
         in_file(s->outlier_index_offset, (uint64_t)s->outliers * 4, m->map_bytes) &&
         in_file(s->outlier_weight_offset, (uint64_t)(s->outliers * s->rows) * 4, m->map_bytes);
  if (!ok) {
    qrt_set_error(err, len, "weights slot %lld (%.*s) points outside the file", (long long)i,
                  QRTW_NAME_LEN, s->name);
    return -1;
  }
  w->data = m->map + s->data_offset;
  w->scales = m->map + s->scales_offset;
  w->zeros = m->map + s->zeros_offset;
  w->outlier_index = (const int32_t *)(m->map + s->outlier_index_offset);
  w->outlier_weight = (const float *)(m->map + s->outlier_weight_offset);
  for (int64_t j = 0; j < s->outliers; ++j)
    if (w->outlier_index[j] < 0 || w->outlier_index[j] >= s->cols) {
      qrt_set_error(err, len, "weights slot %lld (%.*s) has an outlier channel out of range",
                    (long long)i, QRTW_NAME_LEN, s->name);
      return -1;
    }
  uint64_t bytes = data + (s->kind == QRTW_F32 ? 0 : (uint64_t)groups * (s->scales_f32 ? 5 : 3)) +
                   (uint64_t)(s->outliers * (s->rows + 1)) * 4;
  m->weight_bytes += bytes;
  m->decode_bytes += (s->flags & QRTW_SLOT_GATHER_ONLY) && s->rows > 0 ? bytes / (uint64_t)s->rows
                                                                        : bytes;
  return 0;
}

static int map_file(qrt_model *m, const char *path, char *err, size_t len) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    qrt_set_error(err, len, "%s: cannot open weights file: %s", path, strerror(errno));
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(qrtw_header)) {
    close(fd);
    qrt_set_error(err, len, "%s: too short for a weights file (%lld bytes)", path,
                  (long long)st.st_size);
    return -1;
  }
  m->map_bytes = (size_t)st.st_size;
  void *p = mmap(NULL, m->map_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (p == MAP_FAILED) {
    qrt_set_error(err, len, "%s: mmap failed: %s", path, strerror(errno));
    return -1;
  }
  m->map = (const uint8_t *)p;
  return 0;
}

qrt_model *qrt_load(const char *path, int threads, char *err, size_t len) {
  qrt_model *m = (qrt_model *)calloc(1, sizeof(qrt_model));
  if (!m) {
    qrt_set_error(err, len, "out of memory");
    return NULL;
  }
  const int64_t *cfg = qopt_program_config;
  m->config = cfg;
  m->dim = cfg[1];
  m->vocab = cfg[2];
  m->layers = cfg[3];
  m->kv_width = cfg[4];
  m->max_seq = cfg[5];
  m->chunk = cfg[6];
  m->num_slots = cfg[8];
  m->q8_activations = (cfg[10] & QRT_FLAG_Q8_ACTIVATIONS) != 0;
  m->kv_f16 = (cfg[10] & QRT_FLAG_KV_F16) != 0;
  if (map_file(m, path, err, len) != 0)
    goto fail;
  const qrtw_header *h = (const qrtw_header *)m->map;
  if (memcmp(h->magic, QRTW_MAGIC, 8) != 0) {
    qrt_set_error(err, len, "%s: not a qopt weights file (bad magic)", path);
    goto fail;
  }
  if (h->file_bytes != m->map_bytes) {
    qrt_set_error(err, len, "%s: weights file is %s (%llu of %llu bytes)", path,
                  m->map_bytes < h->file_bytes ? "truncated" : "longer than recorded",
                  (unsigned long long)m->map_bytes, (unsigned long long)h->file_bytes);
    goto fail;
  }
  if (h->program_hash != (uint64_t)cfg[0] || h->num_slots != (uint64_t)m->num_slots) {
    qrt_set_error(err, len,
                  "%s: weights were built for a different program (hash %016llx, %u slots; "
                  "this program expects %016llx, %lld slots)",
                  path, (unsigned long long)h->program_hash, h->num_slots,
                  (unsigned long long)cfg[0], (long long)m->num_slots);
    goto fail;
  }
  if (!in_file(sizeof(qrtw_header), sizeof(qrtw_slot) * (uint64_t)m->num_slots, m->map_bytes)) {
    qrt_set_error(err, len, "%s: slot table is truncated", path);
    goto fail;
  }
  const qrtw_slot *slots = (const qrtw_slot *)(m->map + sizeof(qrtw_header));
  m->weights = (qrt_weight *)calloc((size_t)m->num_slots, sizeof(qrt_weight));
  int64_t max_groups = 1, max_cols = 1;
  for (int64_t i = 0; i < m->num_slots; ++i) {
    if (resolve_slot(m, i, &slots[i], err, len) != 0)
      goto fail;
    int64_t g = slots[i].groups_per_row ? slots[i].groups_per_row : 1;
    if (g > max_groups)
      max_groups = g;
    if (slots[i].cols > max_cols)
      max_cols = slots[i].cols;
  }
  if (!in_file(h->tokenizer_offset, h->tokenizer_bytes, m->map_bytes)) {
    qrt_set_error(err, len, "%s: tokenizer section points outside the file", path);
    goto fail;
  }
  if (h->tokenizer_bytes) {
    m->tokenizer = qrt_tokenizer_load(m->map + h->tokenizer_offset, h->tokenizer_bytes,
                                      m->vocab, err, len);
    if (!m->tokenizer)
      goto fail;
  }
  if (threads <= 0)
    threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
  m->pool = qrt_pool_create(threads);
  m->kernels = qrt_select_kernels();
  m->scratch_floats = max_cols + m->chunk * max_groups + m->max_seq + 64;
  m->scratch = (float *)calloc((size_t)(m->scratch_floats * threads), sizeof(float));
  m->arena = (float *)calloc((size_t)cfg[7] + 16, sizeof(float));
  size_t cache = (size_t)(m->layers * m->max_seq * m->kv_width);
  m->key_cache = calloc(cache, m->kv_f16 ? 2 : sizeof(float));
  m->value_cache = calloc(cache, m->kv_f16 ? 2 : sizeof(float));
  m->xq = (int8_t *)calloc((size_t)(m->chunk * max_cols), 1);
  m->xscale = (float *)calloc((size_t)m->chunk, sizeof(float));
  m->xblock_scale = (float *)calloc((size_t)(m->chunk * (max_cols / QRT_Q8_BLOCK + 1)),
                                    sizeof(float));
  m->xgroup_sum = (float *)calloc((size_t)(m->chunk * max_groups), sizeof(float));
  if (!m->pool || !m->scratch || !m->arena || !m->key_cache || !m->value_cache || !m->xq ||
      !m->xscale || !m->xblock_scale || !m->xgroup_sum) {
    qrt_set_error(err, len, "out of memory allocating the KV cache and activations");
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
  if (m->map)
    munmap((void *)(uintptr_t)m->map, m->map_bytes);
  qrt_pool_destroy(m->pool);
  qrt_tokenizer_free(m->tokenizer);
  free(m->weights);
  free(m->scratch);
  free(m->arena);
  free(m->key_cache);
  free(m->value_cache);
  free(m->xq);
  free(m->xscale);
  free(m->xblock_scale);
  free(m->xgroup_sum);
  free(m);
}

int64_t qrt_vocab_size(const qrt_model *m) { return m->vocab; }
int64_t qrt_max_seq_len(const qrt_model *m) { return m->max_seq; }
int64_t qrt_dim(const qrt_model *m) { return m->dim; }
uint64_t qrt_weight_bytes(const qrt_model *m) { return m->weight_bytes; }
uint64_t qrt_decode_bytes(const qrt_model *m) { return m->decode_bytes; }
const char *qrt_isa(const qrt_model *m) { return m->kernels->name; }
int qrt_threads(const qrt_model *m) { return qrt_pool_threads(m->pool); }

/* Runs the tokens chunk by chunk (the arena holds `chunk` tokens). With
 * last_only, the classifier runs only for the final token, into logits
 * [vocab]; otherwise for every token, into logits [n, vocab] (or a scratch
 * row block when logits is NULL). */
static int run_tokens(qrt_model *m, const int32_t *tokens, int64_t n, int64_t pos,
                      float *logits, int last_only, char *err, size_t len) {
  if (n <= 0 || pos < 0 || pos + n > m->max_seq) {
    qrt_set_error(err, len, "positions %lld..%lld are outside the context of %lld tokens",
                  (long long)pos, (long long)(pos + n - 1), (long long)m->max_seq);
    return -1;
  }
  for (int64_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= m->vocab) {
      qrt_set_error(err, len, "token %d at index %lld is outside the vocabulary of %lld",
                    tokens[i], (long long)i, (long long)m->vocab);
      return -1;
    }
  float *scratch_logits = NULL;
  for (int64_t done = 0; done < n; done += m->chunk) {
    int64_t step = n - done < m->chunk ? n - done : m->chunk;
    int final = done + step == n;
    float *out = last_only ? (final ? logits : NULL) : logits ? logits + done * m->vocab : NULL;
    m->logits_rows = last_only ? (final ? QRT_LOGITS_LAST : QRT_LOGITS_NONE) : QRT_LOGITS_ALL;
    if (!out && m->logits_rows != QRT_LOGITS_NONE) {
      if (!scratch_logits)
        scratch_logits = (float *)malloc(sizeof(float) * (size_t)(m->chunk * m->vocab));
      out = scratch_logits;
    }
    qopt_forward(m, tokens + done, step, pos + done, out);
  }
  m->logits_rows = QRT_LOGITS_ALL;
  free(scratch_logits);
  return 0;
}

int qrt_forward(qrt_model *m, const int32_t *tokens, int64_t n, int64_t pos, float *logits,
                char *err, size_t len) {
  return run_tokens(m, tokens, n, pos, logits, 0, err, len);
}

int qrt_forward_last(qrt_model *m, const int32_t *tokens, int64_t n, int64_t pos, float *logits,
                     char *err, size_t len) {
  return run_tokens(m, tokens, n, pos, logits, 1, err, len);
}

int64_t qrt_encode(const qrt_model *m, const char *text, int bos, int eos, int32_t *out,
                   int64_t max_tokens) {
  return m->tokenizer ? qrt_tokenizer_encode(m->tokenizer, text, bos, eos, out, max_tokens) : -1;
}

const char *qrt_decode(const qrt_model *m, int32_t prev, int32_t token) {
  return m->tokenizer ? qrt_tokenizer_decode(m->tokenizer, prev, token) : "";
}
