//===- Generate.cpp --------------------------------------------------------===//
#include "qopt/Driver/Generate.h"

#include "qopt/Support/Error.h"

#include <chrono>

namespace qopt {

llvm::Expected<GenerateStats> generate(Executor &exec, const Tokenizer &tokenizer,
                                       const GenerateOptions &options,
                                       const std::function<void(const std::string &)> &emit) {
  if (options.nPredict == 0 && options.steps > exec.maxSeqLen())
    return makeError("-n " + llvm::Twine(options.steps) +
                     " is beyond the model's context of " + llvm::Twine(exec.maxSeqLen()) +
                     " tokens");
  if (options.temperature < 0.0f)
    return makeError("temperature must be >= 0");
  std::vector<int32_t> prompt = tokenizer.encode(options.prompt, /*bos=*/true, false);
  int64_t n = int64_t(prompt.size());
  int64_t steps = options.steps;
  if (options.nPredict > 0) {
    // the last token generated is not run, so it needs no position
    if (n + options.nPredict - 1 > exec.maxSeqLen())
      return makeError("the prompt's " + llvm::Twine(n) + " tokens and --n-predict " +
                       llvm::Twine(options.nPredict) + " do not fit the model's context of " +
                       llvm::Twine(exec.maxSeqLen()) + " tokens");
    steps = n + options.nPredict - 1; // the loop makes steps - n + 1 tokens
  }
  if (n == 0)
    return makeError("the prompt is empty and this tokenizer adds no BOS to start from: give "
                     "a prompt");
  if (options.nPredict == 0 && n >= steps)
    return makeError("the prompt has " + llvm::Twine(n) +
                     " tokens (with BOS); -n must be larger to generate anything (at most " +
                     llvm::Twine(exec.maxSeqLen()) + ")");
  GenerateStats stats;
  stats.promptTokens = n;
  for (int64_t i = prompt[0] == tokenizer.bos() ? 1 : 0; i < n; ++i)
    emit(tokenizer.decode(i > 0 ? prompt[i - 1] : -1, prompt[i]));

  auto start = std::chrono::steady_clock::now();
  Sampler sampler(options.temperature, options.topP, options.seed);
  auto logits = exec.forward(prompt, 0);
  if (!logits)
    return logits.takeError();
  int64_t vocab = exec.vocabSize();
  int32_t previous = prompt.back();
  // As llama2.c: the forward at position p (from n-1 to steps-1) yields the
  // token for position p+1.
  for (int64_t p = n - 1; p < steps; ++p) {
    if (p > n - 1) {
      logits = exec.forward({previous}, p);
      if (!logits)
        return logits.takeError();
    }
    size_t rows = logits->size() / size_t(vocab);
    int32_t next = sampler.sample(
        llvm::ArrayRef<float>(logits->data() + (rows - 1) * vocab, size_t(vocab)));
    if (tokenizer.isEos(next)) // llama2.c's BOS, which ends a story, is one
      break;
    emit(tokenizer.decode(previous, next));
    previous = next;
    ++stats.generatedTokens;
  }
  stats.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

} // namespace qopt
