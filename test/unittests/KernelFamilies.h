// Which of the runtime's kernel families (runtime/cpu/kernel_select.c) this
// CPU can run, for the tests that call them directly.
#ifndef QOPT_TEST_KERNEL_FAMILIES_H
#define QOPT_TEST_KERNEL_FAMILIES_H

extern "C" {
#include "internal.h"
}

inline bool hasFamily(const qrt_kernels *k) {
  __builtin_cpu_init();
  if (k == &qrt_kernels_avx512)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vnni");
  if (k == &qrt_kernels_avx2)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
  return true;
}

#endif
