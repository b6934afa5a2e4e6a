//===- Qtok.h - the runtime's tokenizer section, in C++ ---------*- C++ -*-===//
//
// QTOK (runtime/include/qrt_tokenizer_format.h) as a struct: written by the
// tokenizer.json converter (HfTokenizerJson.cpp), read back by the GGUF
// exporter (GgufTokenizer.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_SUPPORT_QTOK_H
#define QOPT_SUPPORT_QTOK_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace qopt {

struct QtokStep {
  uint32_t op, arg;
  std::string a, b;
};

struct QtokAddedToken {
  int32_t id;
  uint32_t flags;
  std::string content;
};

struct QtokModel {
  uint32_t flags = 0;
  int32_t unk = -1, bos = -1;
  bool addBos = false;
  std::vector<int32_t> eos;
  std::vector<std::string> pieces;
  std::vector<std::pair<int32_t, int32_t>> merges;
  std::vector<QtokAddedToken> added;
  std::vector<QtokStep> normalizer, pre;
  std::string chatTemplate;

  std::string serialize() const;
  /// Reads a section; every count is checked against the bytes left and
  /// every id against the vocabulary (and against `maxVocab`). Errors name
  /// `what`.
  static llvm::Expected<QtokModel> parse(llvm::StringRef data, int64_t maxVocab,
                                         llvm::StringRef what);
};

} // namespace qopt

#endif
