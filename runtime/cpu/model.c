/* model.c - loading a built program's weights and running its steps. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The weights the kernel family's tiled int8-activation kernel takes, copied
 * into its layout (tiled_pack.c). QRT_TILED=0 keeps the row-major kernels
 * (to compare the two). */
static int tile_weights(qrt_model *m) {
  const char *env = getenv("QRT_TILED");
  if (!m->q8_activations || !m->kernels->linear_q8_tiled || (env && !strcmp(env, "0")))
    return 0;
  m->tiled = (qrt_tiled_weight *)calloc((size_t)m->num_slots, sizeof(qrt_tiled_weight));
  if (!m->tiled)
    return -1;
  for (int64_t i = 0; i < m->num_slots; ++i) {
    if (!qrt_tiled_eligible(&m->weights[i]))
      continue;
    if (qrt_tiled_pack(&m->weights[i], &m->tiled[i]) != 0)
      return -1;
    m->weights[i].tiled = &m->tiled[i];
    /* decode reads the tiles, which keep a shared zero point once */
    const qrtw_slot *s = m->weights[i].slot;
    if (qrt_decode_takes_tiles(&m->weights[i]) && !m->tiled[i].zeros)
      m->file.decode_bytes -= (uint64_t)(s->groups_per_row ? s->rows * s->groups_per_row : 1);
  }
  return 0;
}

qrt_model *qrt_load(const char *path, int threads, char *err, size_t len) {
  return qrt_load_batched(path, threads, 1, 0, err, len);
}

qrt_model *qrt_load_batched(const char *path, int threads, int64_t sequences, int64_t positions,
                            char *err, size_t len) {
  const qrt_program_config *cfg = &qopt_program_config;
  if (sequences < 1 || sequences > QRT_MAX_SEQUENCES) {
    qrt_set_error(err, len, "the number of sequences must be in [1, %d], not %lld",
                  QRT_MAX_SEQUENCES, (long long)sequences);
    return NULL;
  }
  if (positions < 0 || positions > cfg->max_seq) {
    qrt_set_error(err, len, "a context of %lld positions is outside [1, %lld] (the model's)",
                  (long long)positions, (long long)cfg->max_seq);
    return NULL;
  }
  qrt_model *m = (qrt_model *)calloc(1, sizeof(qrt_model));
  if (!m) {
    qrt_set_error(err, len, "out of memory");
    return NULL;
  }
  m->sequences = sequences;
  m->kv_positions = positions ? positions : cfg->max_seq;
  m->program = cfg;
  m->num_slots = cfg->num_slots;
  m->q8_activations = (cfg->flags & QRT_FLAG_Q8_ACTIVATIONS) != 0;
  m->kv_f16 = (cfg->flags & QRT_FLAG_KV_F16) != 0;
  m->kv_i8 = (cfg->flags & QRT_FLAG_KV_I8) != 0;
  qrt_steps_init(&m->steps, cfg);
  m->steps.max_seq = m->kv_positions;
  if (qrt_weights_open(&m->file, path, cfg, err, len) != 0)
    goto fail;
  m->weights = m->file.weights;
  int64_t max_groups = m->file.max_groups, max_cols = m->file.max_cols;
  if (threads <= 0)
    threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
  m->pool = qrt_pool_create(threads);
  m->kernels = qrt_select_kernels();
  /* linear_rows' panel and decoded row, its group sums, attend_head's scores */
  m->scratch_floats = (QRT_TILE_ROWS + 1) * max_cols + m->program->chunk * max_groups + m->program->max_seq + 64;
  /* attend_block's, with kv_width >= head_dim */
  int64_t attend_floats = QRT_ATTEND_BLOCK * (m->program->max_seq + m->program->kv_width) + m->program->kv_width + 64;
  if (m->scratch_floats < attend_floats)
    m->scratch_floats = attend_floats;
  m->scratch = (float *)calloc((size_t)(m->scratch_floats * threads), sizeof(float));
  m->arena = (float *)calloc((size_t)cfg->arena_floats + 16, sizeof(float));
  /* ordinary pages, faulted in as positions fill: on huge pages
   * (MADV_HUGEPAGE) the first touches stalled prefill and single decode
   * steps by tens of milliseconds on this project's VM (the kernel
   * compacting memory), and no steady-state speed was gained */
  size_t cache = (size_t)(sequences * m->program->layers * m->kv_positions * m->program->kv_width);
  size_t element = m->kv_i8 ? 1 : m->kv_f16 ? 2 : sizeof(float);
  m->key_cache = calloc(cache, element);
  m->value_cache = calloc(cache, element);
  if (m->kv_i8) { /* an f32 scale per row of head_dim codes */
    if (m->program->head_dim <= 0 || m->program->kv_width % m->program->head_dim) {
      qrt_set_error(err, len, "the program's head_dim %lld does not divide its kv_width %lld",
                    (long long)m->program->head_dim, (long long)m->program->kv_width);
      goto fail;
    }
    size_t rows = cache / (size_t)m->program->head_dim;
    m->key_scale = (float *)calloc(rows, sizeof(float));
    m->value_scale = (float *)calloc(rows, sizeof(float));
    m->kv_rows_floats = 2 * m->kv_positions * m->program->head_dim;
    m->kv_rows = (float *)calloc((size_t)(m->kv_rows_floats * threads), sizeof(float));
    m->kv_rows_tag = (struct qrt_kv_rows_tag *)calloc((size_t)threads, sizeof *m->kv_rows_tag);
    if (!m->key_scale || !m->value_scale || !m->kv_rows || !m->kv_rows_tag) {
      qrt_set_error(err, len, "out of memory allocating the KV cache's scales");
      goto fail;
    }
  }
  m->xq = (int8_t *)calloc((size_t)(m->program->chunk * max_cols), 1);
  m->xscale = (float *)calloc((size_t)m->program->chunk, sizeof(float));
  m->xblock_scale = (float *)calloc((size_t)(m->program->chunk * (max_cols / QRT_Q8_BLOCK + 1)),
                                    sizeof(float));
  m->xgroup_sum = (float *)calloc((size_t)(m->program->chunk * max_groups), sizeof(float));
  if (!m->pool || !m->scratch || !m->arena || !m->key_cache || !m->value_cache || !m->xq ||
      !m->xscale || !m->xblock_scale || !m->xgroup_sum) {
    qrt_set_error(err, len, "out of memory allocating the KV cache and activations");
    goto fail;
  }
  const char *block_env = getenv("QRT_BLOCK_ATTENTION");
  m->block_attention = m->kernels->attend_block && !(block_env && !strcmp(block_env, "0"));
  m->profile = qrt_profile_create();
  if (tile_weights(m) != 0) {
    qrt_set_error(err, len, "out of memory copying the weights into row tiles");
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
  qrt_profile_report(m->profile);
  for (int64_t i = 0; m->tiled && i < m->num_slots; ++i)
    qrt_tiled_free(&m->tiled[i]);
  free(m->tiled);
  qrt_weights_close(&m->file);
  qrt_pool_destroy(m->pool);
  free(m->scratch);
  free(m->arena);
  free(m->key_cache);
  free(m->value_cache);
  free(m->key_scale);
  free(m->value_scale);
  free(m->kv_rows);
  free(m->kv_rows_tag);
  free(m->xq);
  free(m->xscale);
  free(m->xblock_scale);
  free(m->xgroup_sum);
  free(m);
}

int64_t qrt_vocab_size(const qrt_model *m) { return m->program->vocab; }
int64_t qrt_max_seq_len(const qrt_model *m) { return m->kv_positions; }
int64_t qrt_sequences(const qrt_model *m) { return m->sequences; }
int64_t qrt_chunk(const qrt_model *m) { return m->program->chunk; }
int64_t qrt_dim(const qrt_model *m) { return m->program->dim; }
uint64_t qrt_weight_bytes(const qrt_model *m) { return m->file.weight_bytes; }
uint64_t qrt_decode_bytes(const qrt_model *m) { return m->file.decode_bytes; }
const char *qrt_isa(const qrt_model *m) { return m->kernels->name; }
int qrt_threads(const qrt_model *m) { return qrt_pool_threads(m->pool); }

/* qrt_run_steps, timed for QRT_PROFILE. */
static int run_steps(qrt_model *m, const int32_t *tokens, int64_t n, int64_t pos, float *logits,
                     int last_only, char *err, size_t len) {
  if (!m->profile)
    return qrt_run_steps(m, &m->steps, tokens, n, pos, logits, last_only, err, len);
  qrt_profile_kind *kind = &m->profile->kind[n > 1];
  m->profile->now = kind;
  double t0 = qrt_seconds();
  int rc = qrt_run_steps(m, &m->steps, tokens, n, pos, logits, last_only, err, len);
  double took = qrt_seconds() - t0;
  kind->total_s += took;
  if (took > kind->slowest_s)
    kind->slowest_s = took;
  kind->calls++;
  return rc;
}

int qrt_forward(qrt_model *m, const int32_t *tokens, int64_t n, int64_t pos, float *logits,
                char *err, size_t len) {
  return run_steps(m, tokens, n, pos, logits, 0, err, len);
}

int qrt_forward_last(qrt_model *m, const int32_t *tokens, int64_t n, int64_t pos, float *logits,
                     char *err, size_t len) {
  return run_steps(m, tokens, n, pos, logits, 1, err, len);
}

int qrt_forward_seq(qrt_model *m, int64_t seq, const int32_t *tokens, int64_t n, int64_t pos,
                    float *logits, int last_only, char *err, size_t len) {
  if (seq < 0 || seq >= m->sequences) {
    qrt_set_error(err, len, "sequence %lld is outside the model's %lld", (long long)seq,
                  (long long)m->sequences);
    return -1;
  }
  m->seq = seq;
  int rc = run_steps(m, tokens, n, pos, logits, last_only, err, len);
  m->seq = 0;
  return rc;
}

int qrt_decode_batch(qrt_model *m, const int32_t *tokens, const int64_t *seq, const int64_t *pos,
                     int64_t n, float *logits, char *err, size_t len) {
  if (qrt_check_batch(&m->steps, m->sequences, tokens, seq, pos, n, err, len) != 0)
    return -1;
  m->row_seq = seq, m->row_pos = pos;
  m->steps.decode_rows = 1;
  /* the positions come from row_pos: qopt_forward's own `pos` is unused */
  int rc = run_steps(m, tokens, n, 0, logits, 0, err, len);
  m->steps.decode_rows = 0;
  m->row_seq = m->row_pos = NULL;
  return rc;
}

const qrt_weights_file *qrt_model_file(const qrt_model *m) { return &m->file; }
