//===- CpuArtifacts.h - lowering a module to host programs -------*- C++ -*-===//
//
// Shared by `qopt build` and `qopt compile --target=cpu`: fuse (qnt-fuse,
// unless asked not to) and lower a (quantized) qnt module to host code, and
// write, by `emit`,
//   exe     OUT (linked with the runtime) + OUT.qrtw
//   shared  libSTEM.so (C API runtime/include/qrt.h) + libSTEM.so.qrtw
//   obj     OUT.o + OUT.qrtw        llvm   OUT.ll + OUT.qrtw
// Every file is written to a temporary and renamed. With target "nvptx" the
// host code is the same; the object also carries the GPU kernels' PTX
// (qopt_gpu_ptx) and links with the CUDA backend (runtime/cuda) instead.
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_TOOLS_QOPT_CPUARTIFACTS_H
#define QOPT_TOOLS_QOPT_CPUARTIFACTS_H

#include "qopt/Conversion/QntToLLVM.h"
#include "qopt/Support/ParameterStore.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

#include <string>

namespace qopt::tool {

struct CpuArtifactRequest {
  std::string out;
  std::string emit = "exe";
  cpu::CpuOptions cpu;
  bool fuse = true; // run qnt-fuse on the module first
  std::string cc = "cc"; // the C compiler that links (exe, shared)
  std::string target = "cpu"; // cpu or nvptx
  std::string gpuArch = "sm_80"; // nvptx: the chip the PTX is generated for
};

llvm::Error emitCpuArtifacts(mlir::ModuleOp module, ParameterStore &params,
                             llvm::StringRef tokenizerPath, const CpuArtifactRequest &request);

} // namespace qopt::tool

#endif
