// The runtime's int8-activation linear kernels (runtime/cpu/q8_kernels.c)
// against a double-precision evaluation of the same math written here from
// the definitions: activations quantized per block of 32 (d = absmax / 127,
// q = round-half-even(x / d)), weights (c - z) * s per group. The integer
// part is exact, so every kernel family must agree with it to float
// rounding of the final combination, for 4-bit blocks and byte codes, every
// group layout, whole and partial 4-block superblocks, decode and prefill.
#include "KernelFamilies.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace {

struct Case {
  int kind;      // QRTW_Q4 or QRTW_CODES
  int bits;
  int64_t cols;
  int64_t group; // 0 per-tensor, -1 per-channel, else columns per group
};

std::string name(const Case &c) {
  return std::string(c.kind == QRTW_Q4 ? "q4" : "codes") + " bits " + std::to_string(c.bits) +
         " cols " + std::to_string(c.cols) + " group " + std::to_string(c.group);
}

uint16_t halfOf(float f) { // f16 bits for a value exactly representable
  for (uint32_t h = 0; h < 0x7C00; ++h)
    if (qrt_f16_to_f32(uint16_t(h)) == f)
      return uint16_t(h);
  return 0;
}

struct Weight {
  qrtw_slot slot{};
  std::vector<uint8_t> codes, data, zeros;
  std::vector<uint16_t> scales;
  qrt_weight w{};
};

Weight makeWeight(const Case &c, int64_t rows, std::mt19937 &rng) {
  Weight W;
  qrtw_slot &s = W.slot;
  s.kind = uint32_t(c.kind);
  s.format = QRTW_FORMAT_INT;
  s.bits = uint32_t(c.bits);
  s.rows = rows;
  s.cols = c.cols;
  s.group_width = c.group > 0 ? c.group : c.cols;
  s.groups_per_row = c.group == 0 ? 0 : c.group < 0 ? 1 : c.cols / c.group;
  int64_t groups = s.groups_per_row ? rows * s.groups_per_row : 1;
  std::uniform_int_distribution<int> code(0, (1 << c.bits) - 1);
  std::uniform_int_distribution<int> scaleStep(1, 64);
  W.codes.resize(size_t(rows * c.cols));
  for (auto &v : W.codes)
    v = uint8_t(code(rng));
  for (int64_t g = 0; g < groups; ++g) {
    W.scales.push_back(halfOf(float(scaleStep(rng)) / 1024.0f));
    W.zeros.push_back(uint8_t(code(rng)));
  }
  if (c.kind == QRTW_Q4) { // 16 bytes per block: byte j = c[j] | c[j+16] << 4
    W.data.assign(size_t(rows * c.cols / 2), 0);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t col = 0; col < c.cols; ++col) {
        int64_t block = col / 32, j = col % 32;
        uint8_t &byte = W.data[size_t(r * c.cols / 2 + block * 16 + j % 16)];
        byte |= uint8_t(W.codes[size_t(r * c.cols + col)] << (j < 16 ? 0 : 4));
      }
    W.w.row_bytes = c.cols / 2;
  } else {
    W.data = W.codes;
    W.w.row_bytes = c.cols;
  }
  W.w.slot = &W.slot;
  W.w.data = W.data.data();
  W.w.scales = W.scales.data();
  W.w.zeros = W.zeros.data();
  return W;
}

// The definition, in double: quantize, then sum (c - z) * s * q * d.
// `magnitude` gets, per output, the size of the float terms a kernel
// combines (sum |c s q d| plus the zero-point terms |z s sum q d|): float
// rounding is relative to those, not to the (possibly much smaller) result.
std::vector<double> reference(const Weight &W, const std::vector<float> &x, int64_t n,
                              std::vector<double> &magnitude) {
  const qrtw_slot &s = W.slot;
  int64_t K = s.cols;
  std::vector<double> y(size_t(n * s.rows));
  magnitude.assign(y.size(), 0.0);
  for (int64_t m = 0; m < n; ++m) {
    std::vector<double> xq(static_cast<size_t>(K));
    for (int64_t b = 0; b < K / 32; ++b) {
      float amax = 0;
      for (int j = 0; j < 32; ++j)
        amax = std::max(amax, std::fabs(x[size_t(m * K + b * 32 + j)]));
      float d = amax / 127.0f, inv = amax > 0 ? 127.0f / amax : 0.0f;
      for (int j = 0; j < 32; ++j) {
        float q = std::nearbyint(x[size_t(m * K + b * 32 + j)] * inv);
        xq[size_t(b * 32 + j)] = double(std::max(-127.0f, std::min(127.0f, q))) * d;
      }
    }
    for (int64_t r = 0; r < s.rows; ++r) {
      double acc = 0, mag = 0, zeroSum = 0;
      for (int64_t col = 0; col < K; ++col) {
        int64_t g = s.groups_per_row ? r * s.groups_per_row + col / s.group_width : 0;
        double scale = qrt_f16_to_f32(W.scales[size_t(g)]), code = W.codes[size_t(r * K + col)];
        acc += (code - W.zeros[size_t(g)]) * scale * xq[size_t(col)];
        mag += std::fabs(code * scale * xq[size_t(col)]);
        zeroSum += W.zeros[size_t(g)] * scale * xq[size_t(col)];
      }
      y[size_t(m * s.rows + r)] = acc;
      magnitude[size_t(m * s.rows + r)] = mag + std::fabs(zeroSum);
    }
  }
  return y;
}

TEST(RuntimeQ8Kernels, EveryFamilyMatchesTheDefinition) {
  std::vector<Case> cases;
  for (int64_t cols : {64, 288, 768})
    for (int64_t group : {0, -1, 32, 64, 128}) {
      if (group > 0 && cols % group)
        continue;
      cases.push_back({QRTW_Q4, 4, cols, group});
      for (int bits : {2, 3, 5, 8})
        cases.push_back({QRTW_CODES, bits, cols, group});
    }
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  int checkedFamilies = 0;
  for (const Case &c : cases) {
    Weight W = makeWeight(c, 37, rng);
    ASSERT_TRUE(qrt_q8_supported(&W.slot)) << name(c);
    for (int64_t n : {1, 3, 6}) { // 6: a whole prefill tile of 4 and a partial one
      std::vector<float> x(size_t(n * c.cols));
      for (auto &v : x)
        v = normal(rng);
      x[5] = 40.0f; // an outlier only affects its own block's scale
      std::vector<int8_t> q(x.size());
      std::vector<float> d(x.size() / 32), sums(size_t(n * (c.cols / 32 + 1)));
      qrt_q8_activations a;
      qrt_q8_quantize(&W.slot, x.data(), n, q.data(), d.data(), sums.data(), &a);
      std::vector<double> magnitude;
      std::vector<double> ref = reference(W, x, n, magnitude);
      for (const qrt_kernels *k : {&qrt_kernels_portable, &qrt_kernels_avx2, &qrt_kernels_avx512}) {
        if (!hasFamily(k))
          continue;
        ++checkedFamilies;
        std::vector<float> y(ref.size(), NAN), scratch(size_t(c.cols));
        k->linear_q8_rows(&W.w, &a, n, 0, 37, y.data(), scratch.data());
        for (size_t i = 0; i < y.size(); ++i)
          ASSERT_NEAR(y[i], ref[i], 1e-6 * magnitude[i] + 1e-6)
              << name(c) << " n " << n << " family " << k->name << " at " << i;
        // Prefill (several tokens) equals decode (one token at a time) to
        // the bit, whatever path each takes.
        for (int64_t m = 0; n > 1 && m < n; ++m) {
          qrt_q8_activations one = a;
          one.q += m * c.cols;
          one.d += m * (c.cols / 32);
          one.group_sum += m * a.groups;
          std::vector<float> y1(37, NAN);
          k->linear_q8_rows(&W.w, &one, 1, 0, 37, y1.data(), scratch.data());
          for (int64_t r = 0; r < 37; ++r)
            ASSERT_EQ(y1[size_t(r)], y[size_t(m * 37 + r)])
                << name(c) << " token " << m << " family " << k->name << " row " << r;
        }
      }
    }
  }
  EXPECT_GE(checkedFamilies, int(cases.size()) * 2);
}

// The AVX-512 family's row tiles (tiled_pack.c + q8_tiled_kernels.c): the
// same definition, row counts that leave a partial tile, row ranges that
// cut tiles (as threads split fused weights), token counts below, at and
// past a prefill tile of 8; decode equals prefill to the bit.
TEST(RuntimeQ8Kernels, TiledRowsMatchTheDefinition) {
  if (!hasFamily(&qrt_kernels_avx512))
    GTEST_SKIP() << "this CPU lacks AVX-512 VNNI; the tiled kernel is not built for others";
  ASSERT_NE(qrt_kernels_avx512.linear_q8_tiled, nullptr);
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t rows = 45; // two whole tiles and 13 rows
  int checked = 0;
  for (int64_t cols : {64, 160, 768})
    for (int64_t group : {0, -1, 32, 64}) {
      if (group > 0 && cols % group)
        continue;
      for (Case c : {Case{QRTW_Q4, 4, cols, group}, Case{QRTW_CODES, 3, cols, group},
                     Case{QRTW_CODES, 8, cols, group}})
        for (bool symmetric : {false, true}) {
          Weight W = makeWeight(c, rows, rng);
          if (symmetric) // one zero point for all groups: the tiles keep it alone
            std::fill(W.zeros.begin(), W.zeros.end(), uint8_t(1 << (c.bits - 1)));
          ASSERT_TRUE(qrt_tiled_eligible(&W.w)) << name(c);
          qrt_tiled_weight tiles;
          ASSERT_EQ(qrt_tiled_pack(&W.w, &tiles), 0);
          W.w.tiled = &tiles;
          ASSERT_EQ(tiles.zeros == nullptr, symmetric || group == 0) << name(c);
          for (int64_t n : {1, 5, 8, 11}) {
            std::vector<float> x(size_t(n * cols));
            for (auto &v : x)
              v = normal(rng);
            std::vector<int8_t> q(x.size());
            std::vector<float> d(x.size() / 32), sums(size_t(n * (cols / 32 + 1)));
            qrt_q8_activations a;
            qrt_q8_quantize(&W.slot, x.data(), n, q.data(), d.data(), sums.data(), &a);
            std::vector<double> magnitude;
            std::vector<double> ref = reference(W, x, n, magnitude);
            std::vector<float> y(ref.size(), NAN);
            for (auto [r0, r1] : {std::pair<int64_t, int64_t>{0, 7}, {7, 21}, {21, 45}})
              qrt_kernels_avx512.linear_q8_tiled(&W.w, &a, n, r0, r1, y.data());
            for (size_t i = 0; i < y.size(); ++i)
              ASSERT_NEAR(y[i], ref[i], 1e-6 * magnitude[i] + 1e-6)
                  << name(c) << " n " << n << " at " << i;
            for (int64_t m = 0; n > 1 && m < n; ++m) {
              qrt_q8_activations one = a;
              one.q += m * cols;
              one.d += m * (cols / 32);
              one.group_sum += m * a.groups;
              std::vector<float> y1(size_t(rows), NAN);
              qrt_kernels_avx512.linear_q8_tiled(&W.w, &one, 1, 0, rows, y1.data());
              for (int64_t r = 0; r < rows; ++r)
                ASSERT_EQ(y1[size_t(r)], y[size_t(m * rows + r)])
                    << name(c) << " token " << m << " row " << r;
            }
            ++checked;
          }
          qrt_tiled_free(&tiles);
        }
    }
  EXPECT_EQ(checked, 2 * 3 * 11 * 4);
}

// W8A8 on the same tiles: per-token int8 activations, an exact int32 sum
// per group, y = xscale * sum_g s_g * (sum (c - z) q). Checked against that
// definition in double and, decode against prefill, to the bit.
TEST(RuntimeQ8Kernels, TiledW8A8MatchesTheDefinition) {
  if (!hasFamily(&qrt_kernels_avx512))
    GTEST_SKIP() << "this CPU lacks AVX-512 VNNI; the tiled kernel is not built for others";
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> code(-127, 127);
  const int64_t rows = 37;
  int checked = 0;
  for (int64_t cols : {64, 768})
    for (int64_t group : {-1, 0, 64})
      for (bool symmetric : {false, true}) {
        Case c{QRTW_CODES, 8, cols, group};
        Weight W = makeWeight(c, rows, rng);
        if (symmetric)
          std::fill(W.zeros.begin(), W.zeros.end(), uint8_t(128));
        qrt_tiled_weight tiles;
        ASSERT_EQ(qrt_tiled_pack(&W.w, &tiles), 0);
        W.w.tiled = &tiles;
        for (int64_t n : {1, 9}) {
          std::vector<int8_t> xq(size_t(n * cols));
          for (auto &v : xq)
            v = int8_t(code(rng));
          std::vector<float> xscale(static_cast<size_t>(n));
          for (auto &v : xscale)
            v = float(code(rng) + 128) / 4096.0f;
          std::vector<float> y(size_t(n * rows), NAN);
          qrt_kernels_avx512.w8a8_tiled(&W.w, xq.data(), xscale.data(), n, 0, 20, y.data());
          qrt_kernels_avx512.w8a8_tiled(&W.w, xq.data(), xscale.data(), n, 20, rows, y.data());
          for (int64_t m = 0; m < n; ++m)
            for (int64_t r = 0; r < rows; ++r) {
              double ref = 0, mag = 0;
              for (int64_t col = 0; col < cols; ++col) {
                int64_t g = W.slot.groups_per_row
                                ? r * W.slot.groups_per_row + col / W.slot.group_width
                                : 0;
                double term = (double(W.codes[size_t(r * cols + col)]) - W.zeros[size_t(g)]) *
                              qrt_f16_to_f32(W.scales[size_t(g)]) * xq[size_t(m * cols + col)];
                ref += term;
                mag += std::fabs(term);
              }
              ref *= xscale[size_t(m)];
              ASSERT_NEAR(y[size_t(m * rows + r)], ref, 1e-6 * mag * xscale[size_t(m)] + 1e-6)
                  << name(c) << " n " << n << " token " << m << " row " << r;
              if (n > 1) {
                std::vector<float> y1(size_t(rows), NAN);
                qrt_kernels_avx512.w8a8_tiled(&W.w, xq.data() + m * cols, &xscale[size_t(m)], 1, 0,
                                              rows, y1.data());
                ASSERT_EQ(y1[size_t(r)], y[size_t(m * rows + r)]) << name(c) << " row " << r;
              }
            }
          ++checked;
        }
        qrt_tiled_free(&tiles);
      }
  EXPECT_EQ(checked, 2 * 3 * 2 * 2);
}

TEST(RuntimeQ8Kernels, QuantizedBlocksRoundTrip) {
  qrtw_slot s{};
  s.kind = QRTW_CODES;
  s.bits = 8;
  s.cols = 96;
  s.groups_per_row = 1;
  s.group_width = 96;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> x(96);
  for (auto &v : x)
    v = normal(rng);
  for (int j = 64; j < 96; ++j)
    x[size_t(j)] = 0.0f; // an all-zero block gets scale 0 and codes 0
  std::vector<int8_t> q(96);
  std::vector<float> d(3), sums(1);
  qrt_q8_activations a;
  qrt_q8_quantize(&s, x.data(), 1, q.data(), d.data(), sums.data(), &a);
  double expectSum = 0;
  for (int b = 0; b < 3; ++b) {
    int maxCode = 0;
    for (int j = 0; j < 32; ++j) {
      int i = b * 32 + j;
      EXPECT_LE(std::fabs(q[size_t(i)] * d[size_t(b)] - x[size_t(i)]), d[size_t(b)] * 0.5001f);
      maxCode = std::max(maxCode, std::abs(int(q[size_t(i)])));
      expectSum += double(d[size_t(b)]) * q[size_t(i)];
    }
    EXPECT_EQ(maxCode, b < 2 ? 127 : 0) << "block " << b;
  }
  EXPECT_NEAR(sums[0], expectSum, 1e-4);
  // The codes are exactly round-half-even(x * 127 / absmax), clamped: a
  // block with absmax 127 (scale 1) holds ties that must go to even.
  std::vector<float> ties = {127.0f, 2.5f, -3.5f,       0.5f, -0.5f, 1.5f, 126.5f, -126.5f,
                             -2.5f,  3.5f, 0.49999997f, 4.5f, -4.5f, 5.5f, 6.5f,   7.5f};
  while (ties.size() < 96) // the rest of the row: two more blocks
    ties.push_back(normal(rng));
  qrt_q8_quantize(&s, ties.data(), 1, q.data(), d.data(), sums.data(), &a);
  ASSERT_EQ(d[0], 1.0f);
  for (int j = 0; j < 32; ++j) {
    float want = std::max(-127.0f, std::min(127.0f, std::nearbyint(ties[size_t(j)])));
    EXPECT_EQ(q[size_t(j)], int8_t(want)) << "value " << ties[size_t(j)];
  }
  // Not supported: NF4, outlier columns, ragged blocks.
  s.format = QRTW_FORMAT_NF4;
  EXPECT_FALSE(qrt_q8_supported(&s));
  s.format = QRTW_FORMAT_INT;
  s.cols = 172;
  s.group_width = 172;
  EXPECT_FALSE(qrt_q8_supported(&s));
}

} // namespace
