/* qtok_vocab.c - reads QTOK (runtime/include/qrt_tokenizer_format.h), the
 * section qopt writes for a Hugging Face tokenizer.json. Every count and
 * length is checked against what is left of the section before use. */
#include "qrt_common.h"
#include "tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct reader {
  const uint8_t *p;
  size_t left;
  int ok;
} reader;

static uint32_t take_u32(reader *r) {
  uint32_t v = 0;
  if (r->left < 4) {
    r->ok = 0;
    return 0;
  }
  memcpy(&v, r->p, 4);
  r->p += 4;
  r->left -= 4;
  return v;
}

/* A NUL-terminated copy of the next string, or NULL (r->ok says why). */
static char *take_string(reader *r, uint32_t *len) {
  *len = take_u32(r);
  if (!r->ok || *len > r->left) {
    r->ok = 0;
    return NULL;
  }
  char *s = (char *)malloc((size_t)*len + 1);
  if (!s) {
    r->ok = 0;
    return NULL;
  }
  memcpy(s, r->p, *len);
  s[*len] = '\0';
  r->p += *len;
  r->left -= *len;
  return s;
}

static int fail(char *err, size_t err_len, const char *what) {
  qrt_set_error(err, err_len, "tokenizer (QTOK): %s", what);
  return -1;
}

static int valid_id(const qrt_tokenizer *t, int32_t id) { return id >= 0 && id < t->size; }

static int read_steps(reader *r, qrt_tok_step **steps, uint32_t *n) {
  *n = take_u32(r);
  if (!r->ok || *n > r->left / 16) /* each step is at least 16 bytes */
    return -1;
  *steps = (qrt_tok_step *)calloc(*n ? *n : 1, sizeof(qrt_tok_step));
  if (!*steps)
    return -1;
  for (uint32_t i = 0; i < *n; ++i) {
    qrt_tok_step *s = &(*steps)[i];
    s->op = take_u32(r);
    s->arg = take_u32(r);
    s->a = take_string(r, &s->a_len);
    s->b = take_string(r, &s->b_len);
    if (!r->ok)
      return -1;
  }
  return 0;
}

int qrt_qtok_parse(qrt_tokenizer *t, const uint8_t *bytes, size_t size, int64_t vocab, char *err,
                   size_t err_len) {
  reader r = {bytes + 4, size - 4, 1};
  if (take_u32(&r) != QTOK_VERSION || !r.ok)
    return fail(err, err_len, "unknown version (written by another qopt?)");
  t->format = QRT_TOK_HF_BPE;
  t->flags = take_u32(&r);
  t->unk = (int32_t)take_u32(&r);
  t->bos = (int32_t)take_u32(&r);
  t->add_bos = take_u32(&r) != 0;
  t->n_eos = take_u32(&r);
  if (!r.ok || t->n_eos > QTOK_MAX_EOS)
    return fail(err, err_len, "truncated or corrupt header");
  for (uint32_t i = 0; i < t->n_eos; ++i)
    t->eos[i] = (int32_t)take_u32(&r);
  uint32_t count = take_u32(&r);
  if (!r.ok || count > r.left / 4 || count < 1)
    return fail(err, err_len, "truncated or corrupt vocabulary");
  if (vocab > 0 && count != vocab) {
    qrt_set_error(err, err_len,
                  "tokenizer has %u tokens but the model's vocabulary has %lld (wrong "
                  "tokenizer for this model?)",
                  count, (long long)vocab);
    return -1;
  }
  t->size = count;
  t->piece = (char **)calloc(count, sizeof(char *));
  t->piece_len = (uint32_t *)calloc(count, sizeof(uint32_t));
  if (!t->piece || !t->piece_len || qrt_string_map_init(&t->ids, count) != 0)
    return fail(err, err_len, "out of memory");
  for (uint32_t i = 0; i < count; ++i) {
    t->piece[i] = take_string(&r, &t->piece_len[i]);
    if (!r.ok)
      return fail(err, err_len, "truncated vocabulary");
    if ((int32_t)t->piece_len[i] > t->max_piece_len)
      t->max_piece_len = (int32_t)t->piece_len[i];
    qrt_string_map_insert(&t->ids, t->piece[i], t->piece_len[i], (int32_t)i);
  }
  if ((t->unk != -1 && !valid_id(t, t->unk)) || (t->bos != -1 && !valid_id(t, t->bos)))
    return fail(err, err_len, "unk or bos id outside the vocabulary");
  for (uint32_t i = 0; i < t->n_eos; ++i)
    if (!valid_id(t, t->eos[i]))
      return fail(err, err_len, "eos id outside the vocabulary");
  uint32_t merges = take_u32(&r);
  if (!r.ok || merges > r.left / 8 || qrt_pair_map_init(&t->merges, merges) != 0)
    return fail(err, err_len, "truncated or corrupt merges");
  t->merge_rank = (int32_t *)malloc(sizeof(int32_t) * count);
  if (!t->merge_rank)
    return fail(err, err_len, "out of memory");
  for (uint32_t i = 0; i < count; ++i)
    t->merge_rank[i] = -1;
  for (uint32_t i = 0; i < merges; ++i) {
    int32_t left = (int32_t)take_u32(&r), right = (int32_t)take_u32(&r);
    if (!valid_id(t, left) || !valid_id(t, right))
      return fail(err, err_len, "a merge names a token outside the vocabulary");
    size_t la = t->piece_len[left], lb = t->piece_len[right];
    char *joined = (char *)malloc(la + lb + 1);
    if (!joined)
      return fail(err, err_len, "out of memory");
    memcpy(joined, t->piece[left], la);
    memcpy(joined + la, t->piece[right], lb);
    int32_t merged = qrt_string_map_find(&t->ids, joined, la + lb);
    free(joined);
    if (merged < 0)
      return fail(err, err_len, "a merge joins two tokens into one that is not in the vocabulary");
    qrt_pair_map_insert(&t->merges, left, right, (int32_t)i, merged);
    if (t->merge_rank[merged] < 0)
      t->merge_rank[merged] = (int32_t)i;
  }
  t->n_added = take_u32(&r);
  if (!r.ok || t->n_added > r.left / 12)
    return fail(err, err_len, "truncated or corrupt added tokens");
  t->added = (qrt_added_token *)calloc(t->n_added ? t->n_added : 1, sizeof(qrt_added_token));
  if (!t->added)
    return fail(err, err_len, "out of memory");
  for (uint32_t i = 0; i < t->n_added; ++i) {
    qrt_added_token *a = &t->added[i];
    a->id = (int32_t)take_u32(&r);
    a->flags = take_u32(&r);
    a->content = take_string(&r, &a->len);
    if (!r.ok)
      return fail(err, err_len, "truncated added tokens");
    if (!valid_id(t, a->id) || a->len == 0)
      return fail(err, err_len, "an added token is empty or outside the vocabulary");
  }
  /* SentencePiece merges any two symbols whose text is a piece, by the
   * piece's score; tokenizer.json lists merges only between pieces (none
   * makes Llama 2's "\u2581\u00a0" from its unknown "\u00a0"). Such a piece
   * ranks after every listed merge, in id order (SentencePiece's scores
   * fall with the id); added tokens are never merged into. */
  for (uint32_t i = 0; i < count; ++i)
    if (t->merge_rank[i] < 0)
      t->merge_rank[i] = (int32_t)(merges + i);
  for (uint32_t i = 0; i < t->n_added; ++i)
    t->merge_rank[t->added[i].id] = -1;
  if (read_steps(&r, &t->normalizer, &t->n_normalizer) != 0 ||
      read_steps(&r, &t->pre, &t->n_pre) != 0)
    return fail(err, err_len, "truncated or corrupt normalizer / pre-tokenizer");
  uint32_t template_len;
  t->chat_template = take_string(&r, &template_len);
  if (!r.ok)
    return fail(err, err_len, "truncated chat template");
  if (r.left != 0)
    return fail(err, err_len, "bytes follow the last section");
  return qrt_hf_prepare(t, err, err_len);
}
