/* common.c - small pieces the runtime shares: f16 decoding, the NF4 table,
 * kernel selection, error messages, LLM.int8 outlier columns. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

/* Round to nearest even, as lib/Support/DType.cpp's floatToHalf (the
 * executor's f16 KV cache): the same steps, so the same bits. */
uint16_t qrt_f32_to_f16(float f) {
  uint32_t bits;
  memcpy(&bits, &f, 4);
  uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
  float a = fabsf(f);
  if (isnan(f))
    return sign | 0x7e00;
  if (a >= 65520.0f) /* rounds to infinity */
    return sign | 0x7c00;
  if (a < 6.103515625e-05f) /* subnormal: multiples of 2^-24, nearest even */
    return sign | (uint16_t)nearbyintf(a * 16777216.0f);
  uint32_t abits;
  memcpy(&abits, &a, 4);
  uint32_t exp = (abits >> 23) - 112, mant = abits & 0x7fffffu;
  uint32_t half = (exp << 10) | (mant >> 13), rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u)))
    ++half; /* may carry into the exponent, which is the correct result */
  return sign | (uint16_t)half;
}

float qrt_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, man = h & 1023u, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else { /* subnormal: normalize */
      exp = 127 - 15 + 1;
      while (!(man & 1024u)) {
        man <<= 1;
        --exp;
      }
      bits = sign | (exp << 23) | ((man & 1023u) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (man << 13);
  } else {
    bits = sign | ((exp - 15 + 127) << 23) | (man << 13);
  }
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* QLoRA's NormalFloat-4 levels; must equal qmath::nf4Levels() (the compiled
 * NF4 logits test checks it). */
const float qrt_nf4_levels[16] = {
      -1.0f,
      -0.6961928009986877f,
      -0.5250730514526367f,
      -0.39491748809814453f,
      -0.28444138169288635f,
      -0.18477343022823334f,
      -0.09105003625154495f,
      0.0f,
      0.07958029955625534f,
      0.16093020141124725f,
      0.24611230194568634f,
      0.33791524171829224f,
      0.44070982933044434f,
      0.5626170039176941f,
      0.7229568362236023f,
      1.0f};

/* QRT_DISABLE=avx512vnni,avx2 pretends the CPU lacks those families (to
 * test the fallback on machines that have them). */
static int cpu_has(const char *isa) {
  const char *disabled = getenv("QRT_DISABLE");
  if (disabled && strstr(disabled, isa))
    return 0;
  if (!strcmp(isa, "avx512vnni"))
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vnni");
  if (!strcmp(isa, "avx2"))
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
  return 1;
}

/* The best family this CPU runs. QRT_ISA=avx512vnni|avx2|portable asks for
 * one; a family the CPU lacks falls back to the next, and says so. */
const qrt_kernels *qrt_select_kernels(void) {
  static const qrt_kernels *const order[] = {&qrt_kernels_avx512, &qrt_kernels_avx2,
                                             &qrt_kernels_portable};
  __builtin_cpu_init();
  const char *want = getenv("QRT_ISA");
  int start = 0;
  if (want && *want) {
    while (start < 2 && strcmp(order[start]->name, want) != 0)
      ++start;
    if (strcmp(order[start]->name, want) != 0)
      fprintf(stderr, "qrt: QRT_ISA=%s is not a kernel family (avx512vnni, avx2, portable)\n",
              want);
  }
  for (int i = start; i < 3; ++i) {
    if (cpu_has(order[i]->name)) {
      if (i != start)
        fprintf(stderr, "qrt: this CPU lacks %s; falling back to %s kernels\n",
                order[start]->name, order[i]->name);
      return order[i];
    }
  }
  return &qrt_kernels_portable;
}

void qrt_set_error(char *err, size_t len, const char *fmt, ...) {
  if (!err || !len)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, len, fmt, ap);
  va_end(ap);
}

void qrt_add_outliers(const qrt_weight *w, const float *x, int64_t n, int64_t r0, int64_t r1,
                      float *y) {
  const qrtw_slot *s = w->slot;
  int64_t k = s->outliers;
  for (int64_t m = 0; m < n && k; ++m)
    for (int64_t r = r0; r < r1; ++r) {
      float acc = 0.0f;
      for (int64_t j = 0; j < k; ++j)
        acc += w->outlier_weight[r * k + j] * x[m * s->cols + w->outlier_index[j]];
      y[m * s->rows + r] += acc;
    }
}
