//===- Checkpoint.cpp - pick the importer by what a path is ---------------===//
#include "qopt/Import/Importers.h"

#include "qopt/Support/Error.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"

namespace qopt {

/// Whether the file starts with GGUF's magic.
static bool isGgufFile(llvm::StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFileSlice(path, 4, 0);
  return buffer && (*buffer)->getBuffer() == "GGUF";
}

llvm::Expected<ImportedModel> importCheckpoint(llvm::StringRef path) {
  if (!llvm::sys::fs::exists(path))
    return makeError("checkpoint '" + path + "' does not exist");
  if (llvm::sys::fs::is_directory(path))
    return importHuggingFace(path);
  if (isGgufFile(path))
    return importGguf(path);
  return importLlama2c(path);
}

} // namespace qopt
