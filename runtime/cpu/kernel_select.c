/* kernel_select.c - which kernel family (ISA) the CPU backend runs: the
 * best this CPU supports, or the one QRT_ISA asks for. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The families this build has, best first; the last is always portable C.
 * A new instruction set (an ARM NEON family, say) is one more entry here,
 * behind the macro its CMake rule defines. */
typedef struct {
  const qrt_kernels *kernels;
  int (*supported)(void); /* does this CPU run it */
} qrt_family_entry;

static int always(void) { return 1; }

/* runtime/CMakeLists.txt builds the x86 families exactly when this holds */
#ifndef QRT_HAVE_X86_FAMILIES
#if defined(__x86_64__)
#define QRT_HAVE_X86_FAMILIES 1
#else
#define QRT_HAVE_X86_FAMILIES 0
#endif
#endif

#if QRT_HAVE_X86_FAMILIES
static int has_avx512vnni(void) {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vnni");
}
static int has_avx2(void) {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("f16c");
}
#endif

static const qrt_family_entry families[] = {
#if QRT_HAVE_X86_FAMILIES
    {&qrt_kernels_avx512, has_avx512vnni},
    {&qrt_kernels_avx2, has_avx2},
#endif
    {&qrt_kernels_portable, always},
};
enum { num_families = sizeof families / sizeof families[0] };

/* QRT_DISABLE=avx512vnni,avx2 pretends the CPU lacks those families (to
 * test the fallback on machines that have them). */
static int cpu_has(const qrt_family_entry *f) {
  const char *disabled = getenv("QRT_DISABLE");
  if (disabled && strstr(disabled, f->kernels->name))
    return 0;
  return f->supported();
}

int qrt_cpu_runs(const qrt_kernels *k) {
#if QRT_HAVE_X86_FAMILIES
  __builtin_cpu_init();
#endif
  for (int i = 0; i < num_families; ++i)
    if (families[i].kernels == k)
      return families[i].supported();
  return 0;
}

static void list_families(char *out, size_t len) {
  size_t used = 0;
  out[0] = 0;
  for (int i = 0; i < num_families && used < len; ++i)
    used += (size_t)snprintf(out + used, len - used, "%s%s", i ? ", " : "",
                             families[i].kernels->name);
}

/* The best family this CPU runs. QRT_ISA=NAME asks for one; a family the
 * CPU lacks falls back to the next, and says so. */
const qrt_kernels *qrt_select_kernels(void) {
#if QRT_HAVE_X86_FAMILIES
  __builtin_cpu_init();
#endif
  const char *want = getenv("QRT_ISA");
  int start = 0;
  if (want && *want) {
    while (start < num_families - 1 && strcmp(families[start].kernels->name, want) != 0)
      ++start;
    if (strcmp(families[start].kernels->name, want) != 0) {
      char names[128];
      list_families(names, sizeof names);
      fprintf(stderr, "qrt: QRT_ISA=%s is not a kernel family (%s)\n", want, names);
    }
  }
  for (int i = start; i < num_families; ++i) {
    if (cpu_has(&families[i])) {
      if (i != start)
        fprintf(stderr, "qrt: this CPU lacks %s; falling back to %s kernels\n",
                families[start].kernels->name, families[i].kernels->name);
      return families[i].kernels;
    }
  }
  return &qrt_kernels_portable;
}
