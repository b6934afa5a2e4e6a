/* perplexity.c - qopt's perplexity protocol (lib/Driver/Perplexity.cpp) in C:
 * documents split at blank lines, each encoded with BOS, concatenated, cut
 * into non-overlapping windows of ctx tokens, each evaluated from position 0. */
#include "qrt_common.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole file, when it is UTF-8 text (a binary file is refused, not
 * scored). */
static char *read_text(const char *path, char *err, size_t len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    qrt_set_error(err, len, "%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  long size = -1;
  if (fseek(f, 0, SEEK_END) == 0)
    size = ftell(f);
  if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
    fclose(f);
    qrt_set_error(err, len, "%s: not a regular file", path);
    return NULL;
  }
  char *text = (char *)malloc((size_t)size + 1);
  if (!text) {
    fclose(f);
    qrt_set_error(err, len, "%s: out of memory reading %ld bytes", path, size);
    return NULL;
  }
  size_t got = fread(text, 1, (size_t)size, f);
  fclose(f);
  text[got] = '\0';
  int64_t bad = qrt_text_invalid_at(text, got);
  if (bad >= 0) {
    qrt_set_error(err, len, "%s is not UTF-8 text (byte 0x%02X at offset %lld)", path,
                  (unsigned)(unsigned char)text[bad], (long long)bad);
    free(text);
    return NULL;
  }
  return text;
}

static int blank(const char *b, const char *e) {
  for (; b < e; ++b)
    if (*b != ' ' && *b != '\t' && *b != '\r' && *b != '\n' && *b != '\v' && *b != '\f')
      return 0;
  return 1;
}

/* Appends the encoding of `doc` (with BOS) to the stream. */
static void append_doc(const qrt_model *m, const char *doc, int32_t **stream, int64_t *n,
                       int64_t *cap) {
  int64_t need = (int64_t)strlen(doc) + 3;
  if (*n + need > *cap) {
    *cap = (*n + need) * 2;
    *stream = (int32_t *)realloc(*stream, sizeof(int32_t) * (size_t)*cap);
  }
  *n += qrt_encode(m, doc, 1, 0, *stream + *n, need);
}

int qrt_perplexity(qrt_model *m, const char *path, int64_t ctx, int64_t max_windows,
                   double *ppl, int64_t *predictions, char *err, size_t len) {
  if (ctx < 2 || ctx > qrt_max_seq_len(m)) {
    qrt_set_error(err, len, "--ctx %lld must be in [2, %lld]", (long long)ctx,
                  (long long)qrt_max_seq_len(m));
    return -1;
  }
  int32_t probe;
  if (qrt_encode(m, "", 0, 0, &probe, 1) < 0) {
    qrt_set_error(err, len, QRT_NO_TOKENIZER);
    return -1;
  }
  char *text = read_text(path, err, len);
  if (!text)
    return -1;
  size_t text_len = strlen(text);
  char *doc = (char *)malloc(text_len + 1);
  size_t doc_len = 0;
  int32_t *stream = NULL;
  int64_t n = 0, cap = 0;
  const char *p = text, *end = text + text_len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *line_end = nl ? nl : end;
    const char *trimmed = line_end;
    if (trimmed > p && trimmed[-1] == '\r')
      --trimmed;
    if (blank(p, trimmed)) {
      if (doc_len) {
        doc[doc_len] = '\0';
        append_doc(m, doc, &stream, &n, &cap);
      }
      doc_len = 0;
    } else {
      if (doc_len)
        doc[doc_len++] = '\n';
      memcpy(doc + doc_len, p, (size_t)(trimmed - p));
      doc_len += (size_t)(trimmed - p);
    }
    p = nl ? nl + 1 : end;
  }
  if (doc_len) {
    doc[doc_len] = '\0';
    append_doc(m, doc, &stream, &n, &cap);
  }
  free(doc);
  free(text);
  int64_t windows = n / ctx;
  if (windows == 0) {
    qrt_set_error(err, len, "%s has %lld tokens, fewer than one window of --ctx %lld", path,
                  (long long)n, (long long)ctx);
    free(stream);
    return -1;
  }
  if (max_windows > 0 && windows > max_windows)
    windows = max_windows;
  int64_t vocab = qrt_vocab_size(m);
  float *logits = (float *)malloc(sizeof(float) * (size_t)(ctx * vocab));
  double total = 0;
  int rc = 0;
  for (int64_t w = 0; w < windows && rc == 0; ++w) {
    const int32_t *window = stream + w * ctx;
    rc = qrt_forward(m, window, ctx, 0, logits, err, len);
    for (int64_t i = 0; rc == 0 && i + 1 < ctx; ++i) {
      const float *row = logits + i * vocab;
      double maxv = row[0], sum = 0;
      for (int64_t v = 1; v < vocab; ++v)
        if (row[v] > maxv)
          maxv = row[v];
      for (int64_t v = 0; v < vocab; ++v)
        sum += exp((double)row[v] - maxv);
      total += log(sum) + maxv - (double)row[window[i + 1]];
    }
  }
  free(logits);
  free(stream);
  if (rc != 0)
    return rc;
  *predictions = windows * (ctx - 1);
  *ppl = exp(total / (double)*predictions);
  return 0;
}
