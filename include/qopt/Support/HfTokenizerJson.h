//===- HfTokenizerJson.h - tokenizer.json to the runtime's QTOK -*- C++ -*-===//
//
// Reads a Hugging Face tokenizer directory (tokenizer.json with
// tokenizer_config.json, generation_config.json, special_tokens_map.json and
// config.json beside it, each optional) and writes the QTOK section the
// runtime's tokenizer reads (runtime/include/qrt_tokenizer_format.h). Every
// field is type-checked: a wrong type, an unknown token in a merge, or a
// component qopt does not implement is a one-line error naming it.
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_SUPPORT_HFTOKENIZERJSON_H
#define QOPT_SUPPORT_HFTOKENIZERJSON_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <string>

namespace qopt {

/// The QTOK bytes for `tokenizerJson`. `modelVocab` > 0: the model's
/// embedding rows, which may exceed the tokenizer's ids by padding (at most
/// 1/32 of them); the section then holds exactly modelVocab tokens.
llvm::Expected<std::string> convertHfTokenizer(llvm::StringRef tokenizerJson,
                                               int64_t modelVocab);

} // namespace qopt

#endif
