//===- DenseKernels.h - double-precision dense kernels for GPTQ -*- C++ -*-===//
//
// The three dense operations that set GPTQ's time on a real model (for a
// 5632-wide down projection: a Cholesky factorization, a triangular inverse
// and the lazy-batch updates, ~3e11 flops per layer). Each is Eigen's, built
// once per instruction-set family (portable, AVX2+FMA, AVX-512) and chosen
// at first use from what the processor supports; the compiler itself is
// built without -march, so without this it runs SSE2 code.
//
// Every matrix is column-major double with a leading dimension. Results
// depend on the family (FMA rounds differently), never on the thread count.
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_PASSES_GPTQ_DENSEKERNELS_H
#define QOPT_PASSES_GPTQ_DENSEKERNELS_H

#include <cstdint>
#include <vector>

namespace qopt {
class ThreadPool;
namespace dense {

struct Family {
  const char *name;
  bool (*supported)();
  /// A = L L^T in place (lower triangle); false when A is not positive
  /// definite. The strict upper triangle is left as it was.
  bool (*choleskyLower)(double *a, int64_t n, int64_t lda);
  /// C[m,n] -= A[m,k] B[k,n].
  void (*subtractProduct)(double *c, int64_t ldc, const double *a, int64_t lda,
                          const double *b, int64_t ldb, int64_t m, int64_t n, int64_t k);
  /// C[m,n] = L[m,m] C with L lower triangular (unit diagonal not assumed).
  void (*lowerTimes)(const double *l, int64_t ldl, double *c, int64_t ldc, int64_t m,
                     int64_t n);
  /// C[m,n] = C L[n,n] with L lower triangular.
  void (*timesLower)(double *c, int64_t ldc, const double *l, int64_t ldl, int64_t m,
                     int64_t n);
  /// L^-1 in place for a small lower-triangular L (the recursion's leaves).
  void (*invertLowerSmall)(double *l, int64_t n, int64_t ldl);
};

/// The families built into this binary, portable first.
const std::vector<Family> &families();
/// The fastest supported family, or the one QOPT_DENSE_ISA names.
const Family &selected();

/// L^-1 in place for lower-triangular L [n, n] (the strict upper triangle
/// is zeroed), by recursion on halves: n^3/3 flops, against n^3 for a
/// triangular solve of the identity. Column chunks of fixed width go to
/// the pool, so the result does not depend on its size.
void invertLower(const Family &f, double *l, int64_t n, ThreadPool *pool);

} // namespace dense
} // namespace qopt

#endif
