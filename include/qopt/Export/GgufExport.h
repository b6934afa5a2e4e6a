//===- GgufExport.h - a qnt model as a GGUF file for llama.cpp -*- C++ -*-===//
//
// Writes the weights exactly as qopt computed them: each quantized weight
// goes to the ggml block type that holds it bit for bit (Qnt/Utils/
// GgmlBlocks.h); float weights keep their type (norms as F32, as llama.cpp
// expects). What has no exact type is refused with the list of offending
// tensors, or with `allowRequant` re-rounded by ggml's reference quantizer
// (F32, which is exact, when the rows are not whole blocks) and its added
// error reported per tensor.
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_EXPORT_GGUFEXPORT_H
#define QOPT_EXPORT_GGUFEXPORT_H

#include "qopt/Driver/LoadedModel.h"

#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace qopt {

struct GgufExportOptions {
  bool allowRequant = false;
  std::string name = "qopt"; // general.name
};

struct ExportedTensor {
  std::string ggufName, source; // "blk.0.attn_q.weight", "layers.0.wq"
  std::string scheme;           // qopt's ("int4 g32 sym", "f32")
  std::string ggmlType;         // "Q4_0"
  bool exact = true;
  /// With re-rounding: RMS of the added error over the RMS of the weight.
  double relativeError = 0;
  int64_t elements = 0, bytes = 0;
};

struct GgufExportReport {
  std::string architecture;
  std::vector<ExportedTensor> tensors;
  std::vector<std::string> notes; // what the file does not carry, one line each
  int64_t bytes = 0;              // of the file
};

/// Writes `model` to `path` (atomically). Fails, writing nothing, when a
/// weight or an op has no exact GGUF form and `allowRequant` is off.
llvm::Expected<GgufExportReport> exportGguf(const LoadedModel &model, llvm::StringRef path,
                                            const GgufExportOptions &options);

} // namespace qopt

#endif
