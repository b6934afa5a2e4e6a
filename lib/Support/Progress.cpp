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
    start = std::chrono::steady_clock::now();
  }
  void report(llvm::StringRef pass, int64_t done, int64_t total,
              llvm::StringRef what) override {
    auto now = std::chrono::steady_clock::now();
    if (pass != current) // a pass run without begin(): time it from here
      begin(pass);
    double elapsed = std::chrono::duration<double>(now - start).count();
    double left = done > 0 ? elapsed / double(done) * double(total - done) : 0.0;
    llvm::errs() << llvm::format("  %s: %lld/%lld %s, %.1f s, ~%.0f s left\n",
                                 current.c_str(), (long long)done, (long long)total,
                                 what.str().c_str(), elapsed, left);
  }

private:
  std::string current;
  std::chrono::steady_clock::time_point start;
};

} // namespace

std::shared_ptr<ProgressSink> makeStderrProgress() { return std::make_shared<StderrProgress>(); }

} // namespace qopt
