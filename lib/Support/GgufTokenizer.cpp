//===- GgufTokenizer.cpp - tokenizers in GGUF metadata --------------------===//
#include "qopt/Support/GgufTokenizer.h"

#include "qopt/Support/Error.h"
#include "qopt/Support/HfTokenizerJson.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/MemoryBuffer.h"

#include "qrt_tokenizer_format.h"

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

namespace {
/// Reads QTOK's fields in order; every length is checked against the bytes left.
struct QtokReader {
  llvm::StringRef data;
  size_t at = 4;
  bool ok = true;
  uint32_t u32() {
    if (data.size() - at < 4) {
      ok = false;
      return 0;
    }
    uint32_t v;
    std::memcpy(&v, data.data() + at, 4);
    at += 4;
    return v;
  }
  std::string str() {
    uint32_t n = u32();
    if (!ok || n > data.size() - at) {
      ok = false;
      return "";
    }
    std::string out = data.substr(at, n).str();
    at += n;
    return out;
  }
};
} // namespace

// A SentencePiece-style tokenizer.json (Llama 2's: BPE over U+2581 pieces
// with byte fallback) as llama.cpp's "llama" vocabulary. llama.cpp merges
// the adjacent pair whose joined piece scores highest, so each piece made
// by a merge scores minus that merge's rank: the merges then happen in
// tokenizer.json's order, as Hugging Face's BPE does them.
static llvm::Expected<std::vector<std::pair<std::string, Value>>>
qtokMetadata(llvm::StringRef path, llvm::StringRef data, int64_t vocabSize) {
  QtokReader r{data};
  auto fail = [&](const llvm::Twine &why) {
    return makeError("tokenizer '" + path + "': " + why);
  };
  uint32_t version = r.u32(), flags = r.u32();
  int32_t unk = (int32_t)r.u32(), bos = (int32_t)r.u32();
  bool addBos = r.u32() != 0;
  uint32_t nEos = r.u32();
  if (!r.ok || version != QTOK_VERSION || nEos > QTOK_MAX_EOS)
    return fail("not a QTOK section this qopt wrote");
  const uint32_t spm = QTOK_FLAG_METASPACE | QTOK_FLAG_BYTE_FALLBACK;
  if ((flags & spm) != spm || (flags & QTOK_FLAG_BYTE_LEVEL))
    return fail("a byte-level BPE tokenizer.json (GPT-2 style: Llama 3, Qwen2, ...) cannot be "
                "written into a GGUF yet; SentencePiece-style ones (Llama 2, Mistral) can");
  std::vector<int32_t> eos;
  for (uint32_t i = 0; i < nEos; ++i)
    eos.push_back((int32_t)r.u32());
  uint32_t n = r.u32();
  if (!r.ok || n > data.size() / 4 || (int64_t)n > vocabSize)
    return fail("a vocabulary of " + llvm::Twine(n) + " pieces for a model of " +
                llvm::Twine(vocabSize));
  std::vector<std::string> pieces(n);
  for (auto &p : pieces)
    p = r.str();
  uint32_t nMerges = r.u32();
  if (!r.ok || nMerges > data.size() / 8)
    return fail("truncated");
  std::vector<float> scores(vocabSize, 0.0f);
  std::vector<bool> merged(vocabSize, false);
  llvm::StringMap<int32_t> ids;
  for (uint32_t i = 0; i < n; ++i)
    ids.try_emplace(pieces[i], (int32_t)i);
  for (uint32_t rank = 0; rank < nMerges; ++rank) {
    uint32_t left = r.u32(), right = r.u32();
    if (!r.ok || left >= n || right >= n)
      return fail("a merge names a token outside the vocabulary");
    auto it = ids.find(pieces[left] + pieces[right]);
    if (it != ids.end() && !merged[it->second]) {
      merged[it->second] = true;
      scores[it->second] = -(float)rank;
    }
  }
  std::vector<int32_t> types(vocabSize, 1); // llama_token_type: 1 normal
  uint32_t nAdded = r.u32();
  if (!r.ok || nAdded > data.size() / 12)
    return fail("truncated");
  for (uint32_t i = 0; i < nAdded; ++i) {
    uint32_t id = r.u32(), addedFlags = r.u32();
    std::string content = r.str();
    if (!r.ok || id >= (uint32_t)vocabSize)
      return fail("an added token outside the vocabulary");
    if (id >= n) // an added token beyond model.vocab: its piece is its content
      pieces.resize(id + 1), pieces[id] = content;
    types[id] = (addedFlags & QTOK_ADDED_SPECIAL) ? 3 : 4; // control : user-defined
  }
  for (int step = 0; step < 2; ++step) { // the normalizer's and pre-tokenizer's steps
    uint32_t count = r.u32();
    for (uint32_t i = 0; r.ok && i < count; ++i) {
      r.u32(), r.u32();
      r.str(), r.str();
    }
  }
  std::string chatTemplate = r.str();
  if (!r.ok)
    return fail("truncated");
  pieces.resize(vocabSize); // padding rows: unused pieces of their own
  std::vector<Value> tokens, scoreValues, typeValues;
  for (int64_t id = 0; id < vocabSize; ++id) {
    std::string piece = pieces[id].empty() ? "[PAD" + std::to_string(id) + "]" : pieces[id];
    bool byte = piece.size() == 6 && llvm::StringRef(piece).starts_with("<0x") && piece[5] == '>';
    int32_t type = id == unk ? 2 : byte && types[id] == 1 ? 6 : types[id];
    if (pieces[id].empty())
      type = 5; // unused
    tokens.push_back(Value::ofString(std::move(piece)));
    scoreValues.push_back(Value::ofF32(scores[id]));
    typeValues.push_back(Value::ofI32(type));
  }
  std::vector<std::pair<std::string, Value>> meta;
  meta.emplace_back("tokenizer.ggml.model", Value::ofString("llama"));
  meta.emplace_back("tokenizer.ggml.tokens", Value::ofArray(ValueType::String, std::move(tokens)));
  meta.emplace_back("tokenizer.ggml.scores", Value::ofArray(ValueType::F32, std::move(scoreValues)));
  meta.emplace_back("tokenizer.ggml.token_type",
                    Value::ofArray(ValueType::I32, std::move(typeValues)));
  if (bos >= 0)
    meta.emplace_back("tokenizer.ggml.bos_token_id", Value::ofU32((uint32_t)bos));
  if (!eos.empty())
    meta.emplace_back("tokenizer.ggml.eos_token_id", Value::ofU32((uint32_t)eos[0]));
  if (unk >= 0)
    meta.emplace_back("tokenizer.ggml.unknown_token_id", Value::ofU32((uint32_t)unk));
  meta.emplace_back("tokenizer.ggml.add_bos_token", Value::ofBool(addBos));
  meta.emplace_back("tokenizer.ggml.add_eos_token", Value::ofBool(false));
  if (!chatTemplate.empty())
    meta.emplace_back("tokenizer.chat_template", Value::ofString(chatTemplate));
  return meta;
}

llvm::Expected<std::vector<std::pair<std::string, Value>>>
ggufTokenizerMetadata(llvm::StringRef path, int64_t vocabSize) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false);
  if (!buffer)
    return makeError("cannot open tokenizer '" + path + "': " + buffer.getError().message());
  llvm::StringRef data = (*buffer)->getBuffer();
  if (data.starts_with("QTOK"))
    return qtokMetadata(path, data, vocabSize);
  if (path.ends_with(".json")) { // a Hugging Face tokenizer.json: through QTOK
    auto qtok = convertHfTokenizer(path, vocabSize);
    if (!qtok)
      return qtok.takeError();
    return qtokMetadata(path, *qtok, vocabSize);
  }
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
