#include "qopt/Support/ParameterStore.h"
#include "qopt/Support/SafeTensors.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

using namespace qopt;

namespace {

class SafeTensorsTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("qopt-st", dir));
  }
  void TearDown() override { llvm::sys::fs::remove_directories(dir); }
  std::string path(llvm::StringRef name) {
    llvm::SmallString<128> p(dir);
    llvm::sys::path::append(p, name);
    return std::string(p);
  }
  void writeRaw(const std::string &file, const std::string &header, size_t dataBytes) {
    std::ofstream os(file, std::ios::binary);
    uint64_t len = header.size();
    os.write(reinterpret_cast<const char *>(&len), 8);
    os << header << std::string(dataBytes, '\0');
  }
  std::string errorOf(const std::string &file) {
    auto st = readSafeTensors(file);
    EXPECT_FALSE(bool(st));
    return st ? "" : llvm::toString(st.takeError());
  }
  llvm::SmallString<128> dir;
};

TEST_F(SafeTensorsTest, StoreSavesAndReopens) {
  ParameterStore store;
  store.set("b", TensorView::fromFloats({2, 3}, {1, 2, 3, 4, 5, 6}));
  store.set("a", TensorView::fromFloats({1}, {-7.5f}));
  store.metadata()["origin"] = "test";
  ASSERT_FALSE(bool(store.save(path("p.safetensors"))));
  auto reopened = ParameterStore::open(path("p.safetensors"));
  ASSERT_TRUE(bool(reopened)) << llvm::toString(reopened.takeError());
  EXPECT_EQ((*reopened)->names(), (std::vector<std::string>{"a", "b"}));
  const TensorView *b = (*reopened)->lookup("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(b->toFloats(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ((*reopened)->metadata().at("origin"), "test");
  // The data section starts 8-byte aligned.
  EXPECT_EQ(reinterpret_cast<uintptr_t>((*reopened)->lookup("a")->data) % 4, 0u);
  EXPECT_FALSE(bool((*reopened)->get("missing")));
}

TEST_F(SafeTensorsTest, SavingIsDeterministic) {
  ParameterStore store;
  store.set("x", TensorView::fromFloats({3}, {1, 2, 3}));
  ASSERT_FALSE(bool(store.save(path("1.st"))));
  ASSERT_FALSE(bool(store.save(path("2.st"))));
  auto a = llvm::MemoryBuffer::getFile(path("1.st"));
  auto b = llvm::MemoryBuffer::getFile(path("2.st"));
  EXPECT_EQ((*a)->getBuffer(), (*b)->getBuffer());
}

TEST_F(SafeTensorsTest, RejectsCorruptFiles) {
  writeRaw(path("long"), "{}", 0);
  {
    std::ofstream os(path("long"), std::ios::binary);
    uint64_t len = 1000;
    os.write(reinterpret_cast<const char *>(&len), 8);
    os << "{}";
  }
  EXPECT_NE(errorOf(path("long")).find("header claims 1000 bytes"), std::string::npos);

  writeRaw(path("offsets"),
           R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8);
  EXPECT_NE(errorOf(path("offsets")).find("lie outside the 8-byte data section"),
            std::string::npos);

  writeRaw(path("size"), R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", 16);
  EXPECT_NE(errorOf(path("size")).find("holds 16 bytes but shape [3] of F32 needs 12"),
            std::string::npos);

  writeRaw(path("dtype"), R"({"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", 8);
  EXPECT_NE(errorOf(path("dtype")).find("unsupported dtype 'F64'"), std::string::npos);

  writeRaw(path("negative"), R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4);
  EXPECT_NE(errorOf(path("negative")).find("negative or non-integer dimension"),
            std::string::npos);

  writeRaw(path("json"), "{not json", 0);
  EXPECT_NE(errorOf(path("json")).find("not a JSON object"), std::string::npos);

  EXPECT_NE(errorOf(path("absent")).find("cannot open"), std::string::npos);
}

TEST_F(SafeTensorsTest, FailedWriteLeavesNothingBehind) {
  std::string target = path("out.st");
  llvm::Error err = writeFileAtomically(target, [](llvm::raw_ostream &os) {
    os << "partial";
    return llvm::createStringError("simulated failure");
  });
  EXPECT_TRUE(bool(err));
  llvm::consumeError(std::move(err));
  std::error_code ec;
  int entries = 0;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec; it.increment(ec))
    ++entries;
  EXPECT_EQ(entries, 0);
}

} // namespace
