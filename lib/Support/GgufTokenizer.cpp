//===- GgufTokenizer.cpp - tokenizers in GGUF metadata --------------------===//
#include "qopt/Support/GgufTokenizer.h"

#include "qopt/Support/Error.h"
#include "qopt/Support/HfTokenizerJson.h"
#include "qopt/Support/Qtok.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/MemoryBuffer.h"

#include "qrt_tokenizer_format.h"

#include <cmath>
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

// The Split regexes Hugging Face ships for Llama 3 and Qwen2, with the
// tokenizer.ggml.pre names llama.cpp gives them (the first is what qopt
// writes; llama-vocab.cpp accepts the others as the same pre-tokenizer).
struct KnownSplit {
  const char *pattern;
  std::vector<const char *> names;
  bool ignoreMerges; // llama.cpp sets it for this pre-tokenizer
};
static const KnownSplit kKnownSplits[] = {
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
     "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     {"llama-bpe", "llama3", "llama-v3"},
     true},
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
     "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     {"qwen2", "deepseek-r1-qwen"},
     false},
};

// llama.cpp names each byte-level pre-tokenizer it implements
// (tokenizer.ggml.pre) and runs its own copy of the regex; tokenizer.json
// has the regex. A split maps to a name only when its regex is, byte for
// byte, the one Hugging Face ships for that family.
static std::string byteLevelPreName(const QtokModel &q) {
  if (!q.normalizer.empty())
    return "";
  // ByteLevel with GPT-2's regex built in, no prefix space
  if (q.pre.size() == 1 && q.pre[0].op == QTOK_PRE_BYTE_LEVEL && q.pre[0].arg == 2)
    return "gpt-2";
  if (q.pre.size() != 2 || q.pre[0].op != QTOK_PRE_SPLIT || q.pre[0].arg != QTOK_SPLIT_ISOLATED ||
      q.pre[1].op != QTOK_PRE_BYTE_LEVEL || q.pre[1].arg != 0)
    return "";
  for (const KnownSplit &k : kKnownSplits)
    if (q.pre[0].a == k.pattern)
      return k.names[0];
  return "";
}

// A tokenizer.json's vocabulary in llama.cpp's terms, through its QTOK.
//  - SentencePiece style (Llama 2, Mistral: BPE over U+2581 pieces with byte
//    fallback): the "llama" vocabulary. llama.cpp merges the adjacent pair
//    whose joined piece scores highest, so each piece made by a merge
//    scores minus that merge's rank: the merges then happen in
//    tokenizer.json's order, as Hugging Face's BPE does them.
//  - Byte level with a split llama.cpp names (GPT-2 / Phi-2, Llama 3,
//    Qwen2): the "gpt2" vocabulary with its merges and that pre-tokenizer
//    name. Other splits are refused.
static llvm::Expected<std::vector<std::pair<std::string, Value>>>
qtokMetadata(llvm::StringRef path, llvm::StringRef data, int64_t vocabSize) {
  auto parsed = QtokModel::parse(data, vocabSize, "tokenizer '" + path.str() + "'");
  if (!parsed)
    return parsed.takeError();
  QtokModel &q = *parsed;
  const uint32_t spmFlags = QTOK_FLAG_METASPACE | QTOK_FLAG_BYTE_FALLBACK;
  bool spm = (q.flags & spmFlags) == spmFlags && !(q.flags & QTOK_FLAG_BYTE_LEVEL);
  std::string preName = byteLevelPreName(q);
  bool gpt2 = (q.flags & QTOK_FLAG_BYTE_LEVEL) && !preName.empty();
  if (!spm && !gpt2)
    return makeError("tokenizer '" + path + "': " +
                     ((q.flags & QTOK_FLAG_BYTE_LEVEL)
                          ? "a byte-level BPE tokenizer.json whose split llama.cpp knows by "
                            "no name qopt has (GPT-2's, Llama 3's and Qwen2's it has) cannot "
                            "be written into a GGUF"
                          : "this tokenizer.json is neither SentencePiece-style nor byte-level "
                            "BPE; it cannot be written into a GGUF"));
  size_t n = q.pieces.size();
  std::vector<int32_t> types(vocabSize, 1); // llama_token_type: 1 normal
  q.pieces.resize(vocabSize);
  for (const auto &a : q.added) {
    if ((size_t)a.id >= n) // an added token beyond model.vocab: its piece is its content
      q.pieces[a.id] = a.content;
    types[a.id] = (a.flags & QTOK_ADDED_SPECIAL) ? 3 : 4; // control : user-defined
  }
  std::vector<Value> tokens, scores, typeValues, merges;
  llvm::StringMap<int32_t> ids;
  for (size_t i = 0; i < n; ++i)
    ids.try_emplace(q.pieces[i], (int32_t)i);
  std::vector<float> score(vocabSize, 0.0f);
  std::vector<bool> merged(vocabSize, false);
  for (size_t rank = 0; rank < q.merges.size(); ++rank) {
    const std::string &left = q.pieces[q.merges[rank].first];
    const std::string &right = q.pieces[q.merges[rank].second];
    if (gpt2) {
      merges.push_back(Value::ofString(left + " " + right));
      continue;
    }
    auto it = ids.find(left + right);
    if (it != ids.end() && !merged[it->second]) {
      merged[it->second] = true;
      score[it->second] = -(float)rank;
    }
  }
  for (int64_t id = 0; id < vocabSize; ++id) {
    bool unused = q.pieces[id].empty(); // padding rows: pieces of their own
    std::string piece = unused ? "[PAD" + std::to_string(id) + "]" : q.pieces[id];
    bool byte = spm && piece.size() == 6 && llvm::StringRef(piece).starts_with("<0x") &&
                piece[5] == '>';
    int32_t type = unused ? 5 : spm && id == q.unk ? 2 : byte && types[id] == 1 ? 6 : types[id];
    tokens.push_back(Value::ofString(std::move(piece)));
    if (spm)
      scores.push_back(Value::ofF32(score[id]));
    typeValues.push_back(Value::ofI32(type));
  }
  std::vector<std::pair<std::string, Value>> meta;
  meta.emplace_back("tokenizer.ggml.model", Value::ofString(spm ? "llama" : "gpt2"));
  if (gpt2)
    meta.emplace_back("tokenizer.ggml.pre", Value::ofString(preName));
  meta.emplace_back("tokenizer.ggml.tokens", Value::ofArray(ValueType::String, std::move(tokens)));
  if (spm)
    meta.emplace_back("tokenizer.ggml.scores", Value::ofArray(ValueType::F32, std::move(scores)));
  meta.emplace_back("tokenizer.ggml.token_type",
                    Value::ofArray(ValueType::I32, std::move(typeValues)));
  if (gpt2)
    meta.emplace_back("tokenizer.ggml.merges",
                      Value::ofArray(ValueType::String, std::move(merges)));
  if (q.bos >= 0)
    meta.emplace_back("tokenizer.ggml.bos_token_id", Value::ofU32((uint32_t)q.bos));
  if (!q.eos.empty())
    meta.emplace_back("tokenizer.ggml.eos_token_id", Value::ofU32((uint32_t)q.eos[0]));
  if (spm && q.unk >= 0) // byte-level vocabularies cover every byte: no unknown
    meta.emplace_back("tokenizer.ggml.unknown_token_id", Value::ofU32((uint32_t)q.unk));
  meta.emplace_back("tokenizer.ggml.add_bos_token", Value::ofBool(q.addBos));
  meta.emplace_back("tokenizer.ggml.add_eos_token", Value::ofBool(false));
  if (!q.chatTemplate.empty())
    meta.emplace_back("tokenizer.chat_template", Value::ofString(q.chatTemplate));
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

namespace {

/// The "llama" (SentencePiece) vocabulary as llama2.c's tokenizer.bin.
llvm::Expected<std::string> llama2cFromGguf(const gguf::File &file) {
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

/// An array of `elem` under `key`, or null; an error when it is there with
/// another type.
llvm::Expected<const Value *> arrayOf(const gguf::File &file, const char *key, ValueType elem) {
  const Value *v = file.find(key);
  if (v && (v->type != ValueType::Array || v->elemType != elem))
    return makeError(llvm::Twine("the GGUF's ") + key + " is not an array of " +
                     (elem == ValueType::String ? "strings"
                      : elem == ValueType::F32  ? "f32 numbers"
                                                : "integers"));
  return v;
}

/// A vocabulary's tokens, its second array (`second`: merges or scores,
/// one per token when `perToken`) and its optional token types.
struct VocabArrays {
  const Value *tokens, *second, *types;
};
llvm::Expected<VocabArrays> vocabArrays(const gguf::File &file, const char *second,
                                        const char *kind, bool perToken) {
  // scores are one f32 per token; merges are strings of their own count
  auto tokens = arrayOf(file, "tokenizer.ggml.tokens", ValueType::String);
  auto other = arrayOf(file, second, perToken ? ValueType::F32 : ValueType::String);
  auto types = arrayOf(file, "tokenizer.ggml.token_type", ValueType::I32);
  for (auto *e : {&tokens, &other, &types})
    if (!*e)
      return e->takeError();
  if (!*tokens || !*other)
    return makeError(llvm::Twine("the GGUF's ") + kind +
                     " vocabulary lacks tokenizer.ggml.tokens or " + second);
  size_t n = (*tokens)->items.size();
  if ((perToken && (*other)->items.size() != n) || (*types && (*types)->items.size() != n))
    return makeError(llvm::Twine("the GGUF's ") + second +
                     " or tokenizer.ggml.token_type is not one per token");
  return VocabArrays{*tokens, *other, *types};
}

/// A token id under `key` within the vocabulary, or -1 when absent.
llvm::Expected<int32_t> tokenId(const gguf::File &file, const char *key, size_t vocab) {
  const Value *v = file.find(key);
  if (!v)
    return -1;
  auto id = v->asInt();
  if (!id || *id < 0 || uint64_t(*id) >= vocab)
    return makeError(llvm::Twine("the GGUF's ") + key + " is not a token id of its " +
                     llvm::Twine(vocab) + "-token vocabulary");
  return int32_t(*id);
}

/// The token ids, EOS / EOT / EOM, BOS, add_bos and chat template of a
/// GGUF's vocabulary into `q`.
llvm::Error specialIds(const gguf::File &file, size_t n, bool addBosDefault, QtokModel &q) {
  auto bos = tokenId(file, "tokenizer.ggml.bos_token_id", n);
  auto unk = tokenId(file, "tokenizer.ggml.unknown_token_id", n);
  for (auto *e : {&bos, &unk})
    if (!*e)
      return e->takeError();
  q.bos = *bos;
  q.unk = *unk;
  for (const char *key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id",
                          "tokenizer.ggml.eom_token_id"}) {
    auto eos = tokenId(file, key, n);
    if (!eos)
      return eos.takeError();
    if (*eos >= 0 && llvm::find(q.eos, *eos) == q.eos.end())
      q.eos.push_back(*eos);
  }
  bool addBos = addBosDefault;
  if (const Value *v = file.find("tokenizer.ggml.add_bos_token"))
    addBos = v->type == ValueType::Bool ? v->u != 0 : addBos;
  q.addBos = addBos && q.bos >= 0;
  if (const Value *t = file.find("tokenizer.chat_template"); t && t->type == ValueType::String)
    q.chatTemplate = t->s;
  return llvm::Error::success();
}

/// The pre-tokenizer steps of a tokenizer.ggml.pre name; sets the flags
/// and add_bos default llama.cpp gives it.
llvm::Error byteLevelSteps(const std::string &pre, QtokModel &q, bool &addBosDefault) {
  if (pre == "gpt-2" || pre == "phi-2") {
    q.pre = {{QTOK_PRE_BYTE_LEVEL, 2, "", ""}}; // GPT-2's regex, no prefix space
    return llvm::Error::success();
  }
  for (const KnownSplit &k : kKnownSplits)
    for (const char *name : k.names)
      if (pre == name) {
        q.pre = {{QTOK_PRE_SPLIT, QTOK_SPLIT_ISOLATED, k.pattern, ""},
                 {QTOK_PRE_BYTE_LEVEL, 0, "", ""}};
        if (k.ignoreMerges)
          q.flags |= QTOK_FLAG_IGNORE_MERGES;
        addBosDefault = k.ignoreMerges; // llama.cpp's Llama 3 family adds BOS
        return llvm::Error::success();
      }
  return makeError("the GGUF's byte-level pre-tokenizer '" + pre +
                   "' is not one qopt implements (gpt-2, phi-2, llama-bpe, llama3, llama-v3, "
                   "qwen2, deepseek-r1-qwen)");
}

/// The "gpt2" (byte-level BPE) vocabulary as a QTOK section: its pieces,
/// its merges in rank order, control and user-defined tokens as added
/// tokens (special and not), and the split tokenizer.ggml.pre names.
llvm::Expected<std::string> byteLevelQtokFromGguf(const gguf::File &file) {
  auto arrays = vocabArrays(file, "tokenizer.ggml.merges", "byte-level", /*perToken=*/false);
  if (!arrays)
    return arrays.takeError();
  const Value *tokens = arrays->tokens, *merges = arrays->second, *types = arrays->types;
  const size_t n = tokens->items.size();
  const Value *pre = file.find("tokenizer.ggml.pre");
  if (!pre || pre->type != ValueType::String)
    return makeError("the GGUF has no tokenizer.ggml.pre string (which split its byte-level "
                     "vocabulary uses)");
  QtokModel q;
  q.flags = QTOK_FLAG_BYTE_LEVEL;
  bool addBos = false;
  if (auto err = byteLevelSteps(pre->s, q, addBos))
    return std::move(err);
  // llama_token_type: 1 normal, 3 control, 4 user-defined, 5 unused
  llvm::StringMap<int32_t> ids;
  q.pieces.resize(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t type = types ? types->items[i].i : 1;
    if (type == 5)
      continue; // an unused row keeps an empty piece: nothing encodes to it
    q.pieces[i] = tokens->items[i].s;
    ids.try_emplace(q.pieces[i], int32_t(i));
    if (type == 3 || type == 4)
      q.added.push_back({int32_t(i), type == 3 ? QTOK_ADDED_SPECIAL : 0u, q.pieces[i]});
  }
  for (size_t rank = 0; rank < merges->items.size(); ++rank) {
    llvm::StringRef m = merges->items[rank].s;
    size_t space = m.find(' ', 1); // as llama.cpp splits them
    auto left = space == llvm::StringRef::npos ? ids.end() : ids.find(m.substr(0, space));
    auto right = space == llvm::StringRef::npos ? ids.end() : ids.find(m.substr(space + 1));
    if (left == ids.end() || right == ids.end())
      return makeError("the GGUF's merge " + llvm::Twine(rank) + " ('" + m +
                       "') is not two tokens of its vocabulary");
    q.merges.emplace_back(left->second, right->second);
  }
  if (auto err = specialIds(file, n, addBos, q))
    return std::move(err);
  return q.serialize();
}

/// The byte length of the UTF-8 character starting with byte `c` (1 for a
/// stray continuation byte, so a split never loops).
size_t utf8Length(unsigned char c) {
  return c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/// The "llama" (SentencePiece) vocabulary as a QTOK section, the form a
/// Llama 2 tokenizer.json becomes: BPE with byte fallback over U+2581
/// pieces, its merges derived from the scores as Hugging Face's
/// SentencePieceExtractor derives them (every split of every piece into two
/// pieces, a piece's splits in the order of their ids, all of them ordered
/// by the joined piece's score, highest first, stably), so that the chat
/// template and the EOS ids come along.
llvm::Expected<std::string> spmQtokFromGguf(const gguf::File &file) {
  auto arrays = vocabArrays(file, "tokenizer.ggml.scores", "SentencePiece", /*perToken=*/true);
  if (!arrays)
    return arrays.takeError();
  const Value *tokens = arrays->tokens, *scores = arrays->second, *types = arrays->types;
  const size_t n = tokens->items.size();
  for (size_t i = 0; i < n; ++i)
    if (std::isnan(scores->items[i].f)) // they are sorted: NaN has no place in the order
      return makeError("the GGUF's tokenizer.ggml.scores[" + llvm::Twine(i) + "] is NaN");
  QtokModel q;
  q.flags = QTOK_FLAG_BYTE_FALLBACK | QTOK_FLAG_FUSE_UNK | QTOK_FLAG_METASPACE |
            QTOK_FLAG_STRIP_FIRST | QTOK_FLAG_SPM_MERGE;
  q.normalizer = {{QTOK_NORM_PREPEND, 0, kMetaspace, ""}, {QTOK_NORM_REPLACE, 0, " ", kMetaspace}};
  llvm::StringMap<int32_t> ids;
  q.pieces.resize(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t type = types ? types->items[i].i : 1;
    if (type == 5)
      continue; // unused: an empty piece nothing encodes to
    q.pieces[i] = tokens->items[i].s;
    ids.try_emplace(q.pieces[i], int32_t(i));
    // llama_token_type: 2 unknown, 3 control (special), 4 user-defined
    if (type == 2 || type == 3 || type == 4)
      q.added.push_back({int32_t(i),
                         (type == 4 ? 0u : QTOK_ADDED_SPECIAL) | QTOK_ADDED_NORMALIZED,
                         q.pieces[i]});
  }
  struct Merge {
    int32_t left, right;
    float score;
  };
  std::vector<Merge> merges;
  for (size_t i = 0; i < n; ++i) {
    const std::string &piece = q.pieces[i];
    std::vector<Merge> local;
    for (size_t at = utf8Length(piece.empty() ? 0 : piece[0]); at < piece.size();
         at += utf8Length((unsigned char)piece[at])) {
      auto l = ids.find(piece.substr(0, at)), r = ids.find(piece.substr(at));
      if (l != ids.end() && r != ids.end())
        local.push_back({l->second, r->second, float(scores->items[i].f)});
    }
    std::sort(local.begin(), local.end(), [](const Merge &a, const Merge &b) {
      return std::make_pair(a.left, a.right) < std::make_pair(b.left, b.right);
    });
    merges.insert(merges.end(), local.begin(), local.end());
  }
  // highest score first, ties in the order found (a stable sort, spelled
  // with the position: libstdc++'s stable_sort draws a deprecation from clang)
  std::vector<size_t> order(merges.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return merges[a].score != merges[b].score ? merges[a].score > merges[b].score : a < b;
  });
  for (size_t i : order)
    q.merges.emplace_back(merges[i].left, merges[i].right);
  if (auto err = specialIds(file, n, /*addBosDefault=*/true, q))
    return std::move(err);
  if (q.unk < 0)
    q.unk = 0; // SentencePiece's <unk>
  return q.serialize();
}

} // namespace

llvm::Expected<std::string> runtimeTokenizerFromGguf(const gguf::File &file) {
  const Value *model = file.find("tokenizer.ggml.model");
  if (!model || model->type != ValueType::String)
    return makeError("the GGUF has no tokenizer.ggml.model string");
  if (model->s == "llama") {
    // llama2.c's tokenizer.bin keeps the scores as they are (a GGUF read
    // and written again stays byte-identical) but has no room for a chat
    // template or EOS ids other than its </s> = 2: those take QTOK
    auto id = [&](const char *key, int64_t fallback) {
      const Value *v = file.find(key);
      auto i = v ? v->asInt() : std::optional<int64_t>(fallback);
      return i ? *i : -2;
    };
    bool llama2cConventions = !file.find("tokenizer.chat_template") &&
                              !file.find("tokenizer.ggml.eot_token_id") &&
                              !file.find("tokenizer.ggml.eom_token_id") &&
                              id("tokenizer.ggml.eos_token_id", 2) == 2 &&
                              id("tokenizer.ggml.bos_token_id", 1) == 1;
    return llama2cConventions ? llama2cFromGguf(file) : spmQtokFromGguf(file);
  }
  if (model->s == "gpt2")
    return byteLevelQtokFromGguf(file);
  return makeError("the GGUF's tokenizer is '" + model->s +
                   "'; SentencePiece ('llama') and byte-level BPE ('gpt2') vocabularies are "
                   "imported");
}

} // namespace qopt
