//===- GPTQSolver.cpp - the GPTQ algorithm on one weight matrix ------------===//
#include "passes/GPTQ/GPTQSolver.h"

#include "qopt/Support/Error.h"

#include <Eigen/Dense>

#include <algorithm>
#include <numeric>

namespace qopt::gptq {

using Eigen::MatrixXd;

namespace {

/// The upper Cholesky factor U of (H + damp * mean(diag H) * I)^-1 (so that
/// the inverse is U^T U), raising damp while the factorization fails.
llvm::Expected<MatrixXd> inverseCholeskyUpper(const MatrixXd &h, const Options &o,
                                              Result &result) {
  int64_t n = h.rows();
  double meanDiag = h.diagonal().mean();
  double damp = o.damp;
  for (int attempt = 0; attempt <= o.maxDampRetries; ++attempt, damp *= 10) {
    MatrixXd hd = h;
    hd.diagonal().array() += damp * meanDiag;
    Eigen::LLT<MatrixXd> llt(hd);
    if (llt.info() == Eigen::Success) {
      MatrixXd inv = llt.solve(MatrixXd::Identity(n, n));
      inv = (inv + inv.transpose()) * 0.5;
      Eigen::LLT<MatrixXd> llt2(inv);
      if (llt2.info() == Eigen::Success) {
        result.dampUsed = damp;
        result.dampRetries = attempt;
        return MatrixXd(llt2.matrixL().transpose());
      }
    }
  }
  return makeError("the Hessian stays indefinite even with dampening " + std::to_string(damp / 10) +
                   " of its mean diagonal");
}

} // namespace

llvm::Expected<Result> quantize(const qmath::Scheme &scheme, const float *wIn, int64_t rows,
                                int64_t cols, const std::vector<double> &hIn,
                                const Options &o) {
  if (int64_t(hIn.size()) != cols * cols)
    return makeError("GPTQ Hessian is " + llvm::Twine(hIn.size()) + " values, expected " +
                     llvm::Twine(cols) + "^2");
  if (o.damp <= 0 || o.blockSize <= 0)
    return makeError("GPTQ needs damp > 0 and block-size > 0");
  Result result;
  qmath::QuantizedWeight &q = result.weight;
  q = qmath::QuantizedWeight(scheme, rows, cols);
  qmath::GroupLayout layout = q.layout();

  MatrixXd w(rows, cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      w(r, c) = wIn[r * cols + c];
  MatrixXd h = Eigen::Map<const MatrixXd>(hIn.data(), cols, cols);
  // Channels never active carry no information: fix their weight to zero.
  for (int64_t c = 0; c < cols; ++c)
    if (h(c, c) == 0) {
      h(c, c) = 1;
      w.col(c).setZero();
    }

  auto paramsFrom = [&](const MatrixXd &m, int64_t row, llvm::ArrayRef<int64_t> columns) {
    std::vector<float> values;
    for (int64_t c : columns)
      values.push_back(float(m(row, c)));
    int64_t n = int64_t(values.size());
    float clip = o.clipSearch ? qmath::searchClip(scheme, values.data(), n) : 1.0f;
    return qmath::chooseParams(scheme, values.data(), n, 1, clip);
  };
  auto groupColumns = [&](int64_t g) {
    std::vector<int64_t> columns;
    for (int64_t c = layout.groupStart(g); c < layout.groupEnd(g); ++c)
      columns.push_back(c);
    return columns;
  };
  // Per-tensor, per-channel and static groups: parameters from W up front
  // (the reference's find_params before the loop, or static_groups).
  bool upFront = layout.perTensor || scheme.groupSize == 0 || o.staticGroups;
  if (upFront) {
    if (layout.perTensor) {
      std::vector<float> all(size_t(rows * cols));
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
          all[r * cols + c] = float(w(r, c));
      q.params[0] = qmath::chooseParams(scheme, all.data(), rows * cols);
    } else {
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t g = 0; g < layout.perRow; ++g)
          q.params[r * layout.perRow + g] = paramsFrom(w, r, groupColumns(g));
    }
  }

  std::vector<int64_t> perm(cols);
  std::iota(perm.begin(), perm.end(), 0);
  if (o.actOrder) {
    std::vector<double> diag(cols);
    for (int64_t c = 0; c < cols; ++c)
      diag[c] = h(c, c);
    std::stable_sort(perm.begin(), perm.end(),
                     [&](int64_t a, int64_t b) { return diag[a] > diag[b]; });
    MatrixXd wp(rows, cols), hp(cols, cols);
    for (int64_t i = 0; i < cols; ++i) {
      wp.col(i) = w.col(perm[i]);
      for (int64_t j = 0; j < cols; ++j)
        hp(i, j) = h(perm[i], perm[j]);
    }
    w = std::move(wp);
    h = std::move(hp);
  }
  std::vector<int64_t> position(cols); // original column -> permuted position
  for (int64_t i = 0; i < cols; ++i)
    position[perm[i]] = i;

  auto hinv = inverseCholeskyUpper(h, o, result);
  if (!hinv)
    return hinv.takeError();
  const MatrixXd &u = *hinv;

  std::vector<bool> groupReady(size_t(layout.perRow), upFront);
  for (int64_t i1 = 0; i1 < cols; i1 += o.blockSize) {
    int64_t i2 = std::min(i1 + o.blockSize, cols), count = i2 - i1;
    MatrixXd w1 = w.middleCols(i1, count);
    MatrixXd err1 = MatrixXd::Zero(rows, count);
    for (int64_t i = 0; i < count; ++i) {
      int64_t col = perm[i1 + i];
      int64_t g = layout.groupOf(col);
      if (!groupReady[g]) {
        // First column of this group: its parameters come from the group's
        // current weights (those in W, updated up to the last block).
        std::vector<int64_t> positions;
        for (int64_t c : groupColumns(g))
          positions.push_back(position[c]);
        for (int64_t r = 0; r < rows; ++r)
          q.params[r * layout.perRow + g] = paramsFrom(w, r, positions);
        groupReady[g] = true;
      }
      double d = u(i1 + i, i1 + i);
      for (int64_t r = 0; r < rows; ++r) {
        const qmath::GroupParams &p = q.params[layout.index(r, col)];
        int code = qmath::quantizeValue(scheme, p, float(w1(r, i)));
        q.codes[r * cols + col] = uint8_t(code);
        double deq = qmath::dequantizeValue(scheme, p, code);
        err1(r, i) = (w1(r, i) - deq) / d;
      }
      if (i + 1 < count)
        w1.rightCols(count - i - 1).noalias() -=
            err1.col(i) * u.block(i1 + i, i1 + i + 1, 1, count - i - 1);
    }
    if (i2 < cols)
      w.rightCols(cols - i2).noalias() -= err1 * u.block(i1, i2, count, cols - i2);
  }
  return result;
}

} // namespace qopt::gptq
