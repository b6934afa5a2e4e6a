//===- ModelComparison.cpp -------------------------------------------------===//
#include "qopt/Driver/ModelComparison.h"

#include "qopt/Support/Error.h"

#include <algorithm>
#include <cmath>

namespace qopt {
namespace {

/// log softmax of a row, in double.
std::vector<double> logSoftmax(llvm::ArrayRef<float> logits) {
  double maxv = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float v : logits)
    sum += std::exp(double(v) - maxv);
  double logZ = maxv + std::log(sum);
  std::vector<double> out(logits.size());
  for (size_t i = 0; i < logits.size(); ++i)
    out[i] = double(logits[i]) - logZ;
  return out;
}

size_t argmax(llvm::ArrayRef<float> row) {
  return size_t(std::max_element(row.begin(), row.end()) - row.begin());
}

} // namespace

double klDivergence(llvm::ArrayRef<float> pLogits, llvm::ArrayRef<float> qLogits) {
  std::vector<double> lp = logSoftmax(pLogits), lq = logSoftmax(qLogits);
  double kl = 0;
  for (size_t i = 0; i < lp.size(); ++i)
    kl += std::exp(lp[i]) * (lp[i] - lq[i]);
  return std::max(kl, 0.0); // rounding can leave -1e-17 for equal rows
}

llvm::Expected<ComparisonResult>
compareModels(Executor &model, Executor &base, const std::vector<int32_t> &stream, int64_t ctx,
              int64_t maxWindows, const std::function<void(int64_t, int64_t)> &progress) {
  if (model.vocabSize() != base.vocabSize())
    return makeError("the base model's vocabulary has " + llvm::Twine(base.vocabSize()) +
                     " tokens, the model's " + llvm::Twine(model.vocabSize()) +
                     ": they cannot be compared");
  if (ctx < 2)
    return makeError("--ctx must be at least 2, got " + llvm::Twine(ctx));
  int64_t maxSeq = std::min(model.maxSeqLen(), base.maxSeqLen());
  if (ctx > maxSeq)
    return makeError("--ctx " + llvm::Twine(ctx) + " is larger than the models' seq_len " +
                     llvm::Twine(maxSeq));
  ComparisonResult r;
  int64_t tokens = int64_t(stream.size()), available = tokens / ctx;
  if (available == 0)
    return makeError("the text has " + llvm::Twine(tokens) +
                     " tokens, fewer than one window of --ctx " + llvm::Twine(ctx));
  int64_t windows = maxWindows > 0 ? std::min(available, maxWindows) : available;
  int64_t vocab = model.vocabSize(), agree = 0;
  double nllModel = 0, nllBase = 0, klSum = 0;
  for (int64_t w = 0; w < windows; ++w) {
    llvm::ArrayRef<int32_t> window(stream.data() + w * ctx, size_t(ctx));
    auto m = model.forward(window, 0);
    if (!m)
      return m.takeError();
    auto b = base.forward(window, 0);
    if (!b)
      return b.takeError();
    for (int64_t i = 0; i + 1 < ctx; ++i) {
      llvm::ArrayRef<float> mr(m->data() + i * vocab, size_t(vocab));
      llvm::ArrayRef<float> br(b->data() + i * vocab, size_t(vocab));
      nllModel += negativeLogLikelihood(mr, window[i + 1]);
      nllBase += negativeLogLikelihood(br, window[i + 1]);
      double kl = klDivergence(br, mr);
      klSum += kl;
      r.maxKl = std::max(r.maxKl, kl);
      agree += argmax(mr) == argmax(br);
    }
    if (progress)
      progress(w + 1, windows);
  }
  int64_t predictions = windows * (ctx - 1);
  for (PerplexityResult *p : {&r.model, &r.base}) {
    p->tokens = tokens;
    p->windows = windows;
    p->predictions = predictions;
  }
  r.model.meanNll = nllModel / double(predictions);
  r.base.meanNll = nllBase / double(predictions);
  r.model.perplexity = std::exp(r.model.meanNll);
  r.base.perplexity = std::exp(r.base.meanNll);
  r.meanKl = klSum / double(predictions);
  r.top1Agreement = double(agree) / double(predictions);
  return r;
}

} // namespace qopt
