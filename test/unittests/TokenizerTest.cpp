#include "qopt/Support/Tokenizer.h"

#include <gtest/gtest.h>

using namespace qopt;

namespace {

const std::string kTok512 = std::string(QOPT_SHARED_DIR) + "/models/stories260K/tok512.bin";

Tokenizer load() {
  auto tok = Tokenizer::load(kTok512, 512);
  EXPECT_TRUE(bool(tok)) << llvm::toString(tok.takeError());
  return std::move(*tok);
}

TEST(Tokenizer, RejectsWrongVocabulary) {
  auto tok = Tokenizer::load(kTok512, 32000);
  ASSERT_FALSE(bool(tok));
  EXPECT_NE(llvm::toString(tok.takeError()).find("tokenizer has 512 tokens but the model's "
                                                 "vocabulary has 32000"),
            std::string::npos);
}

TEST(Tokenizer, EncodeDecodeRoundTrip) {
  Tokenizer tok = load();
  for (std::string text : {"Once upon a time, there was a dog.", "naïve 東京 🙂",
                           "tabs\tand\nnewlines", "a"}) {
    std::vector<int32_t> ids = tok.encode(text, /*bos=*/true, /*eos=*/false);
    ASSERT_EQ(ids.front(), tok.bos());
    std::string decoded;
    for (size_t i = 1; i < ids.size(); ++i)
      decoded += tok.decode(ids[i - 1], ids[i]);
    EXPECT_EQ(decoded, text);
  }
}

TEST(Tokenizer, EmptyTextHasNoDummyPrefix) {
  Tokenizer tok = load();
  EXPECT_EQ(tok.encode("", true, true), (std::vector<int32_t>{1, 2}));
}

TEST(Tokenizer, ByteFallbackForUnknownCodePoints) {
  Tokenizer tok = load();
  // U+6771 is not in the 512-token vocabulary: its three UTF-8 bytes map to
  // byte tokens (byte value + 3) and cannot merge with anything.
  std::vector<int32_t> ids = tok.encode("東", false, false);
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_EQ(ids[1], 0xE6 + 3);
  EXPECT_EQ(ids[2], 0x9D + 3);
  EXPECT_EQ(ids[3], 0xB1 + 3);
}

TEST(Tokenizer, MergesReduceLength) {
  Tokenizer tok = load();
  std::string text = "Once upon a time there was a little girl";
  EXPECT_LT(tok.encode(text, false, false).size(), text.size() / 2);
}

} // namespace
