//===- FastLinear.cpp - dense products on the runtime's prefill kernels ----===//
#include "qopt/Exec/FastLinear.h"

#include "qrt_dense.h"

#include <algorithm>
#include <vector>

namespace qopt::kernels {

namespace {
// Rows per task: the kernels' panel height, so that no panel is cut.
constexpr int64_t kRowBlock = 16;

/// y[t * N + r] = x[t] . w[r] for all M tokens and N rows, rows split
/// over the pool in whole panels.
void denseRows(ThreadPool &pool, const float *x, int64_t M, int64_t K, const float *w,
               int64_t N, float *y) {
  int64_t blocks = (N + kRowBlock - 1) / kRowBlock;
  pool.parallelFor(blocks, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> scratch(qrt_dense_scratch_floats(K));
    qrt_dense_rows(x, M, K, w, N, begin * kRowBlock, std::min(N, end * kRowBlock), y,
                   scratch.data());
  });
}
} // namespace

void fastLinear(ThreadPool &pool, const float *x, int64_t M, int64_t K, const float *w,
                int64_t N, const float *bias, float *y) {
  denseRows(pool, x, M, K, w, N, y);
  if (bias)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n)
        y[m * N + n] += bias[n];
}

void accumulateGram(ThreadPool &pool, const float *x, int64_t rows, int64_t cols, double *xtx) {
  // X^T X [i][j] = column i . column j: the columns as "tokens" and as
  // "weight rows" of one dense product.
  std::vector<float> xt(size_t(rows * cols)), gram(size_t(cols * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      xt[size_t(c * rows + r)] = x[r * cols + c];
  denseRows(pool, xt.data(), cols, rows, xt.data(), cols, gram.data());
  pool.parallelFor(cols, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin * cols; i < end * cols; ++i)
      xtx[i] += double(gram[size_t(i)]);
  });
}

const char *fastLinearFamily() { return qrt_dense_family(); }

} // namespace qopt::kernels
