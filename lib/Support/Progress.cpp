//===- Progress.cpp --------------------------------------------------------===//
#include "qopt/Support/Progress.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace qopt {
namespace {

class StderrProgress : public ProgressSink {
public:
  void begin(llvm::StringRef pass) override {
    current = pass.str();
    start = phaseStart = lastReport = std::chrono::steady_clock::now();
    lastDone = lastTotal = 0;
  }
  void report(llvm::StringRef pass, int64_t done, int64_t total,
              llvm::StringRef what) override {
    auto now = std::chrono::steady_clock::now();
    if (pass != current) // a pass run without begin(): time it from here
      begin(pass);
    // A pass may count several kinds of unit in turn (AWQ: calibration
    // sequences, then scale groups); each estimate uses its own kind's pace.
    if (total != lastTotal || done <= lastDone)
      phaseStart = lastReport;
    lastDone = done;
    lastTotal = total;
    lastReport = now;
    double elapsed = std::chrono::duration<double>(now - start).count();
    double phase = std::chrono::duration<double>(now - phaseStart).count();
    double left = done > 0 ? phase / double(done) * double(total - done) : 0.0;
    llvm::errs() << llvm::format("  %s: %lld/%lld %s, %.1f s, ~%.0f s left\n",
                                 current.c_str(), (long long)done, (long long)total,
                                 what.str().c_str(), elapsed, left);
  }

private:
  std::string current;
  std::chrono::steady_clock::time_point start, phaseStart, lastReport;
  int64_t lastDone = 0, lastTotal = 0;
};

} // namespace

std::shared_ptr<ProgressSink> makeStderrProgress() { return std::make_shared<StderrProgress>(); }

} // namespace qopt
