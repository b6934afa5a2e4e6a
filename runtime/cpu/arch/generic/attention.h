/* attention.h (portable) - what attention_kernels.c takes from the family
 * after its scalar helpers. */
#ifndef QRT_ARCH_GENERIC_ATTENTION_H
#define QRT_ARCH_GENERIC_ATTENTION_H

/* No single-query kernel of its own: attend_head's loops run. */
static inline int attend_one_fast(const float *q, const void *keys, const void *values, int f16,
                                  int64_t last, int64_t kv_stride, int64_t head_dim, float scale,
                                  float *scratch, float *out) {
  (void)q, (void)keys, (void)values, (void)f16, (void)last, (void)kv_stride, (void)head_dim;
  (void)scale, (void)scratch, (void)out;
  return 0;
}

#endif
