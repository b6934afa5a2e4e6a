//===- EvalCommand.cpp - qopt eval -----------------------------------------===//
#include "Common.h"

#include "qopt/Driver/ModelComparison.h"
#include "qopt/Driver/Perplexity.h"
#include "qopt/Support/Error.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

namespace cl = llvm::cl;

namespace qopt::tool {

static cl::opt<std::string> modelArg(cl::Positional, cl::Required, cl::desc("<model>"),
                                     cl::sub(evalCmd), cl::cat(category));
static cl::opt<std::string> textArg(cl::Positional, cl::Required, cl::desc("<text file>"),
                                    cl::sub(evalCmd), cl::cat(category));
static cl::opt<int64_t> ctxOpt("ctx", cl::desc("Window length in tokens (default 256)"),
                               cl::init(256), cl::sub(evalCmd), cl::cat(category));
static cl::opt<int64_t> maxWindowsOpt("max-windows",
                                      cl::desc("Evaluate at most this many windows "
                                               "(default 0 = all)"),
                                      cl::init(0), cl::sub(evalCmd), cl::cat(category));
static cl::opt<std::string> baseOpt(
    "base",
    cl::desc("Also run this model (the float original of a quantized one) on the same "
             "windows: its perplexity, KL(base || model) per prediction and top-1 agreement"),
    cl::value_desc("model"), cl::init(""), cl::sub(evalCmd), cl::cat(category));

static llvm::Error evaluate() {
  auto text = readTextFile(textArg);
  if (!text)
    return text.takeError();
  if (llvm::StringRef(*text).trim().empty())
    return makeError("'" + textArg + "' holds no text");
  if (maxWindowsOpt < 0)
    return makeError("--max-windows must be >= 0");
  auto session = openSession(modelArg, /*needTokenizer=*/true);
  if (!session)
    return session.takeError();
  std::vector<int32_t> stream = encodeDocuments(*session->tokenizer, *text);

  bool interactive = llvm::sys::Process::StandardErrIsDisplayed();
  auto start = std::chrono::steady_clock::now();
  int64_t lastReported = 0;
  auto progress = [&](int64_t done, int64_t total) {
    if (interactive) {
      llvm::errs() << "\rwindow " << done << "/" << total;
      if (done == total)
        llvm::errs() << "\n";
    } else if (done * 10 / total != lastReported * 10 / total || done == total) {
      llvm::errs() << "window " << done << "/" << total << "\n";
    }
    lastReported = done;
  };
  if (!baseOpt.empty()) {
    auto base = openSession(baseOpt, /*needTokenizer=*/false);
    if (!base)
      return base.takeError();
    auto cmp = compareModels(*session->exec, *base->exec, stream, ctxOpt, maxWindowsOpt, progress);
    if (!cmp)
      return cmp.takeError();
    llvm::outs() << "tokens:      " << cmp->model.tokens << "\n"
                 << "windows:     " << cmp->model.windows << " x " << ctxOpt.getValue() << " ("
                 << cmp->model.predictions << " predictions)\n"
                 << llvm::format("mean NLL:    %.6f (base %.6f)\n", cmp->model.meanNll,
                                 cmp->base.meanNll)
                 << llvm::format("perplexity:  %.4f (base %.4f, %+.2f%%)\n",
                                 cmp->model.perplexity, cmp->base.perplexity,
                                 100.0 * (cmp->model.perplexity / cmp->base.perplexity - 1.0))
                 << llvm::format("KL(base || model): mean %.6f, max %.6f nats\n", cmp->meanKl,
                                 cmp->maxKl)
                 << llvm::format("top-1 agreement: %.2f%%\n", 100.0 * cmp->top1Agreement);
    return llvm::Error::success();
  }
  auto result = evaluatePerplexity(*session->exec, stream, ctxOpt, maxWindowsOpt, progress);
  if (!result)
    return result.takeError();
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  llvm::outs() << "tokens:      " << result->tokens << "\n"
               << "windows:     " << result->windows << " x " << ctxOpt.getValue()
               << " (" << result->predictions << " predictions)\n"
               << llvm::format("mean NLL:    %.6f\n", result->meanNll)
               << llvm::format("perplexity:  %.4f\n", result->perplexity);
  llvm::errs() << llvm::format("%.1f s, %.0f tokens/s\n", seconds,
                               result->windows * ctxOpt / seconds);
  return llvm::Error::success();
}

int runEval() { return finish("eval", evaluate()); }

} // namespace qopt::tool
