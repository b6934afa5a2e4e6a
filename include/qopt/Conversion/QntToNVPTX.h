//===- QntToNVPTX.h - the NVPTX target ---------------------------*- C++ -*-===//
#ifndef QOPT_CONVERSION_QNTTONVPTX_H
#define QOPT_CONVERSION_QNTTONVPTX_H

#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace qopt::nvptx {

/// The chips `--gpu-arch` accepts (Ampere, Ada, Hopper).
const std::vector<std::string> &supportedArchs();

/// PTX of every qopt GPU kernel (GEMV for 4-bit blocks, byte codes and f32;
/// W8A8 per-token quantization and int8 GEMV; add + rms_norm; SwiGLU; rope;
/// attention with the KV cache; embedding)
/// for `arch` (sm_80, sm_89 or sm_90a). The names of the kernels are
/// returned in `kernels` when given.
llvm::Expected<std::string> kernelsPtx(mlir::MLIRContext &ctx, llvm::StringRef arch,
                                       std::vector<std::string> *kernels = nullptr);

} // namespace qopt::nvptx

#endif
