// Which of the runtime's kernel families (runtime/cpu/kernel_select.c) this
// CPU can run, for the tests that call them directly.
#ifndef QOPT_TEST_KERNEL_FAMILIES_H
#define QOPT_TEST_KERNEL_FAMILIES_H

extern "C" {
#include "internal.h"
}

inline bool hasFamily(const qrt_kernels *k) { return qrt_cpu_runs(k) != 0; }

#endif
