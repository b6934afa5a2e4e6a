//===- Perplexity.h - the qopt perplexity protocol --------------*- C++ -*-===//
//
// Split the text into documents at blank lines; encode each with BOS
// (SentencePiece semantics); concatenate; cut into non-overlapping windows of
// ctx tokens, dropping the last partial window; evaluate every window from
// position 0; PPL = exp(mean NLL over the ctx-1 predictions of every window).
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_DRIVER_PERPLEXITY_H
#define QOPT_DRIVER_PERPLEXITY_H

#include "qopt/Exec/Executor.h"
#include "qopt/Support/Tokenizer.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <functional>
#include <string>
#include <vector>

namespace qopt {

/// Documents of a text: maximal runs of non-blank lines, joined by '\n'.
std::vector<std::string> splitDocuments(llvm::StringRef text);

/// The protocol's token stream: every document with BOS, concatenated.
std::vector<int32_t> encodeDocuments(const Tokenizer &tokenizer, llvm::StringRef text);

struct PerplexityResult {
  int64_t tokens = 0;  // tokens in the stream
  int64_t windows = 0; // windows evaluated
  int64_t predictions = 0;
  double meanNll = 0;
  double perplexity = 0;
};

/// Runs the protocol over `stream` (from encodeDocuments). `maxWindows` > 0
/// limits how many windows are evaluated. `progress(done, total)` is called
/// after every window.
llvm::Expected<PerplexityResult>
evaluatePerplexity(Executor &exec, const std::vector<int32_t> &stream, int64_t ctx,
                   int64_t maxWindows,
                   const std::function<void(int64_t, int64_t)> &progress);

/// -log softmax(logits)[target], computed in double.
double negativeLogLikelihood(llvm::ArrayRef<float> logits, int32_t target);

} // namespace qopt

#endif
