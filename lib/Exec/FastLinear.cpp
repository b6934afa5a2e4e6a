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
  // "weight rows" of one dense product, a band of kGramBand columns at a
  // time against the columns up to the band's end (the lower triangle and
  // the band's diagonal block: half the products of the full square).
  // The buffers live on: a 5632-wide Gram is called once per sample, and a
  // fresh 127 MB vector each time cost more in page faults and zeroing
  // than the products themselves.
  constexpr int64_t kGramBand = 512;
  thread_local std::vector<float> xtKept, bandKept;
  // (named here: the pool's workers would see their own thread_locals)
  std::vector<float> &xt = xtKept, &band = bandKept;
  if (xt.size() < size_t(rows * cols))
    xt.resize(size_t(rows * cols));
  if (band.size() < size_t(std::min(cols, kGramBand) * cols))
    band.resize(size_t(std::min(cols, kGramBand) * cols));
  pool.parallelFor(cols, 64, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c)
      for (int64_t r = 0; r < rows; ++r)
        xt[size_t(c * rows + r)] = x[r * cols + c];
  });
  for (int64_t i0 = 0; i0 < cols; i0 += kGramBand) {
    int64_t i1 = std::min(cols, i0 + kGramBand);
    denseRows(pool, xt.data() + i0 * rows, i1 - i0, rows, xt.data(), i1, band.data());
    pool.parallelFor(i1 - i0, 16, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        double *out = xtx + (i0 + t) * cols;
        const float *in = band.data() + t * i1;
        for (int64_t j = 0; j <= i0 + t; ++j)
          out[j] += double(in[j]);
      }
    });
  }
}

const char *fastLinearFamily() { return qrt_dense_family(); }

} // namespace qopt::kernels
