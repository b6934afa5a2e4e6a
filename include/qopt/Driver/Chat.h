//===- Chat.h - a conversation through the model's chat template -*- C++ -*-===//
//
// `qopt run --chat`: the conversation rendered with the model's chat
// template (runtime/chat/, the one a program's --chat uses), one reply per
// user turn, each ending at an EOS token. Each turn re-renders the whole
// conversation and runs only what follows the longest prefix already in the
// KV cache, as the program does (runtime/common/chat_loop.c).
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_DRIVER_CHAT_H
#define QOPT_DRIVER_CHAT_H

#include "qopt/Exec/Executor.h"
#include "qopt/Support/Tokenizer.h"

#include "llvm/Support/Error.h"

#include <functional>
#include <optional>
#include <string>

namespace qopt {

struct ChatOptions {
  std::string system; ///< a system turn first when not empty
  /// At most this many tokens per reply; 0: until EOS or the context is full.
  int64_t nPredict = 0;
  float temperature = 1.0f;
  float topP = 0.9f;
  uint64_t seed = 42;
};

struct ChatStats {
  int64_t promptTokensRun = 0; ///< prompt tokens run (a cached prefix is not rerun)
  int64_t generatedTokens = 0;
  double seconds = 0;
};

/// Runs the conversation: `nextUserTurn` gives each user turn (nullopt ends
/// it); each reply's pieces go to `emit` as they are sampled, and
/// `endReply` follows each reply.
llvm::Expected<ChatStats> chat(Executor &exec, const Tokenizer &tokenizer,
                               const ChatOptions &options,
                               const std::function<std::optional<std::string>()> &nextUserTurn,
                               const std::function<void(const std::string &)> &emit,
                               const std::function<void()> &endReply);

} // namespace qopt

#endif
