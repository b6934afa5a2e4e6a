//===- GgufTokenizer.h - tokenizers in GGUF metadata -----------*- C++ -*-===//
//
// llama.cpp's SentencePiece ("llama") vocabulary in GGUF metadata is
// llama2.c's tokenizer.bin in other clothes: the same pieces (U+2581 for a
// space), scores and byte tokens <0xXX>. These convert between the two.
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_SUPPORT_GGUFTOKENIZER_H
#define QOPT_SUPPORT_GGUFTOKENIZER_H

#include "qopt/Support/Gguf.h"

#include <string>
#include <utility>
#include <vector>

namespace qopt {

/// The tokenizer.ggml.* keys of the tokenizer at `path` (a llama2.c
/// tokenizer.bin with `vocabSize` entries).
llvm::Expected<std::vector<std::pair<std::string, gguf::Value>>>
ggufTokenizerMetadata(llvm::StringRef path, int64_t vocabSize);

/// A llama2.c tokenizer.bin from a GGUF's "llama" vocabulary; an error
/// names what is missing or of the wrong type.
llvm::Expected<std::string> llama2cTokenizerFromGguf(const gguf::File &file);

} // namespace qopt

#endif
