/* fuzz_tokenizer.c - libFuzzer target: the runtime's tokenizer (runtime/
 * tokenizer/), loading a vocabulary section and encoding and
 * decoding text, all from arbitrary bytes.
 *
 * Input: 2 bytes of vocabulary size (added to 259, byte fallback's
 * minimum, when the low bit of the first is set; raw otherwise, to reach
 * the size check), then the section and, after a 0xFF 0x00 marker, text. */
#include "qrt_common.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* weights_file.c, linked beside the tokenizer, refers to it */
const int64_t qopt_program_abi_version = QRT_ABI_VERSION;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  int64_t vocab = (int64_t)(data[0] | data[1] << 8);
  if (data[0] & 1)
    vocab = 259 + vocab % 2048;
  data += 2;
  size -= 2;
  size_t section = size;
  const uint8_t *text = NULL;
  size_t text_len = 0;
  for (size_t i = 0; i + 1 < size; ++i)
    if (data[i] == 0xFF && data[i + 1] == 0x00) {
      section = i;
      text = data + i + 2;
      text_len = size - i - 2;
      break;
    }
  char err[256];
  qrt_tokenizer *t = qrt_tokenizer_load(data, section, vocab, err, sizeof err);
  if (!t)
    return 0;
  char *s = (char *)malloc(text_len + 1);
  if (s) {
    if (text_len)
      memcpy(s, text, text_len);
    s[text_len] = '\0'; /* the encoder takes C strings: text stops at a NUL */
    int64_t cap = (int64_t)strlen(s) + 3;
    int32_t *tokens = (int32_t *)malloc(sizeof(int32_t) * (size_t)cap);
    if (tokens) {
      /* with a size of 0 the section's own count is the vocabulary */
      const int64_t size_loaded = qrt_tokenizer_vocab(t);
      if (vocab > 0 && size_loaded != vocab)
        abort(); /* the loader must refuse a section of another size */
      int64_t n = qrt_tokenizer_encode(t, s, 1, 1, tokens, cap);
      for (int64_t i = 0; i < n && i < cap; ++i) {
        if (tokens[i] < 0 || tokens[i] >= size_loaded)
          abort(); /* an id outside the vocabulary is a bug */
        (void)qrt_tokenizer_decode(t, i ? tokens[i - 1] : 1, tokens[i]);
      }
      free(tokens);
    }
    free(s);
  }
  qrt_tokenizer_free(t);
  return 0;
}
