//===- DenseKernelsFamily.cpp - one instruction-set family of DenseKernels --===//
//
// Compiled once per family with that family's -m flags and
// QOPT_DENSE_FAMILY set to its name. Eigen's namespace is renamed per
// family so that its inline functions, instantiated here with wider
// vectors, can never be merged by the linker with the portable copies
// (test/check_dense_symbols.sh checks that nothing else is exported).
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_DENSE_FAMILY
#error "QOPT_DENSE_FAMILY names the family being built"
#endif

#define QOPT_CONCAT2(a, b) a##b
#define QOPT_CONCAT(a, b) QOPT_CONCAT2(a, b)
#define Eigen QOPT_CONCAT(QoptEigen_, QOPT_DENSE_FAMILY)
#include <Eigen/Cholesky>
#include <Eigen/Core>

#include "passes/GPTQ/DenseKernels.h"

namespace qopt::dense::QOPT_DENSE_FAMILY {

using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic>;
using View = Eigen::Map<Matrix, 0, Eigen::OuterStride<>>;
using ConstView = Eigen::Map<const Matrix, 0, Eigen::OuterStride<>>;

bool choleskyLower(double *a, int64_t n, int64_t lda) {
  View m(a, n, n, Eigen::OuterStride<>(lda));
  return Eigen::internal::llt_inplace<double, Eigen::Lower>::blocked(m) == -1;
}

void subtractProduct(double *c, int64_t ldc, const double *a, int64_t lda, const double *b,
                     int64_t ldb, int64_t m, int64_t n, int64_t k) {
  if (m == 0 || n == 0 || k == 0)
    return;
  View cm(c, m, n, Eigen::OuterStride<>(ldc));
  cm.noalias() -= ConstView(a, m, k, Eigen::OuterStride<>(lda)) *
                  ConstView(b, k, n, Eigen::OuterStride<>(ldb));
}

void lowerTimes(const double *l, int64_t ldl, double *c, int64_t ldc, int64_t m, int64_t n) {
  if (m == 0 || n == 0)
    return;
  View cm(c, m, n, Eigen::OuterStride<>(ldc));
  Matrix product = ConstView(l, m, m, Eigen::OuterStride<>(ldl)).triangularView<Eigen::Lower>() * cm;
  cm = product;
}

void timesLower(double *c, int64_t ldc, const double *l, int64_t ldl, int64_t m, int64_t n) {
  if (m == 0 || n == 0)
    return;
  View cm(c, m, n, Eigen::OuterStride<>(ldc));
  Matrix product = cm * ConstView(l, n, n, Eigen::OuterStride<>(ldl)).triangularView<Eigen::Lower>();
  cm = product;
}

void invertLowerSmall(double *l, int64_t n, int64_t ldl) {
  View lm(l, n, n, Eigen::OuterStride<>(ldl));
  Matrix inverse = Matrix::Identity(n, n);
  lm.triangularView<Eigen::Lower>().solveInPlace(inverse);
  lm.triangularView<Eigen::Lower>() = inverse;
}

} // namespace qopt::dense::QOPT_DENSE_FAMILY
