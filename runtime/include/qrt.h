/* qrt.h - the qopt runtime's C API.
 *
 * A program built by `qopt build` links the code qopt generated for one
 * model with this runtime. qrt_load maps the program's packed weights file
 * (.qrtw) and prepares the KV cache and activation arena; qrt_forward runs
 * prefill (n > 1) or decode (n = 1) steps at a position.
 *
 * Errors: functions that can fail return NULL or non-zero and write a
 * one-line message into the caller's buffer.
 */
#ifndef QRT_H
#define QRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qrt_model qrt_model;

/* threads <= 0: one per online CPU. */
qrt_model *qrt_load(const char *weights_path, int threads, char *err, size_t err_len);
void qrt_free(qrt_model *m);

int64_t qrt_vocab_size(const qrt_model *m);
int64_t qrt_max_seq_len(const qrt_model *m);
int64_t qrt_dim(const qrt_model *m);
/* Bytes of all weights (codes, scales, zero points, outlier columns). */
uint64_t qrt_weight_bytes(const qrt_model *m);
/* Bytes of weights one decode step reads: all, but one row of an embedding
 * table that is not also the classifier. */
uint64_t qrt_decode_bytes(const qrt_model *m);
/* Worker threads the model runs on (as resolved at load). */
int qrt_threads(const qrt_model *m);
/* The kernel family chosen for this CPU: "avx512vnni", "avx2" or "portable";
 * on the CUDA backend "cuda sm_XY (device name)". */
const char *qrt_isa(const qrt_model *m);
/* Memory read bandwidth in GB/s measured now over a `bytes` buffer with the
 * model's threads (the yardstick --bench prints beside decode). The CUDA
 * backend measures a device-to-device copy, counting bytes read and
 * written, as CUDA's bandwidthTest does. */
double qrt_read_bandwidth(qrt_model *m, int64_t bytes);

/* Runs tokens[0..n) at positions pos..pos+n-1 (the KV cache holds 0..pos-1
 * from earlier calls) and writes n x vocab logits (logits may be NULL).
 * Returns 0, or -1 with a message. */
int qrt_forward(qrt_model *m, const int32_t *tokens, int64_t n, int64_t pos, float *logits,
                char *err, size_t err_len);
/* As qrt_forward, but writes only the last token's vocab logits: the
 * classifier runs for that one row (prompt processing for generation). The
 * values equal the last row of qrt_forward's. */
int qrt_forward_last(qrt_model *m, const int32_t *tokens, int64_t n, int64_t pos, float *logits,
                     char *err, size_t err_len);

/* ---- several sequences (a server's slots) ----
 * qrt_load_batched opens `sequences` KV caches of `positions` each (0: the
 * model's context; qrt_max_seq_len then says `positions`); qrt_load is
 * qrt_load_batched(path, threads, 1, 0). The CPU backend only; the CUDA
 * backend takes 1 sequence. */
#define QRT_MAX_SEQUENCES 256
qrt_model *qrt_load_batched(const char *weights_path, int threads, int64_t sequences,
                            int64_t positions, char *err, size_t err_len);
int64_t qrt_sequences(const qrt_model *m);
/* The most tokens one step of the program takes (qopt build --chunk). */
int64_t qrt_chunk(const qrt_model *m);
/* qrt_forward (last_only 0) or qrt_forward_last (1) on sequence seq's
 * cache. With last_only and logits NULL, no classifier runs: a piece of a
 * prompt whose end comes in a later call. */
int qrt_forward_seq(qrt_model *m, int64_t seq, const int32_t *tokens, int64_t n, int64_t pos,
                    float *logits, int last_only, char *err, size_t err_len);
/* One decode step of n different sequences at once: row i runs token
 * tokens[i] at position pos[i] of sequence seq[i] (whose cache holds
 * 0..pos[i]-1) and writes its vocab logits to row i of logits [n, vocab].
 * Each weight is read once for all rows, and each row's logits equal
 * those of a one-token qrt_forward_seq of its sequence, bit for bit.
 * n <= min(chunk the program was built with, sequences). */
int qrt_decode_batch(qrt_model *m, const int32_t *tokens, const int64_t *seq, const int64_t *pos,
                     int64_t n, float *logits, char *err, size_t err_len);

/* Tokenizer (a llama2.c tokenizer.bin or a Hugging Face tokenizer.json,
 * carried in the weights file). BOS first when `bos` and the tokenizer adds
 * one; its EOS last when `eos`. Returns the token count, or -1 when the
 * program was built without a tokenizer (QRT_NO_TOKENIZER says so to a
 * user). */
#define QRT_NO_TOKENIZER \
  "this program carries no tokenizer (compile the model with --tokenizer FILE)"
int64_t qrt_encode(const qrt_model *m, const char *text, int bos, int eos, int32_t *out,
                   int64_t max_tokens);
/* The text of `token` following `prev` (no leading space after BOS;
 * special tokens print nothing). */
const char *qrt_decode(const qrt_model *m, int32_t prev, int32_t token);
/* Whether generation stops at `token`: any of the model's EOS ids
 * (generation_config.json's list; llama2.c's BOS too). 0 without a tokenizer. */
int qrt_is_eos(const qrt_model *m, int32_t token);
/* The BOS a text starts with, or -1 (none, or no tokenizer). */
int32_t qrt_bos(const qrt_model *m);
/* tokenizer_config.json's chat template, or "" when there is none. */
const char *qrt_chat_template(const qrt_model *m);

/* What a model without a chat template answers to --chat. */
#define QRT_NO_CHAT_TEMPLATE                                                                  \
  "this model has no chat template (tokenizer_config.json's chat_template is carried when " \
  "the model is imported)"

/* One turn of a conversation: role "system", "user" or "assistant". */
typedef struct qrt_chat_message {
  const char *role;
  const char *content;
} qrt_chat_message;
/* Renders a chat template (the Jinja subset of runtime/chat/) over the
 * conversation as Hugging Face's apply_chat_template does: variables
 * messages, add_generation_prompt, bos_token, eos_token, tools (none).
 * Returns the text (free() it), or NULL with a one-line message in err: a
 * construct the subset lacks is named, raise_exception's text is given. */
char *qrt_chat_render(const char *chat_template, const qrt_chat_message *messages, size_t n,
                      int add_generation_prompt, const char *bos_token, const char *eos_token,
                      char *err, size_t err_len);
/* The same with the model's own template and BOS/EOS token texts; NULL
 * with a message when the model has no template. */
char *qrt_chat_prompt(const qrt_model *m, const qrt_chat_message *messages, size_t n,
                      int add_generation_prompt, char *err, size_t err_len);

/* Sampling: temperature 0 is greedy (lowest index wins ties); otherwise
 * top-p (nucleus) with a xorshift state. */
int32_t qrt_sample(const float *logits, int64_t vocab, float temperature, float top_p,
                   uint64_t *rng_state);

/* Perplexity of a text file by the qopt protocol: documents split at blank
 * lines, each encoded with BOS, concatenated, cut into non-overlapping
 * windows of `ctx` tokens, each evaluated from position 0. */
int qrt_perplexity(qrt_model *m, const char *path, int64_t ctx, int64_t max_windows,
                   double *ppl, int64_t *predictions, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif
