//===- CalibrationText.h - calibration sequences from a text file -*- C++ -*-===//
#ifndef QOPT_DRIVER_CALIBRATIONTEXT_H
#define QOPT_DRIVER_CALIBRATIONTEXT_H

#include "qopt/Exec/Calibration.h"
#include "qopt/Support/Tokenizer.h"

namespace qopt {

/// Encodes `path` with the perplexity protocol's document rules and takes
/// `samples` consecutive windows of `seqLen` tokens from its start. Errors
/// name the file when it is missing, empty or too short.
llvm::Expected<CalibrationSet> loadCalibrationText(llvm::StringRef path,
                                                   const Tokenizer &tokenizer, int64_t samples,
                                                   int64_t seqLen);

} // namespace qopt

#endif
