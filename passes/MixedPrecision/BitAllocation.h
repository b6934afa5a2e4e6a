//===- BitAllocation.h - pick a scheme per tensor under a budget -*- C++ -*-===//
#ifndef QOPT_PASSES_MIXEDPRECISION_BITALLOCATION_H
#define QOPT_PASSES_MIXEDPRECISION_BITALLOCATION_H

#include <cstddef>
#include <vector>

namespace qopt::mixed {

struct Option {
  double bits = 0; // total bits this choice stores for the tensor
  double loss = 0; // predicted loss increase
};

/// One option per tensor with the least summed loss found while the summed
/// bits stay <= budget: start every tensor at its cheapest option, then
/// repeatedly take the upgrade with the most loss saved per extra bit that
/// still fits (a greedy walk along the convex hull of each tensor's
/// options). If even the cheapest options exceed the budget they are
/// returned as they are.
std::vector<size_t> allocate(const std::vector<std::vector<Option>> &options, double budget);

} // namespace qopt::mixed

#endif
