/* internal.h - what the runtime's C files share. */
#ifndef QRT_INTERNAL_H
#define QRT_INTERNAL_H

#include "qrt_common.h"

#include <stddef.h>
#include <stdint.h>

/* Zeroed memory of `bytes`, on 2 MiB pages where the system gives them
 * (huge_pages.c), released by qrt_huge_free with the same size. NULL when
 * out of memory. */
void *qrt_huge_alloc(size_t bytes);
void qrt_huge_free(void *p, size_t bytes);

/* ---- thread pool (threads.c) ---- */
/* `worker` in [0, threads) identifies the calling thread (for scratch). */
typedef void (*qrt_task_fn)(void *arg, int64_t begin, int64_t end, int worker);
typedef struct qrt_pool qrt_pool;
qrt_pool *qrt_pool_create(int threads);
void qrt_pool_destroy(qrt_pool *p);
int qrt_pool_threads(const qrt_pool *p);
/* Splits [0, n) into one contiguous range per thread (fewer when n is
 * small: no range below `grain`) and waits for all of them. */
void qrt_parallel_for(qrt_pool *p, int64_t n, int64_t grain, qrt_task_fn fn, void *arg);
/* qrt_parallel_for over n tokens of `per_token` elements each, split only
 * when there is enough work to pay for waking the workers (not in decode). */
void qrt_parallel_tokens(qrt_pool *p, int64_t n, int64_t per_token, qrt_task_fn fn, void *arg);
/* The best of five summing passes over `bytes` with the pool's threads, in
 * GB/s, on huge pages or on the ordinary pages malloc gives (bandwidth.c;
 * qrt_read_bandwidth for a model, on huge pages). */
double qrt_pool_read_bandwidth(qrt_pool *p, int64_t bytes, int huge_pages);

/* ---- activations quantized for int8 dot products (QRT_FLAG_Q8_ACTIVATIONS) ----
 * Per token, each block of QRT_Q8_BLOCK consecutive values shares one f32
 * scale d = absmax / 127 and q = round-to-nearest-even(x / d), as llama.cpp's
 * Q8_0. One scalar routine (q8_quantize.c) makes the codes, so every kernel
 * family sees identical integers. */
#define QRT_Q8_BLOCK 32
/* For 4-bit weights the codes of each 4 blocks are interleaved to match the
 * nibble layout (see q8_quantize.c). */
#define QRT_Q8_SUPERBLOCK 4
typedef struct qrt_q8_activations {
  const int8_t *q;         /* [n, cols] */
  const float *d;          /* [n, cols / QRT_Q8_BLOCK] */
  const float *group_sum;  /* [n, groups of the weight]: sum over the group's
                              blocks of d * sum(q), for the zero points */
  int64_t cols, groups;
} qrt_q8_activations;

/* ---- weights copied into row tiles at load (tiled_pack.c) ----
 * For the AVX-512 VNNI int8-activation kernels: QRT_TILE_ROWS rows side by
 * side, one row per 32-bit lane, so a vpdpbusd of one 64-byte vector against
 * 4 activation bytes broadcast to all lanes advances 16 rows at once, and a
 * row's sum never needs a horizontal reduction. Within a tile, block b (32
 * codes) of all rows is `block_bytes` contiguous bytes: vector v holds, for
 * lane i, the bytes 4v..4v+3 of row i's block as the .qrtw stores it (byte
 * codes: codes 4v..4v+3; 4-bit: codes 4v+j in the low nibbles and 16+4v+j
 * in the high). The scales (f16) ride in the same stream: every pair of
 * groups is preceded by one 64-byte line holding both groups' 16 scales, so
 * a tile is one sequential run of
 *     [scales g0,g1][blocks of g0][blocks of g1][scales g2,g3]...
 * (the second half of the last line is zero when the groups are odd).
 * Decode then reads one stream per thread. With the scales in an array of
 * their own, qrt-weight-stream's 1.1B 4-bit step ran at 25.9 GB/s (77% of
 * read); in the stream, 29.5 (87%), and 1.1B w4 g32 decode went from 40.6
 * to 47.9 tok/s (medians of 8 and 5 alternating runs). Zero points are [tile][group][lane]. Rows
 * past the last are zero. Decode and prefill both run on it. A weight whose
 * zero points are all one value (the symmetric schemes: 2^(bits-1)) keeps
 * that value alone, so decode does not stream a byte per group for it. */
#define QRT_TILE_ROWS 16
#define QRT_TILE_SCALE_LINE 64 /* bytes: two groups' scales */
typedef struct qrt_tiled_weight {
  uint8_t *data;       /* [tiles][tile_bytes]: scale lines and code blocks */
  uint8_t *zeros;      /* [tiles][groups][QRT_TILE_ROWS], or NULL: */
  int uniform_zero;    /* every zero point, when they are all the same */
  int64_t tiles, blocks, groups, blocks_per_group, block_bytes, tile_bytes;
} qrt_tiled_weight;
/* The blocks of group g: [begin, end). The last group takes the rest. */
static inline int64_t qrt_tile_group_end(const qrt_tiled_weight *t, int64_t g) {
  return g + 1 == t->groups ? t->blocks : (g + 1) * t->blocks_per_group;
}
/* Whether weight w is tiled when the program takes int8 activations (the
 * tiles then serve both the int8-block and the W8A8 kernels). */
int qrt_tiled_eligible(const qrt_weight *w);
/* Whether decode (a call of one token) takes w's tiles (linear_dispatch.c). */
int qrt_decode_takes_tiles(const qrt_weight *w);
/* Fills t with w's tiles; 0, or -1 when out of memory. */
int qrt_tiled_pack(const qrt_weight *w, qrt_tiled_weight *t);
void qrt_tiled_free(qrt_tiled_weight *t);

/* ---- kernel families (the kernel files, compiled once per family; arch/) ---- */
typedef struct qrt_kernels {
  const char *name;
  /* y[n, rows] = x[n, cols] W^T for rows [r0, r1). */
  void (*linear_rows)(const qrt_weight *w, const float *x, int64_t n, int64_t r0, int64_t r1,
                      float *y, float *scratch);
  /* The same for prompt processing, with the same arithmetic for any n
   * (NULL in families without it; see qrt_steps.prefill). */
  void (*linear_rows_prefill)(const qrt_weight *w, const float *x, int64_t n, int64_t r0,
                              int64_t r1, float *y, float *scratch);
  /* W8A8 rows [r0, r1): xq int8 [n, cols], xscale [n]. */
  void (*w8a8_rows)(const qrt_weight *w, const int8_t *xq, const float *xscale, int64_t n,
                    int64_t r0, int64_t r1, float *y);
  /* The same for a weight with w->tiled (NULL in families without it). */
  void (*w8a8_tiled)(const qrt_weight *w, const int8_t *xq, const float *xscale, int64_t n,
                     int64_t r0, int64_t r1, float *y);
  /* Weight-only int codes (4-bit blocks or bytes; no NF4, no outliers) times
   * int8 activations: per block an exact int32 dot product, scaled by the
   * weight group's scale times the activation block's. scratch: cols / 32
   * floats. */
  void (*linear_q8_rows)(const qrt_weight *w, const qrt_q8_activations *xq, int64_t n,
                         int64_t r0, int64_t r1, float *y, float *scratch);
  /* The same for a weight with w->tiled (NULL in families without it).
   * Rows [r0, r1) may cut tiles; only those rows are written. */
  void (*linear_q8_tiled)(const qrt_weight *w, const qrt_q8_activations *xq, int64_t n,
                          int64_t r0, int64_t r1, float *y);
  /* out[head_dim] = softmax(q . keys[t] * scale over t <= last) . values[t];
   * keys and values (f32, or f16 bits when f16) advance by kv_stride
   * elements per position; scratch: last + 1 + head_dim floats. */
  void (*attend_head)(const float *q, const void *keys, const void *values, int f16,
                      int64_t last, int64_t kv_stride, int64_t head_dim, float scale,
                      float *scratch, float *out);
  /* The same for `count` <= QRT_ATTEND_BLOCK consecutive queries of one
   * head, query b at q + b * q_stride and position first + b, written to
   * out + b * out_stride; head_dim a multiple of 64 (NULL in families
   * without it). scratch: QRT_ATTEND_BLOCK * (first + count + head_dim) +
   * head_dim floats. */
  void (*attend_block)(const float *q, int64_t q_stride, int64_t count, const void *keys,
                       const void *values, int f16, int64_t first, int64_t kv_stride,
                       int64_t head_dim, float scale, float *scratch, float *out,
                       int64_t out_stride);
  /* out[i] = x[i] as f16 bits, as qrt_f32_to_f16 rounds (for the KV cache). */
  void (*to_f16)(const float *x, int64_t n, uint16_t *out);
} qrt_kernels;
/* Queries per attend_block call: one per 32-bit lane of a 512-bit vector. */
#define QRT_ATTEND_BLOCK 16
extern const qrt_kernels qrt_kernels_portable, qrt_kernels_avx2, qrt_kernels_avx512;
/* Whether this CPU runs family k (1) or this build lacks it or the CPU does
 * not support it (0); QRT_DISABLE is not consulted. */
int qrt_cpu_runs(const qrt_kernels *k);
const qrt_kernels *qrt_select_kernels(void);

/* y[m, r] += outlier columns of rows [r0, r1) times their f32 activations. */
void qrt_add_outliers(const qrt_weight *w, const float *x, int64_t n, int64_t r0, int64_t r1,
                      float *y);
/* Whether a weight can take int8 activations: integer codes, no outlier
 * columns, rows and groups made of whole 32-blocks. */
int qrt_q8_supported(const qrtw_slot *s);
/* Quantizes x [n, cols] for weight `s` into the buffers behind `out`. */
void qrt_q8_quantize(const qrtw_slot *s, const float *x, int64_t n, int8_t *q, float *d,
                     float *group_sum, qrt_q8_activations *out);
/* Whether activations quantized for `a` serve `b` unchanged (same columns,
 * nibble interleave and groups). */
int qrt_q8_same_layout(const qrtw_slot *a, const qrtw_slot *b);
/* W8A8 per-token int8 (see q8_quantize.c). */
void qrt_quantize_tokens(const float *x, int64_t n, int64_t cols, const int32_t *outlier_index,
                         int64_t outliers, int8_t *q, float *scale);
/* Where the scales of a token-quantized buffer of `cols` columns start, in
 * floats from the buffer (see qrt_abi.h). */
int64_t qrt_token_q8_scale_offset(const qrt_ctx *ctx, int64_t cols);

/* ---- QRT_PROFILE=1 (profile.c) ---- */
typedef struct qrt_profile_kind {
  long long calls;
  double total_s, slowest_s, linear_s, linear_own_s, attention_s;
} qrt_profile_kind;
typedef struct qrt_profile {
  qrt_profile_kind kind[2]; /* decode (one token), prefill */
  qrt_profile_kind *now;    /* the kind of the call under way */
} qrt_profile;
/* NULL unless QRT_PROFILE asks for it. */
qrt_profile *qrt_profile_create(void);
/* Prints the summary to stderr and frees p (NULL: nothing). */
void qrt_profile_report(qrt_profile *p);

/* ---- the model ---- */
struct qrt_model {
  const qrt_program_config *program; /* dim, vocab, layers, ... as compiled */
  int64_t num_slots;
  qrt_weights_file file;      /* the mapped .qrtw */
  qrt_weight *weights;        /* file.weights */
  qrt_tiled_weight *tiled;    /* [num_slots]: tiles of the weights that have them */
  float *arena;
  /* [sequences][layers][kv heads][kv_positions][head_dim], f32, f16 bits
   * or int8 codes: one head's keys (and values) are contiguous, so decode
   * attention streams each head's history as one sequential run */
  void *key_cache, *value_cache;
  /* int8 caches: the f32 scale of each stored row of head_dim codes,
   * [sequences][layers][kv heads][kv_positions] (NULL otherwise) */
  float *key_scale, *value_scale;
  /* int8 caches: per thread, the rows one attention task reads widened to
   * f32: keys, then values, of every position of one KV head */
  float *kv_rows;
  int64_t kv_rows_floats; /* per thread */
  /* per thread: what its kv_rows hold (the query heads of one KV head read
   * the same rows, widened once), valid within attention call `call` */
  struct qrt_kv_rows_tag {
    int64_t call;
    const void *keys;
    int64_t rows;
  } *kv_rows_tag;
  int64_t attention_calls;
  int64_t sequences;          /* KV caches (qrt_load_batched); 1 for qrt_load */
  int64_t kv_positions;       /* positions per sequence (<= program->max_seq) */
  int64_t seq;                /* the sequence a qrt_forward_seq call runs on */
  /* set during qrt_decode_batch: row i is sequence row_seq[i] at position
   * row_pos[i] (rope and attention read them; NULL otherwise) */
  const int64_t *row_seq, *row_pos;
  int kv_f16;                 /* program flag QRT_FLAG_KV_F16 */
  int kv_i8;                  /* program flag QRT_FLAG_KV_I8 */
  int block_attention;        /* prefill through kernels->attend_block (QRT_BLOCK_ATTENTION=0: no) */
  float *scratch;             /* per-thread dequantization rows */
  int64_t scratch_floats;
  int8_t *xq;                 /* W8A8 / q8 activation codes [chunk, max cols] */
  float *xscale;              /* W8A8 per-token scales [chunk] */
  float *xblock_scale;        /* q8 block scales [chunk, max cols / 32] */
  float *xgroup_sum;          /* q8 per-group sums [chunk, max groups] */
  int q8_activations;         /* program flag QRT_FLAG_Q8_ACTIVATIONS */
  qrt_steps steps;            /* the chunk loop; steps.logits_rows is what qrt_lm_head computes */
  qrt_pool *pool;
  const qrt_kernels *kernels;
  qrt_profile *profile;       /* QRT_PROFILE=1, else NULL */
};

/* a . b with 8 partial sums combined pairwise: the reference executor's
 * order (lib/Exec/Kernels.cpp), for the glue and attention kernels. Each
 * kernel family compiles its own copy with its instructions. */
static inline float qrt_dot8(const float *a, const float *b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j)
      acc[j] += a[i + j] * b[i + j];
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i)
    s += a[i] * b[i];
  return s;
}

#endif
