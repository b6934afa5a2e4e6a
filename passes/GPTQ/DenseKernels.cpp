//===- DenseKernels.cpp - family choice and the blocked triangular inverse -===//
#include "passes/GPTQ/DenseKernels.h"

#include "qopt/Support/ThreadPool.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace qopt::dense {

#define QOPT_DECLARE_FAMILY(NS)                                                                  \
  namespace NS {                                                                                 \
  bool choleskyLower(double *a, int64_t n, int64_t lda);                                        \
  void subtractProduct(double *c, int64_t ldc, const double *a, int64_t lda, const double *b,   \
                       int64_t ldb, int64_t m, int64_t n, int64_t k);                           \
  void lowerTimes(const double *l, int64_t ldl, double *c, int64_t ldc, int64_t m, int64_t n);  \
  void timesLower(double *c, int64_t ldc, const double *l, int64_t ldl, int64_t m, int64_t n);  \
  void invertLowerSmall(double *l, int64_t n, int64_t ldl);                                     \
  }
#define QOPT_FAMILY_ENTRY(NS, supported)                                                         \
  Family{#NS,           supported,      NS::choleskyLower,   NS::subtractProduct,               \
         NS::lowerTimes, NS::timesLower, NS::invertLowerSmall}

QOPT_DECLARE_FAMILY(portable)
#ifdef QOPT_DENSE_X86
QOPT_DECLARE_FAMILY(avx2)
QOPT_DECLARE_FAMILY(avx512)
#endif

namespace {

bool always() { return true; }
#ifdef QOPT_DENSE_X86
// The flags each family is built with (passes/CMakeLists.txt).
bool hasAvx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
bool hasAvx512() {
  return hasAvx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
}
#endif

/// Below this the inverse is one triangular solve of the identity.
constexpr int64_t kLeaf = 128;
/// Rows or columns per task: fixed, so that no result depends on the pool.
constexpr int64_t kChunk = 128;

void invertRecursive(const Family &f, double *l, int64_t n, int64_t ld, ThreadPool *pool) {
  if (n <= kLeaf)
    return f.invertLowerSmall(l, n, ld);
  // [A 0; B C]^-1 = [A^-1 0; -C^-1 B A^-1  C^-1]
  int64_t k = (n / 2 + kChunk - 1) / kChunk * kChunk;
  double *a = l, *b = l + k, *c = l + k + k * ld;
  int64_t rest = n - k;
  invertRecursive(f, a, k, ld, pool);
  invertRecursive(f, c, rest, ld, pool);
  // rows of B A^-1 are independent, and so are the columns of C^-1 (B A^-1)
  forFixedPieces(pool, rest, kChunk, [&](int64_t r0, int64_t r1) { f.timesLower(b + r0, ld, a, ld, r1 - r0, k); });
  forFixedPieces(pool, k, kChunk, [&](int64_t c0, int64_t c1) {
    f.lowerTimes(c, ld, b + c0 * ld, ld, rest, c1 - c0);
    for (int64_t j = c0; j < c1; ++j)
      for (int64_t i = 0; i < rest; ++i)
        b[i + j * ld] = -b[i + j * ld];
  });
}

} // namespace

const std::vector<Family> &families() {
  static const std::vector<Family> all = {
      QOPT_FAMILY_ENTRY(portable, always),
#ifdef QOPT_DENSE_X86
      QOPT_FAMILY_ENTRY(avx2, hasAvx2),
      QOPT_FAMILY_ENTRY(avx512, hasAvx512),
#endif
  };
  return all;
}

const Family &selected() {
  static const Family *chosen = [] {
    const std::vector<Family> &all = families();
    if (const char *want = std::getenv("QOPT_DENSE_ISA"))
      for (const Family &f : all)
        if (std::strcmp(f.name, want) == 0 && f.supported())
          return &f;
    const Family *best = &all.front();
    for (const Family &f : all)
      if (f.supported())
        best = &f; // listed slowest first
    return best;
  }();
  return *chosen;
}

void invertLower(const Family &f, double *l, int64_t n, ThreadPool *pool) {
  for (int64_t j = 1; j < n; ++j) // strict upper triangle
    std::fill(l + j * n, l + j * n + j, 0.0);
  invertRecursive(f, l, n, n, pool);
}

} // namespace qopt::dense
