/* model_tokenizer.c - the C API's tokenizer calls, for every backend: the
 * tokenizer lives in the model's weights file. */
#include "qrt_common.h"

static const qrt_tokenizer *tokenizer_of(const qrt_model *m) {
  return qrt_model_file(m)->tokenizer;
}

int64_t qrt_encode(const qrt_model *m, const char *text, int bos, int eos, int32_t *out,
                   int64_t max_tokens) {
  const qrt_tokenizer *t = tokenizer_of(m);
  return t ? qrt_tokenizer_encode(t, text, bos, eos, out, max_tokens) : -1;
}

const char *qrt_decode(const qrt_model *m, int32_t prev, int32_t token) {
  const qrt_tokenizer *t = tokenizer_of(m);
  return t ? qrt_tokenizer_decode(t, prev, token) : "";
}

int qrt_is_eos(const qrt_model *m, int32_t token) {
  const qrt_tokenizer *t = tokenizer_of(m);
  return t ? qrt_tokenizer_is_eos(t, token) : 0;
}

int32_t qrt_bos(const qrt_model *m) {
  const qrt_tokenizer *t = tokenizer_of(m);
  return t ? qrt_tokenizer_bos(t) : -1;
}

const char *qrt_chat_template(const qrt_model *m) {
  const qrt_tokenizer *t = tokenizer_of(m);
  return t ? qrt_tokenizer_chat_template(t) : "";
}

char *qrt_chat_prompt(const qrt_model *m, const qrt_chat_message *messages, size_t n,
                      int add_generation_prompt, char *err, size_t err_len) {
  const qrt_tokenizer *t = tokenizer_of(m);
  const char *tmpl = t ? qrt_tokenizer_chat_template(t) : "";
  if (!*tmpl) {
    qrt_set_error(err, err_len, "%s", QRT_NO_CHAT_TEMPLATE);
    return NULL;
  }
  return qrt_chat_render(tmpl, messages, n, add_generation_prompt, qrt_tokenizer_bos_token(t),
                         qrt_tokenizer_eos_token(t), err, err_len);
}
