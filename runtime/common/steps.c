/* steps.c - qrt_forward's chunk loop, shared by the runtime's backends. */
#include "qrt_common.h"

#include <stdlib.h>

void qrt_steps_init(qrt_steps *s, const qrt_program_config *config) {
  s->vocab = config->vocab;
  s->max_seq = config->max_seq;
  s->chunk = config->chunk;
  s->logits_rows = QRT_LOGITS_ALL;
}

int qrt_run_steps(qrt_model *m, qrt_steps *s, const int32_t *tokens, int64_t n, int64_t pos,
                  float *logits, int last_only, char *err, size_t len) {
  if (n <= 0 || pos < 0 || pos + n > s->max_seq) {
    qrt_set_error(err, len, "positions %lld..%lld are outside the context of %lld tokens",
                  (long long)pos, (long long)(pos + n - 1), (long long)s->max_seq);
    return -1;
  }
  for (int64_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= s->vocab) {
      qrt_set_error(err, len, "token %d at index %lld is outside the vocabulary of %lld",
                    tokens[i], (long long)i, (long long)s->vocab);
      return -1;
    }
  float *scratch_logits = NULL;
  s->prefill = n > 1 && !s->decode_rows;
  for (int64_t done = 0; done < n; done += s->chunk) {
    int64_t step = n - done < s->chunk ? n - done : s->chunk;
    int final = done + step == n;
    float *out = last_only ? (final ? logits : NULL) : logits ? logits + done * s->vocab : NULL;
    s->logits_rows = last_only ? (final ? QRT_LOGITS_LAST : QRT_LOGITS_NONE) : QRT_LOGITS_ALL;
    if (last_only && !logits) /* a piece of a prompt whose end comes later */
      s->logits_rows = QRT_LOGITS_NONE;
    if (!out && s->logits_rows != QRT_LOGITS_NONE) {
      if (!scratch_logits)
        scratch_logits = (float *)malloc(sizeof(float) * (size_t)(s->chunk * s->vocab));
      if (!scratch_logits) {
        qrt_set_error(err, len, "out of memory for a chunk of logits");
        return -1;
      }
      out = scratch_logits;
    }
    qopt_forward(m, tokens + done, step, pos + done, out);
  }
  s->logits_rows = QRT_LOGITS_ALL;
  free(scratch_logits);
  return 0;
}

int qrt_check_batch(const qrt_steps *s, int64_t sequences, const int32_t *tokens,
                    const int64_t *seq, const int64_t *pos, int64_t n, char *err, size_t len) {
  int64_t most = s->chunk < sequences ? s->chunk : sequences;
  if (n < 1 || n > most) {
    qrt_set_error(err, len, "a batch of %lld rows is outside [1, %lld]", (long long)n,
                  (long long)most);
    return -1;
  }
  for (int64_t i = 0; i < n; ++i) {
    if (seq[i] < 0 || seq[i] >= sequences) {
      qrt_set_error(err, len, "row %lld: sequence %lld is outside the model's %lld",
                    (long long)i, (long long)seq[i], (long long)sequences);
      return -1;
    }
    for (int64_t j = 0; j < i; ++j)
      if (seq[j] == seq[i]) {
        qrt_set_error(err, len, "rows %lld and %lld are both of sequence %lld", (long long)j,
                      (long long)i, (long long)seq[i]);
        return -1;
      }
    if (pos[i] < 0 || pos[i] >= s->max_seq) {
      qrt_set_error(err, len, "row %lld: position %lld is outside the context of %lld tokens",
                    (long long)i, (long long)pos[i], (long long)s->max_seq);
      return -1;
    }
    if (tokens[i] < 0 || tokens[i] >= s->vocab) {
      qrt_set_error(err, len, "row %lld: token %d is outside the vocabulary of %lld",
                    (long long)i, tokens[i], (long long)s->vocab);
      return -1;
    }
  }
  return 0;
}
