//===- RopeScaling.h - config.json's rope_scaling as frequency factors -*- C++ -*-===//
//
// Hugging Face's rope scaling changes the rotary frequencies only; qopt
// carries it as one multiplier per frequency on qnt.rope (freq_scale), so
// the executor, the CPU runtime and any later target apply one table.
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_IMPORT_ROPESCALING_H
#define QOPT_IMPORT_ROPESCALING_H

#include <cstdint>
#include <vector>

namespace qopt {

/// Llama 3's `rope_type: llama3` (transformers' _compute_llama3_parameters):
/// wavelengths shorter than original_max / high_freq_factor keep their
/// frequency, longer than original_max / low_freq_factor divide it by
/// `factor`, and those between blend the two smoothly. Computed in double.
std::vector<float> llama3FreqScale(double theta, int64_t headDim, double factor,
                                   double lowFreqFactor, double highFreqFactor,
                                   double originalMaxPositions);

/// `rope_type: linear`: positions divided by `factor`, i.e. every frequency.
std::vector<float> linearFreqScale(int64_t headDim, double factor);

} // namespace qopt

#endif
