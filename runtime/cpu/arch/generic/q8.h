/* q8.h (portable) - the primitives q8_kernels.c is written over. */
#ifndef QRT_ARCH_GENERIC_Q8_H
#define QRT_ARCH_GENERIC_Q8_H

/* Each primitive takes the prefix its vectors cover and returns where the
 * caller's scalar tail starts (or the prefix's sum): portable C leaves it
 * all to the tail. */
static inline float zero_term_prefix(const uint16_t *scales, const uint8_t *zeros,
                                     const float *group_sum, int64_t blocks, int64_t *bp) {
  (void)scales, (void)zeros, (void)group_sum, (void)blocks, (void)bp;
  return 0.0f;
}
#include "q8_scales.h"

#endif
