//===- Generate.h - autoregressive text generation --------------*- C++ -*-===//
#ifndef QOPT_DRIVER_GENERATE_H
#define QOPT_DRIVER_GENERATE_H

#include "qopt/Driver/Sampler.h"
#include "qopt/Exec/Executor.h"
#include "qopt/Support/Tokenizer.h"

#include "llvm/Support/Error.h"

#include <functional>
#include <string>

namespace qopt {

struct GenerateOptions {
  std::string prompt;
  /// Total positions including the prompt's, as llama2.c's -n (steps).
  int64_t steps = 256;
  /// When > 0, instead of `steps`: tokens to generate after the prompt
  /// (llama.cpp's -n).
  int64_t nPredict = 0;
  float temperature = 1.0f;
  float topP = 0.9f;
  uint64_t seed = 42;
};

struct GenerateStats {
  int64_t promptTokens = 0;
  int64_t generatedTokens = 0;
  double seconds = 0;
};

/// Prefills the prompt (with BOS) in one forward call, then decodes one token
/// at a time until `steps` positions are used or an EOS token is sampled. Every piece
/// of text (prompt then generated) goes to `emit` as soon as it is known.
llvm::Expected<GenerateStats> generate(Executor &exec, const Tokenizer &tokenizer,
                                       const GenerateOptions &options,
                                       const std::function<void(const std::string &)> &emit);

} // namespace qopt

#endif
