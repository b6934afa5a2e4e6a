/* llama2c_vocab.c - llama2.c's tokenizer.bin (i32 max_token_length; then per
 * token: f32 score, i32 length, bytes) and its encoding, transcribed from
 * llama2.c's run.c: a dummy-prefix space, UTF-8 code points looked up whole
 * with byte fallback (<0xXX> is id byte + 3), then the merge of the adjacent
 * pair whose joined piece scores highest, the leftmost of equals. */
#include "qrt_common.h"
#include "tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

/* Bounds on the header: llama2.c vocabularies have pieces of a few dozen
 * bytes, and byte fallback needs tokens 3..258. */
#define LLAMA2C_MAX_TOKEN_LENGTH 4096
#define LLAMA2C_MIN_VOCAB 259

int qrt_llama2c_parse(qrt_tokenizer *t, const uint8_t *bytes, size_t size, int64_t vocab,
                      char *err, size_t err_len) {
  if (size < 4) {
    qrt_set_error(err, err_len, "tokenizer section is truncated");
    return -1;
  }
  int32_t max_len;
  memcpy(&max_len, bytes, 4);
  if (max_len < 1 || max_len > LLAMA2C_MAX_TOKEN_LENGTH) {
    qrt_set_error(err, err_len, "tokenizer: max_token_length %lld is not in [1, 4096]",
                  (long long)max_len);
    return -1;
  }
  /* vocab <= 0: the caller does not know the model; the file says */
  int64_t count = 0;
  size_t end = 4;
  while (size - end >= 8) {
    int32_t len;
    memcpy(&len, bytes + end + 4, 4);
    if (len < 0 || (size_t)len > size - end - 8)
      break;
    end += 8 + (size_t)len;
    ++count;
  }
  if (vocab > 0 && end == size && count != vocab) {
    qrt_set_error(err, err_len,
                  "tokenizer has %lld tokens but the model's vocabulary has %lld (wrong "
                  "tokenizer for this model?)",
                  (long long)count, (long long)vocab);
    return -1;
  }
  if (vocab <= 0)
    vocab = count;
  if (vocab < LLAMA2C_MIN_VOCAB || vocab > INT32_MAX) {
    qrt_set_error(err, err_len,
                  "tokenizer: a vocabulary of %lld tokens cannot hold byte fallback "
                  "(needs at least %d)",
                  (long long)vocab, LLAMA2C_MIN_VOCAB);
    return -1;
  }
  t->format = QRT_TOK_LLAMA2C;
  t->size = vocab;
  t->max_piece_len = max_len;
  t->piece = (char **)calloc((size_t)vocab, sizeof(char *));
  t->piece_len = (uint32_t *)calloc((size_t)vocab, sizeof(uint32_t));
  t->scores = (float *)calloc((size_t)vocab, sizeof(float));
  if (!t->piece || !t->piece_len || !t->scores || qrt_string_map_init(&t->ids, vocab) != 0) {
    qrt_set_error(err, err_len, "out of memory loading the tokenizer");
    return -1;
  }
  size_t at = 4;
  for (int64_t i = 0; i < vocab; ++i) {
    int32_t len;
    if (size - at < 8) {
      qrt_set_error(err, err_len, "tokenizer section is truncated at token %lld", (long long)i);
      return -1;
    }
    memcpy(&t->scores[i], bytes + at, 4);
    memcpy(&len, bytes + at + 4, 4);
    at += 8;
    if (len < 0 || (size_t)len > size - at) {
      qrt_set_error(err, err_len, "tokenizer section is truncated at token %lld", (long long)i);
      return -1;
    }
    if (len > max_len) {
      qrt_set_error(err, err_len, "tokenizer: token %lld is longer than its max_token_length",
                    (long long)i);
      return -1;
    }
    t->piece[i] = (char *)malloc((size_t)len + 1);
    if (!t->piece[i]) {
      qrt_set_error(err, err_len, "out of memory loading the tokenizer");
      return -1;
    }
    memcpy(t->piece[i], bytes + at, (size_t)len);
    t->piece[i][len] = '\0';
    t->piece_len[i] = (uint32_t)len;
    qrt_string_map_insert(&t->ids, t->piece[i], (uint32_t)len, (int32_t)i);
    at += (size_t)len;
  }
  if (at != size) {
    qrt_set_error(err, err_len,
                  "tokenizer: %zu bytes follow the last of its %lld tokens (wrong tokenizer "
                  "for this model?)",
                  size - at, (long long)vocab);
    return -1;
  }
  /* llama2.c: EOS 2 is what encode appends; BOS 1 starts a sequence and
   * also ends the one before (run.c stops there), so both stop generation */
  t->bos = 1;
  t->add_bos = 1;
  t->unk = 0;
  t->eos[0] = 2;
  t->eos[1] = 1;
  t->n_eos = 2;
  t->flags = QTOK_FLAG_METASPACE | QTOK_FLAG_STRIP_FIRST;
  return 0;
}

/* The piece joining a and b, ranked by its score (highest first). */
static int32_t join_by_score(const void *ctx, int32_t a, int32_t b, double *rank) {
  const qrt_tokenizer *t = (const qrt_tokenizer *)ctx;
  size_t la = t->piece_len[a], lb = t->piece_len[b];
  if (la + lb > (size_t)t->max_piece_len)
    return -1; /* longer than every token */
  char joined[2 * LLAMA2C_MAX_TOKEN_LENGTH];
  memcpy(joined, t->piece[a], la);
  memcpy(joined + la, t->piece[b], lb);
  int32_t id = qrt_string_map_find(&t->ids, joined, la + lb);
  if (id >= 0)
    *rank = -(double)t->scores[id];
  return id;
}

int qrt_llama2c_encode(const qrt_tokenizer *t, const char *text, size_t len, qrt_ids *out) {
  int64_t from = out->n;
  if (len > 0) {
    int32_t dummy = qrt_string_map_find(&t->ids, " ", 1); /* SentencePiece's dummy prefix */
    if (dummy >= 0 && qrt_ids_push(out, dummy) != 0)
      return -1;
  }
  for (size_t i = 0; i < len;) {
    size_t n = 1;
    while (i + n < len && n < 4 && ((unsigned char)text[i + n] & 0xC0) == 0x80)
      ++n;
    int32_t id = qrt_string_map_find(&t->ids, text + i, n);
    if (id >= 0) {
      if (qrt_ids_push(out, id) != 0)
        return -1;
    } else {
      for (size_t j = 0; j < n; ++j) /* byte fallback: <0x00>..<0xFF> are 3..258 */
        if (qrt_ids_push(out, (int32_t)(unsigned char)text[i + j] + 3) != 0)
          return -1;
    }
    i += n;
  }
  return qrt_bpe_merge(t, out, from, join_by_score);
}
