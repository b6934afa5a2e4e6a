/* kernel_family.h - what the per-instruction-set kernel files share.
 *
 * linear_kernels.c, q8_kernels.c and attention_kernels.c are compiled once per family
 * (portable, AVX2+FMA+F16C, AVX-512 VNNI). QRT_FAMILY names the family;
 * QRT_FAMILY_FN(f) gives a function its family-specific name so the builds
 * can live in one library. Helpers here are static inline: each build gets
 * its own copy compiled for its instruction set.
 */
#ifndef QRT_KERNEL_FAMILY_H
#define QRT_KERNEL_FAMILY_H

#include "internal.h"

/* Each family's instruction-set code lives in runtime/cpu/arch/QRT_ARCH/
 * (QRT_ARCH from runtime/CMakeLists.txt: generic, x86/avx2, x86/avx512):
 * the kernel files include QRT_ARCH_FILE(name.h) where they need the
 * family's primitives, and hold no instruction-set branches themselves. */
#ifndef QRT_ARCH
#define QRT_ARCH generic
#endif
#define QRT_STRINGIFY2(x) #x
#define QRT_STRINGIFY(x) QRT_STRINGIFY2(x)
#define QRT_ARCH_FILE(name) QRT_STRINGIFY(arch/QRT_ARCH/name)

#include QRT_ARCH_FILE(base.h)

#ifndef QRT_FAMILY
#define QRT_FAMILY portable
#endif
#define QRT_CAT2(a, b) a##_##b
#define QRT_CAT(a, b) QRT_CAT2(a, b)
#define QRT_FAMILY_FN(name) QRT_CAT(name, QRT_FAMILY)

/* Int8-activation rows (q8_kernels.c): see qrt_kernels.linear_q8_rows. */
void QRT_FAMILY_FN(linear_q8_rows)(const qrt_weight *w, const qrt_q8_activations *xq,
                                   int64_t n, int64_t r0, int64_t r1, float *y,
                                   float *scratch);

/* Tiled int8-activation rows (q8_tiled_kernels.c, AVX-512 VNNI only). */
void QRT_FAMILY_FN(linear_q8_tiled)(const qrt_weight *w, const qrt_q8_activations *xq, int64_t n,
                                    int64_t r0, int64_t r1, float *y);
void QRT_FAMILY_FN(w8a8_tiled)(const qrt_weight *w, const int8_t *xq, const float *xscale,
                               int64_t n, int64_t r0, int64_t r1, float *y);

/* One attention head (attention_kernels.c): see qrt_kernels.attend_head. */
void QRT_FAMILY_FN(attend_head)(const float *q, const void *keys, const void *values, int f16,
                                int64_t last, int64_t kv_stride, int64_t head_dim, float scale,
                                float *scratch, float *out);
void QRT_FAMILY_FN(attend_block)(const float *q, int64_t q_stride, int64_t count,
                                 const void *keys, const void *values, int f16, int64_t first,
                                 int64_t kv_stride, int64_t head_dim, float scale, float *scratch,
                                 float *out, int64_t out_stride);

void QRT_FAMILY_FN(to_f16)(const float *x, int64_t n, uint16_t *out);


static inline int64_t num_groups(const qrtw_slot *s) {
  return s->groups_per_row ? s->groups_per_row : 1;
}
static inline int64_t group_begin(const qrtw_slot *s, int64_t g) {
  return s->groups_per_row ? g * s->group_width : 0;
}
static inline int64_t group_end(const qrtw_slot *s, int64_t g) {
  return (!s->groups_per_row || g + 1 >= s->groups_per_row) ? s->cols : (g + 1) * s->group_width;
}
static inline int64_t scale_index(const qrtw_slot *s, int64_t r, int64_t g) {
  return s->groups_per_row ? r * s->groups_per_row + g : 0;
}
static inline float scale_at(const qrt_weight *w, int64_t i) {
  return w->slot->scales_f32 ? ((const float *)w->scales)[i]
                             : half_to_float(((const uint16_t *)w->scales)[i]);
}

#endif
