//===- Observers.h - activation range observers -----------------*- C++ -*-===//
#ifndef QOPT_PASSES_ACTIVATIONS_OBSERVERS_H
#define QOPT_PASSES_ACTIVATIONS_OBSERVERS_H

#include "qopt/Exec/Calibration.h"

#include "llvm/ADT/StringRef.h"

#include <optional>

namespace qopt::observers {

enum class Kind { MinMax, Percentile, MSE };
std::optional<Kind> parseKind(llvm::StringRef name);

/// The symmetric range r (scale = r / qmax) an observer picks: the absmax
/// seen; the `percentile` of |x| over the sampled rows; or the clip of the
/// absmax (grid 1.0 .. 0.3) with the least squared quantization error of the
/// sampled rows.
double range(Kind kind, const ActivationStats &stats, double percentile, int64_t qmax);

} // namespace qopt::observers

#endif
