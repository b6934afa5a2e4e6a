/* tokenizer.c - qopt's tokenizer (the runtime's, and through
 * qopt/Support/Tokenizer.h the compiler's): loads a llama2.c tokenizer.bin
 * or a QTOK section, encodes text to ids and decodes ids to text. */
#include "qrt_common.h"
#include "tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

int qrt_ids_push(qrt_ids *ids, int32_t id) {
  if (ids->n == ids->cap) {
    int64_t cap = ids->cap ? ids->cap * 2 : 256;
    int32_t *v = (int32_t *)realloc(ids->v, sizeof(int32_t) * (size_t)cap);
    if (!v)
      return -1;
    ids->v = v;
    ids->cap = cap;
  }
  ids->v[ids->n++] = id;
  return 0;
}

static void free_steps(qrt_tok_step *steps, uint32_t n) {
  for (uint32_t i = 0; steps && i < n; ++i) {
    free(steps[i].a);
    free(steps[i].b);
  }
  free(steps);
}

void qrt_tokenizer_free(qrt_tokenizer *t) {
  if (!t)
    return;
  if (t->format == QRT_TOK_HF_BPE)
    qrt_hf_release(t);
  for (int64_t i = 0; i < t->size; ++i) {
    if (t->surface && t->surface[i] != t->piece[i])
      free(t->surface[i]);
    if (t->piece)
      free(t->piece[i]);
  }
  free(t->piece);
  free(t->piece_len);
  free(t->surface);
  free(t->scores);
  qrt_string_map_free(&t->ids);
  qrt_pair_map_free(&t->merges);
  free(t->merge_rank);
  for (uint32_t i = 0; t->added && i < t->n_added; ++i)
    free(t->added[i].content);
  free(t->added);
  free_steps(t->normalizer, t->n_normalizer);
  free_steps(t->pre, t->n_pre);
  free(t->chat_template);
  free(t);
}

static int hex_digit(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                        : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int qrt_byte_piece(const char *p, size_t n) {
  if (n != 6 || memcmp(p, "<0x", 3) != 0 || p[5] != '>')
    return -1;
  int hi = hex_digit(p[3]), lo = hex_digit(p[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* llama2.c's decode: a <0xXX> piece is that byte, the rest print as they are */
static int llama2c_surfaces(qrt_tokenizer *t) {
  t->surface = (char **)calloc((size_t)t->size, sizeof(char *));
  if (!t->surface)
    return -1;
  for (int64_t i = 0; i < t->size; ++i) {
    int byte = qrt_byte_piece(t->piece[i], t->piece_len[i]);
    if (byte < 0) {
      t->surface[i] = t->piece[i];
      continue;
    }
    t->surface[i] = (char *)malloc(2);
    if (!t->surface[i])
      return -1;
    t->surface[i][0] = (char)byte;
    t->surface[i][1] = '\0';
  }
  return 0;
}

qrt_tokenizer *qrt_tokenizer_load(const uint8_t *bytes, size_t size, int64_t vocab, char *err,
                                  size_t err_len) {
  qrt_tokenizer *t = (qrt_tokenizer *)calloc(1, sizeof(qrt_tokenizer));
  if (!t) {
    qrt_set_error(err, err_len, "out of memory loading the tokenizer");
    return NULL;
  }
  int rc;
  if (size >= 4 && memcmp(bytes, QTOK_MAGIC, 4) == 0) {
    rc = qrt_qtok_parse(t, bytes, size, vocab, err, err_len);
  } else {
    rc = qrt_llama2c_parse(t, bytes, size, vocab, err, err_len);
    if (rc == 0 && llama2c_surfaces(t) != 0) {
      qrt_set_error(err, err_len, "out of memory loading the tokenizer");
      rc = -1;
    }
  }
  if (rc != 0) {
    qrt_tokenizer_free(t);
    return NULL;
  }
  return t;
}

const char *qrt_tokenizer_chat_template(const qrt_tokenizer *t) {
  return t->chat_template ? t->chat_template : "";
}

int64_t qrt_tokenizer_vocab(const qrt_tokenizer *t) { return t->size; }
int32_t qrt_tokenizer_bos(const qrt_tokenizer *t) { return t->add_bos ? t->bos : -1; }
int32_t qrt_tokenizer_eos(const qrt_tokenizer *t) { return t->n_eos ? t->eos[0] : -1; }
const char *qrt_tokenizer_bos_token(const qrt_tokenizer *t) {
  return t->bos >= 0 && t->bos < t->size ? t->piece[t->bos] : "";
}
const char *qrt_tokenizer_eos_token(const qrt_tokenizer *t) {
  return t->n_eos && t->eos[0] >= 0 && t->eos[0] < t->size ? t->piece[t->eos[0]] : "";
}

int qrt_tokenizer_is_eos(const qrt_tokenizer *t, int32_t id) {
  for (uint32_t i = 0; i < t->n_eos; ++i)
    if (t->eos[i] == id)
      return 1;
  return 0;
}

const char *qrt_tokenizer_piece(const qrt_tokenizer *t, int32_t token) {
  return token >= 0 && token < t->size ? t->piece[token] : NULL;
}

const char *qrt_tokenizer_decode(const qrt_tokenizer *t, int32_t prev, int32_t token) {
  if (token < 0 || token >= t->size)
    return "";
  const char *text = t->surface[token];
  /* the space that starts a text (SentencePiece's dummy prefix) is not
   * shown: after BOS, or first of all (prev < 0) when no BOS is added */
  if ((t->flags & QTOK_FLAG_STRIP_FIRST) && (prev == t->bos || prev < 0) && text[0] == ' ')
    text++;
  return text;
}

int64_t qrt_tokenizer_encode(const qrt_tokenizer *t, const char *text, int bos, int eos,
                             int32_t *tokens, int64_t max_tokens) {
  qrt_ids ids = {0};
  int32_t bos_id = qrt_tokenizer_bos(t), eos_id = qrt_tokenizer_eos(t);
  size_t len = strlen(text);
  int rc = bos && bos_id >= 0 ? qrt_ids_push(&ids, bos_id) : 0;
  if (rc == 0)
    rc = t->format == QRT_TOK_LLAMA2C ? qrt_llama2c_encode(t, text, len, &ids)
                                      : qrt_hf_encode(t, text, len, &ids);
  if (rc == 0 && eos && eos_id >= 0)
    rc = qrt_ids_push(&ids, eos_id);
  if (rc != 0) {
    free(ids.v);
    return -1;
  }
  int64_t copy = ids.n < max_tokens ? ids.n : max_tokens;
  if (copy > 0)
    memcpy(tokens, ids.v, sizeof(int32_t) * (size_t)copy);
  free(ids.v);
  return ids.n;
}
