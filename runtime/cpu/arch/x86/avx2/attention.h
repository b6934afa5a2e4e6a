/* attention.h (AVX2) - no single-query kernel of its own beyond the
 * family's dot products: the portable form's. */
#ifndef QRT_ARCH_X86_AVX2_ATTENTION_H
#define QRT_ARCH_X86_AVX2_ATTENTION_H

#include "../../generic/attention.h"

#endif
