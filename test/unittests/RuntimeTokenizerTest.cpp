// The runtime's tokenizer loader (runtime/tokenizer/) against hostile
// tokenizer sections, llama2.c and QTOK: every header field validated, no
// read outside the section or the vocabulary (this file also runs under
// AddressSanitizer, as sanitized.RuntimeTokenizer.*).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "qrt_common.h"
#include "qrt_tokenizer_format.h"
}

namespace {

/// A llama2.c tokenizer section: max_token_length, then (score, length,
/// bytes) per token.
std::vector<uint8_t> section(int32_t maxLen, const std::vector<std::string> &pieces) {
  std::vector<uint8_t> out(4);
  std::memcpy(out.data(), &maxLen, 4);
  for (size_t i = 0; i < pieces.size(); ++i) {
    float score = -float(i);
    int32_t len = int32_t(pieces[i].size());
    size_t at = out.size();
    out.resize(at + 8 + pieces[i].size());
    std::memcpy(out.data() + at, &score, 4);
    std::memcpy(out.data() + at + 4, &len, 4);
    std::memcpy(out.data() + at + 8, pieces[i].data(), pieces[i].size());
  }
  return out;
}

/// <unk>, <s>, </s>, the 256 byte tokens, then `extra`.
std::vector<std::string> vocabulary(const std::vector<std::string> &extra) {
  std::vector<std::string> v = {"<unk>", "<s>", "</s>"};
  char byte[8];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(byte, sizeof byte, "<0x%02X>", b);
    v.push_back(byte);
  }
  v.insert(v.end(), extra.begin(), extra.end());
  return v;
}

std::string loadError(const std::vector<uint8_t> &bytes, int64_t vocab) {
  char err[256] = "";
  qrt_tokenizer *t = qrt_tokenizer_load(bytes.data(), bytes.size(), vocab, err, sizeof err);
  if (t) {
    qrt_tokenizer_free(t);
    return "";
  }
  return err;
}

TEST(RuntimeTokenizer, RefusesMaxTokenLengthOutOfRange) {
  auto v = vocabulary({" ", "a", "b"});
  for (int32_t bad : {0, -5, 1 << 30}) {
    std::string err = loadError(section(bad, v), int64_t(v.size()));
    EXPECT_NE(err.find("max_token_length"), std::string::npos) << bad << ": " << err;
  }
}

TEST(RuntimeTokenizer, RefusesAVocabularyTooSmallForByteFallback) {
  std::vector<std::string> v = {"<unk>", "<s>", "</s>", " ", "a"};
  EXPECT_NE(loadError(section(8, v), int64_t(v.size())).find("needs at least 259"),
            std::string::npos);
}

TEST(RuntimeTokenizer, RefusesAPieceLongerThanItsMaximum) {
  auto v = vocabulary({" ", "abcdefghij"});
  EXPECT_NE(loadError(section(6, v), int64_t(v.size())).find("longer than its max_token_length"),
            std::string::npos);
}

TEST(RuntimeTokenizer, RefusesTruncatedSections) {
  auto v = vocabulary({" ", "ab"});
  auto bytes = section(8, v);
  for (size_t cut : {size_t(2), size_t(10), bytes.size() - 1}) {
    std::vector<uint8_t> part(bytes.begin(), bytes.begin() + cut);
    EXPECT_NE(loadError(part, int64_t(v.size())).find("truncated"), std::string::npos) << cut;
  }
  // A length field that points past the end.
  auto lying = bytes;
  int32_t huge = 0x7fffffff;
  std::memcpy(lying.data() + 4 + 4, &huge, 4);
  EXPECT_NE(loadError(lying, int64_t(v.size())).find("truncated"), std::string::npos);
}

TEST(RuntimeTokenizer, EncodesWithoutASpaceToken) {
  // No " " piece: no dummy prefix, and every id stays in the vocabulary
  // (the prefix lookup's -1 was once stored as a token).
  auto v = vocabulary({"a", "b", "ab"});
  auto bytes = section(8, v);
  char err[256];
  qrt_tokenizer *t = qrt_tokenizer_load(bytes.data(), bytes.size(), int64_t(v.size()), err,
                                        sizeof err);
  ASSERT_NE(t, nullptr) << err;
  int32_t tokens[16];
  int64_t n = qrt_tokenizer_encode(t, "ab\xe2\x82\xac", 1, 0, tokens, 16);
  ASSERT_EQ(n, 5); // BOS, "ab", and the euro sign's three bytes
  EXPECT_EQ(tokens[0], 1);
  EXPECT_EQ(tokens[1], 259 + 2);
  EXPECT_EQ(tokens[2], 0xe2 + 3);
  for (int64_t i = 0; i < n; ++i)
    EXPECT_TRUE(tokens[i] >= 0 && tokens[i] < int32_t(v.size())) << i;
  qrt_tokenizer_free(t);
}

TEST(RuntimeTokenizer, MergesAsLlama2c) {
  // With a space token, the dummy prefix comes first and " a" style merges
  // apply by score.
  auto v = vocabulary({" ", "a", "b", "ab", " ab"});
  auto bytes = section(8, v);
  char err[256];
  qrt_tokenizer *t = qrt_tokenizer_load(bytes.data(), bytes.size(), int64_t(v.size()), err,
                                        sizeof err);
  ASSERT_NE(t, nullptr) << err;
  int32_t tokens[8];
  int64_t n = qrt_tokenizer_encode(t, "ab", 0, 0, tokens, 8);
  ASSERT_EQ(n, 1);
  EXPECT_EQ(tokens[0], 259 + 4); // " ab"
  qrt_tokenizer_free(t);
}

/// A QTOK section (qrt_tokenizer_format.h) of a SentencePiece-style
/// vocabulary: byte fallback, Prepend + Replace normalizer, merges by rank.
struct Qtok {
  std::vector<std::string> pieces = vocabulary({"\xE2\x96\x81", "a", "b", "\xE2\x96\x81" "a", "ab",
                                                "\xE2\x96\x81" "ab"});
  std::vector<std::pair<int32_t, int32_t>> merges = {{259, 260}, {260, 261}, {262, 261}};
  int32_t bos = 1, version = QTOK_VERSION;
  std::vector<int32_t> eos = {2};

  std::vector<uint8_t> bytes() const {
    std::vector<uint8_t> out(QTOK_MAGIC, QTOK_MAGIC + 4);
    auto u32 = [&](uint32_t v) {
      for (int i = 0; i < 4; ++i)
        out.push_back(uint8_t(v >> (8 * i)));
    };
    auto str = [&](const std::string &x) {
      u32(uint32_t(x.size()));
      out.insert(out.end(), x.begin(), x.end());
    };
    u32(version);
    u32(QTOK_FLAG_BYTE_FALLBACK | QTOK_FLAG_METASPACE | QTOK_FLAG_STRIP_FIRST);
    u32(0);   // unk
    u32(uint32_t(bos));
    u32(1);   // add_bos
    u32(uint32_t(eos.size()));
    for (int32_t e : eos)
      u32(uint32_t(e));
    u32(uint32_t(pieces.size()));
    for (const auto &p : pieces)
      str(p);
    u32(uint32_t(merges.size()));
    for (auto [l, r] : merges) {
      u32(uint32_t(l));
      u32(uint32_t(r));
    }
    u32(1); // added: <s>
    u32(1);
    u32(QTOK_ADDED_SPECIAL);
    str("<s>");
    u32(2); // normalizer
    u32(QTOK_NORM_PREPEND);
    u32(0);
    str("\xE2\x96\x81");
    str("");
    u32(QTOK_NORM_REPLACE);
    u32(0);
    str(" ");
    str("\xE2\x96\x81");
    u32(0); // pre-tokenizer
    str("");  // chat template
    return out;
  }
};

TEST(RuntimeTokenizer, QtokEncodesByRankAndDecodes) {
  Qtok q;
  auto bytes = q.bytes();
  char err[256] = "";
  qrt_tokenizer *t = qrt_tokenizer_load(bytes.data(), bytes.size(), int64_t(q.pieces.size()), err,
                                        sizeof err);
  ASSERT_NE(t, nullptr) << err;
  int32_t tokens[16];
  // "ab a<s>" -> BOS, "\u2581ab", "\u2581a", <s> (matched whole)
  int64_t n = qrt_tokenizer_encode(t, "ab a<s>", 1, 0, tokens, 16);
  ASSERT_EQ(n, 4);
  EXPECT_EQ(tokens[0], 1);
  EXPECT_EQ(tokens[1], 264);
  EXPECT_EQ(tokens[2], 262);
  EXPECT_EQ(tokens[3], 1);
  EXPECT_STREQ(qrt_tokenizer_decode(t, 1, 264), "ab"); // the first space is not shown
  EXPECT_STREQ(qrt_tokenizer_decode(t, -1, 264), "ab"); // nor at the start without BOS
  EXPECT_STREQ(qrt_tokenizer_decode(t, 264, 3 + 0x41), "A"); // byte fallback <0x41>
  EXPECT_STREQ(qrt_tokenizer_decode(t, 264, 262), " a");
  EXPECT_STREQ(qrt_tokenizer_decode(t, 262, 1), ""); // special
  EXPECT_TRUE(qrt_tokenizer_is_eos(t, 2));
  EXPECT_FALSE(qrt_tokenizer_is_eos(t, 1));
  qrt_tokenizer_free(t);
}

TEST(RuntimeTokenizer, QtokRefusesEveryTruncation) {
  auto bytes = Qtok().bytes();
  for (size_t cut = 4; cut < bytes.size(); ++cut) {
    std::vector<uint8_t> part(bytes.begin(), bytes.begin() + cut);
    EXPECT_NE(loadError(part, 0), "") << cut;
  }
  EXPECT_EQ(loadError(bytes, 0), "");
}

TEST(RuntimeTokenizer, QtokRefusesBadFields) {
  Qtok badMerge;
  badMerge.merges.push_back({259, 100000});
  EXPECT_NE(loadError(badMerge.bytes(), 0).find("outside the vocabulary"), std::string::npos);
  Qtok noJoin;
  noJoin.merges.push_back({261, 259}); // "b\u2581" is not a token
  EXPECT_NE(loadError(noJoin.bytes(), 0).find("not in the vocabulary"), std::string::npos);
  Qtok badEos;
  badEos.eos = {2, -7};
  EXPECT_NE(loadError(badEos.bytes(), 0).find("eos id outside"), std::string::npos);
  Qtok tooMany;
  tooMany.eos.assign(QTOK_MAX_EOS + 1, 2);
  EXPECT_NE(loadError(tooMany.bytes(), 0).find("corrupt header"), std::string::npos);
  Qtok version;
  version.version = 99;
  EXPECT_NE(loadError(version.bytes(), 0).find("unknown version"), std::string::npos);
  Qtok q;
  EXPECT_NE(loadError(q.bytes(), int64_t(q.pieces.size()) + 5).find("wrong tokenizer"),
            std::string::npos);
  auto trailing = q.bytes();
  trailing.push_back(0);
  EXPECT_NE(loadError(trailing, 0).find("bytes follow"), std::string::npos);
}

} // namespace
