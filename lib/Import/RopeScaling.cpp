//===- RopeScaling.cpp -----------------------------------------------------===//
#include "qopt/Import/RopeScaling.h"

#include <cmath>

namespace qopt {

std::vector<float> llama3FreqScale(double theta, int64_t headDim, double factor,
                                   double lowFreqFactor, double highFreqFactor,
                                   double originalMaxPositions) {
  const double pi = 3.14159265358979323846;
  double lowFreqWavelen = originalMaxPositions / lowFreqFactor;
  double highFreqWavelen = originalMaxPositions / highFreqFactor;
  std::vector<float> scale(size_t(headDim / 2));
  for (int64_t j = 0; j < headDim / 2; ++j) {
    double invFreq = 1.0 / std::pow(theta, double(2 * j) / double(headDim));
    double wavelen = 2 * pi / invFreq;
    double s;
    if (wavelen < highFreqWavelen) {
      s = 1.0;
    } else if (wavelen > lowFreqWavelen) {
      s = 1.0 / factor;
    } else {
      double smooth =
          (originalMaxPositions / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
      s = (1 - smooth) / factor + smooth;
    }
    scale[j] = float(s);
  }
  return scale;
}

std::vector<float> linearFreqScale(int64_t headDim, double factor) {
  return std::vector<float>(size_t(headDim / 2), float(1.0 / factor));
}

} // namespace qopt
