/* qrt_format.h - the packed weights file (.qrtw) that `qopt build` writes and
 * the runtime mmaps. Shared by the C runtime (reader) and qopt (writer).
 *
 * Layout: header, slot table, then 64-byte aligned data. Every tensor the
 * compiled program reads is one slot, addressed by index from generated
 * code; the program carries the slot table it was compiled against and the
 * runtime refuses a file whose table differs (mismatched weights).
 *
 * Quantized slots hold codes c in [0, 2^bits) and per-group f16 scales s and
 * (or f32, see scales_f32) u8 zero points z (symmetric schemes store z = 2^(bits-1)); a weight is
 * (c - z) * s, or nf4_level[c] * s for NF4, exactly as the reference executor
 * decodes it. Groups follow the compiler's layout: `group_width` columns,
 * the last group of a row absorbing the remainder.
 */
#ifndef QRT_FORMAT_H
#define QRT_FORMAT_H

#include <stdint.h>

#define QRTW_MAGIC "QRTW0003"
#define QRTW_ALIGN 64
#define QRTW_NAME_LEN 48

enum qrtw_kind {
  QRTW_F32 = 1,   /* f32 values, rows x cols (vectors have rows = 1) */
  QRTW_Q4 = 2,    /* 4-bit codes in 32-code blocks: byte j = c[j] | c[j+16] << 4;
                     each row padded to a multiple of 32 codes */
  QRTW_CODES = 3, /* one u8 code per weight (int2..int8, NF4) */
};

enum qrtw_format { QRTW_FORMAT_INT = 0, QRTW_FORMAT_NF4 = 1 };

/* The program only gathers rows of this slot (an embedding table not tied
 * to the classifier): a decode step reads one row of it, not all. */
#define QRTW_SLOT_GATHER_ONLY 1u

typedef struct qrtw_slot {
  char name[QRTW_NAME_LEN];
  uint32_t kind, format;
  uint32_t bits, symmetric;
  uint32_t scales_f32;  /* scales stored as f32 (NF4 double-quant scales are
                           not f16-exact), else f16 */
  uint32_t flags;       /* QRTW_SLOT_* */
  int64_t rows, cols;
  int64_t group_width; /* columns per group (cols for per-channel) */
  int64_t groups_per_row; /* 0 for per-tensor (one scale) */
  int64_t outliers;     /* LLM.int8 input channels kept in f32 */
  uint64_t data_offset, data_bytes;       /* f32 values or codes */
  uint64_t scales_offset, zeros_offset;   /* f16/f32 [rows * groups_per_row], u8 same */
  uint64_t outlier_index_offset;          /* i32 [outliers] */
  uint64_t outlier_weight_offset;         /* f32 [rows, outliers] */
} qrtw_slot;

typedef struct qrtw_header {
  char magic[8];
  uint64_t file_bytes;
  uint64_t program_hash; /* hash of the slot table (shapes, schemes) */
  uint32_t num_slots, reserved;
  uint64_t tokenizer_offset, tokenizer_bytes; /* llama2.c tokenizer.bin */
  uint64_t content_hash; /* qrtw_content_hash: a slot table or tokenizer byte
                            changed after build is detected at load */
} qrtw_header;

/* FNV-1a, continuing from h (start with QRTW_FNV_OFFSET). */
#define QRTW_FNV_OFFSET 1469598103934665603ull
static inline uint64_t qrtw_fnv1a(uint64_t h, const void *data, uint64_t n) {
  const uint8_t *p = (const uint8_t *)data;
  for (uint64_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

/* The header's content_hash: over the slot table and the tokenizer section
 * as written. */
static inline uint64_t qrtw_content_hash(const qrtw_slot *slots, uint64_t num_slots,
                                         const uint8_t *tokenizer, uint64_t tokenizer_bytes) {
  uint64_t h = qrtw_fnv1a(QRTW_FNV_OFFSET, slots, num_slots * sizeof(qrtw_slot));
  return qrtw_fnv1a(h, tokenizer, tokenizer_bytes);
}

#endif
