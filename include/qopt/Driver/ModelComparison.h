//===- ModelComparison.h - a model against its base, token by token -*- C++ -*-===//
//
// llama-perplexity's --kl-divergence habit: on the windows of the perplexity
// protocol, the next-token distribution of a (quantized) model against that
// of its base: KL(base || model) per prediction and how often the two pick
// the same top token.
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_DRIVER_MODELCOMPARISON_H
#define QOPT_DRIVER_MODELCOMPARISON_H

#include "qopt/Driver/Perplexity.h"

namespace qopt {

struct ComparisonResult {
  PerplexityResult model, base;
  double meanKl = 0, maxKl = 0; // KL(base || model), nats per prediction
  double top1Agreement = 0;     // fraction of predictions with the same argmax
};

/// Both executors on the same windows (the protocol of evaluatePerplexity);
/// their vocabularies must agree.
llvm::Expected<ComparisonResult>
compareModels(Executor &model, Executor &base, const std::vector<int32_t> &stream, int64_t ctx,
              int64_t maxWindows, const std::function<void(int64_t, int64_t)> &progress);

/// KL(p || q) of the softmaxes of two logit rows, in double.
double klDivergence(llvm::ArrayRef<float> pLogits, llvm::ArrayRef<float> qLogits);

} // namespace qopt

#endif
