#include "qopt/Driver/Sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

using namespace qopt;

TEST(Sampler, GreedyTakesTheFirstMaximum) {
  std::vector<float> logits = {0.1f, 2.0f, -1.0f, 2.0f};
  Sampler greedy(0.0f, 0.9f, 1);
  EXPECT_EQ(greedy.sample(logits), 1);
  EXPECT_EQ(argmax(logits), 1);
}

TEST(Sampler, SameSeedSameStream) {
  std::vector<float> logits = {0.5f, 0.1f, 0.3f, 0.2f, 0.4f, 0.0f};
  Sampler a(1.0f, 0.9f, 123), b(1.0f, 0.9f, 123), c(1.0f, 0.9f, 124);
  std::vector<int32_t> sa, sb, sc;
  for (int i = 0; i < 50; ++i) {
    sa.push_back(a.sample(logits));
    sb.push_back(b.sample(logits));
    sc.push_back(c.sample(logits));
  }
  EXPECT_EQ(sa, sb);
  EXPECT_NE(sa, sc);
}

TEST(Sampler, MultinomialFollowsTheDistribution) {
  // softmax of log(p) is p: 0.7, 0.2, 0.1.
  std::vector<float> logits = {std::log(0.7f), std::log(0.2f), std::log(0.1f)};
  Sampler s(1.0f, 0.0f, 42);
  int counts[3] = {0, 0, 0};
  for (int i = 0; i < 20000; ++i)
    ++counts[s.sample(logits)];
  EXPECT_NEAR(counts[0] / 20000.0, 0.7, 0.02);
  EXPECT_NEAR(counts[1] / 20000.0, 0.2, 0.02);
  EXPECT_NEAR(counts[2] / 20000.0, 0.1, 0.02);
}

TEST(Sampler, TopPExcludesTheTail) {
  // With top-p 0.75 the nucleus is {0 (0.7), 1 (0.2)}: token 2 never appears.
  std::vector<float> logits = {std::log(0.7f), std::log(0.2f), std::log(0.1f)};
  Sampler s(1.0f, 0.75f, 9);
  for (int i = 0; i < 5000; ++i)
    EXPECT_NE(s.sample(logits), 2);
}

TEST(Sampler, RandomFloatInUnitInterval) {
  Sampler s(1.0f, 0.9f, 5);
  for (int i = 0; i < 10000; ++i) {
    float r = s.randomFloat();
    EXPECT_GE(r, 0.0f);
    EXPECT_LT(r, 1.0f);
  }
}
