//===- GgufTokenizer.cpp - tokenizers in GGUF metadata --------------------===//
#include "qopt/Support/GgufTokenizer.h"

#include "qopt/Support/Error.h"

#include "llvm/Support/MemoryBuffer.h"

#include <cstring>

namespace qopt {

using gguf::Value;
using gguf::ValueType;

static const char kMetaspace[] = "\xE2\x96\x81"; // U+2581

static std::string replaceAll(std::string s, llvm::StringRef from, llvm::StringRef to) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (llvm::StringRef(s).substr(i).starts_with(from)) {
      out += to;
      i += from.size();
    } else {
      out += s[i++];
    }
  }
  return out;
}

llvm::Expected<std::vector<std::pair<std::string, Value>>>
ggufTokenizerMetadata(llvm::StringRef path, int64_t vocabSize) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false);
  if (!buffer)
    return makeError("cannot open tokenizer '" + path + "': " + buffer.getError().message());
  llvm::StringRef data = (*buffer)->getBuffer();
  if (data.starts_with("QTOK"))
    return makeError("tokenizer '" + path +
                     "' is a Hugging Face tokenizer.json; writing it into a GGUF is not "
                     "supported yet (llama2.c tokenizer.bin vocabularies are)");
  size_t at = 4;
  std::vector<Value> tokens, scores, types;
  for (int64_t id = 0; id < vocabSize; ++id) {
    float score;
    int32_t len;
    if (data.size() - at < 8)
      return makeError("tokenizer '" + path + "' ends after " + llvm::Twine(id) + " of " +
                       llvm::Twine(vocabSize) + " tokens");
    std::memcpy(&score, data.data() + at, 4);
    std::memcpy(&len, data.data() + at + 4, 4);
    at += 8;
    if (len < 0 || size_t(len) > data.size() - at)
      return makeError("tokenizer '" + path + "': token " + llvm::Twine(id) +
                       " has an impossible length " + llvm::Twine(len));
    std::string piece = replaceAll(data.substr(at, size_t(len)).str(), " ", kMetaspace);
    at += size_t(len);
    // llama_token_type: 1 normal, 2 unknown, 3 control, 6 byte.
    bool byte = piece.size() == 6 && llvm::StringRef(piece).starts_with("<0x") && piece[5] == '>';
    int32_t type = id == 0 ? 2 : id <= 2 ? 3 : byte ? 6 : 1;
    tokens.push_back(Value::ofString(std::move(piece)));
    scores.push_back(Value::ofF32(score));
    types.push_back(Value::ofI32(type));
  }
  std::vector<std::pair<std::string, Value>> meta;
  meta.emplace_back("tokenizer.ggml.model", Value::ofString("llama"));
  meta.emplace_back("tokenizer.ggml.tokens", Value::ofArray(ValueType::String, std::move(tokens)));
  meta.emplace_back("tokenizer.ggml.scores", Value::ofArray(ValueType::F32, std::move(scores)));
  meta.emplace_back("tokenizer.ggml.token_type",
                    Value::ofArray(ValueType::I32, std::move(types)));
  // llama2.c's convention: 0 <unk>, 1 <s>, 2 </s>; a text starts with <s>.
  meta.emplace_back("tokenizer.ggml.bos_token_id", Value::ofU32(1));
  meta.emplace_back("tokenizer.ggml.eos_token_id", Value::ofU32(2));
  meta.emplace_back("tokenizer.ggml.unknown_token_id", Value::ofU32(0));
  meta.emplace_back("tokenizer.ggml.add_bos_token", Value::ofBool(true));
  return meta;
}

llvm::Expected<std::string> llama2cTokenizerFromGguf(const gguf::File &file) {
  const Value *model = file.find("tokenizer.ggml.model");
  if (!model || model->type != ValueType::String)
    return makeError("the GGUF has no tokenizer.ggml.model string");
  if (model->s != "llama")
    return makeError("the GGUF's tokenizer is '" + model->s +
                     "'; only SentencePiece ('llama') vocabularies are imported");
  const Value *tokens = file.find("tokenizer.ggml.tokens");
  if (!tokens || tokens->type != ValueType::Array || tokens->elemType != ValueType::String)
    return makeError("the GGUF's tokenizer.ggml.tokens is missing or not an array of strings");
  const Value *scores = file.find("tokenizer.ggml.scores");
  if (scores && (scores->type != ValueType::Array || scores->elemType != ValueType::F32 ||
                 scores->items.size() != tokens->items.size()))
    return makeError("the GGUF's tokenizer.ggml.scores is not one f32 per token");
  std::string pieces;
  int32_t maxLen = 1;
  for (size_t i = 0; i < tokens->items.size(); ++i) {
    std::string piece = replaceAll(tokens->items[i].s, kMetaspace, " ");
    float score = scores ? float(scores->items[i].f) : 0.0f;
    int32_t len = int32_t(piece.size());
    maxLen = std::max(maxLen, len);
    pieces.append(reinterpret_cast<const char *>(&score), 4);
    pieces.append(reinterpret_cast<const char *>(&len), 4);
    pieces += piece;
  }
  std::string out(reinterpret_cast<const char *>(&maxLen), 4);
  return out + pieces;
}

} // namespace qopt
