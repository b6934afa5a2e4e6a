//===- AWQSearch.h - AWQ's scale and clip searches ---------------*- C++ -*-===//
#ifndef QOPT_PASSES_AWQ_AWQSEARCH_H
#define QOPT_PASSES_AWQ_AWQSEARCH_H

#include "Qnt/Utils/QuantScheme.h"

#include <vector>

namespace qopt::awq {

struct SearchLinear {
  qmath::Scheme scheme;
  std::vector<float> weight; // [rows, cols]
  int64_t rows = 0, cols = 0;
};

/// sum_l tr(D_l H D_l^T) with D_l = W_l - Q(W_l diag(s)) diag(s)^-1: the
/// squared output error of the linears when their inputs are scaled by 1/s.
double scaledQuantError(const std::vector<SearchLinear> &linears, const std::vector<double> &s,
                        const std::vector<double> &h);

/// AWQ's grid search: s = meanAbs^alpha / sqrt(max * min), alpha = i / grid,
/// i = 0 .. grid-1; returns the s with the least scaledQuantError (alpha = 0,
/// s = 1, is among the candidates, so the result never loses to plain RTN
/// on this objective).
std::vector<double> searchScales(const std::vector<SearchLinear> &linears,
                                 const std::vector<double> &meanAbs,
                                 const std::vector<double> &h, int64_t grid);

/// Per row and group, the clip factor in [1 - maxShrink, 1] (grid steps of
/// 1/grid) minimizing d H_gg d^T, then clamps the weights to that range.
void clipWeights(const qmath::Scheme &scheme, std::vector<float> &w, int64_t rows, int64_t cols,
                 const std::vector<double> &h, double maxShrink, int64_t grid);

} // namespace qopt::awq

#endif
