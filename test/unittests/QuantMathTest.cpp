//===- QuantMathTest.cpp - weight quantization math -------------------------===//
#include "Qnt/Utils/QuantScheme.h"
#include "passes/AWQ/AWQSearch.h"
#include "passes/Common/QuantPatterns.h"
#include "passes/GPTQ/GPTQSolver.h"
#include "passes/MixedPrecision/BitAllocation.h"
#include "passes/SmoothQuant/SmoothingMath.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

using namespace qopt;
using qmath::Scheme;

namespace {

Scheme intScheme(int64_t bits, int64_t group, bool sym) {
  Scheme s;
  s.bits = bits;
  s.groupSize = group;
  s.symmetric = sym;
  return s;
}

std::vector<float> randomMatrix(int64_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float &x : v)
    x = dist(rng);
  return v;
}

/// H = 2 X^T X / n for X [n, cols] with a few loud channels.
std::vector<double> hessianOf(const std::vector<float> &x, int64_t n, int64_t cols) {
  std::vector<double> h(size_t(cols * cols), 0.0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j)
        h[i * cols + j] += 2.0 * x[r * cols + i] * x[r * cols + j] / double(n);
  return h;
}

double outputError(const std::vector<float> &w, const std::vector<float> &q, int64_t rows,
                   int64_t cols, const std::vector<double> &h) {
  double e = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j)
        e += (w[r * cols + i] - q[r * cols + i]) * h[i * cols + j] *
             (w[r * cols + j] - q[r * cols + j]);
  return e;
}

} // namespace

TEST(QuantMath, PackingRoundTripsEveryWidth) {
  for (int64_t bits = 2; bits <= 8; ++bits) {
    int64_t rows = 3, cols = 13;
    std::vector<uint8_t> codes(size_t(rows * cols));
    for (size_t i = 0; i < codes.size(); ++i)
      codes[i] = uint8_t((i * 37 + 5) % (1u << bits));
    std::vector<uint8_t> packed = qmath::packBits(codes, rows, cols, bits);
    EXPECT_EQ(int64_t(packed.size()), rows * qmath::packedRowBytes(cols, bits));
    EXPECT_EQ(qmath::unpackBits(packed.data(), rows, cols, bits), codes) << bits;
  }
}

TEST(QuantMath, RaggedRowsMergeTheRemainderIntoTheLastGroup) {
  qmath::GroupLayout g(intScheme(4, 32, true), 64, 172);
  EXPECT_EQ(g.perRow, 5);
  EXPECT_EQ(g.groupStart(4), 128);
  EXPECT_EQ(g.groupEnd(4), 172);
  EXPECT_EQ(g.groupOf(171), 4);
  EXPECT_EQ(g.groupOf(127), 3);
  // 16-bit scales: 4 + 5 * 16 / 172 bits per weight, below the 4.5 of a
  // divisible row.
  qmath::QuantizedWeight q(intScheme(4, 32, true), 64, 172);
  EXPECT_NEAR(q.bitsPerWeight(), 4.0 + 80.0 / 172.0, 1e-12);
  EXPECT_NEAR(qmath::QuantizedWeight(intScheme(4, 32, true), 8, 64).bitsPerWeight(), 4.5, 1e-12);
  // Asymmetric g64: 16-bit scale + 4-bit zero per 64.
  EXPECT_NEAR(qmath::QuantizedWeight(intScheme(4, 64, false), 8, 128).bitsPerWeight(),
              4.0 + 20.0 / 64.0, 1e-12);
}

TEST(QuantMath, RoundToNearestErrorIsWithinHalfAStep) {
  for (bool sym : {true, false})
    for (int64_t bits : {3, 4, 8}) {
      Scheme s = intScheme(bits, 32, sym);
      std::vector<float> w = randomMatrix(16 * 96, 7);
      qmath::QuantizedWeight q = qmath::quantizeRTN(s, w.data(), 16, 96);
      std::vector<float> d = q.dequantize();
      qmath::GroupLayout g = q.layout();
      for (int64_t r = 0; r < 16; ++r)
        for (int64_t c = 0; c < 96; ++c) {
          float step = std::fabs(q.params[g.index(r, c)].scale);
          // Within half a step inside the grid; at its ends the symmetric
          // grid's missing top code and the asymmetric grid's rounded zero
          // point can clip by up to one step.
          float bound = step * 1.0001f;
          EXPECT_LE(std::fabs(w[r * 96 + c] - d[r * 96 + c]), bound) << bits << sym;
        }
    }
}

TEST(QuantMath, StoreRoundTripIsExact) {
  auto store = std::make_shared<ParameterStore>();
  std::vector<float> w = randomMatrix(10 * 70, 3);
  for (Scheme s : {intScheme(4, 32, false), intScheme(3, 0, true), intScheme(8, -1, true)}) {
    qmath::QuantizedWeight q = qmath::quantizeRTN(s, w.data(), 10, 70);
    std::vector<int32_t> outliers{5, 60};
    qmath::QuantizedWeight withOutliers(s, 10, 70);
    std::vector<float> rest = qmath::splitOutliers(withOutliers, w.data(), outliers);
    q = qmath::quantizeRTN(s, rest.data(), 10, 70);
    q.outlierIndex = withOutliers.outlierIndex;
    q.outlierWeight = withOutliers.outlierWeight;
    qmath::storeQuantized(*store, "w", q);
    auto back = qmath::loadQuantized(*store, "w", s, 10, 70, 2);
    ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
    EXPECT_EQ(back->dequantize(), q.dequantize()) << s.describe();
    // Outlier columns come back at 16-bit precision.
    EXPECT_NEAR(back->dequantize()[5], w[5], 1e-3 * std::fabs(w[5]) + 1e-6);
  }
}

TEST(QuantMath, NF4LevelsAndDoubleQuantization) {
  llvm::ArrayRef<float> levels = qmath::nf4Levels();
  ASSERT_EQ(levels.size(), 16u);
  EXPECT_EQ(levels.front(), -1.0f);
  EXPECT_EQ(levels.back(), 1.0f);
  EXPECT_EQ(levels[7], 0.0f); // an exact zero, as QLoRA requires
  for (size_t i = 1; i < levels.size(); ++i)
    EXPECT_LT(levels[i - 1], levels[i]);

  Scheme s;
  s.format = qnt::WeightFormat::NF4;
  s.bits = 4;
  s.groupSize = 64;
  s.doubleQuant = true;
  std::vector<float> w = randomMatrix(40 * 128, 11, 0.02f);
  qmath::QuantizedWeight q = qmath::quantizeRTN(s, w.data(), 40, 128);
  // 4 + 8/64 + 32/(64*256) + a 32-bit mean: QLoRA's 4.127 bits.
  EXPECT_NEAR(q.bitsPerWeight(), 4.0 + 8.0 / 64 + (32.0 * 1 + 32) / (40.0 * 128), 1e-9);
  auto store = std::make_shared<ParameterStore>();
  qmath::storeQuantized(*store, "w", q);
  auto back = qmath::loadQuantized(*store, "w", s, 40, 128, 0);
  ASSERT_TRUE(bool(back));
  EXPECT_EQ(back->dequantize(), q.dequantize());
  // Double-quantized scales stay within half a second-level step.
  std::vector<float> scales;
  for (int64_t r = 0; r < 40; ++r)
    for (int64_t g = 0; g < 2; ++g) {
      float m = 0;
      for (int64_t c = g * 64; c < (g + 1) * 64; ++c)
        m = std::max(m, std::fabs(w[r * 128 + c]));
      scales.push_back(m);
    }
  std::vector<float> dq = scales;
  qmath::DoubleQuantized d = qmath::doubleQuantize(dq);
  for (size_t i = 0; i < scales.size(); ++i)
    EXPECT_LE(std::fabs(dq[i] - scales[i]), d.blockScales[0] * 0.5f + 1e-7f);
}

TEST(GPTQ, BeatsRoundToNearestOnTheOutputObjective) {
  int64_t rows = 24, cols = 96, n = 512;
  std::vector<float> w = randomMatrix(rows * cols, 1);
  std::vector<float> x = randomMatrix(n * cols, 2);
  for (int64_t r = 0; r < n; ++r) // correlated, uneven channels
    for (int64_t c = 1; c < cols; ++c)
      x[r * cols + c] = 0.6f * x[r * cols + c - 1] + x[r * cols + c] * (c % 7 == 0 ? 4.f : 1.f);
  std::vector<double> h = hessianOf(x, n, cols);
  for (bool actOrder : {false, true})
    for (int64_t group : {int64_t(0), int64_t(32)}) {
      Scheme s = intScheme(4, group, true);
      gptq::Options o;
      o.actOrder = actOrder;
      o.blockSize = 32;
      auto g = gptq::quantize(s, w.data(), rows, cols, h, o);
      ASSERT_TRUE(bool(g));
      std::vector<float> rtn = qmath::quantizeRTN(s, w.data(), rows, cols).dequantize();
      double eG = outputError(w, g->weight.dequantize(), rows, cols, h);
      double eR = outputError(w, rtn, rows, cols, h);
      EXPECT_LT(eG, 0.9 * eR) << "act-order " << actOrder << " group " << group;
    }
}

TEST(GPTQ, BlockSizeDoesNotChangeTheResult) {
  int64_t rows = 8, cols = 64, n = 256;
  std::vector<float> w = randomMatrix(rows * cols, 4);
  std::vector<double> h = hessianOf(randomMatrix(n * cols, 5), n, cols);
  Scheme s = intScheme(4, 0, false); // per channel: parameters fixed up front
  gptq::Options a, b;
  a.blockSize = 64;
  b.blockSize = 8;
  auto qa = gptq::quantize(s, w.data(), rows, cols, h, a);
  auto qb = gptq::quantize(s, w.data(), rows, cols, h, b);
  ASSERT_TRUE(qa && qb);
  std::vector<float> da = qa->weight.dequantize(), db = qb->weight.dequantize();
  int differ = 0;
  for (size_t i = 0; i < da.size(); ++i)
    differ += da[i] != db[i];
  EXPECT_LE(differ, 2); // lazy batching is exact up to float rounding
}

TEST(GPTQ, IndefiniteHessianRetriesWithMoreDampingOrFails) {
  int64_t cols = 4;
  std::vector<float> w = randomMatrix(2 * cols, 9);
  // Indefinite: 1% of the mean diagonal (0.0075) does not lift -0.02; 10x does.
  std::vector<double> h = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, -0.02};
  gptq::Options o;
  auto r = gptq::quantize(intScheme(4, 0, true), w.data(), 2, cols, h, o);
  ASSERT_TRUE(bool(r));
  EXPECT_GT(r->dampRetries, 0);
  EXPECT_GT(r->dampUsed, o.damp);
  // Negative definite: no damping fixes it within the retries.
  std::vector<double> neg = {-1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1};
  auto bad = gptq::quantize(intScheme(4, 0, true), w.data(), 2, cols, neg, o);
  ASSERT_FALSE(bool(bad));
  EXPECT_NE(llvm::toString(bad.takeError()).find("indefinite"), std::string::npos);
}

TEST(AWQ, ScaleSearchNeverLosesToNoScaling) {
  int64_t rows = 16, cols = 64, n = 256;
  std::vector<float> x = randomMatrix(n * cols, 12);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < cols; c += 9)
      x[r * cols + c] *= 20.0f; // salient channels
  std::vector<double> h = hessianOf(x, n, cols), meanAbs(cols, 0.0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < cols; ++c)
      meanAbs[c] += std::fabs(x[r * cols + c]) / n;
  std::vector<awq::SearchLinear> ls{{intScheme(4, 32, true), randomMatrix(rows * cols, 13),
                                     rows, cols}};
  std::vector<double> s = awq::searchScales(ls, meanAbs, h, 20);
  double best = awq::scaledQuantError(ls, s, h);
  double none = awq::scaledQuantError(ls, std::vector<double>(cols, 1.0), h);
  EXPECT_LE(best, none);
  EXPECT_LT(best, 0.95 * none); // salient channels make scaling pay off
}

TEST(SmoothQuant, MigrationLeavesTheFloatFunctionUnchanged) {
  int64_t rows = 6, cols = 8;
  std::vector<float> w = randomMatrix(rows * cols, 21), x = randomMatrix(cols, 22);
  x[3] = 40.0f;
  std::vector<float> actMax(cols);
  for (int64_t c = 0; c < cols; ++c)
    actMax[c] = std::fabs(x[c]);
  std::vector<double> s = smooth::smoothingScales({{w, rows, cols}}, actMax, 0.5);
  EXPECT_GT(s[3], 1.0); // the outlier channel is divided down
  for (int64_t r = 0; r < rows; ++r) {
    double y = 0, ys = 0;
    for (int64_t c = 0; c < cols; ++c) {
      y += double(w[r * cols + c]) * x[c];
      ys += (double(w[r * cols + c]) * s[c]) * (x[c] / s[c]);
    }
    EXPECT_NEAR(y, ys, 1e-9 * (1 + std::fabs(y)));
  }
}

TEST(MixedPrecision, AllocationRespectsTheBudgetAndSpendsItWell) {
  // Two tensors of 100 weights; options: 4 bits or 8 bits.
  std::vector<std::vector<mixed::Option>> t = {{{400, 1.0}, {800, 0.0}},
                                               {{400, 0.1}, {800, 0.0}}};
  std::vector<size_t> pick = mixed::allocate(t, 1200);
  EXPECT_EQ(pick[0], 1u); // the sensitive tensor gets 8 bits
  EXPECT_EQ(pick[1], 0u);
  EXPECT_EQ(mixed::allocate(t, 800), (std::vector<size_t>{0, 0}));
  EXPECT_EQ(mixed::allocate(t, 5000), (std::vector<size_t>{1, 1}));
}

// The report's output error, against a direct evaluation of
// sum_r d_r^T H d_r / sum_r w_r^T H w_r; above kOutputErrorRows rows it is
// that sum over every step-th row.
TEST(QuantMath, RelativeOutputErrorMatchesItsDefinition) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t rows : {7, 150}) {
    int64_t cols = 24;
    std::vector<float> w(size_t(rows * cols)), q(w.size());
    for (size_t i = 0; i < w.size(); ++i) {
      w[i] = normal(rng);
      q[i] = w[i] + 0.1f * normal(rng);
    }
    std::vector<double> x(size_t(40 * cols)), h(size_t(cols * cols), 0.0);
    for (auto &v : x)
      v = normal(rng);
    for (int64_t s = 0; s < 40; ++s)
      for (int64_t i = 0; i < cols; ++i)
        for (int64_t j = 0; j < cols; ++j)
          h[size_t(i * cols + j)] += x[size_t(s * cols + i)] * x[size_t(s * cols + j)];
    int64_t step = (rows + kOutputErrorRows - 1) / kOutputErrorRows;
    double num = 0, den = 0;
    for (int64_t r = 0; r < rows; r += step)
      for (int64_t i = 0; i < cols; ++i)
        for (int64_t j = 0; j < cols; ++j) {
          double hij = h[size_t(i * cols + j)];
          num += (double(w[size_t(r * cols + i)]) - q[size_t(r * cols + i)]) * hij *
                 (double(w[size_t(r * cols + j)]) - q[size_t(r * cols + j)]);
          den += double(w[size_t(r * cols + i)]) * hij * w[size_t(r * cols + j)];
        }
    EXPECT_NEAR(relativeOutputError(w.data(), q.data(), rows, cols, h), num / den,
                1e-12 * (num / den))
        << rows << " rows";
  }
}

// searchClip and quantizeValue round without the library call; the
// definition (std::nearbyint on every candidate, fakeQuant's round trip)
// must choose the same clip, ties and huge ratios included.
TEST(QuantMath, ClipSearchEqualsItsDefinition) {
  std::mt19937 rng(11);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  int checked = 0;
  for (int64_t bits : {int64_t(2), int64_t(3), int64_t(4), int64_t(8)})
    for (bool sym : {true, false})
      for (int trial = 0; trial < 300; ++trial) {
        Scheme s = intScheme(bits, 32, sym);
        std::vector<float> x(32);
        for (float &v : x)
          v = dist(rng) * (trial % 3 == 0 ? 1e-3f : 1.0f);
        if (trial % 7 == 0) // exact halves of a power-of-two scale: ties
          for (size_t j = 0; j < x.size(); ++j)
            x[j] = 0.125f * (float(j % 9) - 4.0f) + 0.0625f;
        if (trial % 11 == 0)
          x[3] = 3e7f; // a ratio past 2^22
        float bestClip = 1.0f;
        double bestErr = INFINITY;
        for (int i = 0; i <= 50; ++i) {
          float clip = 1.0f - 0.01f * float(i);
          qmath::GroupParams p = qmath::chooseParams(s, x.data(), 32, 1, clip);
          double err = 0;
          for (float v : x) {
            float q = std::clamp(std::nearbyint(v / p.scale) + p.zero, 0.0f, float(s.maxCode()));
            double d = v - (q - p.zero) * p.scale;
            err += d * d;
            ASSERT_EQ(qmath::quantizeValue(s, p, v), int(q)) << v << " / " << p.scale;
          }
          if (err < bestErr) {
            bestErr = err;
            bestClip = clip;
          }
        }
        ASSERT_EQ(qmath::searchClip(s, x.data(), 32), bestClip) << bits << " bits, trial " << trial;
        ++checked;
      }
  EXPECT_EQ(checked, 2400);
}
