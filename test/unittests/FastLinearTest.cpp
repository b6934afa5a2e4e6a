// Calibration's dense products on the runtime kernels (FastLinear.h)
// against double-precision definitions, and independent of thread count.
#include "qopt/Exec/FastLinear.h"

#include "RandomInputs.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

using namespace qopt;

namespace {

using testutil::randomVector;

// Shapes the panels cut and do not: K and N off multiples of 16, one token,
// more tokens than a pass takes (8).
struct Shape {
  int64_t M, K, N;
};
const Shape kShapes[] = {{1, 64, 48}, {5, 37, 70}, {19, 288, 100}, {33, 130, 17}};

TEST(FastLinear, MatchesDoublePrecisionAndIsThreadCountIndependent) {
  for (const Shape &s : kShapes) {
    auto x = randomVector(s.M * s.K, 1), w = randomVector(s.N * s.K, 2),
         b = randomVector(s.N, 3);
    ThreadPool one(1), three(3);
    std::vector<float> y1(s.M * s.N), y3(s.M * s.N);
    kernels::fastLinear(one, x.data(), s.M, s.K, w.data(), s.N, b.data(), y1.data());
    kernels::fastLinear(three, x.data(), s.M, s.K, w.data(), s.N, b.data(), y3.data());
    EXPECT_EQ(y1, y3) << "M=" << s.M << " K=" << s.K << " N=" << s.N;
    for (int64_t m = 0; m < s.M; ++m)
      for (int64_t n = 0; n < s.N; ++n) {
        double ref = b[n], mag = std::fabs(double(b[n]));
        for (int64_t k = 0; k < s.K; ++k) {
          ref += double(x[m * s.K + k]) * w[n * s.K + k];
          mag += std::fabs(double(x[m * s.K + k]) * w[n * s.K + k]);
        }
        ASSERT_NEAR(y1[m * s.N + n], ref, 1e-6 * mag + 1e-6)
            << "M=" << s.M << " K=" << s.K << " N=" << s.N << " at " << m << "," << n;
      }
  }
}

TEST(FastLinear, GramAccumulatesXTransposeXLowerTriangle) {
  // 37: one band; 1100: three bands of 512 columns, the last ragged
  for (int64_t cols : {int64_t(37), int64_t(1100)}) {
    int64_t rows = cols > 100 ? 9 : 45;
    auto a = randomVector(rows * cols, 4), c = randomVector(rows * cols, 5);
    std::vector<double> xtx1(cols * cols, 0.0), xtx3(cols * cols, 0.0);
    ThreadPool one(1), three(3);
    for (const auto *x : {&a, &c}) {
      kernels::accumulateGram(one, x->data(), rows, cols, xtx1.data());
      kernels::accumulateGram(three, x->data(), rows, cols, xtx3.data());
    }
    EXPECT_EQ(xtx1, xtx3);
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        if (j > i) {
          ASSERT_EQ(xtx1[i * cols + j], 0.0) << "upper triangle written at " << i << "," << j;
          continue;
        }
        double ref = 0, mag = 0;
        for (const auto *x : {&a, &c})
          for (int64_t r = 0; r < rows; ++r) {
            double p = double((*x)[r * cols + i]) * (*x)[r * cols + j];
            ref += p;
            mag += std::fabs(p);
          }
        ASSERT_NEAR(xtx1[i * cols + j], ref, 1e-6 * mag) << cols << ": " << i << "," << j;
      }
  }
}

} // namespace
