// The executor's kernels against straightforward double-precision versions.
#include "qopt/Exec/Kernels.h"

#include "RandomInputs.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

using namespace qopt;

namespace {

using testutil::randomVector;

void expectNear(const std::vector<float> &got, const std::vector<double> &ref, double tol) {
  ASSERT_EQ(got.size(), ref.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], ref[i], tol * (1.0 + std::fabs(ref[i]))) << "at " << i;
}

TEST(Kernels, LinearMatchesNaiveAndIsThreadCountIndependent) {
  int64_t M = 5, K = 37, N = 700;
  auto x = randomVector(M * K, 1), w = randomVector(N * K, 2), b = randomVector(N, 3);
  std::vector<double> ref(M * N);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = b[n];
      for (int64_t k = 0; k < K; ++k)
        s += double(x[m * K + k]) * w[n * K + k];
      ref[m * N + n] = s;
    }
  ThreadPool one(1), four(4);
  std::vector<float> y1(M * N), y4(M * N);
  kernels::linear(one, x.data(), M, K, w.data(), N, b.data(), y1.data());
  kernels::linear(four, x.data(), M, K, w.data(), N, b.data(), y4.data());
  expectNear(y1, ref, 1e-5);
  EXPECT_EQ(y1, y4);
}

TEST(Kernels, RmsNorm) {
  int64_t M = 3, D = 10;
  auto x = randomVector(M * D, 4), w = randomVector(D, 5);
  std::vector<float> y(M * D);
  kernels::rmsNorm(x.data(), M, D, w.data(), 1e-5f, y.data());
  std::vector<double> ref(M * D);
  for (int64_t m = 0; m < M; ++m) {
    double ss = 0;
    for (int64_t i = 0; i < D; ++i)
      ss += double(x[m * D + i]) * x[m * D + i];
    double inv = 1.0 / std::sqrt(ss / D + 1e-5);
    for (int64_t i = 0; i < D; ++i)
      ref[m * D + i] = w[i] * x[m * D + i] * inv;
  }
  expectNear(y, ref, 1e-5);
}

// Rotate-half on HF-permuted lanes equals interleaved rope on the original
// lanes, permuted the same way: the identity the HF importer relies on.
TEST(Kernels, RopeStylesAgreeUnderHfPermutation) {
  int64_t M = 4, heads = 3, hd = 8, width = heads * hd;
  auto x = randomVector(M * width, 6);
  auto permute = [&](const std::vector<float> &in) {
    std::vector<float> out(in.size());
    for (int64_t m = 0; m < M; ++m)
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t j = 0; j < hd / 2; ++j)
          for (int64_t t = 0; t < 2; ++t)
            out[m * width + h * hd + t * hd / 2 + j] = in[m * width + h * hd + 2 * j + t];
    return out;
  };
  std::vector<float> inter(M * width), half(M * width);
  kernels::rope(x.data(), M, width, hd, 17, 10000.0f, true, nullptr, inter.data());
  auto px = permute(x);
  kernels::rope(px.data(), M, width, hd, 17, 10000.0f, false, nullptr, half.data());
  EXPECT_EQ(permute(inter), half);
  // Position 0 is the identity.
  kernels::rope(x.data(), 1, width, hd, 0, 10000.0f, true, nullptr, inter.data());
  for (int64_t i = 0; i < width; ++i)
    EXPECT_EQ(inter[i], x[i]);
}

// A window of 0 is full causal attention; 3 makes rows 3.. see only their
// last three positions (Mistral's sliding window).
class KernelsAttention : public ::testing::TestWithParam<int64_t> {};

TEST_P(KernelsAttention, MatchesNaiveGqaAndIncrementalDecode) {
  int64_t T = 6, H = 4, KVH = 2, hd = 8, maxSeq = 16, window = GetParam();
  int64_t qw = H * hd, kw = KVH * hd;
  auto q = randomVector(T * qw, 7), k = randomVector(T * kw, 8), v = randomVector(T * kw, 9);
  float scale = 1.0f / std::sqrt(float(hd));
  std::vector<double> ref(T * qw);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h) {
      int64_t g = h / (H / KVH), first = window ? std::max<int64_t>(0, t - window + 1) : 0;
      std::vector<double> s(t + 1);
      double mx = -1e300, sum = 0;
      for (int64_t u = first; u <= t; ++u) {
        double d = 0;
        for (int64_t i = 0; i < hd; ++i)
          d += double(q[t * qw + h * hd + i]) * k[u * kw + g * hd + i];
        s[u] = d * scale;
        mx = std::max(mx, s[u]);
      }
      for (int64_t u = first; u <= t; ++u)
        sum += (s[u] = std::exp(s[u] - mx));
      for (int64_t i = 0; i < hd; ++i) {
        double o = 0;
        for (int64_t u = first; u <= t; ++u)
          o += s[u] / sum * v[u * kw + g * hd + i];
        ref[t * qw + h * hd + i] = o;
      }
    }
  ThreadPool pool(2);
  std::vector<float> keys(maxSeq * kw), values(maxSeq * kw), out(T * qw);
  kernels::attention(pool, q.data(), k.data(), v.data(), T, 0,
                     {keys.data(), values.data(), maxSeq}, H, KVH, hd, scale, window,
                     out.data());
  expectNear(out, ref, 1e-5);

  // Prefill of 2 rows, then one row at a time, equals the single call.
  std::vector<float> keys2(maxSeq * kw), values2(maxSeq * kw), out2(T * qw);
  kernels::KVSlice cache{keys2.data(), values2.data(), maxSeq};
  kernels::attention(pool, q.data(), k.data(), v.data(), 2, 0, cache, H, KVH, hd, scale, window,
                     out2.data());
  for (int64_t t = 2; t < T; ++t)
    kernels::attention(pool, q.data() + t * qw, k.data() + t * kw, v.data() + t * kw, 1, t,
                       cache, H, KVH, hd, scale, window, out2.data() + t * qw);
  EXPECT_EQ(out, out2);
}

INSTANTIATE_TEST_SUITE_P(Windows, KernelsAttention, ::testing::Values(0, 3));

TEST(Kernels, Activations) {
  std::vector<float> x = {-3.0f, -0.5f, 0.0f, 0.5f, 3.0f}, up = {1, 2, 3, 4, 5};
  std::vector<float> s(5), g(5), gt(5), sw(5);
  kernels::silu(x.data(), 5, s.data());
  kernels::gelu(x.data(), 5, false, g.data());
  kernels::gelu(x.data(), 5, true, gt.data());
  kernels::swiglu(x.data(), up.data(), 5, sw.data());
  for (int i = 0; i < 5; ++i) {
    double v = x[i];
    EXPECT_NEAR(s[i], v / (1 + std::exp(-v)), 1e-6);
    EXPECT_NEAR(g[i], 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))), 1e-6);
    EXPECT_NEAR(gt[i], g[i], 2e-3); // the tanh form approximates erf closely
    EXPECT_NEAR(sw[i], s[i] * up[i], 1e-6);
  }
}

TEST(Kernels, MatMul) {
  int64_t M = 3, K = 4, N = 5;
  auto a = randomVector(M * K, 10), b = randomVector(K * N, 11);
  ThreadPool pool(2);
  std::vector<float> y(M * N);
  kernels::matmul(pool, a.data(), M, K, b.data(), N, y.data());
  std::vector<double> ref(M * N, 0.0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k)
        ref[m * N + n] += double(a[m * K + k]) * b[k * N + n];
  expectNear(y, ref, 1e-5);
}

} // namespace
