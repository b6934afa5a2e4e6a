// The runtime's f32-activation linear kernel (qrt_kernels.linear_rows:
// runtime/cpu/linear_kernels.c) against a double-precision evaluation of
// y[m][r] = sum_k W[r][k] x[m][k], for f32 weights and for 8-bit codes
// decoded as (c - z) * s, in every family, with token counts around the
// AVX-512 prefill panel's 8 and row ranges that cut panels. The prefill
// kernel (linear_rows_prefill) must give each token the same bits whatever
// the number of tokens beside it.
#include "KernelFamilies.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace {

struct Linear {
  qrtw_slot slot{};
  std::vector<float> f32;
  std::vector<uint8_t> codes, zeros;
  std::vector<float> scales;
  std::vector<double> dense; // the weight as the definition sees it
  qrt_weight w{};
};

Linear makeLinear(bool f32, int64_t rows, int64_t cols, std::mt19937 &rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> code(0, 255);
  Linear L;
  L.slot.kind = f32 ? QRTW_F32 : QRTW_CODES;
  L.slot.format = QRTW_FORMAT_INT;
  L.slot.bits = 8;
  L.slot.scales_f32 = 1;
  L.slot.rows = rows;
  L.slot.cols = cols;
  L.slot.group_width = cols;
  L.slot.groups_per_row = 1;
  L.dense.resize(size_t(rows * cols));
  if (f32) {
    L.f32.resize(L.dense.size());
    for (size_t i = 0; i < L.f32.size(); ++i)
      L.dense[i] = L.f32[i] = normal(rng);
    L.w.data = L.f32.data();
    L.w.row_bytes = cols * 4;
  } else {
    L.codes.resize(L.dense.size());
    for (int64_t r = 0; r < rows; ++r) {
      L.scales.push_back(0.01f * float(1 + r % 7));
      L.zeros.push_back(uint8_t(code(rng)));
      for (int64_t k = 0; k < cols; ++k) {
        uint8_t c = uint8_t(code(rng));
        L.codes[size_t(r * cols + k)] = c;
        L.dense[size_t(r * cols + k)] = (double(c) - L.zeros.back()) * L.scales.back();
      }
    }
    L.w.data = L.codes.data();
    L.w.scales = L.scales.data();
    L.w.zeros = L.zeros.data();
    L.w.row_bytes = cols;
  }
  L.w.slot = &L.slot;
  return L;
}

TEST(RuntimeLinear, RowsMatchTheDefinition) {
  ASSERT_NE(qrt_kernels_avx512.linear_rows_prefill, nullptr);
  ASSERT_NE(qrt_kernels_avx2.linear_rows_prefill, nullptr);
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (bool f32 : {true, false})
    for (int64_t cols : {48, 100, 768})
      for (int64_t n : {1, 3, 8, 13}) {
        const int64_t rows = 45; // two whole 16-row panels and a partial one
        Linear L = makeLinear(f32, rows, cols, rng);
        std::vector<float> x(size_t(n * cols));
        for (float &v : x)
          v = normal(rng);
        for (const qrt_kernels *k :
             {&qrt_kernels_portable, &qrt_kernels_avx2, &qrt_kernels_avx512}) {
          if (!hasFamily(k))
            continue;
          for (auto rowsFn : {k->linear_rows, k->linear_rows_prefill}) {
            if (!rowsFn)
              continue;
            std::vector<float> y(size_t(n * rows), NAN);
            std::vector<float> scratch(size_t(17 * cols + n + 64));
            // ranges that cut the panels: [0, 5), [5, 37), [37, 45)
            for (auto [r0, r1] : {std::pair<int64_t, int64_t>{0, 5}, {5, 37}, {37, rows}})
              rowsFn(&L.w, x.data(), n, r0, r1, y.data(), scratch.data());
            if (rowsFn == k->linear_rows_prefill) {
              std::vector<float> one(static_cast<size_t>(rows));
              rowsFn(&L.w, x.data() + (n - 1) * cols, 1, 0, rows, one.data(), scratch.data());
              for (int64_t r = 0; r < rows; ++r)
                ASSERT_EQ(one[size_t(r)], y[size_t((n - 1) * rows + r)])
                    << k->name << " prefill: a token alone and among " << n << " differ, row " << r;
            }
            for (int64_t m = 0; m < n; ++m)
              for (int64_t r = 0; r < rows; ++r) {
                double want = 0, magnitude = 0;
                for (int64_t c = 0; c < cols; ++c) {
                  double term = L.dense[size_t(r * cols + c)] * x[size_t(m * cols + c)];
                  want += term;
                  magnitude += std::fabs(term);
                }
                ASSERT_NEAR(y[size_t(m * rows + r)], want, 1e-6 * (1.0 + magnitude))
                    << k->name << (f32 ? " f32" : " codes") << " cols " << cols << " n " << n
                    << " token " << m << " row " << r;
              }
          }
        }
      }
}

} // namespace
