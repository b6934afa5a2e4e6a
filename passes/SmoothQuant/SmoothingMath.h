//===- SmoothingMath.h - SmoothQuant's scales and alpha search --*- C++ -*-===//
#ifndef QOPT_PASSES_SMOOTHQUANT_SMOOTHINGMATH_H
#define QOPT_PASSES_SMOOTHQUANT_SMOOTHINGMATH_H

#include <cstdint>
#include <vector>

namespace qopt::smooth {

struct Weight {
  std::vector<float> values; // [rows, cols]
  int64_t rows = 0, cols = 0;
};

/// s_j = max|X_j|^alpha / max_l,r |W_l[r, j]|^(1 - alpha), 1 where either
/// maximum is zero, clamped to >= 1e-5.
std::vector<double> smoothingScales(const std::vector<Weight> &weights,
                                    const std::vector<float> &actAbsMax, double alpha);

/// The alpha in {0, 0.05, ..., 1} with the least W8A8 output error (int8
/// per-channel weights, int8 per-tensor static activations) on the sampled
/// activation rows `x` [rows, cols].
double searchAlpha(const std::vector<Weight> &weights, const std::vector<float> &actAbsMax,
                   const std::vector<float> &x, int64_t rows);

} // namespace qopt::smooth

#endif
