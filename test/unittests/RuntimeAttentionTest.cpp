// The runtime's attention kernels (runtime/cpu/attention_kernels.c) against
// a double-precision evaluation of the definition written here: for the
// query at position p, softmax over t <= p of (q . k_t) * scale, then the
// probability-weighted sum of v_t. Every family's one-query kernel and the
// AVX-512 block of queries (prefill) are checked, with f32 and f16 caches,
// GQA-like strides and blocks that start mid-sequence.
#include "KernelFamilies.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace {

struct Cache {
  int64_t positions, stride, head_dim;
  std::vector<float> keys, values;     // f32, the values the kernels see
  std::vector<uint16_t> keys16, values16;
};

// Keys and values of one head at offset 0 of rows `stride` wide. With f16,
// the f32 copies hold the halves' exact values, so the definition sees what
// the kernel sees.
Cache makeCache(int64_t positions, int64_t stride, int64_t head_dim, bool f16, std::mt19937 &rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Cache c{positions, stride, head_dim, {}, {}, {}, {}};
  c.keys.resize(size_t(positions * stride));
  c.values.resize(c.keys.size());
  c.keys16.resize(c.keys.size());
  c.values16.resize(c.keys.size());
  for (size_t i = 0; i < c.keys.size(); ++i) {
    // a few large keys make the softmax peaked, as real attention often is
    c.keys[i] = normal(rng) * (i % 97 == 0 ? 4.0f : 1.0f);
    c.values[i] = normal(rng);
    if (f16) {
      c.keys16[i] = qrt_f32_to_f16(c.keys[i]);
      c.values16[i] = qrt_f32_to_f16(c.values[i]);
      c.keys[i] = qrt_f16_to_f32(c.keys16[i]);
      c.values[i] = qrt_f16_to_f32(c.values16[i]);
    }
  }
  return c;
}

std::vector<double> definition(const float *q, const Cache &c, int64_t last, float scale) {
  int64_t d = c.head_dim;
  std::vector<double> scores(size_t(last + 1)), out(size_t(d), 0.0);
  double maxScore = -INFINITY, sum = 0;
  for (int64_t t = 0; t <= last; ++t) {
    double s = 0;
    for (int64_t i = 0; i < d; ++i)
      s += double(q[i]) * c.keys[size_t(t * c.stride + i)];
    scores[size_t(t)] = s * scale;
    maxScore = std::max(maxScore, scores[size_t(t)]);
  }
  for (double &s : scores)
    sum += (s = std::exp(s - maxScore));
  for (int64_t t = 0; t <= last; ++t)
    for (int64_t i = 0; i < d; ++i)
      out[size_t(i)] += scores[size_t(t)] / sum * c.values[size_t(t * c.stride + i)];
  return out;
}

void expectNear(const float *got, const std::vector<double> &want, const char *what) {
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 2e-5 * (1.0 + std::fabs(want[i]))) << what << " element " << i;
}

TEST(RuntimeAttention, OneQueryMatchesTheDefinition) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const qrt_kernels *k : {&qrt_kernels_portable, &qrt_kernels_avx2, &qrt_kernels_avx512}) {
    if (!hasFamily(k))
      continue;
    for (bool f16 : {false, true})
      for (int64_t d : {8, 64, 72, 128}) {
        Cache c = makeCache(50, 3 * d, d, f16, rng);
        std::vector<float> q(static_cast<size_t>(d)), out(q.size()), scratch(q.size() + 50);
        for (float &v : q)
          v = normal(rng);
        for (int64_t last : {0, 1, 17, 49}) {
          const void *keys = f16 ? (const void *)c.keys16.data() : c.keys.data();
          const void *values = f16 ? (const void *)c.values16.data() : c.values.data();
          k->attend_head(q.data(), keys, values, f16, last, c.stride, d, 0.125f, scratch.data(),
                         out.data());
          expectNear(out.data(), definition(q.data(), c, last, 0.125f), k->name);
        }
      }
  }
}

TEST(RuntimeAttention, QueryBlockMatchesTheDefinition) {
  ASSERT_NE(qrt_kernels_avx512.attend_block, nullptr);
  ASSERT_NE(qrt_kernels_avx2.attend_block, nullptr);
  ASSERT_EQ(qrt_kernels_portable.attend_block, nullptr);
  int checked = 0;
  for (const qrt_kernels *k : {&qrt_kernels_avx2, &qrt_kernels_avx512}) {
    if (!hasFamily(k))
      continue;
    ++checked;
    std::mt19937 rng(9);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const int64_t B = QRT_ATTEND_BLOCK;
    for (bool f16 : {false, true})
      for (int64_t d : {64, 128})
        for (int64_t first : {0, 3, 37})
          for (int64_t count : {1, 5, 16}) {
            int64_t positions = first + count, stride = 2 * d, qStride = 3 * d;
            Cache c = makeCache(positions, stride, d, f16, rng);
            std::vector<float> q(size_t(count * qStride)), out(size_t(count * qStride), -7.0f);
            std::vector<float> scratch(size_t(B * (positions + d) + d));
            for (float &v : q)
              v = normal(rng);
            const void *keys = f16 ? (const void *)c.keys16.data() : c.keys.data();
            const void *values = f16 ? (const void *)c.values16.data() : c.values.data();
            k->attend_block(q.data(), qStride, count, keys, values, f16, first, stride, d, 0.125f,
                            scratch.data(), out.data(), qStride);
            for (int64_t b = 0; b < count; ++b) {
              SCOPED_TRACE(std::string(k->name) + " f16 " + std::to_string(f16) + " d " +
                           std::to_string(d) + " first " + std::to_string(first) + " count " +
                           std::to_string(count) + " query " + std::to_string(b));
              expectNear(out.data() + b * qStride,
                         definition(q.data() + b * qStride, c, first + b, 0.125f), "attend_block");
              // only the query's own head_dim columns are written
              for (int64_t i = d; i < qStride; ++i)
                ASSERT_EQ(out[size_t(b * qStride + i)], -7.0f);
            }
          }
  }
  if (checked == 0)
    GTEST_SKIP() << "this CPU has neither AVX2 nor AVX-512; the block kernel is built for those";
}

// Keys and values going into an f16 cache: every family's conversion gives
// the halves of the scalar one (round to nearest even, subnormals, overflow
// to infinity), in whole vectors and in the tail.
TEST(RuntimeAttention, ToF16MatchesTheScalarConversion) {
  std::vector<float> x;
  std::mt19937 rng(17);
  for (float scale : {1e-7f, 1e-5f, 1e-2f, 1.0f, 300.0f, 7e4f}) {
    std::normal_distribution<float> normal(0.0f, scale);
    for (int i = 0; i < 200; ++i)
      x.push_back(normal(rng));
  }
  // exact ties (1 + 2^-11 lies halfway between two halves), the largest
  // half, the first value rounding to infinity, the smallest subnormal and
  // half of it, signed zero, infinity, NaN
  for (float v : {1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f, 65504.0f, 65520.0f, 0x1p-24f, 0x1p-25f,
                  -0.0f, INFINITY, -INFINITY, NAN})
    x.push_back(v);
  x.push_back(0.5f); // 2221 values: a tail after whole vectors
  std::vector<uint16_t> want(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    want[i] = qrt_f32_to_f16(x[i]);
  for (const qrt_kernels *k : {&qrt_kernels_portable, &qrt_kernels_avx2, &qrt_kernels_avx512}) {
    if (!hasFamily(k))
      continue;
    std::vector<uint16_t> got(x.size() + 1, 0xABCD);
    k->to_f16(x.data(), int64_t(x.size()), got.data());
    for (size_t i = 0; i < x.size(); ++i) {
      if (std::isnan(x[i]))
        EXPECT_TRUE((got[i] & 0x7c00) == 0x7c00 && (got[i] & 0x3ff)) << k->name;
      else
        ASSERT_EQ(got[i], want[i]) << k->name << " value " << x[i] << " at " << i;
    }
    EXPECT_EQ(got[x.size()], 0xABCD) << k->name << " wrote past the end";
  }
}

} // namespace
