/* fuzz_qrtw.c - libFuzzer target: the .qrtw loader (runtime/common/
 * weights_file.c) with the tokenizer it carries, on arbitrary bytes.
 *
 * The first input byte picks how much the harness lets through: with its
 * low bit set, the program's expected hash and slot count are taken from
 * the input's own header and its content hash is recomputed, so that
 * mutations reach the slot and tokenizer checks instead of stopping at the
 * hash comparisons. */
#include "qrt_common.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const int64_t qopt_program_abi_version = QRT_ABI_VERSION;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  int trusting = data[0] & 1;
  size -= 1;
  uint8_t *bytes = (uint8_t *)malloc(size ? size : 1);
  if (!bytes)
    return 0;
  memcpy(bytes, data + 1, size);
  qrt_program_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.vocab = 512;
  cfg.num_slots = 1;
  if (size >= sizeof(qrtw_header)) {
    qrtw_header *h = (qrtw_header *)bytes;
    if (trusting) {
      cfg.program_hash = (int64_t)h->program_hash;
      cfg.num_slots = h->num_slots < 4096 ? h->num_slots : 4096;
      h->file_bytes = size;
      uint64_t table = sizeof(qrtw_header) + (uint64_t)cfg.num_slots * sizeof(qrtw_slot);
      if (table <= size && h->tokenizer_offset <= size &&
          h->tokenizer_bytes <= size - h->tokenizer_offset)
        h->content_hash =
            qrtw_content_hash((const qrtw_slot *)(bytes + sizeof(qrtw_header)),
                              (uint64_t)cfg.num_slots, bytes + h->tokenizer_offset,
                              h->tokenizer_bytes);
    }
  }
  qrt_weights_file f;
  char err[512];
  if (qrt_weights_check(&f, bytes, size, "input", &cfg, err, sizeof err) == 0) {
    /* touch what a backend would read first */
    volatile uint64_t sink = f.weight_bytes + f.decode_bytes;
    (void)sink;
    if (f.tokenizer) {
      int32_t tokens[64];
      int64_t n = qrt_tokenizer_encode(f.tokenizer, "Once upon a time", 1, 0, tokens, 64);
      for (int64_t i = 0; i < n && i < 64; ++i)
        (void)qrt_tokenizer_decode(f.tokenizer, i ? tokens[i - 1] : 1, tokens[i]);
    }
    qrt_weights_close(&f);
  }
  free(bytes);
  return 0;
}
