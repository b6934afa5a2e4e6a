//===- Gguf.h - the GGUF container: read and write -------------*- C++ -*-===//
//
// GGUF (ggml's model file, version 3; version 2 has the same layout):
//   "GGUF", u32 version, u64 tensor count, u64 metadata count,
//   metadata: { string key, u32 value type, value },
//   tensor infos: { string name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset },
//   padding to general.alignment (default 32), then the data section.
// A string is u64 length + bytes; an array is u32 element type, u64 count,
// elements. ne[0] is the innermost (row) dimension: a PyTorch [rows, cols]
// weight has ne = {cols, rows}.
//
// The reader validates every count, length and offset against the file
// before anything is allocated from it; a file that lies gets a one-line
// error naming what is wrong. This file knows the container only; what the
// ggml block types mean is in Qnt/Utils/GgmlBlocks.h.
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_SUPPORT_GGUF_H
#define QOPT_SUPPORT_GGUF_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace qopt::gguf {

enum class ValueType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7,
  String = 8, Array = 9, U64 = 10, I64 = 11, F64 = 12,
};

/// ggml tensor types qopt names (ids from ggml.h; others are read as
/// "unknown" and refused by whoever needs their bytes).
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15, BF16 = 30,
};

/// Elements per block and bytes per block of a type; null for a type whose
/// layout qopt does not know.
struct TypeTraits {
  const char *name;
  int64_t blockElems, blockBytes;
};
const TypeTraits *typeTraits(uint32_t type);
/// "Q4_0", or "type 42" for one qopt does not know.
std::string typeName(uint32_t type);

/// One metadata value. Scalars live in the field of their kind; arrays hold
/// their elements (all of `elemType`).
struct Value {
  ValueType type = ValueType::U32;
  uint64_t u = 0;  // unsigned kinds and Bool
  int64_t i = 0;   // signed kinds
  double f = 0;    // F32, F64
  std::string s;   // String
  ValueType elemType = ValueType::U32;
  std::vector<Value> items; // Array

  static Value ofU32(uint32_t v);
  static Value ofI32(int32_t v);
  static Value ofF32(float v);
  static Value ofBool(bool v);
  static Value ofString(std::string v);
  static Value ofArray(ValueType elemType, std::vector<Value> items);
  bool isInteger() const;
  /// The value of an integer kind, as signed 64 bits (nullopt otherwise or
  /// when a U64 does not fit).
  std::optional<int64_t> asInt() const;
  std::optional<double> asFloat() const; // F32/F64, or an integer kind
};

struct TensorInfo {
  std::string name;
  uint32_t type = 0;
  std::vector<int64_t> ne; // ggml order: ne[0] innermost
  uint64_t offset = 0;     // from the start of the data section
  uint64_t nbytes = 0;     // from the type's block size
  const uint8_t *data = nullptr;
  int64_t numel() const;
  /// PyTorch order (outermost first): {rows, cols} for a matrix.
  std::vector<int64_t> shape() const { return {ne.rbegin(), ne.rend()}; }
};

struct File {
  uint32_t version = 3;
  uint64_t alignment = 32;
  std::vector<std::pair<std::string, Value>> metadata; // file order
  std::vector<TensorInfo> tensors;                     // file order
  std::shared_ptr<llvm::MemoryBuffer> buffer;          // what `data` points into

  const Value *find(llvm::StringRef key) const;
  const TensorInfo *tensor(llvm::StringRef name) const;
};

/// Reads and validates `path` (memory-mapped).
llvm::Expected<File> read(llvm::StringRef path);
/// The same from bytes already in memory (`name` is for messages).
llvm::Expected<File> parse(std::shared_ptr<llvm::MemoryBuffer> buffer, llvm::StringRef name);

/// Builds a GGUF file: metadata and tensors in the order they are added.
class Writer {
public:
  void set(std::string key, Value value);
  /// `ne` in ggml order; `bytes` must be the type's size for that shape.
  void addTensor(std::string name, GgmlType type, std::vector<int64_t> ne,
                 std::vector<uint8_t> bytes);
  /// Writes the file through a temporary and a rename.
  llvm::Error write(llvm::StringRef path) const;

private:
  struct Pending {
    std::string name;
    GgmlType type;
    std::vector<int64_t> ne;
    std::vector<uint8_t> bytes;
  };
  std::vector<std::pair<std::string, Value>> metadata;
  std::vector<Pending> tensors;
};

constexpr uint64_t kDefaultAlignment = 32;

} // namespace qopt::gguf

#endif
