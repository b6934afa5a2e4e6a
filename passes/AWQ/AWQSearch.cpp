//===- AWQSearch.cpp -------------------------------------------------------===//
#include "passes/AWQ/AWQSearch.h"

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>

namespace qopt::awq {

using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

namespace {

/// Fake-quantizes a row-major [rows, cols] matrix with RTN (clip 1).
std::vector<float> fakeQuantRTN(const qmath::Scheme &s, const std::vector<float> &w,
                                int64_t rows, int64_t cols) {
  return qmath::quantizeRTN(s, w.data(), rows, cols).dequantize();
}

} // namespace

double scaledQuantError(const std::vector<SearchLinear> &linears, const std::vector<double> &s,
                        const std::vector<double> &h) {
  double total = 0;
  for (const SearchLinear &l : linears) {
    std::vector<float> scaled(l.weight.size());
    for (int64_t r = 0; r < l.rows; ++r)
      for (int64_t c = 0; c < l.cols; ++c)
        scaled[r * l.cols + c] = float(l.weight[r * l.cols + c] * s[c]);
    std::vector<float> q = fakeQuantRTN(l.scheme, scaled, l.rows, l.cols);
    RowMajor d(l.rows, l.cols);
    for (int64_t r = 0; r < l.rows; ++r)
      for (int64_t c = 0; c < l.cols; ++c)
        d(r, c) = double(l.weight[r * l.cols + c]) - double(q[r * l.cols + c]) / s[c];
    Eigen::Map<const Eigen::MatrixXd> hm(h.data(), l.cols, l.cols);
    total += ((d * hm).array() * d.array()).sum();
  }
  return total;
}

std::vector<double> searchScales(const std::vector<SearchLinear> &linears,
                                 const std::vector<double> &meanAbs,
                                 const std::vector<double> &h, int64_t grid) {
  int64_t n = int64_t(meanAbs.size());
  std::vector<double> best(n, 1.0);
  double bestErr = INFINITY;
  for (int64_t i = 0; i < grid; ++i) {
    double alpha = double(i) / double(grid);
    std::vector<double> s(n);
    for (int64_t c = 0; c < n; ++c)
      s[c] = std::max(std::pow(meanAbs[c], alpha), 1e-4);
    double hi = *std::max_element(s.begin(), s.end());
    double lo = *std::min_element(s.begin(), s.end());
    double norm = std::sqrt(hi * lo);
    for (double &v : s)
      v /= norm;
    double err = scaledQuantError(linears, s, h);
    if (err < bestErr) {
      bestErr = err;
      best = s;
    }
  }
  return best;
}

void clipWeights(const qmath::Scheme &scheme, std::vector<float> &w, int64_t rows, int64_t cols,
                 const std::vector<double> &h, double maxShrink, int64_t grid) {
  qmath::GroupLayout layout(scheme, rows, cols);
  if (layout.perTensor)
    return; // one range for the whole tensor: nothing per group to search
  int64_t steps = int64_t(maxShrink * double(grid));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < layout.perRow; ++g) {
      int64_t c0 = layout.groupStart(g), n = layout.groupEnd(g) - c0;
      float *x = w.data() + r * cols + c0;
      float bestClip = 1.0f;
      double bestErr = INFINITY;
      std::vector<double> d(n);
      for (int64_t i = 0; i <= steps; ++i) {
        float clip = float(1.0 - double(i) / double(grid));
        qmath::GroupParams p = qmath::chooseParams(scheme, x, n, 1, clip);
        for (int64_t j = 0; j < n; ++j)
          d[j] = double(x[j]) - qmath::fakeQuant(scheme, p, x[j]);
        double err = 0;
        for (int64_t a = 0; a < n; ++a) {
          const double *ha = h.data() + (c0 + a) * cols + c0;
          double dot = 0;
          for (int64_t b = 0; b < n; ++b)
            dot += ha[b] * d[b];
          err += d[a] * dot;
        }
        if (err < bestErr) {
          bestErr = err;
          bestClip = clip;
        }
      }
      if (bestClip >= 1.0f)
        continue;
      // Clamp to the clipped range so that a later RTN or GPTQ pass derives
      // the same range from the weights.
      float lo = 0, hi = 0, extreme = 0;
      for (int64_t j = 0; j < n; ++j) {
        lo = std::min(lo, x[j]);
        hi = std::max(hi, x[j]);
        if (std::fabs(x[j]) > std::fabs(extreme))
          extreme = x[j];
      }
      if (scheme.format == qnt::WeightFormat::Int && !scheme.symmetric) {
        lo *= bestClip;
        hi *= bestClip;
      } else {
        hi = std::fabs(extreme) * bestClip;
        lo = -hi;
      }
      for (int64_t j = 0; j < n; ++j)
        x[j] = std::clamp(x[j], lo, hi);
    }
}

} // namespace qopt::awq
