//===- SafeTensors.h - read and write .safetensors files --------*- C++ -*-===//
//
// Format: u64 little-endian header length N, N bytes of JSON
// {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {}},
// then the data section. Reading memory-maps the file and validates every
// entry against the file size before handing out views.
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_SUPPORT_SAFETENSORS_H
#define QOPT_SUPPORT_SAFETENSORS_H

#include "qopt/Support/TensorView.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <map>
#include <string>

namespace qopt {

struct SafeTensorsFile {
  std::map<std::string, TensorView> tensors;
  std::map<std::string, std::string> metadata;
};

llvm::Expected<SafeTensorsFile> readSafeTensors(llvm::StringRef path);

/// Writes atomically: to a temporary file beside `path`, then renames.
llvm::Error writeSafeTensors(llvm::StringRef path, const SafeTensorsFile &file);

/// Writes `contents` to `path` through a temporary file and a rename, so that
/// a failure never leaves a half-written file behind.
llvm::Error writeFileAtomically(
    llvm::StringRef path,
    llvm::function_ref<llvm::Error(llvm::raw_ostream &)> writeContents);

} // namespace qopt

#endif
