//===- DenseKernelsTest.cpp - GPTQ's dense kernels and thread invariance ---===//
//
// Each instruction-set family the processor supports against plain loops
// (the definitions: L L^T = A, L L^-1 = I, C - A B), and the GPTQ solver's
// results bit-identical for every pool size.
//
//===----------------------------------------------------------------------===//
#include "Qnt/Utils/QuantScheme.h"
#include "passes/GPTQ/DenseKernels.h"
#include "passes/GPTQ/GPTQSolver.h"
#include "qopt/Support/ThreadPool.h"

#include "RandomInputs.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace qopt;

namespace {

std::vector<double> randomValues(int64_t n, unsigned seed) {
  return testutil::randomVector<double>(size_t(n), seed);
}

/// A = X^T X / rows + I/10 [n, n], column-major, well conditioned.
std::vector<double> spd(int64_t n, unsigned seed) {
  int64_t rows = n + 16;
  std::vector<double> x = randomValues(rows * n, seed), a(size_t(n * n), 0.0);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < n; ++i) {
      double s = 0;
      for (int64_t r = 0; r < rows; ++r)
        s += x[r * n + i] * x[r * n + j];
      a[i + j * n] = s / double(rows) + (i == j ? 0.1 : 0.0);
    }
  return a;
}

double maxAbs(const std::vector<double> &v) {
  double m = 0;
  for (double x : v)
    m = std::max(m, std::fabs(x));
  return m;
}

std::vector<const dense::Family *> supportedFamilies() {
  std::vector<const dense::Family *> out;
  for (const dense::Family &f : dense::families())
    if (f.supported())
      out.push_back(&f);
  return out;
}

} // namespace

TEST(DenseKernels, CholeskyReproducesItsMatrix) {
  const int64_t n = 300;
  std::vector<double> a = spd(n, 1);
  for (const dense::Family *f : supportedFamilies()) {
    std::vector<double> l = a;
    ASSERT_TRUE(f->choleskyLower(l.data(), n, n)) << f->name;
    double worst = 0;
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = j; i < n; ++i) {
        double s = 0;
        for (int64_t k = 0; k <= j; ++k)
          s += l[i + k * n] * l[j + k * n];
        worst = std::max(worst, std::fabs(s - a[i + j * n]));
      }
    EXPECT_LT(worst, 1e-10 * maxAbs(a)) << f->name;
    std::vector<double> indefinite = a;
    indefinite[(n - 1) * (n + 1)] = -1;
    EXPECT_FALSE(f->choleskyLower(indefinite.data(), n, n)) << f->name;
  }
}

TEST(DenseKernels, TriangularInverseIsTheInverseAndIndependentOfThePool) {
  const int64_t n = 517; // several recursion levels, ragged chunks
  std::vector<double> l = spd(n, 2);
  ASSERT_TRUE(dense::families().front().choleskyLower(l.data(), n, n));
  for (int64_t j = 1; j < n; ++j)
    for (int64_t i = 0; i < j; ++i)
      l[i + j * n] = 0;
  ThreadPool one(1), two(2), three(3);
  for (const dense::Family *f : supportedFamilies()) {
    std::vector<double> inv = l;
    dense::invertLower(*f, inv.data(), n, nullptr);
    double worst = 0;
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = 0; i < n; ++i) {
        double s = 0;
        for (int64_t k = 0; k < n; ++k)
          s += l[i + k * n] * inv[k + j * n];
        worst = std::max(worst, std::fabs(s - (i == j ? 1.0 : 0.0)));
      }
    EXPECT_LT(worst, 1e-9) << f->name;
    for (ThreadPool *pool : {&one, &two, &three}) {
      std::vector<double> again = l;
      dense::invertLower(*f, again.data(), n, pool);
      EXPECT_EQ(again, inv) << f->name << " with " << pool->size() << " threads";
    }
  }
}

TEST(DenseKernels, SubtractProductMatchesLoops) {
  const int64_t m = 70, n = 45, k = 33, ld = 80;
  std::vector<double> a = randomValues(ld * k, 3), b = randomValues(ld * n, 4),
                      c0 = randomValues(ld * n, 5);
  std::vector<double> want = c0;
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t p = 0; p < k; ++p)
        want[i + j * ld] -= a[i + p * ld] * b[p + j * ld];
  for (const dense::Family *f : supportedFamilies()) {
    std::vector<double> c = c0;
    f->subtractProduct(c.data(), ld, a.data(), ld, b.data(), ld, m, n, k);
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = 0; i < ld; ++i)
        if (i < m)
          EXPECT_NEAR(c[i + j * ld], want[i + j * ld], 1e-12) << f->name;
        else // outside the block: untouched
          EXPECT_EQ(c[i + j * ld], c0[i + j * ld]) << f->name;
  }
}

TEST(DenseKernels, GptqInverseFactorIsTheUpperCholeskyOfTheInverse) {
  const int64_t n = 260;
  std::vector<double> h = spd(n, 6);
  gptq::Options o;
  o.actOrder = true;
  auto f = gptq::factorize(h, n, o);
  ASSERT_TRUE(bool(f)) << llvm::toString(f.takeError());
  double meanDiag = 0;
  for (int64_t i = 0; i < n; ++i)
    meanDiag += h[i * (n + 1)] / double(n);
  // (U^T U) (P (H + damp) P^T) = I, with U upper triangular
  double worst = 0, lower = 0;
  std::vector<double> utu(size_t(n * n), 0.0);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < n; ++i) {
      if (i > j)
        lower = std::max(lower, std::fabs(f->u[i + j * n]));
      double s = 0;
      for (int64_t k = 0; k <= std::min(i, j); ++k)
        s += f->u[k + i * n] * f->u[k + j * n];
      utu[i + j * n] = s;
    }
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < n; ++i) {
      double s = 0;
      for (int64_t k = 0; k < n; ++k) {
        double hd = h[f->perm[k] + f->perm[j] * n] + (k == j ? f->dampUsed * meanDiag : 0.0);
        s += utu[i + k * n] * hd;
      }
      worst = std::max(worst, std::fabs(s - (i == j ? 1.0 : 0.0)));
    }
  EXPECT_EQ(lower, 0.0);
  EXPECT_LT(worst, 1e-9);
  for (int64_t i = 0; i + 1 < n; ++i) // act order: decreasing diagonal
    EXPECT_GE(h[f->perm[i] * (n + 1)], h[f->perm[i + 1] * (n + 1)]);
}

TEST(DenseKernels, GptqResultDoesNotDependOnThePool) {
  const int64_t rows = 300, cols = 160; // three row chunks, the last ragged
  std::vector<double> h = spd(cols, 7);
  std::vector<double> wd = randomValues(rows * cols, 8);
  std::vector<float> w(wd.begin(), wd.end());
  qmath::Scheme s;
  s.bits = 4;
  s.groupSize = 32;
  s.symmetric = false;
  gptq::Options o;
  o.actOrder = true;
  o.blockSize = 64;
  auto base = gptq::quantize(s, w.data(), rows, cols, h, o, nullptr);
  ASSERT_TRUE(bool(base));
  ThreadPool two(2), three(3);
  for (ThreadPool *pool : {&two, &three}) {
    auto other = gptq::quantize(s, w.data(), rows, cols, h, o, pool);
    ASSERT_TRUE(bool(other));
    EXPECT_EQ(other->weight.codes, base->weight.codes) << pool->size() << " threads";
    EXPECT_EQ(other->weight.dequantize(), base->weight.dequantize()) << pool->size() << " threads";
  }
}
