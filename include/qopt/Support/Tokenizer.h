//===- Tokenizer.h - llama2.c / SentencePiece BPE tokenizer -----*- C++ -*-===//
//
// Reads llama2.c's tokenizer.bin (i32 max_token_length; then per token: f32
// score, i32 length, bytes) and encodes with SentencePiece BPE semantics: a
// dummy-prefix space, UTF-8 code points looked up whole with byte fallback
// (<0xXX> = id byte + 3), then repeatedly merging the adjacent pair whose
// merged piece has the highest score (leftmost on ties).
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_SUPPORT_TOKENIZER_H
#define QOPT_SUPPORT_TOKENIZER_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <string>
#include <unordered_map>
#include <vector>

namespace qopt {

class Tokenizer {
public:
  static constexpr int32_t kBos = 1;
  static constexpr int32_t kEos = 2;

  /// Loads `path`; it must hold exactly `vocabSize` entries.
  static llvm::Expected<Tokenizer> load(llvm::StringRef path, int64_t vocabSize);

  std::vector<int32_t> encode(llvm::StringRef text, bool bos, bool eos) const;
  /// The text of `token` when it follows `previous` (llama2.c's decode: the
  /// space after BOS is dropped, <0xXX> pieces become raw bytes).
  std::string decode(int32_t previous, int32_t token) const;
  int64_t vocabSize() const { return int64_t(pieces.size()); }

private:
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::unordered_map<std::string, int32_t> ids;
};

} // namespace qopt

#endif
