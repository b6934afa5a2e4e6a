#include "qopt/Driver/Perplexity.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace qopt;

TEST(Perplexity, DocumentsSplitAtBlankLines) {
  auto docs = splitDocuments("a b\nc\n\n\n  \nd\r\n\ne\n");
  EXPECT_EQ(docs, (std::vector<std::string>{"a b\nc", "d", "e"}));
  EXPECT_TRUE(splitDocuments("").empty());
  EXPECT_TRUE(splitDocuments("\n \n\t\n").empty());
  EXPECT_EQ(splitDocuments("no newline"), (std::vector<std::string>{"no newline"}));
}

TEST(Perplexity, NegativeLogLikelihood) {
  std::vector<float> logits = {1.0f, 2.0f, 3.0f};
  double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR(negativeLogLikelihood(logits, 2), -std::log(std::exp(3.0) / z), 1e-12);
  // Large logits do not overflow.
  std::vector<float> big = {1000.0f, 1000.0f};
  EXPECT_NEAR(negativeLogLikelihood(big, 0), std::log(2.0), 1e-12);
}
