//===- GPTQSolver.cpp - the GPTQ algorithm on one weight matrix ------------===//
#include "passes/GPTQ/GPTQSolver.h"

#include "passes/GPTQ/DenseKernels.h"
#include "qopt/Support/Error.h"
#include "qopt/Support/ThreadPool.h"

#include <Eigen/Dense>

#include <algorithm>
#include <numeric>

namespace qopt::gptq {

using Eigen::MatrixXd;

namespace {

/// Rows per task: fixed, so that results do not depend on the thread count.
constexpr int64_t kRowChunk = 128;

} // namespace

llvm::Expected<Factorization> factorize(const std::vector<double> &hIn, int64_t cols,
                                        const Options &o, ThreadPool *pool) {
  if (cols <= 0 || int64_t(hIn.size()) != cols * cols)
    return makeError("GPTQ Hessian is " + llvm::Twine(hIn.size()) + " values, expected " +
                     llvm::Twine(cols) + "^2");
  if (o.damp <= 0)
    return makeError("GPTQ needs damp > 0");
  Factorization f;
  f.cols = cols;
  // Channels never active carry no information: their weight is fixed to
  // zero and their diagonal to one.
  std::vector<double> diag(static_cast<size_t>(cols));
  f.dead.assign(size_t(cols), false);
  for (int64_t c = 0; c < cols; ++c) {
    diag[c] = hIn[size_t(c * cols + c)];
    if (diag[c] == 0) {
      f.dead[c] = true;
      diag[c] = 1;
    }
  }
  f.perm.resize(size_t(cols));
  std::iota(f.perm.begin(), f.perm.end(), 0);
  if (o.actOrder)
    std::stable_sort(f.perm.begin(), f.perm.end(),
                     [&](int64_t a, int64_t b) { return diag[a] > diag[b]; });
  f.position.resize(size_t(cols));
  for (int64_t i = 0; i < cols; ++i)
    f.position[f.perm[i]] = i;
  double meanDiag = std::accumulate(diag.begin(), diag.end(), 0.0) / double(cols);

  // The upper factor U of H^-1 = U^T U without forming H^-1: with P the
  // reversal, P H P = L L^T gives H^-1 = (P L^-1 P)^T (P L^-1 P), and
  // P L^-1 P is upper triangular. One Cholesky and one triangular inverse
  // (2n^3/3 flops) instead of an inverse and a second Cholesky (~3n^3).
  auto reversedEntry = [&](int64_t i, int64_t j) {
    int64_t a = f.perm[cols - 1 - i], b = f.perm[cols - 1 - j];
    if (a == b)
      return diag[a];
    return hIn[size_t(a * cols + b)];
  };
  const dense::Family &kernels = dense::selected();
  f.u.resize(size_t(cols * cols));
  double damp = o.damp;
  bool factored = false;
  for (int attempt = 0; attempt <= o.maxDampRetries; ++attempt, damp *= 10) {
    for (int64_t j = 0; j < cols; ++j)
      for (int64_t i = j; i < cols; ++i) // the lower triangle is what is read
        f.u[size_t(i + j * cols)] = reversedEntry(i, j) + (i == j ? damp * meanDiag : 0.0);
    if (kernels.choleskyLower(f.u.data(), cols, cols)) {
      f.dampUsed = damp;
      f.dampRetries = attempt;
      factored = true;
      break;
    }
  }
  if (!factored)
    return makeError("the Hessian stays indefinite even with dampening " +
                     std::to_string(damp / 10) + " of its mean diagonal");
  dense::invertLower(kernels, f.u.data(), cols, pool);
  // (P X P)[i, j] = X[n-1-i, n-1-j]: in column-major storage, the whole
  // array reversed.
  std::reverse(f.u.begin(), f.u.end());
  return f;
}

llvm::Expected<Result> quantize(const qmath::Scheme &scheme, const float *wIn, int64_t rows,
                                int64_t cols, const Factorization &f, const Options &o,
                                ThreadPool *pool) {
  if (f.cols != cols)
    return makeError("GPTQ factorization is for " + llvm::Twine(f.cols) + " columns, the weight has " +
                     llvm::Twine(cols));
  if (o.blockSize <= 0)
    return makeError("GPTQ needs block-size > 0");
  Result result;
  result.dampUsed = f.dampUsed;
  result.dampRetries = f.dampRetries;
  qmath::QuantizedWeight &q = result.weight;
  q = qmath::QuantizedWeight(scheme, rows, cols);
  const qmath::GroupLayout layout = q.layout();
  Eigen::Map<const MatrixXd> u(f.u.data(), cols, cols);
  const dense::Family &kernels = dense::selected();

  auto weightAt = [&](int64_t r, int64_t c) { return f.dead[c] ? 0.0 : double(wIn[r * cols + c]); };
  auto paramsFrom = [&](const MatrixXd &m, int64_t row, llvm::ArrayRef<int64_t> columns) {
    std::vector<float> values;
    values.reserve(columns.size());
    for (int64_t c : columns)
      values.push_back(float(m(row, c)));
    int64_t n = int64_t(values.size());
    float clip = o.clipSearch ? qmath::searchClip(scheme, values.data(), n) : 1.0f;
    return qmath::chooseParams(scheme, values.data(), n, 1, clip);
  };
  auto groupColumns = [&](int64_t g, bool permuted) {
    std::vector<int64_t> columns;
    for (int64_t c = layout.groupStart(g); c < layout.groupEnd(g); ++c)
      columns.push_back(permuted ? f.position[c] : c);
    return columns;
  };
  // Per-tensor, per-channel and static groups: parameters from W up front
  // (the reference's find_params before the loop, or static_groups).
  bool upFront = layout.perTensor || scheme.groupSize == 0 || o.staticGroups;
  if (layout.perTensor) {
    std::vector<float> all(size_t(rows * cols));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        all[r * cols + c] = float(weightAt(r, c));
    q.params[0] = qmath::chooseParams(scheme, all.data(), rows * cols);
  }

  // One chunk of rows through Algorithm 1: rows never interact.
  auto solveRows = [&](int64_t r0, int64_t r1) {
    int64_t m = r1 - r0;
    MatrixXd w(m, cols); // in solve order
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t r = 0; r < m; ++r)
        w(r, i) = weightAt(r0 + r, f.perm[i]);
    if (upFront && !layout.perTensor)
      for (int64_t r = 0; r < m; ++r)
        for (int64_t g = 0; g < layout.perRow; ++g)
          q.params[(r0 + r) * layout.perRow + g] = paramsFrom(w, r, groupColumns(g, true));
    std::vector<bool> groupReady(size_t(layout.perRow), upFront);
    MatrixXd err1(m, o.blockSize), w1;
    for (int64_t i1 = 0; i1 < cols; i1 += o.blockSize) {
      int64_t i2 = std::min(i1 + o.blockSize, cols), count = i2 - i1;
      // The block is updated column by column in a copy; W itself only
      // block by block, and group parameters are read from W (as the
      // reference's find_params on W, not W1, does).
      w1 = w.middleCols(i1, count);
      for (int64_t i = 0; i < count; ++i) {
        int64_t col = f.perm[i1 + i];
        int64_t g = layout.groupOf(col);
        if (!groupReady[g]) {
          // First column of this group: its parameters come from the
          // group's current weights (updated up to the last block).
          std::vector<int64_t> positions = groupColumns(g, true);
          for (int64_t r = 0; r < m; ++r)
            q.params[(r0 + r) * layout.perRow + g] = paramsFrom(w, r, positions);
          groupReady[g] = true;
        }
        double d = u(i1 + i, i1 + i);
        for (int64_t r = 0; r < m; ++r) {
          const qmath::GroupParams &p = q.params[layout.index(r0 + r, col)];
          double value = w1(r, i);
          int code = qmath::quantizeValue(scheme, p, float(value));
          q.codes[(r0 + r) * cols + col] = uint8_t(code);
          err1(r, i) = (value - qmath::dequantizeValue(scheme, p, code)) / d;
        }
        if (i + 1 < count)
          w1.rightCols(count - i - 1).noalias() -=
              err1.col(i) * u.block(i1 + i, i1 + i + 1, 1, count - i - 1);
      }
      if (i2 < cols) // the lazy batch update of the columns after the block
        kernels.subtractProduct(&w(0, i2), m, err1.data(), m, &f.u[size_t(i1 + i2 * cols)], cols,
                                m, cols - i2, count);
    }
  };
  forFixedPieces(pool, rows, kRowChunk, solveRows);
  return result;
}

llvm::Expected<Result> quantize(const qmath::Scheme &scheme, const float *w, int64_t rows,
                                int64_t cols, const std::vector<double> &h, const Options &o,
                                ThreadPool *pool) {
  if (o.blockSize <= 0)
    return makeError("GPTQ needs damp > 0 and block-size > 0");
  auto f = factorize(h, cols, o, pool);
  if (!f)
    return f.takeError();
  return quantize(scheme, w, rows, cols, *f, o, pool);
}

} // namespace qopt::gptq
