//===- Chat.cpp -------------------------------------------------------------===//
#include "qopt/Driver/Chat.h"

#include "qopt/Driver/Sampler.h"
#include "qopt/Support/Error.h"
#include "qopt/Support/TextCheck.h"

#include "qrt.h"

#include <chrono>

namespace qopt {

llvm::Expected<ChatStats> chat(Executor &exec, const Tokenizer &tokenizer,
                               const ChatOptions &options,
                               const std::function<std::optional<std::string>()> &nextUserTurn,
                               const std::function<void(const std::string &)> &emit,
                               const std::function<void()> &endReply) {
  if (tokenizer.chatTemplate().empty())
    return makeError(QRT_NO_CHAT_TEMPLATE);
  std::vector<Tokenizer::ChatMessage> conversation;
  if (!options.system.empty())
    conversation.push_back({"system", options.system});
  Sampler sampler(options.temperature, options.topP, options.seed);
  std::vector<int32_t> cached; // the tokens whose keys and values are in the cache
  const int64_t maxSeq = exec.maxSeqLen(), vocab = exec.vocabSize();
  ChatStats stats;
  auto start = std::chrono::steady_clock::now();
  while (std::optional<std::string> turn = nextUserTurn()) {
    if (auto err = checkText(*turn, "the user's turn"))
      return std::move(err);
    conversation.push_back({"user", *turn});
    auto text = tokenizer.renderChat(conversation, /*addGenerationPrompt=*/true);
    if (!text)
      return text.takeError();
    // the template writes the special tokens itself (bos_token included)
    std::vector<int32_t> tokens = tokenizer.encode(*text, /*bos=*/false, /*eos=*/false);
    int64_t n = int64_t(tokens.size());
    if (n == 0 || n >= maxSeq)
      return makeError("the conversation is " + llvm::Twine(n) +
                       " tokens, and the model's context is " + llvm::Twine(maxSeq));
    size_t common = 0;
    while (common < tokens.size() && common < cached.size() && tokens[common] == cached[common])
      ++common;
    if (common == tokens.size()) // the last token must run to give logits
      --common;
    auto logits = exec.forward(llvm::ArrayRef<int32_t>(tokens).drop_front(common),
                               int64_t(common));
    if (!logits)
      return logits.takeError();
    stats.promptTokensRun += n - int64_t(common);
    cached = tokens;
    std::string reply;
    int32_t previous = tokens.back();
    for (int64_t made = 0; options.nPredict == 0 || made < options.nPredict; ++made) {
      size_t rows = logits->size() / size_t(vocab);
      int32_t next = sampler.sample(
          llvm::ArrayRef<float>(logits->data() + (rows - 1) * vocab, size_t(vocab)));
      if (tokenizer.isEos(next))
        break;
      std::string piece = tokenizer.decode(previous, next);
      reply += piece;
      emit(piece);
      ++stats.generatedTokens;
      if (int64_t(cached.size()) >= maxSeq)
        break; // the context is full: the reply ends here
      logits = exec.forward({next}, int64_t(cached.size()));
      if (!logits)
        return logits.takeError();
      cached.push_back(next);
      previous = next;
    }
    endReply();
    conversation.push_back({"assistant", reply});
  }
  stats.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

} // namespace qopt
