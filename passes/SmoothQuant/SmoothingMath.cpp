//===- SmoothingMath.cpp ---------------------------------------------------===//
#include "passes/SmoothQuant/SmoothingMath.h"

#include "Qnt/Utils/QuantScheme.h"

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>

namespace qopt::smooth {

using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

std::vector<double> smoothingScales(const std::vector<Weight> &weights,
                                    const std::vector<float> &actAbsMax, double alpha) {
  int64_t cols = int64_t(actAbsMax.size());
  std::vector<double> wmax(cols, 0.0), s(cols, 1.0);
  for (const Weight &w : weights)
    for (int64_t r = 0; r < w.rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        wmax[c] = std::max(wmax[c], double(std::fabs(w.values[r * cols + c])));
  for (int64_t c = 0; c < cols; ++c)
    if (actAbsMax[c] > 0 && wmax[c] > 0)
      s[c] = std::max(std::pow(double(actAbsMax[c]), alpha) / std::pow(wmax[c], 1.0 - alpha),
                      1e-5);
  return s;
}

double searchAlpha(const std::vector<Weight> &weights, const std::vector<float> &actAbsMax,
                   const std::vector<float> &x, int64_t rows) {
  if (rows == 0 || weights.empty())
    return 0.5;
  int64_t cols = weights.front().cols;
  qmath::Scheme w8;
  w8.bits = 8;
  w8.groupSize = 0;
  RowMajor xm(rows, cols);
  for (int64_t i = 0; i < rows * cols; ++i)
    xm.data()[i] = x[i];
  double bestAlpha = 0.5, bestErr = INFINITY;
  for (int i = 0; i <= 20; ++i) {
    double alpha = 0.05 * i;
    std::vector<double> s = smoothingScales(weights, actAbsMax, alpha);
    // Static per-tensor activation scale from the calibrated maxima.
    double amax = 0;
    for (int64_t c = 0; c < cols; ++c)
      amax = std::max(amax, double(actAbsMax[c]) / s[c]);
    double step = amax > 0 ? amax / 127.0 : 1.0;
    RowMajor xq(rows, cols);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        xq(r, c) = std::clamp(std::nearbyint(xm(r, c) / s[c] / step), -127.0, 127.0) * step;
    double err = 0;
    for (const Weight &w : weights) {
      std::vector<float> scaled(w.values.size());
      for (int64_t r = 0; r < w.rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
          scaled[r * cols + c] = float(w.values[r * cols + c] * s[c]);
      std::vector<float> wq = qmath::quantizeRTN(w8, scaled.data(), w.rows, cols).dequantize();
      RowMajor wf(w.rows, cols), wqm(w.rows, cols);
      for (int64_t i2 = 0; i2 < w.rows * cols; ++i2) {
        wf.data()[i2] = w.values[i2];
        wqm.data()[i2] = wq[i2];
      }
      err += (xm * wf.transpose() - xq * wqm.transpose()).squaredNorm();
    }
    if (err < bestErr) {
      bestErr = err;
      bestAlpha = alpha;
    }
  }
  return bestAlpha;
}

} // namespace qopt::smooth
