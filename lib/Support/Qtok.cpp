//===- Qtok.cpp - the runtime's tokenizer section, in C++ -----------------===//
#include "qopt/Support/Qtok.h"

#include "qopt/Support/Error.h"

extern "C" {
#include "qrt_tokenizer_format.h"
}

#include <cstring>

namespace qopt {

std::string QtokModel::serialize() const {
  std::string out = QTOK_MAGIC;
  auto u32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i)
      out.push_back(char((v >> (8 * i)) & 0xFF));
  };
  auto str = [&](const std::string &s) {
    u32(uint32_t(s.size()));
    out += s;
  };
  u32(QTOK_VERSION);
  u32(flags);
  u32(uint32_t(unk));
  u32(uint32_t(bos));
  u32(addBos);
  u32(uint32_t(eos.size()));
  for (int32_t id : eos)
    u32(uint32_t(id));
  u32(uint32_t(pieces.size()));
  for (const auto &p : pieces)
    str(p);
  u32(uint32_t(merges.size()));
  for (auto [l, r] : merges) {
    u32(uint32_t(l));
    u32(uint32_t(r));
  }
  u32(uint32_t(added.size()));
  for (const auto &a : added) {
    u32(uint32_t(a.id));
    u32(a.flags);
    str(a.content);
  }
  for (const auto *steps : {&normalizer, &pre}) {
    u32(uint32_t(steps->size()));
    for (const auto &s : *steps) {
      u32(s.op);
      u32(s.arg);
      str(s.a);
      str(s.b);
    }
  }
  str(chatTemplate);
  return out;
}

namespace {
/// Reads the fields in order; a read past the end clears `ok`.
struct Reader {
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

llvm::Expected<QtokModel> QtokModel::parse(llvm::StringRef data, int64_t maxVocab,
                                           llvm::StringRef what) {
  auto fail = [&](const llvm::Twine &why) { return makeError(what + ": " + why); };
  if (!data.starts_with(QTOK_MAGIC))
    return fail("not a QTOK section");
  Reader r{data};
  QtokModel q;
  uint32_t version = r.u32();
  q.flags = r.u32();
  q.unk = (int32_t)r.u32();
  q.bos = (int32_t)r.u32();
  q.addBos = r.u32() != 0;
  uint32_t nEos = r.u32();
  if (!r.ok || version != QTOK_VERSION || nEos > QTOK_MAX_EOS)
    return fail("not a QTOK section this qopt wrote");
  for (uint32_t i = 0; i < nEos; ++i)
    q.eos.push_back((int32_t)r.u32());
  uint32_t n = r.u32();
  if (!r.ok || n > data.size() / 4 || (int64_t)n > maxVocab)
    return fail("a vocabulary of " + llvm::Twine(n) + " pieces for a model of " +
                llvm::Twine(maxVocab));
  q.pieces.resize(n);
  for (auto &piece : q.pieces)
    piece = r.str();
  uint32_t nMerges = r.u32();
  if (!r.ok || nMerges > data.size() / 8)
    return fail("truncated");
  for (uint32_t i = 0; i < nMerges; ++i) {
    uint32_t left = r.u32(), right = r.u32();
    if (!r.ok || left >= n || right >= n)
      return fail("a merge names a token outside the vocabulary");
    q.merges.emplace_back((int32_t)left, (int32_t)right);
  }
  uint32_t nAdded = r.u32();
  if (!r.ok || nAdded > data.size() / 12)
    return fail("truncated");
  for (uint32_t i = 0; i < nAdded; ++i) {
    uint32_t id = r.u32(), flags = r.u32();
    std::string content = r.str();
    if (!r.ok || (int64_t)id >= maxVocab)
      return fail("an added token outside the vocabulary");
    q.added.push_back({(int32_t)id, flags, std::move(content)});
  }
  for (auto *steps : {&q.normalizer, &q.pre}) {
    uint32_t count = r.u32();
    if (!r.ok || count > data.size() / 16)
      return fail("truncated");
    for (uint32_t i = 0; i < count; ++i) {
      uint32_t op = r.u32(), arg = r.u32();
      std::string a = r.str(), b = r.str();
      steps->push_back({op, arg, std::move(a), std::move(b)});
    }
  }
  q.chatTemplate = r.str();
  if (!r.ok)
    return fail("truncated");
  return q;
}

} // namespace qopt
