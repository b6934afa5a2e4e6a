//===- Perplexity.cpp ------------------------------------------------------===//
#include "qopt/Driver/Perplexity.h"

#include "qopt/Exec/Kernels.h"
#include "qopt/Support/Error.h"

#include <cmath>

namespace qopt {

std::vector<std::string> splitDocuments(llvm::StringRef text) {
  std::vector<std::string> docs;
  std::string current;
  while (!text.empty()) {
    auto [line, rest] = text.split('\n');
    text = rest;
    line = line.rtrim("\r");
    if (line.trim().empty()) {
      if (!current.empty())
        docs.push_back(std::move(current));
      current.clear();
      continue;
    }
    if (!current.empty())
      current += '\n';
    current += line.str();
  }
  if (!current.empty())
    docs.push_back(std::move(current));
  return docs;
}

std::vector<int32_t> encodeDocuments(const Tokenizer &tokenizer, llvm::StringRef text) {
  std::vector<int32_t> stream;
  for (const std::string &doc : splitDocuments(text)) {
    std::vector<int32_t> ids = tokenizer.encode(doc, /*bos=*/true, /*eos=*/false);
    stream.insert(stream.end(), ids.begin(), ids.end());
  }
  return stream;
}

double negativeLogLikelihood(llvm::ArrayRef<float> logits, int32_t target) {
  return kernels::negativeLogLikelihood(logits, target);
}

llvm::Expected<PerplexityResult>
evaluatePerplexity(Executor &exec, const std::vector<int32_t> &stream, int64_t ctx,
                   int64_t maxWindows,
                   const std::function<void(int64_t, int64_t)> &progress) {
  if (ctx < 2)
    return makeError("--ctx must be at least 2, got " + llvm::Twine(ctx));
  if (ctx > exec.maxSeqLen())
    return makeError("--ctx " + llvm::Twine(ctx) + " is larger than the model's seq_len " +
                     llvm::Twine(exec.maxSeqLen()));
  PerplexityResult r;
  r.tokens = int64_t(stream.size());
  int64_t available = r.tokens / ctx;
  if (available == 0)
    return makeError("the text has " + llvm::Twine(r.tokens) +
                     " tokens, fewer than one window of --ctx " + llvm::Twine(ctx));
  r.windows = maxWindows > 0 ? std::min(available, maxWindows) : available;
  int64_t vocab = exec.vocabSize();
  double total = 0;
  for (int64_t w = 0; w < r.windows; ++w) {
    llvm::ArrayRef<int32_t> window(stream.data() + w * ctx, size_t(ctx));
    auto logits = exec.forward(window, 0);
    if (!logits)
      return logits.takeError();
    for (int64_t i = 0; i + 1 < ctx; ++i) {
      llvm::ArrayRef<float> row(logits->data() + i * vocab, size_t(vocab));
      total += negativeLogLikelihood(row, window[i + 1]);
    }
    if (progress)
      progress(w + 1, r.windows);
  }
  r.predictions = r.windows * (ctx - 1);
  r.meanNll = total / double(r.predictions);
  r.perplexity = std::exp(r.meanNll);
  return r;
}

} // namespace qopt
