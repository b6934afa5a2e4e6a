//===- Progress.h - how far a long pass has got -------------------*- C++ -*-===//
//
// Passes print nothing themselves; a tool that wants progress lines attaches
// a sink to the qnt dialect (qopt compile does, unless --quiet), and long
// passes report each unit of work they finish (a linear of GPTQ, a scale
// group of AWQ, a linear's candidates in mixed precision).
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_SUPPORT_PROGRESS_H
#define QOPT_SUPPORT_PROGRESS_H

#include "llvm/ADT/StringRef.h"

#include <chrono>
#include <cstdint>
#include <memory>

namespace qopt {

class ProgressSink {
public:
  virtual ~ProgressSink() = default;
  /// `pass` starts (the tool's pass instrumentation says so): the clock of
  /// its estimates starts here, calibration included.
  virtual void begin(llvm::StringRef pass) = 0;
  /// `done` of `total` units of `pass` are finished, the last one `what`.
  virtual void report(llvm::StringRef pass, int64_t done, int64_t total,
                      llvm::StringRef what) = 0;
};

/// A sink that prints "  PASS: DONE/TOTAL WHAT, ELAPSED s, ~LEFT s left" to
/// stderr; the estimate assumes the remaining units cost what the finished
/// ones did on average.
std::shared_ptr<ProgressSink> makeStderrProgress();

/// Reports to `sink` when there is one (passes call this).
inline void reportProgress(const std::shared_ptr<ProgressSink> &sink, llvm::StringRef pass,
                           int64_t done, int64_t total, llvm::StringRef what) {
  if (sink)
    sink->report(pass, done, total, what);
}

} // namespace qopt

#endif
