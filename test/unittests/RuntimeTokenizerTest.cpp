// The runtime's tokenizer loader (runtime/common/tokenizer.c) against
// hostile tokenizer sections: every header field validated, no read outside
// the section or the vocabulary.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "qrt_common.h"
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

} // namespace
