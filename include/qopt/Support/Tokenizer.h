//===- Tokenizer.h - the compiler's view of the runtime tokenizer -*- C++ -*-===//
//
// One tokenizer for compiler and programs: this class wraps the runtime's
// (runtime/tokenizer/, C), so `qopt run` and a built program give the same
// ids by construction. It loads llama2.c's tokenizer.bin, a Hugging Face
// tokenizer.json (translated to the runtime's QTOK section by
// HfTokenizerJson.h) or a QTOK file, and keeps the bytes that a weights file
// carries.
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_SUPPORT_TOKENIZER_H
#define QOPT_SUPPORT_TOKENIZER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <vector>

struct qrt_tokenizer;

namespace qopt {

class Tokenizer {
public:
  /// Loads `path`: a tokenizer.bin, a QTOK file, a tokenizer.json, or a
  /// directory holding tokenizer.json. vocabSize > 0: the model's
  /// vocabulary, which the tokenizer must fit.
  static llvm::Expected<Tokenizer> load(llvm::StringRef path, int64_t vocabSize);
  /// From bytes in the runtime's format (what load() keeps in bytes()).
  static llvm::Expected<Tokenizer> fromBytes(std::string bytes, int64_t vocabSize);

  /// BOS first when `bos` and the tokenizer adds one; the first EOS last
  /// when `eos`.
  std::vector<int32_t> encode(llvm::StringRef text, bool bos, bool eos) const;
  /// What `token` prints after `previous`.
  std::string decode(int32_t previous, int32_t token) const;
  /// The vocabulary string of `token` ("" when out of range).
  std::string piece(int32_t token) const;
  int64_t vocabSize() const;
  /// The token a text starts with, or -1 when this tokenizer adds none.
  int32_t bos() const;
  /// Whether generation stops at `token` (any of the model's EOS ids).
  bool isEos(int32_t token) const;
  std::string chatTemplate() const;
  /// One turn of a conversation, for renderChat.
  struct ChatMessage {
    std::string role, content;
  };
  /// The model's chat template rendered over `messages` as Hugging Face's
  /// apply_chat_template does (runtime/chat/; bos_token and eos_token are
  /// this tokenizer's). `chatTemplate` overrides the tokenizer's own.
  llvm::Expected<std::string> renderChat(llvm::ArrayRef<ChatMessage> messages,
                                         bool addGenerationPrompt,
                                         llvm::StringRef chatTemplate = {}) const;
  /// The section a weights file carries (llama2.c or QTOK format).
  const std::string &bytes() const { return serialized; }

private:
  std::shared_ptr<qrt_tokenizer> impl;
  std::string serialized;
};

/// The tokenizer file for `path`: itself when it is a file, else the
/// directory's tokenizer.json, else its tokenizer.bin (or one tok*.bin);
/// "" when none is there.
std::string findTokenizerIn(llvm::StringRef path);

} // namespace qopt

#endif
