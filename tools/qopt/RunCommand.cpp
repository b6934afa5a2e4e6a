//===- RunCommand.cpp - qopt run -------------------------------------------===//
#include "Common.h"

#include "qopt/Driver/Chat.h"
#include "qopt/Driver/Generate.h"
#include "qopt/Support/Error.h"

#include "llvm/Support/raw_ostream.h"

#include <iostream>
#include <unistd.h>

namespace cl = llvm::cl;

namespace qopt::tool {

static cl::opt<std::string> modelArg(cl::Positional, cl::Required, cl::desc("<model>"),
                                     cl::sub(runCmd), cl::cat(category));
static cl::opt<std::string> promptOpt("p", cl::desc("Prompt (default: empty, BOS only)"),
                                      cl::init(""), cl::sub(runCmd), cl::cat(category));
static cl::opt<int64_t> stepsOpt("n",
                                 cl::desc("Steps: total positions including the prompt, "
                                          "as llama2.c's -n (default 256, at most seq_len)"),
                                 cl::init(256), cl::sub(runCmd), cl::cat(category));
static cl::opt<int64_t> nPredictOpt("n-predict",
                                    cl::desc("Instead of -n: generate at most N tokens after the "
                                             "prompt (llama.cpp's -n); generation also stops at "
                                             "an EOS token"),
                                    cl::init(0), cl::sub(runCmd), cl::cat(category));
static cl::opt<float> temperatureOpt("t", cl::desc("Temperature; 0 = greedy (default 1.0)"),
                                     cl::init(1.0f), cl::sub(runCmd), cl::cat(category));
static cl::opt<float> topPOpt("top-p",
                              cl::desc("Nucleus sampling mass in (0, 1); 0 or 1 disables "
                                       "(default 0.9)"),
                              cl::init(0.9f), cl::sub(runCmd), cl::cat(category));
static cl::opt<uint64_t> seedOpt("seed", cl::desc("Sampling seed (default 42)"),
                                 cl::init(42), cl::sub(runCmd), cl::cat(category));

static cl::opt<bool> chatOpt("chat",
                             cl::desc("Chat: -p is the user's turn, rendered with the model's "
                                      "chat template; only the reply is printed, and it ends at "
                                      "an EOS token (or --n-predict tokens). Without -p, each "
                                      "line of standard input is a user turn of one "
                                      "conversation"),
                             cl::init(false), cl::sub(runCmd), cl::cat(category));
static cl::opt<std::string> systemOpt("system", cl::desc("With --chat: a system turn first"),
                                      cl::init(""), cl::sub(runCmd), cl::cat(category));

static llvm::Error runChat() {
  if (stepsOpt.getNumOccurrences())
    return makeError("--chat generates a reply: it does not go with -n (use --n-predict to cap "
                     "the reply)");
  auto session = openSession(modelArg, /*needTokenizer=*/true);
  if (!session)
    return session.takeError();
  ChatOptions options;
  options.system = systemOpt;
  options.nPredict = nPredictOpt;
  options.temperature = temperatureOpt;
  options.topP = topPOpt;
  options.seed = seedOpt;
  bool interactive = !promptOpt.getNumOccurrences(), given = false;
  auto nextTurn = [&]() -> std::optional<std::string> {
    if (!interactive) {
      if (given)
        return std::nullopt;
      given = true;
      return promptOpt.getValue();
    }
    if (isatty(0))
      llvm::errs() << "> ";
    std::string line;
    if (!std::getline(std::cin, line))
      return std::nullopt;
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    return line;
  };
  auto stats = chat(*session->exec, *session->tokenizer, options, nextTurn,
                    [](const std::string &piece) {
                      llvm::outs() << piece;
                      llvm::outs().flush();
                    },
                    [] {
                      llvm::outs() << "\n";
                      llvm::outs().flush();
                    });
  if (!stats)
    return stats.takeError();
  llvm::errs() << llvm::format("%lld prompt tokens run, %lld generated, %.1f tok/s\n",
                               (long long)stats->promptTokensRun,
                               (long long)stats->generatedTokens,
                               stats->seconds > 0 ? stats->generatedTokens / stats->seconds
                                                  : 0.0);
  return llvm::Error::success();
}

static llvm::Error runGeneration() {
  if (topPOpt < 0.0f || topPOpt > 1.0f)
    return makeError("--top-p must be in [0, 1]");
  if (nPredictOpt < 0)
    return makeError("--n-predict must be positive");
  if (!systemOpt.empty() && !chatOpt)
    return makeError("--system goes with --chat");
  if (chatOpt)
    return runChat();
  if (nPredictOpt > 0 && stepsOpt.getNumOccurrences())
    return makeError("give -n (positions, prompt included) or --n-predict (tokens to "
                     "generate), not both");
  auto session = openSession(modelArg, /*needTokenizer=*/true);
  if (!session)
    return session.takeError();
  GenerateOptions options;
  options.prompt = promptOpt;
  options.steps = stepsOpt;
  options.nPredict = nPredictOpt;
  options.temperature = temperatureOpt;
  options.topP = topPOpt;
  options.seed = seedOpt;
  auto stats = generate(*session->exec, *session->tokenizer, options,
                        [](const std::string &piece) {
                          llvm::outs() << piece;
                          llvm::outs().flush();
                        });
  if (!stats)
    return stats.takeError();
  llvm::outs() << "\n";
  llvm::outs().flush(); // keep the text and the statistics apart on a terminal
  llvm::errs() << llvm::format("%lld prompt + %lld generated tokens, %.1f tok/s\n",
                               (long long)stats->promptTokens,
                               (long long)stats->generatedTokens,
                               stats->seconds > 0 ? stats->generatedTokens / stats->seconds
                                                  : 0.0);
  return llvm::Error::success();
}

int runRun() { return finish("run", runGeneration()); }

} // namespace qopt::tool
