//===- GgufTokenizer.h - tokenizers in GGUF metadata -----------*- C++ -*-===//
//
// llama.cpp's SentencePiece ("llama") vocabulary in GGUF metadata is
// llama2.c's tokenizer.bin in other clothes: the same pieces (U+2581 for a
// space), scores and byte tokens <0xXX>; its byte-level BPE ("gpt2") one is
// a QTOK section's pieces and merges under a pre-tokenizer name. These
// convert between them.
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

/// The runtime's tokenizer bytes for a GGUF's vocabulary: llama2.c's
/// tokenizer.bin for a "llama" (SentencePiece) one, a QTOK section for a
/// "gpt2" (byte-level BPE) one with a split llama.cpp names and qopt
/// implements; an error names what is missing, of the wrong type or not
/// supported.
llvm::Expected<std::string> runtimeTokenizerFromGguf(const gguf::File &file);

} // namespace qopt

#endif
