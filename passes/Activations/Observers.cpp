//===- Observers.cpp -------------------------------------------------------===//
#include "passes/Activations/Observers.h"

#include <algorithm>
#include <cmath>

namespace qopt::observers {

std::optional<Kind> parseKind(llvm::StringRef name) {
  if (name == "minmax")
    return Kind::MinMax;
  if (name == "percentile")
    return Kind::Percentile;
  if (name == "mse")
    return Kind::MSE;
  return std::nullopt;
}

double range(Kind kind, const ActivationStats &stats, double percentile, int64_t qmax) {
  double absmax = 0;
  for (float v : stats.absMax)
    absmax = std::max(absmax, double(v));
  if (kind == Kind::MinMax || stats.sample.empty())
    return absmax;
  if (kind == Kind::Percentile) {
    std::vector<float> mags;
    mags.reserve(stats.sample.size());
    for (float v : stats.sample)
      mags.push_back(std::fabs(v));
    size_t k = std::min(mags.size() - 1,
                        size_t(std::ceil(percentile / 100.0 * double(mags.size()))) -
                            (percentile >= 100 ? 1 : 0));
    std::nth_element(mags.begin(), mags.begin() + k, mags.end());
    return mags[k];
  }
  double best = absmax, bestErr = INFINITY;
  for (int i = 0; i <= 70; ++i) {
    double r = absmax * (1.0 - 0.01 * i);
    double step = r / double(qmax);
    if (step <= 0)
      break;
    double err = 0;
    for (float v : stats.sample) {
      double q = std::clamp(std::nearbyint(v / step), -double(qmax), double(qmax)) * step;
      err += (v - q) * (v - q);
    }
    if (err < bestErr) {
      bestErr = err;
      best = r;
    }
  }
  return best;
}

} // namespace qopt::observers
