/* tokenizer.c - the llama2.c tokenizer (tokenizer.bin): BPE merges by score
 * with byte fallback, transcribed from llama2.c's run.c so that encodings
 * equal the reference's (and qopt's C++ Tokenizer). */
#include "qrt_common.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct token_index {
  const char *str;
  int32_t id;
} token_index;

struct qrt_tokenizer {
  char **vocab;
  float *scores;
  token_index *sorted;
  int64_t size;
  int32_t max_token_length;
  unsigned char byte_pieces[512]; /* "\0x" strings for single bytes */
  char *buffer;                   /* encode scratch */
};

static int compare_tokens(const void *a, const void *b) {
  return strcmp(((const token_index *)a)->str, ((const token_index *)b)->str);
}

void qrt_tokenizer_free(qrt_tokenizer *t) {
  if (!t)
    return;
  for (int64_t i = 0; i < t->size && t->vocab; ++i)
    free(t->vocab[i]);
  free(t->vocab);
  free(t->scores);
  free(t->sorted);
  free(t->buffer);
  free(t);
}

/* Bounds on the header, shared with lib/Support/Tokenizer.cpp: llama2.c
 * vocabularies have pieces of a few dozen bytes, and byte fallback needs
 * tokens 3..258. */
#define QRT_TOKEN_MAX_LENGTH 4096
#define QRT_TOKENIZER_MIN_VOCAB 259

/* Frees a partly loaded tokenizer (the message is already in err). */
static qrt_tokenizer *load_failed(qrt_tokenizer *t) {
  qrt_tokenizer_free(t);
  return NULL;
}

qrt_tokenizer *qrt_tokenizer_load(const uint8_t *bytes, size_t size, int64_t vocab, char *err,
                                  size_t err_len) {
  if (vocab < QRT_TOKENIZER_MIN_VOCAB || vocab > INT32_MAX) {
    qrt_set_error(err, err_len,
                  "tokenizer: a vocabulary of %lld tokens cannot hold byte fallback "
                  "(needs at least %d)",
                  (long long)vocab, QRT_TOKENIZER_MIN_VOCAB);
    return NULL;
  }
  qrt_tokenizer *t = (qrt_tokenizer *)calloc(1, sizeof(qrt_tokenizer));
  if (!t) {
    qrt_set_error(err, err_len, "out of memory loading the tokenizer");
    return NULL;
  }
  t->size = vocab;
  t->vocab = (char **)calloc((size_t)vocab, sizeof(char *));
  t->scores = (float *)calloc((size_t)vocab, sizeof(float));
  t->sorted = (token_index *)malloc(sizeof(token_index) * (size_t)vocab);
  if (!t->vocab || !t->scores || !t->sorted) {
    qrt_set_error(err, err_len, "out of memory loading the tokenizer");
    return load_failed(t);
  }
  if (size < 4) {
    qrt_set_error(err, err_len, "tokenizer section is truncated");
    return load_failed(t);
  }
  memcpy(&t->max_token_length, bytes, 4);
  if (t->max_token_length < 1 || t->max_token_length > QRT_TOKEN_MAX_LENGTH) {
    qrt_set_error(err, err_len, "tokenizer: max_token_length %lld is not in [1, 4096]",
                  (long long)t->max_token_length);
    return load_failed(t);
  }
  size_t at = 4;
  for (int64_t i = 0; i < vocab; ++i) {
    int32_t len;
    if (size - at < 8) {
      qrt_set_error(err, err_len, "tokenizer section is truncated at token %lld", (long long)i);
      return load_failed(t);
    }
    memcpy(&t->scores[i], bytes + at, 4);
    memcpy(&len, bytes + at + 4, 4);
    at += 8;
    if (len < 0 || (size_t)len > size - at) {
      qrt_set_error(err, err_len, "tokenizer section is truncated at token %lld", (long long)i);
      return load_failed(t);
    }
    if (len > t->max_token_length) {
      qrt_set_error(err, err_len, "tokenizer: token %lld is longer than its max_token_length",
                    (long long)i);
      return load_failed(t);
    }
    t->vocab[i] = (char *)malloc((size_t)len + 1);
    if (!t->vocab[i]) {
      qrt_set_error(err, err_len, "out of memory loading the tokenizer");
      return load_failed(t);
    }
    memcpy(t->vocab[i], bytes + at, (size_t)len);
    t->vocab[i][len] = '\0';
    at += (size_t)len;
  }
  for (int i = 0; i < 256; ++i) {
    t->byte_pieces[i * 2] = (unsigned char)i;
    t->byte_pieces[i * 2 + 1] = '\0';
  }
  for (int64_t i = 0; i < vocab; ++i) {
    t->sorted[i].str = t->vocab[i];
    t->sorted[i].id = (int32_t)i;
  }
  qsort(t->sorted, (size_t)vocab, sizeof(token_index), compare_tokens);
  /* two pieces joined, or one UTF-8 code point (4 bytes), and a NUL */
  size_t buffer = (size_t)t->max_token_length * 2 + 1;
  t->buffer = (char *)malloc(buffer < 8 ? 8 : buffer);
  if (!t->buffer) {
    qrt_set_error(err, err_len, "out of memory loading the tokenizer");
    return load_failed(t);
  }
  return t;
}

const char *qrt_tokenizer_decode(const qrt_tokenizer *t, int32_t prev, int32_t token) {
  if (token < 0 || token >= t->size)
    return "";
  const char *piece = t->vocab[token];
  /* after BOS, SentencePiece strips the leading whitespace */
  if (prev == 1 && piece[0] == ' ')
    piece++;
  unsigned char byte;
  if (sscanf(piece, "<0x%02hhX>", &byte) == 1)
    piece = (const char *)t->byte_pieces + byte * 2;
  return piece;
}

static int32_t lookup(const qrt_tokenizer *t, const char *str) {
  token_index key = {str, 0};
  token_index *res = (token_index *)bsearch(&key, t->sorted, (size_t)t->size,
                                            sizeof(token_index), compare_tokens);
  return res ? res->id : -1;
}

/* The token that joins tokens a and b, or -1; its score into *score. */
static int32_t merge_of(const qrt_tokenizer *t, int32_t a, int32_t b, float *score) {
  size_t la = strlen(t->vocab[a]), lb = strlen(t->vocab[b]);
  if (la + lb > (size_t)t->max_token_length)
    return -1; /* longer than every token */
  memcpy(t->buffer, t->vocab[a], la);
  memcpy(t->buffer + la, t->vocab[b], lb + 1);
  int32_t id = lookup(t, t->buffer);
  if (id != -1)
    *score = t->scores[id];
  return id;
}

int64_t qrt_tokenizer_encode(const qrt_tokenizer *t, const char *text, int bos, int eos,
                             int32_t *tokens, int64_t max_tokens) {
  /* worst case: every byte a token, plus BOS, EOS and the dummy prefix */
  int64_t cap = (int64_t)strlen(text) + 3;
  int32_t *out = (int32_t *)malloc(sizeof(int32_t) * (size_t)cap);
  char *buf = t->buffer;
  size_t buf_len = 0;
  int64_t n = 0;
  if (bos)
    out[n++] = 1;
  if (text[0] != '\0') {
    /* SentencePiece's dummy prefix, when the vocabulary has it */
    int32_t dummy = lookup(t, " ");
    if (dummy != -1)
      out[n++] = dummy;
  }
  for (const char *c = text; *c != '\0'; c++) {
    /* a UTF-8 continuation byte extends the current codepoint */
    if ((*c & 0xC0) != 0x80)
      buf_len = 0;
    buf[buf_len++] = *c;
    buf[buf_len] = '\0';
    if ((*(c + 1) & 0xC0) == 0x80 && buf_len < 4)
      continue;
    int32_t id = lookup(t, buf);
    if (id != -1) {
      out[n++] = id;
    } else {
      /* byte fallback: <0x00>..<0xFF> are tokens 3..258 */
      for (size_t i = 0; i < buf_len; i++)
        out[n++] = (unsigned char)buf[i] + 3;
    }
    buf_len = 0;
  }
  /* llama2.c's merges: repeatedly join the adjacent pair whose joined
   * string is the best-scoring token (the leftmost of equals). Each pair's
   * merge is looked up once and kept, so a merge costs a scan of the kept
   * scores and two new lookups instead of a lookup of every pair: a
   * 2000-character prompt was 15% of its own prefill with the latter. */
  int32_t *pair_id = (int32_t *)malloc(sizeof(int32_t) * (size_t)cap);
  float *pair_score = (float *)malloc(sizeof(float) * (size_t)cap);
  for (int64_t i = 0; i + 1 < n; i++)
    pair_id[i] = merge_of(t, out[i], out[i + 1], &pair_score[i]);
  for (;;) {
    float best_score = -1e10f;
    int64_t best_idx = -1;
    for (int64_t i = 0; i + 1 < n; i++)
      if (pair_id[i] != -1 && pair_score[i] > best_score) {
        best_score = pair_score[i];
        best_idx = i;
      }
    if (best_idx == -1)
      break;
    out[best_idx] = pair_id[best_idx];
    int64_t tail = n - best_idx - 2; /* entries after the merged pair */
    memmove(out + best_idx + 1, out + best_idx + 2, sizeof(int32_t) * (size_t)tail);
    memmove(pair_id + best_idx + 1, pair_id + best_idx + 2,
            sizeof(int32_t) * (size_t)(tail > 0 ? tail - 1 : 0));
    memmove(pair_score + best_idx + 1, pair_score + best_idx + 2,
            sizeof(float) * (size_t)(tail > 0 ? tail - 1 : 0));
    n--;
    if (best_idx > 0)
      pair_id[best_idx - 1] =
          merge_of(t, out[best_idx - 1], out[best_idx], &pair_score[best_idx - 1]);
    if (best_idx + 1 < n)
      pair_id[best_idx] = merge_of(t, out[best_idx], out[best_idx + 1], &pair_score[best_idx]);
  }
  free(pair_id);
  free(pair_score);
  if (eos)
    out[n++] = 2;
  int64_t copy = n < max_tokens ? n : max_tokens;
  memcpy(tokens, out, sizeof(int32_t) * (size_t)copy);
  free(out);
  return n;
}
