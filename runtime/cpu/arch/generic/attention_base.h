/* attention_base.h (portable) - the primitives attention_kernels.c needs
 * first: the whole vectors of an f16 row widened, or of an f32 row
 * narrowed (none here: the callers' tails do all). */
#ifndef QRT_ARCH_GENERIC_ATTENTION_BASE_H
#define QRT_ARCH_GENERIC_ATTENTION_BASE_H

static inline int64_t f16_row_prefix(const uint16_t *h, int64_t n, float *buf) {
  (void)h, (void)n, (void)buf;
  return 0;
}
static inline int64_t to_f16_prefix(const float *x, int64_t n, uint16_t *out) {
  (void)x, (void)n, (void)out;
  return 0;
}
/* No f16 dot products in registers: f16 keys and values are widened a row
 * at a time (cache_row). */
#define QRT_ARCH_F16_KV_DIRECT 0
static inline float dot8_f16(const float *a, const uint16_t *b, int64_t n) {
  (void)a, (void)b, (void)n;
  return 0.0f;
}
static inline void axpy_f16(float a, const uint16_t *v, int64_t n, float *out) {
  (void)a, (void)v, (void)n, (void)out;
}

#endif
