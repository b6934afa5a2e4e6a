//===- SafeTensors.cpp - .safetensors reader and writer --------------------===//
#include "qopt/Support/SafeTensors.h"

#include "qopt/Support/Error.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <nlohmann/json.hpp>

#include <cstring>

using nlohmann::json;

namespace qopt {

namespace {

// Header sizes above this are not plausible and would only be a corrupt file.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

llvm::Error parseEntry(llvm::StringRef path, const std::string &name,
                       const json &entry, uint64_t dataBytes,
                       const uint8_t *dataStart,
                       std::shared_ptr<const void> owner, TensorView &out) {
  auto bad = [&](const llvm::Twine &why) {
    return makeError(path + ": tensor '" + name + "': " + why);
  };
  if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
      !entry.contains("data_offsets"))
    return bad("entry needs dtype, shape and data_offsets");
  const json &dtype = entry["dtype"], &shape = entry["shape"],
             &offsets = entry["data_offsets"];
  if (!dtype.is_string())
    return bad("dtype is not a string");
  auto parsed = parseDType(dtype.get<std::string>());
  if (!parsed)
    return bad("unsupported dtype '" + dtype.get<std::string>() + "'");
  if (!shape.is_array())
    return bad("shape is not an array");
  out.dtype = *parsed;
  out.shape.clear();
  uint64_t numel = 1;
  for (const json &d : shape) {
    if (!d.is_number_unsigned())
      return bad("shape has a negative or non-integer dimension");
    uint64_t dim = d.get<uint64_t>();
    if (dim != 0 && numel > (uint64_t(1) << 48) / dim)
      return bad("shape is implausibly large");
    numel *= dim;
    out.shape.push_back(int64_t(dim));
  }
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned())
    return bad("data_offsets must be two non-negative integers");
  uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
  if (begin > end || end > dataBytes)
    return bad("data_offsets [" + llvm::Twine(begin) + ", " + llvm::Twine(end) +
               "] lie outside the " + llvm::Twine(dataBytes) + "-byte data section");
  if (end - begin != numel * dtypeSize(out.dtype))
    return bad("holds " + llvm::Twine(end - begin) + " bytes but shape " +
               out.shapeString() + " of " + dtypeName(out.dtype) + " needs " +
               llvm::Twine(numel * dtypeSize(out.dtype)));
  out.data = dataStart + begin;
  out.nbytes = end - begin;
  out.owner = std::move(owner);
  return llvm::Error::success();
}

} // namespace

llvm::Expected<SafeTensorsFile> readSafeTensors(llvm::StringRef path) {
  auto bufferOr = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                              /*RequiresNullTerminator=*/false);
  if (!bufferOr)
    return makeError("cannot open '" + path + "': " + bufferOr.getError().message());
  std::shared_ptr<llvm::MemoryBuffer> buffer = std::move(*bufferOr);
  const uint8_t *bytes = reinterpret_cast<const uint8_t *>(buffer->getBufferStart());
  uint64_t size = buffer->getBufferSize();
  if (size < 8)
    return makeError(path + ": not a safetensors file (shorter than its 8-byte header length)");
  uint64_t headerLen;
  std::memcpy(&headerLen, bytes, 8);
  if (headerLen > size - 8 || headerLen > kMaxHeaderBytes)
    return makeError(path + ": safetensors header claims " + llvm::Twine(headerLen) +
                     " bytes but the file has only " + llvm::Twine(size - 8) +
                     " after the length field (truncated or corrupt)");
  json header = json::parse(bytes + 8, bytes + 8 + headerLen, nullptr,
                            /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object())
    return makeError(path + ": safetensors header is not a JSON object");

  SafeTensorsFile file;
  const uint8_t *dataStart = bytes + 8 + headerLen;
  uint64_t dataBytes = size - 8 - headerLen;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object())
        return makeError(path + ": __metadata__ is not an object");
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string())
          return makeError(path + ": __metadata__ value for '" + m.key() +
                           "' is not a string");
        file.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    TensorView view;
    if (llvm::Error err = parseEntry(path, it.key(), it.value(), dataBytes,
                                     dataStart, buffer, view))
      return std::move(err);
    file.tensors.emplace(it.key(), std::move(view));
  }
  return file;
}

llvm::Error writeFileAtomically(
    llvm::StringRef path,
    llvm::function_ref<llvm::Error(llvm::raw_ostream &)> writeContents) {
  llvm::SmallString<256> tempPath;
  int fd;
  llvm::SmallString<256> model(path);
  model += ".tmp-%%%%%%";
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(model, fd, tempPath))
    return makeError("cannot create a temporary file beside '" + path +
                     "': " + ec.message());
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    if (llvm::Error err = writeContents(os)) {
      os.close();
      llvm::sys::fs::remove(tempPath);
      return err;
    }
    os.close();
    if (os.has_error()) {
      std::string msg = os.error().message();
      os.clear_error();
      llvm::sys::fs::remove(tempPath);
      return makeError("cannot write '" + path + "': " + msg);
    }
  }
  if (std::error_code ec = llvm::sys::fs::rename(tempPath, path)) {
    llvm::sys::fs::remove(tempPath);
    return makeError("cannot rename the temporary file to '" + path + "': " + ec.message());
  }
  return llvm::Error::success();
}

llvm::Error writeSafeTensors(llvm::StringRef path, const SafeTensorsFile &file) {
  json header = json::object();
  uint64_t offset = 0;
  for (const auto &[name, view] : file.tensors) {
    header[name] = {{"dtype", dtypeName(view.dtype).str()},
                    {"shape", view.shape},
                    {"data_offsets", {offset, offset + view.nbytes}}};
    offset += view.nbytes;
  }
  if (!file.metadata.empty())
    header["__metadata__"] = file.metadata;
  std::string text = header.dump();
  // Pad with spaces so that the data section starts 8-byte aligned.
  while ((text.size() + 8) % 8 != 0)
    text.push_back(' ');
  return writeFileAtomically(path, [&](llvm::raw_ostream &os) {
    uint64_t len = text.size();
    os.write(reinterpret_cast<const char *>(&len), 8);
    os << text;
    for (const auto &entry : file.tensors)
      os.write(reinterpret_cast<const char *>(entry.second.data), entry.second.nbytes);
    return llvm::Error::success();
  });
}

} // namespace qopt
