//===- Tokenizer.cpp -------------------------------------------------------===//
#include "qopt/Support/Tokenizer.h"

#include "qopt/Support/GgufTokenizer.h"

#include "qopt/Support/Error.h"
#include "qopt/Support/HfTokenizerJson.h"

#include <cstdlib>

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

extern "C" {
#include "qrt_common.h"
}

namespace qopt {

std::string findTokenizerIn(llvm::StringRef path) {
  if (!llvm::sys::fs::is_directory(path))
    return llvm::sys::fs::exists(path) ? path.str() : std::string();
  for (const char *name : {"tokenizer.json", "tokenizer.bin", "tokenizer.model"}) {
    llvm::SmallString<256> candidate(path);
    llvm::sys::path::append(candidate, name);
    if (llvm::sys::fs::exists(candidate))
      return std::string(candidate);
  }
  std::vector<std::string> found;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(path, ec), end; it != end && !ec; it.increment(ec)) {
    llvm::StringRef name = llvm::sys::path::filename(it->path());
    if (name.starts_with("tok") && name.ends_with(".bin"))
      found.push_back(it->path());
  }
  return found.size() == 1 ? found.front() : std::string();
}

llvm::Expected<Tokenizer> Tokenizer::fromBytes(std::string bytes, int64_t vocabSize) {
  char err[512] = {0};
  qrt_tokenizer *t = qrt_tokenizer_load(reinterpret_cast<const uint8_t *>(bytes.data()),
                                        bytes.size(), vocabSize, err, sizeof err);
  if (!t)
    return makeError(err);
  Tokenizer tok;
  tok.impl = std::shared_ptr<qrt_tokenizer>(t, qrt_tokenizer_free);
  tok.serialized = std::move(bytes);
  return tok;
}

llvm::Expected<Tokenizer> Tokenizer::load(llvm::StringRef path, int64_t vocabSize) {
  std::string file = llvm::sys::fs::is_directory(path) ? findTokenizerIn(path) : path.str();
  if (file.empty())
    return makeError("no tokenizer.json or tokenizer.bin in '" + path + "'");
  if (llvm::StringRef(file).ends_with(".model"))
    return makeError(file + ": SentencePiece .model files are not read; qopt reads a Hugging "
                            "Face tokenizer.json or a llama2.c tokenizer.bin");
  if (llvm::StringRef(file).ends_with(".gguf")) {
    // the vocabulary in a GGUF's metadata (tokenizer.ggml.*)
    auto gguf = gguf::read(file);
    if (!gguf)
      return gguf.takeError();
    auto bytes = runtimeTokenizerFromGguf(*gguf);
    if (!bytes)
      return makeError(file + ": " + llvm::toString(bytes.takeError()));
    auto tok = fromBytes(std::move(*bytes), vocabSize);
    if (!tok)
      return makeError(file + ": " + llvm::toString(tok.takeError()));
    return tok;
  }
  if (llvm::StringRef(file).ends_with(".json")) {
    auto bytes = convertHfTokenizer(file, vocabSize);
    if (!bytes)
      return bytes.takeError();
    auto tok = fromBytes(std::move(*bytes), vocabSize);
    if (!tok)
      return makeError(file + ": " + llvm::toString(tok.takeError()));
    return tok;
  }
  auto buffer = llvm::MemoryBuffer::getFile(file, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return makeError("cannot open tokenizer '" + file + "': " + buffer.getError().message());
  auto tok = fromBytes((*buffer)->getBuffer().str(), vocabSize);
  if (!tok)
    return makeError(file + ": " + llvm::toString(tok.takeError()));
  return tok;
}

std::vector<int32_t> Tokenizer::encode(llvm::StringRef text, bool bos, bool eos) const {
  std::string s = text.str(); // the runtime reads NUL-terminated text
  std::vector<int32_t> ids(s.size() + 8);
  int64_t n = qrt_tokenizer_encode(impl.get(), s.c_str(), bos, eos, ids.data(),
                                   int64_t(ids.size()));
  if (n < 0)
    llvm::report_bad_alloc_error("tokenizer: out of memory");
  if (size_t(n) > ids.size()) { // more ids than bytes (<unk> runs, added tokens): ask again
    ids.resize(size_t(n));
    qrt_tokenizer_encode(impl.get(), s.c_str(), bos, eos, ids.data(), n);
  }
  ids.resize(size_t(n));
  return ids;
}

std::string Tokenizer::decode(int32_t previous, int32_t token) const {
  return qrt_tokenizer_decode(impl.get(), previous, token);
}

std::string Tokenizer::piece(int32_t token) const {
  const char *p = qrt_tokenizer_piece(impl.get(), token);
  return p ? p : "";
}

int64_t Tokenizer::vocabSize() const { return qrt_tokenizer_vocab(impl.get()); }
int32_t Tokenizer::bos() const { return qrt_tokenizer_bos(impl.get()); }
bool Tokenizer::isEos(int32_t token) const { return qrt_tokenizer_is_eos(impl.get(), token); }
std::string Tokenizer::chatTemplate() const { return qrt_tokenizer_chat_template(impl.get()); }

llvm::Expected<std::string> Tokenizer::renderChat(llvm::ArrayRef<ChatMessage> messages,
                                                  bool addGenerationPrompt,
                                                  llvm::StringRef chatTemplate) const {
  std::string tmpl = chatTemplate.empty() ? this->chatTemplate() : chatTemplate.str();
  if (tmpl.empty())
    return makeError(QRT_NO_CHAT_TEMPLATE);
  std::vector<qrt_chat_message> turns;
  for (const ChatMessage &m : messages)
    turns.push_back({m.role.c_str(), m.content.c_str()});
  char err[512];
  char *text = qrt_chat_render(tmpl.c_str(), turns.data(), turns.size(), addGenerationPrompt,
                               qrt_tokenizer_bos_token(impl.get()),
                               qrt_tokenizer_eos_token(impl.get()), err, sizeof err);
  if (!text)
    return makeError(err);
  std::string result = text;
  std::free(text);
  return result;
}

} // namespace qopt
