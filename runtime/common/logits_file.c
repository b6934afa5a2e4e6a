/* logits_file.c - `NAME -p TEXT --logits FILE`: the prompt's logits as a
 * NumPy .npy file (float32 [tokens, vocab], the prompt encoded with BOS), the
 * format `qopt logits -o` writes, so a program on another machine (a GPU)
 * can be compared with the reference executor. Written to FILE.tmp, then
 * renamed. */
#include "logits_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int write_npy(const char *path, const float *data, int64_t rows, int64_t cols,
                     char *err, size_t len) {
  char header[128];
  int n = snprintf(header, sizeof header,
                   "{'descr': '<f4', 'fortran_order': False, 'shape': (%lld, %lld), }",
                   (long long)rows, (long long)cols);
  int total = 10 + n + 1, pad = (64 - total % 64) % 64; /* header ends on a 64-byte boundary */
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    snprintf(err, len, "%s: cannot write: %s", tmp, strerror(errno));
    return -1;
  }
  unsigned short header_len = (unsigned short)(n + pad + 1);
  fwrite("\x93NUMPY\x01\x00", 1, 8, f);
  fputc(header_len & 0xff, f);
  fputc(header_len >> 8, f);
  fwrite(header, 1, (size_t)n, f);
  for (int i = 0; i < pad; ++i)
    fputc(' ', f);
  fputc('\n', f);
  size_t count = (size_t)(rows * cols);
  int ok = fwrite(data, sizeof(float), count, f) == count;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    remove(tmp);
    snprintf(err, len, "%s: cannot write: %s", path, strerror(errno));
    return -1;
  }
  return 0;
}

int qrt_write_prompt_logits(qrt_model *m, const char *prompt, const char *path, char *err,
                            size_t len) {
  int64_t cap = (int64_t)strlen(prompt) + 3, vocab = qrt_vocab_size(m);
  int32_t *tokens = (int32_t *)malloc(sizeof(int32_t) * (size_t)cap);
  int64_t n = qrt_encode(m, prompt, 1, 0, tokens, cap);
  float *logits = n > 0 ? (float *)malloc(sizeof(float) * (size_t)(n * vocab)) : NULL;
  int rc = -1;
  if (n <= 0)
    snprintf(err, len, QRT_NO_TOKENIZER);
  else if (!logits)
    snprintf(err, len, "out of memory for %lld x %lld logits", (long long)n, (long long)vocab);
  else if (qrt_forward(m, tokens, n, 0, logits, err, len) == 0)
    rc = write_npy(path, logits, n, vocab, err, len);
  free(logits);
  free(tokens);
  return rc;
}
