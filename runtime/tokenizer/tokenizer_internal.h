/* tokenizer_internal.h - the one tokenizer of qopt (runtime and compiler
 * alike), shared by its files:
 *   tokenizer.c      loading (by format), decoding, the public entry points
 *   llama2c_vocab.c  llama2.c's tokenizer.bin: merges by the joined piece's score
 *   qtok_vocab.c     QTOK, what the compiler makes of a Hugging Face tokenizer.json
 *   hf_encode.c      added tokens, normalizer, pre-tokenizer (PCRE2), word to symbols
 *   bpe_merge.c      the merge loop both formats share (a heap over adjacent pairs)
 *   string_map.c     hash maps: piece -> id, (left, right) -> merge
 * QTOK's layout is in runtime/include/qrt_tokenizer_format.h. */
#ifndef QRT_TOKENIZER_INTERNAL_H
#define QRT_TOKENIZER_INTERNAL_H

#include "qrt_common.h" /* the public tokenizer API */
#include "qrt_tokenizer_format.h"

#include <stddef.h>
#include <stdint.h>

/* ---- string_map.c ---- */
typedef struct qrt_string_map {
  const char **keys; /* borrowed from the tokenizer's pieces */
  uint32_t *key_len;
  int32_t *values;
  uint64_t mask; /* capacity - 1 (a power of two) */
} qrt_string_map;
/* 0, or -1 when out of memory. Later duplicates of a key do not replace the
 * first (the lowest id wins, as in llama2.c and Hugging Face). */
int qrt_string_map_init(qrt_string_map *m, int64_t expected);
int qrt_string_map_insert(qrt_string_map *m, const char *key, uint32_t len, int32_t value);
int32_t qrt_string_map_find(const qrt_string_map *m, const char *key, size_t len); /* -1: none */
void qrt_string_map_free(qrt_string_map *m);

typedef struct qrt_pair_map {
  uint64_t *keys; /* (left << 32 | right) + 1; 0 marks an empty slot */
  int32_t *rank, *merged;
  uint64_t mask;
} qrt_pair_map;
int qrt_pair_map_init(qrt_pair_map *m, int64_t expected);
int qrt_pair_map_insert(qrt_pair_map *m, int32_t left, int32_t right, int32_t rank, int32_t merged);
/* The merged id of (left, right), its rank into *rank; -1 when no merge. */
int32_t qrt_pair_map_find(const qrt_pair_map *m, int32_t left, int32_t right, int32_t *rank);
void qrt_pair_map_free(qrt_pair_map *m);

/* ---- the tokenizer ---- */
typedef struct qrt_tok_step {
  uint32_t op, arg;
  char *a, *b; /* NUL-terminated copies */
  uint32_t a_len, b_len;
  void *regex; /* pcre2_code for the split steps */
} qrt_tok_step;

typedef struct qrt_added_token {
  int32_t id;
  uint32_t flags; /* QTOK_ADDED_* */
  char *content;  /* as matched: normalized first when QTOK_ADDED_NORMALIZED */
  uint32_t len;
} qrt_added_token;

enum { QRT_TOK_LLAMA2C = 1, QRT_TOK_HF_BPE = 2 };

struct qrt_tokenizer {
  int format; /* QRT_TOK_* */
  int64_t size;
  char **piece; /* the vocabulary's strings, NUL-terminated */
  uint32_t *piece_len;
  char **surface; /* what decoding a token prints (may alias piece) */
  float *scores;  /* llama2.c only */
  qrt_string_map ids;
  qrt_pair_map merges; /* Hugging Face BPE only */
  int32_t *merge_rank; /* per token: the best rank of a merge making it, or -1 */
  uint32_t flags;      /* QTOK_FLAG_* */
  int32_t unk, bos;
  int add_bos;
  int32_t eos[QTOK_MAX_EOS];
  uint32_t n_eos;
  qrt_added_token *added;
  uint32_t n_added;
  unsigned char added_first[2][256]; /* [normalized][byte]: some added token starts so */
  qrt_tok_step *normalizer, *pre;
  uint32_t n_normalizer, n_pre;
  int32_t max_piece_len;
  char *chat_template; /* tokenizer_config.json's, or NULL / "" */
};

/* A growable array of token ids. */
typedef struct qrt_ids {
  int32_t *v;
  int64_t n, cap;
} qrt_ids;
int qrt_ids_push(qrt_ids *ids, int32_t id); /* 0, or -1 when out of memory */
/* The byte a "<0xXX>" piece stands for (byte fallback), or -1. */
int qrt_byte_piece(const char *p, size_t n);

/* bpe_merge.c: merges the symbols ids->v[from, n) in place, always the
 * pair that `pair` ranks lowest (leftmost on ties), until none merges.
 * `pair` returns the merged id of (a, b) and its rank, or -1. Symbols are
 * token ids, or values <= -2 that the caller's `pair` understands (a
 * character outside the vocabulary, SentencePiece-style). */
typedef int32_t (*qrt_pair_fn)(const void *ctx, int32_t a, int32_t b, double *rank);
int qrt_bpe_merge(const void *ctx, qrt_ids *ids, int64_t from, qrt_pair_fn pair);

/* llama2c_vocab.c / qtok_vocab.c: fill t from the section (t is zeroed;
 * on failure the message is in err and the caller frees t). */
int qrt_llama2c_parse(struct qrt_tokenizer *t, const uint8_t *bytes, size_t size, int64_t vocab,
                      char *err, size_t err_len);
int qrt_llama2c_encode(const struct qrt_tokenizer *t, const char *text, size_t len, qrt_ids *out);
int qrt_qtok_parse(struct qrt_tokenizer *t, const uint8_t *bytes, size_t size, int64_t vocab,
                   char *err, size_t err_len);

/* hf_encode.c */
int qrt_hf_prepare(struct qrt_tokenizer *t, char *err, size_t err_len); /* compiles the regexes */
int qrt_hf_encode(const struct qrt_tokenizer *t, const char *text, size_t len, qrt_ids *out);
void qrt_hf_release(struct qrt_tokenizer *t);

#endif
