//===- Gguf.cpp - the GGUF container -------------------------------------===//
#include "qopt/Support/Gguf.h"

#include "qopt/Support/Error.h"
#include "qopt/Support/SafeTensors.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

namespace qopt::gguf {

const TypeTraits *typeTraits(uint32_t type) {
  // Block sizes from ggml's block_* structs (ggml-common.h).
  static const TypeTraits f32{"F32", 1, 4}, f16{"F16", 1, 2}, bf16{"BF16", 1, 2},
      q4_0{"Q4_0", 32, 18}, q4_1{"Q4_1", 32, 20}, q5_0{"Q5_0", 32, 22}, q5_1{"Q5_1", 32, 24},
      q8_0{"Q8_0", 32, 34}, q8_1{"Q8_1", 32, 36}, q2_k{"Q2_K", 256, 84},
      q3_k{"Q3_K", 256, 110}, q4_k{"Q4_K", 256, 144}, q5_k{"Q5_K", 256, 176},
      q6_k{"Q6_K", 256, 210}, q8_k{"Q8_K", 256, 292};
  switch (GgmlType(type)) {
  case GgmlType::F32: return &f32;
  case GgmlType::F16: return &f16;
  case GgmlType::BF16: return &bf16;
  case GgmlType::Q4_0: return &q4_0;
  case GgmlType::Q4_1: return &q4_1;
  case GgmlType::Q5_0: return &q5_0;
  case GgmlType::Q5_1: return &q5_1;
  case GgmlType::Q8_0: return &q8_0;
  case GgmlType::Q8_1: return &q8_1;
  case GgmlType::Q2_K: return &q2_k;
  case GgmlType::Q3_K: return &q3_k;
  case GgmlType::Q4_K: return &q4_k;
  case GgmlType::Q5_K: return &q5_k;
  case GgmlType::Q6_K: return &q6_k;
  case GgmlType::Q8_K: return &q8_k;
  }
  return nullptr;
}

std::string typeName(uint32_t type) {
  if (const TypeTraits *t = typeTraits(type))
    return t->name;
  return "type " + std::to_string(type);
}

//===----------------------------------------------------------------------===//
// Values
//===----------------------------------------------------------------------===//

Value Value::ofU32(uint32_t v) {
  Value x;
  x.type = ValueType::U32;
  x.u = v;
  return x;
}
Value Value::ofI32(int32_t v) {
  Value x;
  x.type = ValueType::I32;
  x.i = v;
  return x;
}
Value Value::ofF32(float v) {
  Value x;
  x.type = ValueType::F32;
  x.f = v;
  return x;
}
Value Value::ofBool(bool v) {
  Value x;
  x.type = ValueType::Bool;
  x.u = v;
  return x;
}
Value Value::ofString(std::string v) {
  Value x;
  x.type = ValueType::String;
  x.s = std::move(v);
  return x;
}
Value Value::ofArray(ValueType elemType, std::vector<Value> items) {
  Value x;
  x.type = ValueType::Array;
  x.elemType = elemType;
  x.items = std::move(items);
  return x;
}

static bool isUnsigned(ValueType t) {
  return t == ValueType::U8 || t == ValueType::U16 || t == ValueType::U32 || t == ValueType::U64;
}
static bool isSigned(ValueType t) {
  return t == ValueType::I8 || t == ValueType::I16 || t == ValueType::I32 || t == ValueType::I64;
}

bool Value::isInteger() const { return isUnsigned(type) || isSigned(type); }

std::optional<int64_t> Value::asInt() const {
  if (isSigned(type))
    return i;
  if (isUnsigned(type) && u <= uint64_t(INT64_MAX))
    return int64_t(u);
  return std::nullopt;
}

std::optional<double> Value::asFloat() const {
  if (type == ValueType::F32 || type == ValueType::F64)
    return f;
  if (auto v = asInt())
    return double(*v);
  return std::nullopt;
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : ne)
    n *= d;
  return n;
}

const Value *File::find(llvm::StringRef key) const {
  for (const auto &[k, v] : metadata)
    if (k == key)
      return &v;
  return nullptr;
}

const TensorInfo *File::tensor(llvm::StringRef name) const {
  for (const TensorInfo &t : tensors)
    if (t.name == name)
      return &t;
  return nullptr;
}

//===----------------------------------------------------------------------===//
// Reading
//===----------------------------------------------------------------------===//

namespace {

/// A cursor over the file that never reads past its end: every read checks
/// the bytes left first, so a count or length that lies fails there.
class Cursor {
public:
  Cursor(const uint8_t *begin, size_t size, llvm::StringRef file)
      : begin(begin), size(size), file(file) {}

  size_t offset() const { return at; }
  size_t left() const { return size - at; }

  llvm::Error fail(const llvm::Twine &what) const {
    return makeError(file + ": " + what + " (at byte " + llvm::Twine(at) + ")");
  }

  template <typename T> llvm::Error read(T &out, const char *what) {
    if (left() < sizeof(T))
      return fail(llvm::Twine("truncated file: no room for ") + what);
    std::memcpy(&out, begin + at, sizeof(T));
    at += sizeof(T);
    return llvm::Error::success();
  }

  llvm::Error readString(std::string &out, const char *what) {
    uint64_t n;
    if (auto err = read(n, what))
      return err;
    if (n > left())
      return fail(llvm::Twine(what) + " claims " + llvm::Twine(n) + " bytes, but only " +
                  llvm::Twine(uint64_t(left())) + " remain");
    out.assign(reinterpret_cast<const char *>(begin + at), size_t(n));
    at += size_t(n);
    return llvm::Error::success();
  }

private:
  const uint8_t *begin;
  size_t size, at = 0;
  llvm::StringRef file;
};

/// Bytes the smallest encoding of a value of `t` takes (what bounds an
/// array's count before anything is allocated for it); 0 for an unknown type.
size_t minimumSize(ValueType t) {
  switch (t) {
  case ValueType::U8: case ValueType::I8: case ValueType::Bool: return 1;
  case ValueType::U16: case ValueType::I16: return 2;
  case ValueType::U32: case ValueType::I32: case ValueType::F32: return 4;
  case ValueType::U64: case ValueType::I64: case ValueType::F64: return 8;
  case ValueType::String: return 8;
  case ValueType::Array: return 12;
  }
  return 0;
}

llvm::Error readValue(Cursor &c, ValueType t, Value &v, const std::string &key, bool inArray) {
  v.type = t;
  auto scalar = [&](auto tag) -> llvm::Error {
    decltype(tag) x;
    if (auto err = c.read(x, "a metadata value"))
      return err;
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>)
      v.f = double(x);
    else if constexpr (std::is_signed_v<T>)
      v.i = int64_t(x);
    else
      v.u = uint64_t(x);
    return llvm::Error::success();
  };
  switch (t) {
  case ValueType::U8: return scalar(uint8_t());
  case ValueType::I8: return scalar(int8_t());
  case ValueType::U16: return scalar(uint16_t());
  case ValueType::I16: return scalar(int16_t());
  case ValueType::U32: return scalar(uint32_t());
  case ValueType::I32: return scalar(int32_t());
  case ValueType::U64: return scalar(uint64_t());
  case ValueType::I64: return scalar(int64_t());
  case ValueType::F32: return scalar(float());
  case ValueType::F64: return scalar(double());
  case ValueType::Bool: {
    if (auto err = scalar(uint8_t()))
      return err;
    if (v.u > 1)
      return c.fail("metadata '" + key + "' holds a bool that is neither 0 nor 1");
    return llvm::Error::success();
  }
  case ValueType::String:
    return c.readString(v.s, "a metadata string");
  case ValueType::Array: {
    if (inArray)
      return c.fail("metadata '" + key + "' nests an array in an array");
    uint32_t et;
    uint64_t n;
    if (auto err = c.read(et, "an array's element type"))
      return err;
    if (auto err = c.read(n, "an array's length"))
      return err;
    size_t least = minimumSize(ValueType(et));
    if (!least || ValueType(et) == ValueType::Array)
      return c.fail("metadata '" + key + "' is an array of unknown element type " +
                    llvm::Twine(et));
    if (n > c.left() / least)
      return c.fail("metadata '" + key + "' claims " + llvm::Twine(n) +
                    " array elements, more than the file holds");
    v.elemType = ValueType(et);
    v.items.resize(size_t(n));
    for (Value &item : v.items)
      if (auto err = readValue(c, ValueType(et), item, key, /*inArray=*/true))
        return err;
    return llvm::Error::success();
  }
  }
  return c.fail("metadata '" + key + "' has unknown value type " + llvm::Twine(uint32_t(t)));
}

bool mulOk(uint64_t a, uint64_t b, uint64_t &out) { return !__builtin_mul_overflow(a, b, &out); }

} // namespace

llvm::Expected<File> parse(std::shared_ptr<llvm::MemoryBuffer> buffer, llvm::StringRef name) {
  const auto *bytes = reinterpret_cast<const uint8_t *>(buffer->getBufferStart());
  Cursor c(bytes, buffer->getBufferSize(), name);
  File f;
  f.buffer = buffer;
  char magic[4];
  if (buffer->getBufferSize() < 4 || (std::memcpy(magic, bytes, 4), std::memcmp(magic, "GGUF", 4)))
    return makeError(name + ": not a GGUF file (no 'GGUF' magic)");
  uint32_t skip;
  (void)c.read(skip, "magic");
  if (auto err = c.read(f.version, "the version"))
    return std::move(err);
  if (f.version != 2 && f.version != 3)
    return makeError(name + ": GGUF version " + llvm::Twine(f.version) +
                     " is not supported (2 and 3 are)");
  uint64_t nTensors, nKv;
  if (auto err = c.read(nTensors, "the tensor count"))
    return std::move(err);
  if (auto err = c.read(nKv, "the metadata count"))
    return std::move(err);
  // Smallest encodings: a key (8) + type (4) + a byte; a name (8) + n_dims (4)
  // + one dim (8) + type (4) + offset (8).
  if (nKv > c.left() / 13)
    return c.fail("metadata count " + llvm::Twine(nKv) + " is more than the file can hold");
  if (nTensors > c.left() / 32)
    return c.fail("tensor count " + llvm::Twine(nTensors) + " is more than the file can hold");

  llvm::StringSet<> keys;
  for (uint64_t k = 0; k < nKv; ++k) {
    std::string key;
    uint32_t type;
    if (auto err = c.readString(key, "a metadata key"))
      return std::move(err);
    if (auto err = c.read(type, "a metadata type"))
      return std::move(err);
    if (!keys.insert(key).second)
      return c.fail("metadata key '" + key + "' appears twice");
    Value v;
    if (auto err = readValue(c, ValueType(type), v, key, false))
      return std::move(err);
    f.metadata.emplace_back(std::move(key), std::move(v));
  }
  if (const Value *a = f.find("general.alignment")) {
    auto n = a->asInt();
    if (!n || *n <= 0 || (*n & (*n - 1)) || *n > (1 << 20))
      return makeError(name + ": general.alignment must be a power of two up to 1 MiB");
    f.alignment = uint64_t(*n);
  }

  llvm::StringSet<> names;
  for (uint64_t t = 0; t < nTensors; ++t) {
    TensorInfo info;
    uint32_t nDims;
    if (auto err = c.readString(info.name, "a tensor name"))
      return std::move(err);
    if (!names.insert(info.name).second)
      return c.fail("tensor '" + info.name + "' appears twice");
    if (auto err = c.read(nDims, "a tensor's dimension count"))
      return std::move(err);
    if (nDims < 1 || nDims > 4)
      return c.fail("tensor '" + info.name + "' has " + llvm::Twine(nDims) +
                    " dimensions (ggml allows 1 to 4)");
    uint64_t elems = 1;
    for (uint32_t d = 0; d < nDims; ++d) {
      uint64_t n;
      if (auto err = c.read(n, "a tensor dimension"))
        return std::move(err);
      if (n == 0 || n > (uint64_t(1) << 40) || !mulOk(elems, n, elems) ||
          elems > (uint64_t(1) << 48))
        return c.fail("tensor '" + info.name + "' has an impossible shape");
      info.ne.push_back(int64_t(n));
    }
    if (auto err = c.read(info.type, "a tensor type"))
      return std::move(err);
    if (auto err = c.read(info.offset, "a tensor offset"))
      return std::move(err);
    const TypeTraits *traits = typeTraits(info.type);
    if (!traits)
      return c.fail("tensor '" + info.name + "' has unknown ggml type " + llvm::Twine(info.type));
    if (info.ne[0] % traits->blockElems)
      return c.fail("tensor '" + info.name + "' rows of " + llvm::Twine(info.ne[0]) +
                    " are not whole " + traits->name + " blocks of " +
                    llvm::Twine(traits->blockElems));
    if (!mulOk(elems / uint64_t(traits->blockElems), uint64_t(traits->blockBytes), info.nbytes))
      return c.fail("tensor '" + info.name + "' size overflows");
    if (info.offset % f.alignment)
      return c.fail("tensor '" + info.name + "' data offset " + llvm::Twine(info.offset) +
                    " is not aligned to " + llvm::Twine(f.alignment));
    f.tensors.push_back(std::move(info));
  }
  uint64_t dataStart = (uint64_t(c.offset()) + f.alignment - 1) / f.alignment * f.alignment;
  uint64_t fileSize = buffer->getBufferSize();
  if (dataStart > fileSize && !f.tensors.empty())
    return makeError(name + ": truncated file: the data section is missing");
  uint64_t dataSize = fileSize >= dataStart ? fileSize - dataStart : 0;
  for (TensorInfo &t : f.tensors) {
    if (t.offset > dataSize || t.nbytes > dataSize - t.offset)
      return makeError(name + ": truncated file: tensor '" + t.name + "' (" +
                       llvm::Twine(t.nbytes) + " bytes at data offset " + llvm::Twine(t.offset) +
                       ") runs past the end");
    t.data = bytes + dataStart + t.offset;
  }
  return f;
}

llvm::Expected<File> read(llvm::StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return makeError("cannot open '" + path + "': " + buffer.getError().message());
  return parse(std::shared_ptr<llvm::MemoryBuffer>(std::move(*buffer)), path);
}

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

void Writer::set(std::string key, Value value) {
  for (auto &[k, v] : metadata)
    if (k == key) {
      v = std::move(value);
      return;
    }
  metadata.emplace_back(std::move(key), std::move(value));
}

void Writer::addTensor(std::string name, GgmlType type, std::vector<int64_t> ne,
                       std::vector<uint8_t> bytes) {
  tensors.push_back({std::move(name), type, std::move(ne), std::move(bytes)});
}

namespace {

void writeString(llvm::raw_ostream &os, llvm::StringRef s) {
  uint64_t n = s.size();
  os.write(reinterpret_cast<const char *>(&n), 8);
  os << s;
}

template <typename T> void writeRaw(llvm::raw_ostream &os, T v) {
  os.write(reinterpret_cast<const char *>(&v), sizeof(T));
}

void writeValue(llvm::raw_ostream &os, const Value &v) {
  switch (v.type) {
  case ValueType::U8: return writeRaw(os, uint8_t(v.u));
  case ValueType::I8: return writeRaw(os, int8_t(v.i));
  case ValueType::U16: return writeRaw(os, uint16_t(v.u));
  case ValueType::I16: return writeRaw(os, int16_t(v.i));
  case ValueType::U32: return writeRaw(os, uint32_t(v.u));
  case ValueType::I32: return writeRaw(os, int32_t(v.i));
  case ValueType::U64: return writeRaw(os, uint64_t(v.u));
  case ValueType::I64: return writeRaw(os, int64_t(v.i));
  case ValueType::F32: return writeRaw(os, float(v.f));
  case ValueType::F64: return writeRaw(os, double(v.f));
  case ValueType::Bool: return writeRaw(os, uint8_t(v.u ? 1 : 0));
  case ValueType::String: return writeString(os, v.s);
  case ValueType::Array:
    writeRaw(os, uint32_t(v.elemType));
    writeRaw(os, uint64_t(v.items.size()));
    for (const Value &item : v.items)
      writeValue(os, item);
    return;
  }
}

void pad(llvm::raw_ostream &os, uint64_t written, uint64_t alignment) {
  for (uint64_t n = (alignment - written % alignment) % alignment; n; --n)
    os << '\0';
}

} // namespace

llvm::Error Writer::write(llvm::StringRef path) const {
  for (const Pending &t : tensors) {
    const TypeTraits *traits = typeTraits(uint32_t(t.type));
    int64_t elems = 1;
    for (int64_t d : t.ne)
      elems *= d;
    if (!traits || t.ne.empty() || t.ne[0] % traits->blockElems ||
        uint64_t(elems / traits->blockElems * traits->blockBytes) != t.bytes.size())
      return makeError("internal error: GGUF tensor '" + t.name + "' has " +
                       llvm::Twine(uint64_t(t.bytes.size())) + " bytes, not its " +
                       typeName(uint32_t(t.type)) + " size");
  }
  return writeFileAtomically(path, [&](llvm::raw_ostream &os) -> llvm::Error {
    std::string head;
    llvm::raw_string_ostream h(head);
    h << "GGUF";
    writeRaw(h, uint32_t(3));
    writeRaw(h, uint64_t(tensors.size()));
    uint64_t userKeys = 0;
    for (const auto &entry : metadata)
      userKeys += entry.first != "general.alignment";
    writeRaw(h, userKeys + 1);
    writeString(h, "general.alignment");
    writeRaw(h, uint32_t(ValueType::U32));
    writeRaw(h, uint32_t(kDefaultAlignment));
    for (const auto &[key, value] : metadata) {
      if (key == "general.alignment")
        continue;
      writeString(h, key);
      writeRaw(h, uint32_t(value.type));
      writeValue(h, value);
    }
    uint64_t offset = 0;
    for (const Pending &t : tensors) {
      writeString(h, t.name);
      writeRaw(h, uint32_t(t.ne.size()));
      for (int64_t d : t.ne)
        writeRaw(h, uint64_t(d));
      writeRaw(h, uint32_t(t.type));
      writeRaw(h, offset);
      offset += (t.bytes.size() + kDefaultAlignment - 1) / kDefaultAlignment * kDefaultAlignment;
    }
    h.flush();
    os << head;
    pad(os, head.size(), kDefaultAlignment);
    for (const Pending &t : tensors) {
      os.write(reinterpret_cast<const char *>(t.bytes.data()), t.bytes.size());
      pad(os, t.bytes.size(), kDefaultAlignment);
    }
    return llvm::Error::success();
  });
}

} // namespace qopt::gguf
