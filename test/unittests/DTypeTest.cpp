#include "qopt/Support/DType.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

using namespace qopt;

TEST(DType, NamesRoundTrip) {
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::I32, DType::I8, DType::U8})
    EXPECT_EQ(parseDType(dtypeName(t)), t);
  EXPECT_FALSE(parseDType("F8_E4M3").has_value());
  EXPECT_EQ(dtypeSize(DType::BF16), 2u);
}

// Every one of the 65536 half bit patterns survives half -> float -> half,
// NaNs aside (their payload may change but they stay NaN).
TEST(DType, HalfRoundTripsEveryBitPattern) {
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    float f = halfToFloat(uint16_t(bits));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(halfToFloat(floatToHalf(f))));
      continue;
    }
    EXPECT_EQ(floatToHalf(f), bits) << "bits " << bits;
  }
}

TEST(DType, HalfKnownValues) {
  EXPECT_EQ(halfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(halfToFloat(0xc000), -2.0f);
  EXPECT_EQ(halfToFloat(0x0001), std::ldexp(1.0f, -24)); // smallest subnormal
  EXPECT_EQ(halfToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7c00); // rounds to infinity
  // 1 + 2^-11 is halfway between 1 and the next half: ties go to even (1).
  EXPECT_EQ(floatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(floatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
}

TEST(DType, BFloat16RoundsToNearestEven) {
  EXPECT_EQ(bfloat16ToFloat(0x3f80), 1.0f);
  uint32_t bits = 0x3f808000; // exactly halfway between 0x3f80 and 0x3f81
  float f;
  std::memcpy(&f, &bits, 4);
  EXPECT_EQ(floatToBFloat16(f), 0x3f80);
  bits = 0x3f818000; // halfway, odd below: rounds up to even
  std::memcpy(&f, &bits, 4);
  EXPECT_EQ(floatToBFloat16(f), 0x3f82);
  EXPECT_TRUE(std::isnan(bfloat16ToFloat(floatToBFloat16(NAN))));
}
