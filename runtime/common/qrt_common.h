/* qrt_common.h - what every backend of the runtime shares (CPU in cpu/,
 * CUDA in cuda/): the weights file reader, the tokenizer, error messages,
 * f16 conversion. Each backend defines its own struct qrt_model. */
#ifndef QRT_COMMON_H
#define QRT_COMMON_H

#include "qrt.h"
#include "qrt_abi.h"
#include "qrt_format.h"

#include <stddef.h>
#include <stdint.h>

void qrt_set_error(char *err, size_t len, const char *fmt, ...);
/* Monotonic seconds, for timings. */
double qrt_seconds(void);
float qrt_f16_to_f32(uint16_t h);
uint16_t qrt_f32_to_f16(float f);
extern const float qrt_nf4_levels[16];

/* ---- tokenizer (tokenizer.c) ---- */
/* The offset of the first byte of text[0, n) that is not part of valid
 * UTF-8 (or is NUL), or -1 when it is all text. */
int64_t qrt_text_invalid_at(const char *text, size_t n);

/* The tokenizer (runtime/tokenizer/): a llama2.c tokenizer.bin or a QTOK
 * section (qrt_tokenizer_format.h). vocab <= 0 takes the file's size;
 * otherwise the file must have exactly `vocab` tokens. */
typedef struct qrt_tokenizer qrt_tokenizer;
qrt_tokenizer *qrt_tokenizer_load(const uint8_t *bytes, size_t size, int64_t vocab, char *err,
                                  size_t err_len);
void qrt_tokenizer_free(qrt_tokenizer *t);
/* Encodes NUL-terminated text: BOS first when `bos` and the tokenizer adds
 * one (tokenizer_config's add_bos_token), its first EOS last when `eos`.
 * Returns the token count (ids beyond max_tokens are not written), or -1
 * when out of memory. */
int64_t qrt_tokenizer_encode(const qrt_tokenizer *t, const char *text, int bos, int eos,
                             int32_t *out, int64_t max_tokens);
/* What `token` prints after `prev` (the leading space after BOS is not
 * shown; special tokens print nothing). */
const char *qrt_tokenizer_decode(const qrt_tokenizer *t, int32_t prev, int32_t token);
const char *qrt_tokenizer_piece(const qrt_tokenizer *t, int32_t token); /* vocabulary string */
int64_t qrt_tokenizer_vocab(const qrt_tokenizer *t);
const char *qrt_tokenizer_chat_template(const qrt_tokenizer *t); /* "" when none */
int32_t qrt_tokenizer_bos(const qrt_tokenizer *t); /* -1: none is added */
int32_t qrt_tokenizer_eos(const qrt_tokenizer *t); /* the one encode appends, or -1 */
/* The texts chat templates know as bos_token and eos_token ("" when none). */
const char *qrt_tokenizer_bos_token(const qrt_tokenizer *t);
const char *qrt_tokenizer_eos_token(const qrt_tokenizer *t);
/* Whether generation stops at `id` (any of the model's EOS ids). */
int qrt_tokenizer_is_eos(const qrt_tokenizer *t, int32_t id);

/* ---- one weight, resolved against the mapped file ---- */
typedef struct qrt_weight {
  const qrtw_slot *slot;
  const void *data;           /* f32 values or codes */
  const void *scales;         /* f16, or f32 when slot->scales_f32 */
  const uint8_t *zeros;
  const int32_t *outlier_index;
  const float *outlier_weight;
  int64_t row_bytes;          /* stride of one row of `data` */
  const struct qrt_tiled_weight *tiled; /* CPU: a copy in row tiles (cpu/tiled_pack.c), or NULL */
} qrt_weight;

/* ---- the program's weights file (.qrtw), mapped and checked ---- */
typedef struct qrt_weights_file {
  const uint8_t *map;
  size_t map_bytes;
  qrt_weight *weights;        /* one per slot of the program */
  int64_t num_slots;
  int64_t max_cols, max_groups; /* over all slots (groups: per row, at least 1) */
  uint64_t weight_bytes;      /* all weights */
  uint64_t decode_bytes;      /* weight bytes one decode step reads */
  qrt_tokenizer *tokenizer;   /* NULL when the file carries none */
  int borrowed;               /* map is the caller's (qrt_weights_check), not mmapped */
} qrt_weights_file;

/* Each backend's model holds its weights file (for model_tokenizer.c). */
const qrt_weights_file *qrt_model_file(const qrt_model *m);

/* The checks of qrt_weights_open on bytes the caller keeps alive (the fuzz
 * target of the loader). 0, or -1 with a message (f is then closed). */
int qrt_weights_check(qrt_weights_file *f, const uint8_t *bytes, size_t size, const char *name,
                      const qrt_program_config *config, char *err, size_t len);

/* Maps `path` and checks it against the program (qopt_program_config):
 * the ABI version, magic, length, program hash, every slot inside the file. 0, or -1 with a
 * one-line message (the file is then closed). */
int qrt_weights_open(qrt_weights_file *f, const char *path, const qrt_program_config *config,
                     char *err, size_t len);
void qrt_weights_close(qrt_weights_file *f);

/* Bytes of one row of a slot's data (4-bit rows padded to 32-code blocks). */
int64_t qrt_slot_row_bytes(const qrtw_slot *s);

/* ---- running the program: the chunk loop of qrt_forward ---- */
enum { QRT_LOGITS_ALL = 0, QRT_LOGITS_LAST = 1, QRT_LOGITS_NONE = 2 };
typedef struct qrt_steps {
  int64_t vocab, max_seq, chunk; /* from qopt_program_config */
  int logits_rows;               /* what qrt_lm_head computes now: QRT_LOGITS_* */
  /* the call runs several tokens (prompt processing): kernels whose
   * arithmetic differs between prefill and decode take their prefill form
   * for every chunk and row of it, so that a call's last row is the same
   * whether or not the other rows' logits are computed */
  int prefill;
  /* set by qrt_decode_batch: the rows are decode steps of different
   * sequences, so every kernel takes its decode form (prefill stays 0) and
   * each row equals a one-token qrt_forward of its sequence */
  int decode_rows;
} qrt_steps;
void qrt_steps_init(qrt_steps *s, const qrt_program_config *config);
/* Checks positions and tokens, then calls qopt_forward chunk by chunk (the
 * arena holds `chunk` tokens). With last_only the classifier runs only for
 * the final token, into logits [vocab]; otherwise for every token, into
 * logits [n, vocab] (or a scratch block when logits is NULL). */
int qrt_run_steps(qrt_model *m, qrt_steps *s, const int32_t *tokens, int64_t n, int64_t pos,
                  float *logits, int last_only, char *err, size_t len);
/* The arguments of qrt_decode_batch: 1 to min(chunk, sequences) rows, each
 * of a different sequence in [0, sequences), positions inside the context,
 * tokens inside the vocabulary. 0, or -1 with a message. */
int qrt_check_batch(const qrt_steps *s, int64_t sequences, const int32_t *tokens,
                    const int64_t *seq, const int64_t *pos, int64_t n, char *err, size_t len);

#endif
