//===- GgufTest.cpp - the GGUF container and qopt's weights as ggml blocks --===//
//
// The layouts themselves are checked against an independent reader
// (python/qopt_ref/gguf_read.py) and llama.cpp (scripts/check_gguf_
// llamacpp.py); these pin the properties the exporter and importer rely on.
//
//===----------------------------------------------------------------------===//
#include "Qnt/Utils/GgmlBlocks.h"
#include "qopt/Support/Gguf.h"

#include "llvm/Support/FileSystem.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

using namespace qopt;
using gguf::GgmlType;
using qmath::QuantizedWeight;
using qmath::Scheme;

namespace {

QuantizedWeight randomQuantized(int64_t bits, int64_t group, bool sym, int64_t rows,
                                int64_t cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  std::vector<float> w(size_t(rows * cols));
  for (float &x : w)
    x = dist(rng);
  Scheme s;
  s.bits = bits;
  s.groupSize = group;
  s.symmetric = sym;
  return qmath::quantizeRTN(s, w.data(), rows, cols);
}

/// Zero points whose product with the scale is an f16 value (scale a power
/// of two), so that Q4_1 / Q5_1 hold the weight exactly.
void makeZeroProductsHalfExact(QuantizedWeight &q) {
  for (qmath::GroupParams &p : q.params)
    p.scale = std::exp2(std::round(std::log2(p.scale)));
}

bool bitEqual(const std::vector<float> &a, const std::vector<float> &b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

} // namespace

TEST(GgmlBlocks, ExactTypesDecodeToTheDequantizedWeightBitForBit) {
  struct Case {
    int64_t bits, group;
    bool sym;
    GgmlType type;
  } cases[] = {{4, 32, true, GgmlType::Q4_0},  {4, 128, true, GgmlType::Q4_0},
               {4, 0, true, GgmlType::Q4_0},   {4, -1, true, GgmlType::Q4_0},
               {5, 32, true, GgmlType::Q5_0},  {8, 0, true, GgmlType::Q8_0},
               {8, 64, true, GgmlType::Q8_0},  {4, 32, false, GgmlType::Q4_1},
               {5, 64, false, GgmlType::Q5_1}};
  for (const Case &c : cases) {
    QuantizedWeight q = randomQuantized(c.bits, c.group, c.sym, 6, 256, unsigned(c.bits));
    if (!c.sym)
      makeZeroProductsHalfExact(q);
    ggml::TypeChoice choice = ggml::exactTypeFor(q);
    ASSERT_TRUE(choice.exact.has_value()) << q.scheme.describe() << ": " << choice.whyNot;
    EXPECT_EQ(*choice.exact, c.type) << q.scheme.describe();
    std::vector<uint8_t> blocks = ggml::encodeExact(q, c.type);
    EXPECT_EQ(int64_t(blocks.size()),
              6 * 256 / 32 * gguf::typeTraits(uint32_t(c.type))->blockBytes);
    EXPECT_TRUE(bitEqual(ggml::dequantize(c.type, blocks.data(), 6 * 256), q.dequantize()))
        << q.scheme.describe();
  }
}

TEST(GgmlBlocks, G32BlocksImportAsTheSameCodesAndScales) {
  for (auto [bits, sym] : {std::pair<int64_t, bool>{4, true}, {5, true}, {8, true},
                           {4, false}, {5, false}}) {
    QuantizedWeight q = randomQuantized(bits, 32, sym, 3, 96, unsigned(bits * 7 + sym));
    if (!sym)
      makeZeroProductsHalfExact(q);
    GgmlType type = *ggml::exactTypeFor(q).exact;
    std::vector<uint8_t> blocks = ggml::encodeExact(q, type);
    auto back = ggml::toQuantized(type, blocks.data(), 3, 96);
    ASSERT_TRUE(back.has_value()) << q.scheme.describe();
    EXPECT_EQ(back->scheme.bits, bits);
    EXPECT_EQ(back->scheme.symmetric, sym);
    EXPECT_EQ(back->codes, q.codes) << q.scheme.describe();
    EXPECT_TRUE(bitEqual(back->dequantize(), q.dequantize()));
    EXPECT_EQ(ggml::encodeExact(*back, type), blocks);
  }
}

TEST(GgmlBlocks, WhatHasNoExactTypeSaysWhy) {
  EXPECT_NE(ggml::exactTypeFor(randomQuantized(3, 32, true, 2, 64, 1)).whyNot.find("int3"),
            std::string::npos);
  EXPECT_NE(ggml::exactTypeFor(randomQuantized(4, 16, true, 2, 64, 1)).whyNot.find("groups of 16"),
            std::string::npos);
  EXPECT_NE(ggml::exactTypeFor(randomQuantized(4, 32, true, 2, 172, 1)).whyNot.find("rows of 172"),
            std::string::npos);
  EXPECT_NE(ggml::exactTypeFor(randomQuantized(8, 32, false, 2, 64, 1)).whyNot.find("int8"),
            std::string::npos);
  // An asymmetric weight with an inexact m keeps its codes with m rounded.
  QuantizedWeight asym = randomQuantized(4, 32, false, 4, 64, 3);
  asym.params[0].scale = qmath::roundToHalf(0.0123f);
  asym.params[0].zero = 7;
  ggml::TypeChoice c = ggml::exactTypeFor(asym);
  EXPECT_FALSE(c.exact.has_value());
  ASSERT_TRUE(c.sameCodes.has_value());
  EXPECT_EQ(*c.sameCodes, GgmlType::Q4_1);
  EXPECT_EQ(ggml::nearestTypeFor(randomQuantized(4, 32, true, 2, 172, 1)), GgmlType::F32);
  EXPECT_EQ(ggml::nearestTypeFor(randomQuantized(3, 32, true, 2, 64, 1)), GgmlType::Q4_0);
  EXPECT_EQ(ggml::nearestTypeFor(randomQuantized(6, 32, true, 2, 64, 1)), GgmlType::Q8_0);
}

TEST(GgmlBlocks, ReferenceQuantizersStayWithinOneStep) {
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(32 * 40);
  for (float &v : x)
    v = dist(rng);
  for (auto [type, levels] : {std::pair<GgmlType, float>{GgmlType::Q4_0, 8},
                              {GgmlType::Q4_1, 15}, {GgmlType::Q5_0, 16}, {GgmlType::Q5_1, 31},
                              {GgmlType::Q8_0, 127}}) {
    std::vector<uint8_t> b = ggml::quantizeReference(type, x.data(), int64_t(x.size()));
    std::vector<float> y = ggml::dequantize(type, b.data(), int64_t(x.size()));
    for (size_t blk = 0; blk < x.size() / 32; ++blk) {
      float lo = *std::min_element(&x[blk * 32], &x[blk * 32 + 32]);
      float hi = *std::max_element(&x[blk * 32], &x[blk * 32 + 32]);
      float step = std::max(std::fabs(lo), std::fabs(hi)) * 2 / levels;
      for (size_t j = blk * 32; j < blk * 32 + 32; ++j)
        EXPECT_LE(std::fabs(y[j] - x[j]), step) << gguf::typeName(uint32_t(type));
    }
  }
}

TEST(Gguf, WriterAndReaderAgreeOnEveryValueKind) {
  llvm::SmallString<128> path;
  int fd;
  ASSERT_FALSE(llvm::sys::fs::createTemporaryFile("gguf-test", "gguf", fd, path));
  ::close(fd);
  gguf::Writer w;
  w.set("a.u32", gguf::Value::ofU32(7));
  w.set("a.i32", gguf::Value::ofI32(-3));
  w.set("a.f32", gguf::Value::ofF32(0.25f));
  w.set("a.bool", gguf::Value::ofBool(true));
  w.set("a.str", gguf::Value::ofString("caf\xc3\xa9"));
  w.set("a.arr", gguf::Value::ofArray(gguf::ValueType::String,
                                      {gguf::Value::ofString("x"), gguf::Value::ofString("")}));
  std::vector<uint8_t> f32(4 * 3 * 2);
  for (size_t i = 0; i < f32.size(); ++i)
    f32[i] = uint8_t(i);
  w.addTensor("t", GgmlType::F32, {3, 2}, f32);
  w.addTensor("q", GgmlType::Q4_0, {64, 1}, std::vector<uint8_t>(36, 9));
  ASSERT_FALSE(bool(w.write(path)));
  auto file = gguf::read(path);
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  EXPECT_EQ(file->find("a.u32")->asInt(), 7);
  EXPECT_EQ(file->find("a.i32")->asInt(), -3);
  EXPECT_EQ(file->find("a.f32")->asFloat(), 0.25);
  EXPECT_EQ(file->find("a.bool")->u, 1u);
  EXPECT_EQ(file->find("a.str")->s, "caf\xc3\xa9");
  ASSERT_EQ(file->find("a.arr")->items.size(), 2u);
  EXPECT_EQ(file->find("a.arr")->items[0].s, "x");
  EXPECT_EQ(file->find("general.alignment")->asInt(), 32);
  const gguf::TensorInfo *t = file->tensor("t");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->shape(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(std::vector<uint8_t>(t->data, t->data + t->nbytes), f32);
  EXPECT_EQ(file->tensor("q")->nbytes, 36u);
  EXPECT_EQ(file->tensor("q")->offset % 32, 0u);
  llvm::sys::fs::remove(path);
}
