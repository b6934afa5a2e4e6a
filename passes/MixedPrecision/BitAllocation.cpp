//===- BitAllocation.cpp ---------------------------------------------------===//
#include "passes/MixedPrecision/BitAllocation.h"

#include <limits>

namespace qopt::mixed {

std::vector<size_t> allocate(const std::vector<std::vector<Option>> &options, double budget) {
  std::vector<size_t> pick(options.size(), 0);
  double used = 0;
  for (size_t t = 0; t < options.size(); ++t) {
    for (size_t o = 1; o < options[t].size(); ++o)
      if (options[t][o].bits < options[t][pick[t]].bits ||
          (options[t][o].bits == options[t][pick[t]].bits &&
           options[t][o].loss < options[t][pick[t]].loss))
        pick[t] = o;
    used += options[t][pick[t]].bits;
  }
  while (true) {
    double bestRatio = 0;
    size_t bestT = options.size(), bestO = 0;
    for (size_t t = 0; t < options.size(); ++t) {
      const Option &cur = options[t][pick[t]];
      for (size_t o = 0; o < options[t].size(); ++o) {
        const Option &next = options[t][o];
        double extra = next.bits - cur.bits, saved = cur.loss - next.loss;
        if (extra <= 0 || saved <= 0 || used + extra > budget)
          continue;
        double ratio = saved / extra;
        if (ratio > bestRatio) {
          bestRatio = ratio;
          bestT = t;
          bestO = o;
        }
      }
    }
    if (bestT == options.size())
      break;
    used += options[bestT][bestO].bits - options[bestT][pick[bestT]].bits;
    pick[bestT] = bestO;
  }
  return pick;
}

} // namespace qopt::mixed
