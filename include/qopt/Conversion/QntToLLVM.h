//===- QntToLLVM.h - lowering a qnt program to CPU code -----------*- C++ -*-===//
//
// The forward function of a (quantized) qnt module becomes
//   void qopt_forward(qrt_ctx *ctx, const int32_t *tokens, int64_t n,
//                     int64_t pos, float *logits)
// in the LLVM dialect: heavy ops call runtime kernels (runtime/include/
// qrt_abi.h), elementwise glue (residual adds, SwiGLU, static activation
// fake-quant) becomes generated loops (scf/arith/math lowered upstream to
// LLVM), and every activation lives at a compile-time offset in one arena
// sized for `chunk` tokens, reused once a value is dead. The weight table
// the code indexes is returned alongside (see WeightSlots.h).
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_CONVERSION_QNTTOLLVM_H
#define QOPT_CONVERSION_QNTTOLLVM_H

#include "qopt/Conversion/WeightSlots.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/Error.h"

#include <memory>

namespace qopt::cpu {

struct CpuProgram {
  mlir::OwningOpRef<mlir::ModuleOp> module; // LLVM dialect after lowering
  std::vector<WeightSlot> slots;
  int64_t chunk = 0;
  int64_t arenaFloats = 0;
  /// Arena floats without reuse (to report what planning saved).
  int64_t unplannedFloats = 0;
};

struct CpuOptions {
  /// Most tokens one forward call processes (sizes the activation arena).
  int64_t chunk = 64;
  /// Weight-only integer linears quantize activations to int8 blocks of 32
  /// at run time and use integer dot products (llama.cpp's Q8_0 scheme):
  /// several times faster decode, at a small, measured accuracy cost
  /// (`qopt build --act-int8=false` turns it off).
  bool int8Activations = true;
  /// The arena lives in device memory (the NVPTX target: the same host code
  /// linked with runtime/cuda): every op must become a runtime call, so the
  /// generated elementwise loops (unfused adds, SwiGLU, static activation
  /// fake-quant) are refused with an error.
  bool deviceArena = false;
};

/// Builds the program (func/scf/arith/math + llvm calls), then lowers it to
/// the LLVM dialect with upstream conversions. Errors name unsupported ops.
llvm::Expected<CpuProgram> lowerToCpu(mlir::ModuleOp qntModule,
                                       const CpuOptions &options);

/// The same program before the upstream lowering (for lit tests of the
/// generated glue and calls).
llvm::Expected<CpuProgram> buildCpuProgram(mlir::ModuleOp qntModule,
                                            const CpuOptions &options);

/// LLVM IR of a lowered program, optimized at -O3 for a generic x86-64 CPU
/// (kernels pick their instruction set at run time; the glue stays portable).
llvm::Expected<std::unique_ptr<llvm::Module>> translateToLLVMIR(mlir::ModuleOp module,
                                                               llvm::LLVMContext &context);
/// Writes an object file (temp file, then rename).
llvm::Error emitObjectFile(llvm::Module &module, const std::string &path);

} // namespace qopt::cpu

#endif
