/* base.h (portable) - what every kernel file of this family needs first. */
#ifndef QRT_ARCH_GENERIC_BASE_H
#define QRT_ARCH_GENERIC_BASE_H

static inline float half_to_float(uint16_t h) { return qrt_f16_to_f32(h); }

#endif
