/* base.h (AVX2 + FMA + F16C) - what every kernel file of this family needs
 * first. */
#ifndef QRT_ARCH_X86_AVX2_BASE_H
#define QRT_ARCH_X86_AVX2_BASE_H

#include <immintrin.h>

static inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

#endif
